import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STEP_TITLES } from '../../src/domain/apply/apply-events.js';
import {
  changedPaths,
  docs,
  Gateway,
  holdPort,
  poolYaml,
  routeYaml,
  sameFiles,
  tokenOf,
  vhostYaml,
  withoutStatus,
} from '../helpers/gateway.js';

/**
 * Crash safety of `orch apply`, proven with a real nginx. For every fault point in the executor
 * (test/helpers/faulty-cli.mjs, run when ORCH_FAULT_INJECT is set, SIGKILLs orch there; the shipped
 * bin/run.js ignores the variable) and for real SIGKILLs at random moments: right after the crash
 * the live tree is exactly one generation and passes nginx -t; after the next orch writer ran,
 * the managed files are exactly the old or exactly the new
 * generation (sha256 of every file), `nginx -t` passes, the state database agrees with the disk,
 * nginx serves what is on disk, and the next plan is empty or exactly the change not yet made.
 *
 * The two generations (A and B) differ in 6 files: a route moved to a new pool (pool files created,
 * virtual host rewritten) and a virtual host deleted. Each crash goes from whichever is applied to
 * the other one.
 */

type SetName = 'A' | 'B';

/** Resolves (with the time) when a running apply reports on stderr that its plan is computed. */
function planComputed(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let err = '';
    const onData = (d: Buffer | string) => {
      err += d.toString();
      if (err.includes(STEP_TITLES.plan)) {
        child.stderr!.off('data', onData);
        resolve(performance.now());
      }
    };
    child.stderr!.on('data', onData);
    child.once('close', () => reject(new Error(`apply ended before computing its plan:\n${err}`)));
  });
}

/**
 * Where each fault point is, and what the next writer must make of it. `before`: what the live tree
 * is right after the crash (never a mix: one rename switches it); `leftover`: a built generation
 * not (yet) live that the next writer removes.
 */
const POINTS: Array<{ point: string; lands: 'old' | 'new'; before: 'old' | 'new'; journal: boolean; reloaded: boolean }> = [
  { point: 'after-lock', lands: 'old', before: 'old', journal: false, reloaded: false },
  { point: 'after-stage', lands: 'old', before: 'old', journal: false, reloaded: false },
  { point: 'after-validate', lands: 'old', before: 'old', journal: false, reloaded: false },
  { point: 'after-journal', lands: 'old', before: 'old', journal: true, reloaded: false },
  // Switched, not reloaded: nginx still serves the old generation, so the next run switches back.
  { point: 'after-switch', lands: 'old', before: 'new', journal: true, reloaded: false },
  // The reload was sent and nginx loads the new files: the next run must follow nginx, not undo it.
  { point: 'after-reload', lands: 'new', before: 'new', journal: true, reloaded: true },
  { point: 'after-confirm', lands: 'new', before: 'new', journal: true, reloaded: true },
  { point: 'before-commit', lands: 'new', before: 'new', journal: true, reloaded: true },
  { point: 'after-commit', lands: 'new', before: 'new', journal: true, reloaded: true },
];

interface PlanJson {
  has_changes: boolean;
  changes: Array<{ files: Array<{ path: string; action: string; after_sha256: string | null }> }>;
}

