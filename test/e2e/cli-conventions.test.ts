import { describe, expect, it } from 'vitest';
import { closest } from '../../src/cli/command-not-found.js';
import { colorEnabled, colorFlag } from '../../src/cli/style.js';
import { runCli, STACK_LINE } from '../helpers/cli.js';
import { expectContract } from '../helpers/json-contract.js';

/** The conventions operators expect of a CLI: help, version, typos, colour. Run on the built CLI. */
describe('orch CLI conventions', () => {
  it('orch help, orch help COMMAND and orch version answer like --help and --version', async () => {
    const help = await runCli(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('USAGE');
    expect(help.stdout).toMatch(/^\s+plan\s+Show what apply would change/m);
    expect(help.stdout).toMatch(/^\s+help\s+/m);

    const plan = await runCli(['help', 'plan']);
    const planFlag = await runCli(['plan', '--help']);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toBe(planFlag.stdout);

    const nested = await runCli(['help', 'buckets', 'orphans']);
    expect(nested.code).toBe(0);
    expect(nested.stdout).toContain('$ orch buckets orphans');

    const unknown = await runCli(['help', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("'nope' is not an orch command");

    const version = await runCli(['version']);
    const versionFlag = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toBe(versionFlag.stdout);
    expect(version.stdout).toMatch(/^orch\/\d+\.\d+\.\d+ /);
    const json = await runCli(['version', '--json']);
    expect(expectContract('version', json.stdout)).toMatchObject({
      format_version: '1.0',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/) as string,
    });
  });

  it('an unknown command exits 1 (not 2, "changes present") with suggestions that work when pasted', async () => {
    const typo = await runCli(['plna', '-m', 'examples/gateway', '--no-refresh']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).not.toMatch(STACK_LINE);
    expect(typo.stderr).toContain("Error: 'plna' is not an orch command.");
    const suggestion = /^ {2}orch (.+)$/m.exec(typo.stderr);
    expect(suggestion?.[1]).toBe('plan -m examples/gateway --no-refresh');
    // The suggestion, run as printed (one word per argument: it has no quoting here).
    const pasted = await runCli(suggestion![1]!.split(' '));
    expect(pasted.stderr).not.toContain('not an orch command');
    expect([0, 2]).toContain(pasted.code);

    const topic = await runCli(['bukets', 'orphans']);
    expect(topic.code).toBe(1);
    expect(topic.stderr).toContain('  orch buckets orphans');
    const nothing = await runCli(['zzzzzzzz']);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).not.toContain('Did you mean');
    expect(nothing.stderr).toContain('See the commands with: orch help');
    const hostile = await runCli(['pl\u001b[2Jan']);
    expect(hostile.code).toBe(1);
    expect(hostile.stderr).not.toContain('\u001b');
  });

  it('colours only when asked or on a terminal: --no-color, --color, NO_COLOR and FORCE_COLOR both ways', async () => {
    const ansi = /\u001b\[/;
    const run = (args: string[], env: Record<string, string> = {}) => runCli(['validate', '-m', 'examples/gateway', ...args], { env });
    // Not a terminal (a pipe): plain unless forced.
    expect((await run([])).stdout).not.toMatch(ansi);
    expect((await run([], { FORCE_COLOR: '1' })).stdout).toMatch(ansi);
    expect((await run(['--color'])).stdout).toMatch(ansi);
    expect((await run(['--no-color'], { FORCE_COLOR: '1' })).stdout).not.toMatch(ansi);
    expect((await run([], { FORCE_COLOR: '0' })).stdout).not.toMatch(ansi);
    const valid = await run(['--no-color']);
    expect(valid.code).toBe(0);
    expect(valid.stdout).toContain('Manifests are valid');
  });

  it('decides colour in a documented order (unit)', () => {
    const tty = { isTTY: true };
    const pipe = { isTTY: false };
    expect(colorEnabled(tty, {})).toBe(true);
    expect(colorEnabled(tty, { TERM: 'dumb' })).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled(pipe, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled(pipe, { FORCE_COLOR: '' })).toBe(true);
    expect(colorEnabled(tty, { FORCE_COLOR: '0' })).toBe(false);
    expect(colorEnabled(tty, { FORCE_COLOR: 'false', NO_COLOR: '' })).toBe(false);
    expect(colorEnabled(pipe, { NO_COLOR: '1', FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled(tty, { FORCE_COLOR: '1' }, false)).toBe(false);
    expect(colorEnabled(pipe, { NO_COLOR: '1' }, true)).toBe(true);
    expect(colorFlag(['--color', '--no-color'])).toBe(false);
    expect(colorFlag(['--no-color', '--color'])).toBe(true);
    expect(colorFlag(['--', '--color'])).toBeUndefined();
  });

  it('suggests commands by edit distance (unit)', () => {
    const ids = ['plan', 'apply', 'status', 'buckets orphans', 'buckets purge-orphans', 'rollback', 'history'];
    expect(closest('plna', ids)).toEqual(['plan']);
    expect(closest('aply', ids)).toEqual(['apply']);
    expect(closest('stauts', ids)).toEqual(['status']);
    expect(closest('buckets', ids)).toEqual(['buckets orphans', 'buckets purge-orphans']);
    expect(closest('xyzzy', ids)).toEqual([]);
  });
});
