import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/** `orch completion SHELL`: the bash script run by a real bash, as the shell calls it on <Tab>. */
describe('orch completion', () => {
  it('bash completes commands, sub-commands and flags, and leaves flag values to the shell', async () => {
    const script = await runCli(['completion', 'bash']);
    expect(script.code, script.stderr).toBe(0);
    const complete = (line: string): string[] => {
      const words = line.split(' ');
      const program = `${script.stdout}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_orch_completion; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const r = spawnSync('bash', ['-c', program], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.split('\n').filter(Boolean);
    };
    expect(complete('orch ')).toEqual(expect.arrayContaining(['apply', 'plan', 'buckets', 'migrate', 'suspend', 'help', 'version']));
    expect(complete('orch pl')).toEqual(['plan']);
    expect(complete('orch buckets o')).toEqual(['orphans']);
    expect(complete('orch buckets ')).toEqual(expect.arrayContaining(['orphans', 'purge-orphans', '--json']));
    expect(complete('orch plan --det')).toEqual(['--detailed-exitcode']);
    expect(complete('orch plan --no-r')).toEqual(['--no-refresh']);
    expect(complete('orch apply --')).toEqual(expect.arrayContaining(['--auto-approve', '--dry-run', '--json', '--manifests']));
    // After a flag that takes a value: no orch word (the shell completes file names).
    expect(complete('orch plan -m ')).toEqual([]);
    expect(complete('orch nosuch ')).toEqual([]);
  });

  it('zsh and fish scripts name every command; an unknown shell is refused', async () => {
    const help = await runCli(['help']);
    const zsh = await runCli(['completion', 'zsh']);
    expect(zsh.stdout).toMatch(/^#compdef orch\n/);
    expect(zsh.stdout).toContain('bashcompinit');
    const fish = await runCli(['completion', 'fish']);
    for (const cmd of ['apply', 'plan', 'buckets', 'status', 'suspend', 'resume', 'show']) {
      expect(help.stdout).toContain(cmd);
      expect(zsh.stdout).toContain(cmd);
      expect(fish.stdout).toContain(cmd);
    }
    expect(fish.stdout).toContain("complete -c orch -n '__fish_seen_subcommand_from plan' -l 'detailed-exitcode'");
    const bad = await runCli(['completion', 'tcsh']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bash, zsh, fish/);
  });
});
