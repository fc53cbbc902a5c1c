import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runProcess, STACK_LINE } from '../helpers/cli.js';
import { Gateway, oneHostManifests } from '../helpers/gateway.js';
import { onTerminal } from '../helpers/pty.js';

/**
 * Every hint orch prints is a command that works when pasted as is: each case provokes a hint,
 * takes the command out of the printed text, and runs it through `sh -c` exactly as printed (with
 * an `orch` on PATH that is this build's bin/run.js), then checks that it did what the hint says.
 * No word is replaced: hints print real values. The settings are given on the
 * command line only (--config, --manifests, --nginx-dir, --state-dir; the environment has none of
 * them): a hint that dropped them would act on other directories. One nginx, one workspace.
 */

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** What oclif prints for a command line it cannot parse. */
const USAGE_ERROR = /Nonexistent flag|Unexpected argument|Missing required|is not an orch command|command .* not found|Expected --/i;

describe.sequential('every hint, run as printed', () => {
  let gw: Gateway;
  let port: number;
  let binDir: string;
  const manifests = (header: string): Record<string, string> => oneHostManifests(gw, port, header);

  /** The environment without the settings that have flags: those are given on the command line. */
  const bareEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
    const env = gw.env(gw.work, extra);
    for (const k of ['ORCH_CONFIG', 'ORCH_MANIFESTS', 'ORCH_NGINX_DIR', 'ORCH_STATE_DIR']) delete env[k];
    return env;
  };
  const settings = (): string[] => [
    '--config',
    join(gw.work, 'orch.yaml'),
    '--manifests',
    gw.manifestsDir,
    '--nginx-dir',
    gw.nginxDir,
    '--state-dir',
    gw.stateDir,
  ];

  /** `orch ARGS SETTINGS`, the CLI run directly (to provoke a hint); help takes no settings. */
  const orch = (args: string[], env: NodeJS.ProcessEnv = bareEnv()): Promise<Run> =>
    run(process.execPath, [join(REPO_ROOT, 'bin', 'run.js'), ...args, ...(args[0] === 'help' ? [] : settings())], env);

  const run = (file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> => runProcess(file, args, { env, cwd: gw.work });

  /** The command a hint prints (the first group of `pattern` in `text`), run by sh exactly as printed. */
  async function runHint(text: string, pattern: RegExp, env: NodeJS.ProcessEnv = bareEnv()): Promise<Run & { command: string }> {
    const m = pattern.exec(text);
    if (!m?.[1]) throw new Error(`no hint matching ${String(pattern)} in:\n${text}`);
    const command = m[1];
    // A hint to another orch command carries the settings given on the command line.
    if (command.startsWith('orch ') && command !== 'orch help') expect(command).toContain(`--state-dir ${gw.stateDir}`);
    const r = await run('/bin/sh', ['-c', command], { ...env, PATH: `${binDir}:${env['PATH'] ?? ''}` });
    expect(r.stderr, `${command}\n${r.stderr}`).not.toMatch(USAGE_ERROR);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stderr).not.toContain('Internal error');
    return { ...r, command };
  }

  const generations = (): number => gw.readState().generations.length;

  beforeAll(async () => {
    gw = await Gateway.start({ pools: { hot: 1 }, vhostPorts: 1 });
    port = gw.ports[0]!;
    gw.setManifests(manifests('one'));
    binDir = join(gw.root, 'bin');
    mkdirSync(binDir, { recursive: true });
    writeFileSync(join(binDir, 'orch'), `#!/bin/sh\nexec '${process.execPath}' '${join(REPO_ROOT, 'bin', 'run.js')}' "$@"\n`);
    chmodSync(join(binDir, 'orch'), 0o755);
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
  });

  it('help for a command that does not exist: `orch help` lists the commands', async () => {
    const r = await orch(['help', 'aply']);
    expect(r.code).not.toBe(0);
    const h = await runHint(r.stderr, /See the commands with: (orch help)$/m);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toContain('apply');
  });

  it("rollback with nothing applied: 'orch history' shows the (empty) history", async () => {
    const r = await orch(['rollback', '--auto-approve']);
    expect(r.code).toBe(1);
    const h = await runHint(r.stderr, /See '(orch history[^']*)'/);
    expect(h.code, h.stderr).toBe(0);
  });

  it('apply without confirmation: `orch plan --out gateway.plan`, then `orch apply gateway.plan` applies', async () => {
    const r = await orch(['apply']);
    expect(r.code).toBe(1);
    const plan = await runHint(r.stderr, /\(`(orch plan --out gateway\.plan[^`]*)`/);
    expect(plan.code, plan.stderr).toBe(0);
    expect(existsSync(join(gw.work, 'gateway.plan'))).toBe(true);
    const apply = await runHint(r.stderr, /then `(orch apply gateway\.plan[^`]*)`/);
    expect(apply.code, apply.stderr).toBe(0);
    expect(generations()).toBe(1);
  });

  it('a stale saved plan: saved again and applied as the hint says', async () => {
    gw.setManifests(manifests('stale'));
    const file = join(gw.root, 'stale.plan');
    expect((await orch(['plan', '--no-refresh', '--out', file])).code).toBe(0);
    gw.setManifests(manifests('newer'));
    const r = await orch(['apply', file]);
    expect(r.code, r.stderr).toBe(4);
    const save = await runHint(r.stderr, /Save it again with `(orch plan --out [^`]*)`/);
    expect(save.code, save.stderr).toBe(0);
    const apply = await runHint(r.stderr, /apply it with `(orch apply [^`]*)`/);
    expect(apply.code, apply.stderr + apply.stdout).toBe(0);
    expect(gw.readManaged('vhosts/s3.conf')).toContain('X-Test newer');
  });

  it('a saved plan that does not exist: `orch plan --out PATH` creates it', async () => {
    const file = join(gw.root, 'missing.plan');
    const r = await orch(['apply', file]);
    expect(r.code).toBe(1);
    const h = await runHint(r.stderr, /Create it with `(orch plan --out [^`]*)`/);
    expect(h.code, h.stderr).toBe(0);
    expect(existsSync(file)).toBe(true);
  });

  it("a generation that does not exist: 'orch history' lists the generations", async () => {
    const r = await orch(['history', 'show', '99']);
    expect(r.code).toBe(1);
    const h = await runHint(r.stderr, /'(orch history[^']*)'/);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/\b1\b/);
  });

  it("show FILE's `Apply exactly it with:` applies the saved plan", async () => {
    gw.setManifests(manifests('two'));
    const file = join(gw.root, 'second.plan');
    expect((await orch(['plan', '--no-refresh', '--out', file])).code).toBe(0);
    const shown = await orch(['show', file]);
    expect(shown.code, shown.stderr).toBe(0);
    const h = await runHint(shown.stdout, /Apply exactly it with: (orch .*)$/m);
    expect(h.code, h.stderr + h.stdout).toBe(0);
    expect(gw.readManaged('vhosts/s3.conf')).toContain('X-Test two');
  });

  it("drift: 'orch drift' shows the edit, and the discard hint applies over it", async () => {
    gw.writeManaged('vhosts/s3.conf', `${gw.readManaged('vhosts/s3.conf')}# hand edit\n`);
    gw.setManifests(manifests('three'));
    const r = await orch(['apply', '--auto-approve']);
    expect(r.code).toBe(1);
    const see = await runHint(r.stderr, /See the edits with '(orch drift[^']*)'/);
    expect(see.stdout + see.stderr).toContain('vhosts/s3.conf');
    expect(see.stdout + see.stderr).toContain('# hand edit');
    // The apply it shows asks for confirmation, as any apply does: run at a terminal, answered yes.
    const m = /'(orch apply --overwrite-drift-path [^']*)'/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const t = await onTerminal(m![1]!.split(' ').slice(1), "Only 'yes' will be accepted", 'yes\\r', bareEnv(), gw.work);
    expect(t.code, t.output).toBe(0);
    expect(gw.readManaged('vhosts/s3.conf')).toContain('X-Test three');
  });

  it('a suspension reason too long: the example suspends, `orch resume` ends it', async () => {
    const r = await orch(['suspend', '--reason', 'x'.repeat(2000)]);
    expect(r.code).toBe(1);
    const s = await runHint(r.stderr, /e\.g\. `(orch suspend --reason [^`]*)`/);
    expect(s.code, s.stderr).toBe(0);
    const status = await orch(['status', '--json']);
    expect(status.stdout).toContain('maintenance of pool-b');
    const resumed = await orch(['resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
  });

  it("buckets of a virtual host not deployed: 'orch buckets' lists the deployed ones", async () => {
    const r = await orch(['buckets', '--vhost', 'nosuch']);
    expect(r.code).toBe(1);
    const h = await runHint(r.stderr, /with '(orch buckets[^']*)' \(without --vhost\)/);
    expect(h.code, h.stderr).toBe(0);
  });

  it('purge-orphans --json without --yes: the listing command, shell-quoted, runs as printed', async () => {
    const r = await orch(['buckets', 'purge-orphans', 's3', 'a b$(touch pwned)', '--json']);
    expect(r.code).toBe(1);
    // With --json the error, its hint included, is the JSON document on standard output.
    const hint = (JSON.parse(r.stdout) as { error: { hint: string } }).error.hint;
    const h = await runHint(hint, /Review the listing with: `(orch buckets purge-orphans [^`]*)`/);
    expect(h.command).toContain("'a b$(touch pwned)'");
    expect(existsSync(join(gw.work, 'pwned'))).toBe(false);
    // The listing ran with the bucket name exactly as typed (this gateway's pool is not nanio, so
    // it ends with that refusal, not with a usage error), and the shell ran nothing of it.
    expect(h.code).toBe(1);
    const answer = JSON.parse(h.stdout) as { error: { code: string; message: string } };
    expect(answer.error.code).toBe('purge.not-nanio');
    expect(answer.error.message).toContain('Refusing to purge a b$(touch pwned) on s3');
  });

  it("a migration that does not exist: 'orch migrations' lists them", async () => {
    const r = await orch(['migrate', 'run', 'nosuch']);
    expect(r.code).toBe(1);
    const h = await runHint(r.stderr, /'(orch migrations[^']*)' lists them/);
    expect(h.code, h.stderr).toBe(0);
  });

  it("rebuild-db without --force: 'orch rebuild-db --dry-run' previews", async () => {
    const r = await orch(['rebuild-db']);
    expect(r.code).toBe(1);
    const h = await runHint(r.stderr, /'(orch rebuild-db --dry-run[^']*)'/);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toContain('Nothing was written (--dry-run).');
  });

  it("a damaged state database: the restore command, or 'orch rebuild-db --force', then 'orch plan' works", async () => {
    const damage = async (): Promise<string> => {
      writeFileSync(gw.dbPath, 'this is not a SQLite database, it is damaged '.repeat(200));
      const r = await orch(['plan', '--no-refresh']);
      expect(r.code).not.toBe(0);
      return r.stderr;
    };
    const restore = await runHint(await damage(), /the one live: (mv .*?) {2}\(with orch stopped/);
    expect(restore.code, restore.stderr).toBe(0);
    const damaged = await damage();
    const rebuilt = await runHint(damaged, /from the files: '(orch rebuild-db --force[^']*)'/);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    const check = await runHint(damaged, /then check with '(orch plan[^']*)'/);
    expect(check.code, check.stderr).toBe(0);
  });

  it("a key file that does not exist: 'orch secret-key generate --out FILE' creates it", async () => {
    const keyFile = join(gw.root, 'keys', 'orch.key');
    mkdirSync(join(gw.root, 'keys'), { recursive: true });
    const env = bareEnv({ ORCH_SECRET_KEY_FILE: keyFile });
    const r = await orch(['apply', '--auto-approve'], env);
    expect(r.code).not.toBe(0);
    const h = await runHint(r.stderr, /'(orch secret-key generate --out [^']*)'/, env);
    expect(h.code, h.stderr).toBe(0);
    expect(existsSync(keyFile)).toBe(true);
  });
});