describe.sequential('apply: crash at any moment leaves files, state and nginx consistent', () => {
  let gw: Gateway;
  let s3Port: number;
  let filesPort: number;
  const sets: Record<SetName, Record<string, string>> = { A: {}, B: {} };
  let current: SetName = 'A';
  /** How long an apply runs after printing that its plan is computed. */
  let tailMs = 0;

  const manifests = (name: SetName): Record<string, string> => {
    const common = {
      'pools.yaml': docs(poolYaml('hot', gw.membersOf('hot')), poolYaml('archive', gw.membersOf('archive'))),
      'vhosts/s3.yaml': vhostYaml('s3', { serverNames: ['s3.test'], port: s3Port, defaultPool: 'hot' }),
    };
    return name === 'A'
      ? {
          ...common,
          'vhosts/files.yaml': vhostYaml('files', { serverNames: ['files.test'], port: filesPort, defaultPool: 'archive' }),
          'routes/photos.yaml': routeYaml('s3-photos', { virtualHost: 's3', path: '/photos/', pool: 'archive' }),
        }
      : {
          ...common,
          'pools/fresh.yaml': poolYaml('fresh', gw.membersOf('fresh')),
          'routes/photos.yaml': routeYaml('s3-photos', { virtualHost: 's3', path: '/photos/', pool: 'fresh' }),
        };
  };
  const other = (s: SetName): SetName => (s === 'A' ? 'B' : 'A');

  /** nginx serves the routing of generation `name`. */
  async function expectRouting(name: SetName): Promise<void> {
    const photosPool = name === 'A' ? 'archive' : 'fresh';
    expect(await gw.request(s3Port, 's3.test', '/photos/k1'), `routing of ${name}`).toMatchObject({
      status: 200,
      pool: photosPool,
      uri: '/photos/k1',
    });
    expect(await gw.request(s3Port, 's3.test', '/photos?list-type=2'), `routing of ${name}`).toMatchObject({
      status: 200,
      pool: photosPool,
    });
    expect(await gw.request(s3Port, 's3.test', '/other/k2'), `routing of ${name}`).toMatchObject({ status: 200, pool: 'hot' });
    const files = await gw.request(filesPort, 'files.test', '/x');
    if (name === 'A') expect(files, 'files vhost of A').toMatchObject({ status: 200, pool: 'archive' });
    else expect(files, 'files vhost deleted in B: nothing listens on its port').toBeNull();
  }

  /**
   * After recovery: consistent, on the expected side, served, and the next plan is empty or exactly
   * the change not made. The plan is `orch plan --detailed-exitcode --json`, or the one a recovering
   * `apply --dry-run --json` computed right after recovering (to save a CLI start per random kill).
   */
  async function expectRecovered(from: SetName, to: SetName, context: string, planFromDryRun?: PlanJson): Promise<SetName> {
    const { landed, problems } = await gw.consistency(sets);
    expect(problems, context).toEqual([]);
    expect([from, to], context).toContain(landed);
    await expectRouting(landed as SetName);
    let code: number | null;
    let planJson: PlanJson;
    if (planFromDryRun) {
      planJson = planFromDryRun;
      code = planFromDryRun.has_changes ? 2 : 0;
    } else {
      const plan = await gw.orch(['plan', '--detailed-exitcode', '--json']);
      expect(plan.stderr, context).toBe('');
      code = plan.code;
      planJson = JSON.parse(plan.stdout) as PlanJson;
    }
    if (landed === to) {
      expect(code, `${context}: the plan after recovery must be empty\n${JSON.stringify(planJson.changes)}`).toBe(0);
    } else {
      expect(code, `${context}: the plan after recovery must show the change not made`).toBe(2);
      const files = planJson.changes.flatMap((c) => c.files);
      expect(files.map((f) => f.path).sort(), context).toEqual(changedPaths(sets[from], sets[to]));
      for (const f of files) expect(f.after_sha256, `${context}: ${f.path}`).toBe(sets[to][f.path] ?? null);
    }
    return landed as SetName;
  }

  beforeAll(async () => {
    gw = await Gateway.start({ pools: { hot: 1, archive: 1, fresh: 1 }, vhostPorts: 2 });
    [s3Port, filesPort] = gw.ports as [number, number];
    for (const name of ['A', 'B'] as const) {
      gw.setManifests(manifests(name));
      const run = gw.spawnOrch(['apply', '--auto-approve']);
      const planned = await planComputed(run.child);
      const r = await run.done;
      expect(r.code, r.stderr + r.stdout).toBe(0);
      sets[name] = withoutStatus(gw.snapshot());
      tailMs = performance.now() - planned;
    }
    current = 'B';
    // The change: 6 files (a pool created, a virtual host rewritten, one deleted) plus the status file.
    expect(changedPaths(sets.A, sets.B)).toEqual([
      'pools/fresh.conf',
      'pools/fresh.meta.json',
      'vhosts/files.conf',
      'vhosts/files.meta.json',
      'vhosts/s3.conf',
      'vhosts/s3.meta.json',
    ]);
    await expectRouting('B');
  });
  afterAll(async () => {
    await gw?.stop();
  });

  for (const p of POINTS) {
    it(`fault ${p.point}: the next run ${p.lands === 'old' ? 'restores the old' : 'completes the new'} generation`, async () => {
      const from = current;
      const to = other(from);
      const before = gw.readState();
      const oldToken = tokenOf(before.generation!, before.fingerprint);
      const beforeSnap = gw.snapshot();
      gw.setManifests(manifests(to));

      const crashed = await gw.orch(['apply', '--auto-approve'], { env: { ORCH_FAULT_INJECT: p.point } });
      expect(crashed.signal, `apply must die at ${p.point}\n${crashed.stderr}${crashed.stdout}`).toBe('SIGKILL');

      // What the crash left, before any recovery: exactly one generation, and nginx -t passes on it.
      const onDisk = withoutStatus(gw.snapshot());
      if (p.before === 'old') expect(gw.snapshot(), 'untouched before the switch').toEqual(beforeSnap);
      if (p.before === 'new') expect(sameFiles(onDisk, sets[to]), 'switched: exactly the new generation').toBe(true);
      expect((await gw.nginxT()).ok, `nginx -t on the live tree after a crash at ${p.point}`).toBe(true);
      expect(gw.journalExists()).toBe(p.journal);
      expect(gw.readState().generation).toBe(p.point === 'after-commit' ? before.generation! + 1 : before.generation);
      // While orch is dead, nginx keeps serving the last configuration it loaded.
      if (!p.reloaded) expect(await gw.served()).toBe(oldToken);
      // After the reload was sent, nginx loads the new files (as it would whether orch lives or not).
      else expect(await gw.waitServed(gw.statusFileToken()!, 15_000), 'nginx loaded the new generation').toBe(gw.statusFileToken());
      if (p.point === 'after-switch') {
        // Interrupted applies are said first; orch's own files are not hand edits.
        const status = await gw.orch(['status', '--json']);
        expect(status.code, status.stderr).toBe(0);
        expect(JSON.parse(status.stdout)).toMatchObject({
          interrupted_apply: { generation: before.generation! + 1, phase: 'prepared', switched: true },
        });
        const drift = await gw.orch(['drift', '--detailed-exitcode']);
        expect(drift.code, drift.stdout).toBe(0);
        expect(drift.stdout).toMatch(/^Note: An apply of generation \d+ .* was interrupted after switching to it/);
        const plan = await gw.orch(['plan', '--no-refresh']);
        expect(plan.stderr).toMatch(/^Note: An apply of generation \d+ .* was interrupted after switching to it/);
      }

      // The next writer recovers (a dry run: recovery, plan and staged validation only).
      const recovery = await gw.orch(['apply', '--dry-run', '--auto-approve']);
      expect(recovery.code, recovery.stderr + recovery.stdout).toBe(0);
      if (p.journal)
        expect(recovery.stdout).toMatch(
          new RegExp(
            `Recovered an interrupted apply: ${p.lands === 'old' ? 'rolled-back' : 'rolled-forward'} generation ${before.generation! + 1}`,
          ),
        );
      const landed = await expectRecovered(from, to, `fault ${p.point}`);
      expect(landed, `fault ${p.point}`).toBe(p.lands === 'old' ? from : to);
      current = landed;
    });
  }

  it('the shipped CLI (bin/run.js) honours no fault point: ORCH_FAULT_INJECT does nothing there', async () => {
    for (const point of ['after-switch', 'after-reload']) {
      const from = current;
      const to = other(from);
      const before = gw.readState();
      gw.setManifests(manifests(to));
      const r = await gw.orch(['apply', '--auto-approve'], { env: { ORCH_FAULT_INJECT: point }, entry: 'shipped' });
      expect(r.signal, `bin/run.js must not die at ${point}`).toBe(null);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toContain(`Apply complete: generation ${before.generation! + 1}.`);
      expect(gw.journalExists()).toBe(false);
      expect(await expectRecovered(from, to, `shipped CLI, ${point}`)).toBe(to);
      current = to;
    }
  });

  it('a crash right after the reload, when the old generation can no longer be loaded (its port was taken meanwhile)', async () => {
    if (current === 'B') {
      gw.setManifests(manifests('A'));
      expect((await gw.orch(['apply', '--auto-approve'])).code).toBe(0);
      current = 'A';
    }
    const before = gw.readState();
    const oldToken = tokenOf(before.generation!, before.fingerprint);
    gw.setManifests(manifests('B'));
    const crashed = await gw.orch(['apply', '--auto-approve'], { env: { ORCH_FAULT_INJECT: 'after-reload' } });
    expect(crashed.signal).toBe('SIGKILL');
    // nginx loaded B (which has no server on the files port): another process takes that port.
    const newToken = gw.statusFileToken()!;
    expect(newToken).not.toBe(oldToken);
    expect(await gw.waitServed(newToken, 15_000), `nginx did not load B: ${gw.errorLogSince(0)}`).toBe(newToken);
    let blocker: Awaited<ReturnType<typeof holdPort>> | null = null;
    // (Old workers hold the socket until they have exited.)
    for (let i = 0; i < 200 && !blocker; i++) {
      blocker = await holdPort(filesPort).catch(() => null);
      if (!blocker) await new Promise((r) => setTimeout(r, 25));
    }
    expect(blocker, 'the files port was released by nginx').not.toBeNull();
    try {
      const recovery = await gw.orch(['apply', '--dry-run', '--auto-approve']);
      expect(recovery.code, recovery.stderr + recovery.stdout).toBe(0);
      // nginx runs B and cannot go back to A: files and state must follow nginx, not contradict it.
      current = await expectRecovered('A', 'B', 'crash after reload, old port taken');
      expect(current).toBe('B');
    } finally {
      await blocker?.close();
    }
  });

  it('real SIGKILLs of a running apply at random moments', async () => {
    // The kills are spread over the part of an apply that writes (after its plan is computed, as its
    // progress on stderr says), measured on this machine now: start-up time varies too much under load.
    const kills = 5;
    const delays = Array.from({ length: kills }, (_, i) => Math.round((tailMs * (i + Math.random())) / kills));
    const outcomes: string[] = [];
    for (const delay of delays) {
      const from = current;
      const to = other(from);
      gw.setManifests(manifests(to));
      const run = gw.spawnOrch(['apply', '--auto-approve']);
      await planComputed(run.child);
      await new Promise((r) => setTimeout(r, delay));
      run.child.kill('SIGKILL');
      const r = await run.done;
      const killed = r.signal === 'SIGKILL';
      if (!killed) expect(r.code, `not killed in time (${delay} ms) yet failed:\n${r.stderr}`).toBe(0);
      const recovery = await gw.orch(['apply', '--dry-run', '--auto-approve', '--json']);
      expect(recovery.code, `kill after ${delay} ms: ${recovery.stderr}`).toBe(0);
      const result = JSON.parse(recovery.stdout) as { plan: PlanJson; recovered: { action: string } | null };
      current = await expectRecovered(from, to, `SIGKILL after ${delay} ms`, result.plan);
      outcomes.push(
        `${delay} ms: ${killed ? 'killed' : 'finished'}, ${result.recovered?.action ?? 'no journal'} -> ${current === to ? 'new' : 'old'}`,
      );
    }
    console.log(`apply after its plan: ${Math.round(tailMs)} ms; kills that long after the plan: ${outcomes.join('; ')}`);
    // Finally the manifests' generation is applied and the plan is empty.
    const to = other(current);
    gw.setManifests(manifests(to));
    const r = await gw.orch(['apply', '--auto-approve']);
    expect(r.code, `${outcomes.join(' ')}\n${r.stderr}`).toBe(0);
    const { landed, problems } = await gw.consistency(sets);
    expect(problems).toEqual([]);
    expect(landed).toBe(to);
    await expectRouting(to);
    expect((await gw.orch(['plan', '--detailed-exitcode'])).code).toBe(0);
  });
});
