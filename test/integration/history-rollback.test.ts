import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_LINE } from '../helpers/cli.js';
import { docs, Gateway, poolYaml, printedCommand, routeYaml, vhostYaml } from '../helpers/gateway.js';
import { CTRL_KEYS, onTerminal } from '../helpers/pty.js';
import { WatchProcess } from '../helpers/watch-daemon.js';
import { expectContract } from '../helpers/json-contract.js';

/**
 * Issue 21, against a real nginx: each generation records who applied it and from which git commit
 * of the manifests; `orch history show N` prints its file changes with diffs; `apply --dry-run`
 * shows the plan it validated; a rollback says whether the manifests still describe another state;
 * a running `orch watch` in apply mode is named before a rollback it would undo, and
 * `--suspend-watch` suspends it; Ctrl-C or Ctrl-D at the guard's prompt cancel.
 */
describe.sequential('history, dry run, rollback messages and the daemon guard', () => {
  let gw: Gateway;
  let port: number;
  const photos = (pool: string) => routeYaml('s3-photos', { virtualHost: 's3', path: '/photos/', pool });
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args], {
      cwd: gw.manifestsDir,
      encoding: 'utf8',
    }).trim();
  const ok = async (args: string[], env: Record<string, string> = {}) => {
    const r = await gw.orch(args, { env });
    expect(r.code, `orch ${args.join(' ')}: ${r.stderr}${r.stdout}`).toBe(0);
    expect(r.stderr).not.toMatch(STACK_LINE);
    return r;
  };

  beforeAll(async () => {
    gw = await Gateway.start({ pools: { hot: 1, archive: 1 }, vhostPorts: 1 });
    port = gw.ports[0]!;
    gw.setManifests({
      'pools.yaml': docs(poolYaml('hot', gw.membersOf('hot')), poolYaml('archive', gw.membersOf('archive'))),
      'vhosts/s3.yaml': vhostYaml('s3', { serverNames: ['s3.test'], port, defaultPool: 'hot' }),
      'routes/photos.yaml': photos('archive'),
    });
    git('init', '-q');
    git('add', '-A');
    git('commit', '-q', '-m', 'first');
  });
  afterAll(async () => {
    await gw?.orch(['resume']);
    await gw?.stop();
  });

  it('records who applied each generation and from which commit; history show prints the diffs', async () => {
    const head = git('rev-parse', 'HEAD');
    await ok(['apply', '--auto-approve']);
    const first = gw.readState().generation!;

    // An uncommitted edit: recorded as the same commit, dirty.
    gw.writeManifest('routes/photos.yaml', photos('hot'));
    await ok(['apply', '--auto-approve']);
    const second = first + 1;

    const list = await ok(['history']);
    expect(list.stdout).toMatch(new RegExp(`^\\s*${second}\\s.*applied\\s+apply\\s.*@.* git ${head.slice(0, 12)}\\+dirty`, 'm'));
    expect(list.stdout).toMatch(new RegExp(`^\\s*${first}\\s.*applied\\s+apply\\s.*@.* git ${head.slice(0, 12)}(?!\\+)`, 'm'));
    expect(list.stdout).toContain(`orch history show ${second}`);

    const json = expectContract<{ format_version: string; generations: Array<Record<string, unknown>> }>(
      'history',
      (await ok(['history', '--json'])).stdout,
    );
    expect(json.format_version).toBe('1.0');
    expect(json.generations[0]).toMatchObject({
      number: second,
      command: 'apply',
      outcome: 'applied',
      git_commit: head,
      git_dirty: true,
      restorable: true,
    });
    expect(json.generations[0]!['actor']).toMatch(/^[^@\s]+.*@/);
    expect(json.generations[1]).toMatchObject({ number: first, git_commit: head, git_dirty: false });
    expect(Object.keys(json.generations[0]!).every((k) => /^[a-z0-9_]+$/.test(k))).toBe(true);

    const show = await ok(['history', 'show', String(second)]);
    expect(show.stdout).toContain(`Generation ${second}`);
    expect(show.stdout).toContain(`git commit ${head} with uncommitted changes`);
    expect(show.stdout).toMatch(/^~ vhosts\/s3\.conf {2}\(VirtualHost\/s3\)$/m);
    expect(show.stdout).toMatch(/^ {4}-.*upstream_pool_archive|^ {4}-.*archive/m);
    expect(show.stdout).toMatch(/^ {4}\+.*hot/m);
    expect(show.stdout).not.toContain('_orch-status');

    const detail = expectContract<{
      generation: { number: number; changes: Array<{ path: string; action: string; diff: string | null }> };
    }>('history-show', (await ok(['history', 'show', String(second), '--json'])).stdout);
    expect(detail.generation.number).toBe(second);
    const conf = detail.generation.changes.find((c) => c.path === 'vhosts/s3.conf')!;
    expect(conf.action).toBe('update');
    expect(conf.diff).toMatch(/^--- a\/vhosts\/s3\.conf$/m);

    const missing = await gw.orch(['history', 'show', '999']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('There is no generation 999.');
    expect(missing.stderr).not.toMatch(STACK_LINE);
  });

  it('apply --dry-run shows the plan it validated and changes nothing', async () => {
    const before = gw.readState().generation;
    gw.writeManifest('routes/photos.yaml', photos('archive'));
    const r = await ok(['apply', '--dry-run', '--no-color']);
    expect(r.stdout).toMatch(/~ VirtualHost\/s3 will be updated/);
    expect(r.stdout).toMatch(/^ {8}\+.*archive/m);
    expect(r.stdout).toContain('Dry run: the new generation passes nginx -t');
    expect(gw.readState().generation).toBe(before);
    expect((await gw.request(port, 's3.test', '/photos/a'))?.pool).toBe('hot');
  });

  it('a rollback says whether the manifests still describe another state', async () => {
    // The manifests say archive (the first generation's routing); current is hot.
    const current = gw.readState().generation!;
    const match = await ok(['rollback', '--auto-approve']);
    expect(match.stdout).toContain(`Restored generation ${current - 1} as generation ${current + 1}.`);
    expect(match.stdout).toContain('The manifests describe the same files: the next apply changes nothing.');
    expect((await gw.orch(['plan', '--detailed-exitcode'])).code).toBe(0);

    // Back to the hot generation while the manifests say archive.
    const other = await ok(['rollback', String(current), '--auto-approve']);
    expect(other.stdout).toContain("The manifests still describe another state: 'orch plan' shows the way back");
    expect((await gw.orch(['plan', '--detailed-exitcode'])).code).toBe(2);
    expect((await gw.request(port, 's3.test', '/photos/a'))?.pool).toBe('hot');
  });

  it('names a running orch watch that would undo a rollback, and suspends it with --suspend-watch', async () => {
    await ok(['apply', '--auto-approve']);
    const w = await WatchProcess.start(gw, ['--drift', 'warn', '--drift-interval', '3600']);
    try {
      await w.waitStatus((s) => s.ready, 30_000, 'ready');
      const env = { ORCH_WATCH_LISTEN: `127.0.0.1:${w.port}` };
      const warned = await ok(['rollback', '--auto-approve'], env);
      expect(warned.stderr).toContain(`Warning: orch watch (pid ${w.child.pid}) runs in apply mode for this state directory`);
      expect(warned.stderr).toContain("run 'orch suspend' first, or pass --suspend-watch");
      expect(existsSync(join(gw.stateDir, 'watch-suspended.json'))).toBe(false);
      // The warning's command, run exactly as printed, suspends this daemon (its /status says so);
      // the command it then names, run as printed, resumes it.
      const suspend = await gw.orchAsPrinted(printedCommand(warned.stderr, /run '(orch suspend[^']*)' first/), { env });
      expect(suspend.code, suspend.stderr).toBe(0);
      expect(existsSync(join(gw.stateDir, 'watch-suspended.json'))).toBe(true);
      expect((await w.waitStatus((s) => s.suspended !== null, 10_000, 'suspended')).suspended).not.toBeNull();
      const resume = await gw.orchAsPrinted(printedCommand(suspend.stdout, /until you run '(orch resume[^']*)'/), { env });
      expect(resume.code, resume.stderr).toBe(0);
      expect(resume.stdout).toContain('orch watch is resumed for');
      expect(existsSync(join(gw.stateDir, 'watch-suspended.json'))).toBe(false);

      // At a terminal the guard asks first: Ctrl-C or Ctrl-D there cancels the rollback, nothing suspended.
      for (const [key, send] of CTRL_KEYS) {
        const before = gw.snapshot();
        const generation = gw.readState().generation;
        const r = await onTerminal(['rollback'], 'Suspend it first (orch suspend)?', send, gw.env(gw.work, env), gw.work);
        expect(r.sent, `${key}: ${r.output}`).toBe(true);
        expect(r.code, `${key}: ${r.output}`).toBe(130);
        expect(r.output).toContain('Cancelled; nothing was changed.');
        expect(r.output).not.toMatch(STACK_LINE);
        expect(r.output).not.toContain('Internal error');
        expect(gw.snapshot()).toEqual(before);
        expect(gw.readState().generation).toBe(generation);
        expect(existsSync(join(gw.stateDir, 'watch-suspended.json'))).toBe(false);
      }

      const suspended = await ok(['rollback', '--auto-approve', '--suspend-watch'], env);
      expect(suspended.stderr).toContain('Suspended orch watch for');
      expect(existsSync(join(gw.stateDir, 'watch-suspended.json'))).toBe(true);
      const status = await ok(['status'], env);
      expect(status.stdout).toContain('(orch rollback): nothing is reconciled until: orch resume');
      // Suspended already: no second warning.
      const quiet = await ok(['rollback', '--auto-approve'], env);
      expect(quiet.stderr).not.toContain('Warning: orch watch');
    } finally {
      await w.stop();
      await gw.orch(['resume']);
    }
  });

  it('with nginx stopped, an apply says nginx is not running (exit 6), never that nginx serves the previous generation', async () => {
    const pid = gw.masterPid()!;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 200; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    const live = gw.readState().generation;
    gw.writeManifest('routes/photos.yaml', photos(gw.readManaged('vhosts/s3.conf').includes('archive') ? 'hot' : 'archive'));
    const r = await gw.orch(['apply', '--auto-approve'], { env: { ORCH_RELOAD_TIMEOUT: '2' } });
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain('nginx is not running: the reload reached no nginx');
    expect(r.stderr).toContain(`Start nginx (it loads generation ${live}, the live one)`);
    expect(r.stderr).not.toContain('nginx serves it again');
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(gw.readState().generation).toBe(live);
    expect((await gw.restartNginx()).ok).toBe(true);
    await ok(['apply', '--auto-approve']);
  });
});
