import { expect } from 'vitest';
import { checkContract, formatViolations, summarize } from './contract-checker.js';
import { MigrationEnv } from './migration-env.js';
import { keysOf, readFinalState, startWorkload, type WorkloadHistory } from './s3-workload.js';

/** Shared by the migration end-to-end tests (migration-contract, migration-crash). */
export interface MigrationJson {
  name: string;
  phase: string;
  routing: string;
  freezes: Array<{ started_at: string; ended_at: string | null; window_ms: number | null; outcome: string | null; reason: string | null }>;
  last_error: string | null;
  orphaned_source: { pool: string; prefix: string; at: string } | null;
  log: Array<{ at: string; level: string; message: string }>;
  progress: { objects_total: number | null; objects_copied: number };
}

async function migrations(env: MigrationEnv): Promise<MigrationJson[]> {
  const r = await env.cli(['migrations', '--json', '--log', '40']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { migrations: MigrationJson[] }).migrations;
}

/** When each generation was committed (after its reload was confirmed), on the workload clock. */
async function reloadTimes(env: MigrationEnv, timeOrigin: number): Promise<number[]> {
  const r = await env.cli(['history', '--json']);
  expect(r.code, r.stderr).toBe(0);
  const json = JSON.parse(r.stdout) as { generations: Array<{ created_at: string }> };
  return json.generations.map((g) => Date.parse(g.created_at) - timeOrigin);
}

/**
 * One migration under a client workload, end to end: a fresh environment (real nginx applied by
 * orch, two real nanio pools by default, each with orch's own credentials, the destination of two
 * members on one data directory; 120 seeded objects), the workload through the gateway, the Migration
 * applied, `orch migrate run` (first killed with SIGKILL at fault point `kill` when given, then run
 * again to the end), the workload stopped, every point of the contract checked. Closes the
 * environment whatever happens.
 */
export async function runWithWorkload(opts: { mode: 'copy' | 'sync'; kill?: string | readonly string[]; server?: 's3rver' | 'nanio' }) {
  const e = await MigrationEnv.start({ seed: { count: 120, sizes: [100, 4096, 70_000] }, server: opts.server ?? 'nanio' });
  try {
    return await migrateUnderWorkload(e, opts);
  } finally {
    await e.close();
  }
}

async function migrateUnderWorkload(e: MigrationEnv, opts: { mode: 'copy' | 'sync'; kill?: string | readonly string[] }) {
  const kills = typeof opts.kill === 'string' ? [opts.kill] : (opts.kill ?? []);
  const before = await e.listPool('old');
  const wl = startWorkload({
    bucket: e.bucket,
    client: () => e.gatewayClient(),
    clients: 4,
    opsPerSecond: 10,
    seed: e.seeded,
    multipart: { clients: 1, partDelayMs: 250, pauseMs: 100 },
    // Metadata-only overwrites (same bytes, new x-amz-meta-w): their reads check the metadata too.
    mix: { overwriteMeta: 3 },
    rngSeed: 42,
  });
  await new Promise((r) => setTimeout(r, 1500));
  e.writeManifest('migrations/photos.yaml', e.migrationYaml({ name: 'photos-to-new', mode: opts.mode, freezeBudget: '10s' }));
  await e.apply();
  expect((await migrations(e))[0]).toMatchObject({ name: 'photos-to-new', phase: 'pending' });

  // Each kill point in turn: the run killed at one is resumed by the next run, killed at the next point.
  for (const kill of kills) {
    const killed = await e.cli(['migrate', 'run', 'photos-to-new'], { env: { ORCH_FAULT_INJECT: kill } });
    expect(killed.signal ?? killed.code, `killed at ${kill}?\n${killed.stdout}\n${killed.stderr}`).toBe('SIGKILL');
    const [m] = await migrations(e);
    console.log(
      `${opts.mode} mode: killed at ${kill} in phase ${m!.phase} (routing ${m!.routing})\n${m!.log
        .slice(-6)
        .map((l) => `  ${l.at} ${l.message}`)
        .join('\n')}`,
    );
  }
  // A loaded machine makes passes and reloads slow (a freeze may be abandoned and tried again):
  // more than e.cli's default 90 s before its SIGKILL, within the test's 360 s.
  const run = await e.cli(['migrate', 'run', 'photos-to-new'], { timeoutMs: 240_000 });
  expect(run.code, `signal ${run.signal} after ${Math.round(run.ms / 1000)} s\n${run.stdout}\n${run.stderr}`).toBe(0);
  // Clients refused during the freeze wait Retry-After (5 s) before their retry: keep going past that.
  await new Promise((r) => setTimeout(r, 7000));
  const history: WorkloadHistory = await wl.stop();

  const [m] = await migrations(e);
  expect(m).toMatchObject({ phase: 'done', routing: 'destination', orphaned_source: { pool: 'old', prefix: 'photos/' } });
  const switched = m!.freezes.filter((f) => f.outcome === 'switched');
  expect(switched).toHaveLength(1);
  // Every freeze as orch recorded it (from its generation served until writes were accepted again,
  // by orch or by nginx's own deadline) stayed within the budget, killed drivers included.
  for (const f of m!.freezes) expect(f.window_ms ?? 0, `freeze ${f.started_at} (${f.outcome})`).toBeLessThanOrEqual(10_000);
  const flip = Date.parse(switched[0]!.ended_at!) - history.timeOrigin;
  const cutovers = m!.freezes.flatMap((f) => [
    Date.parse(f.started_at) - history.timeOrigin,
    ...(f.ended_at ? [Date.parse(f.ended_at) - history.timeOrigin] : []),
  ]);

  const final = await readFinalState(e.gatewayClient(), e.bucket, keysOf(history));
  const report = checkContract({
    history,
    final,
    source: { before, after: await e.listPool('old') },
    options: {
      freezeBudgetMs: 10_000,
      cutoverTimes: cutovers,
      routeFlippedAt: flip,
      reloadTimes: await reloadTimes(e, history.timeOrigin),
    },
  });
  console.log(
    `${opts.mode}${kills.length > 0 ? ` (SIGKILL at ${kills.join(', then ')})` : ''}: ${summarize(report)}; freezes: ${m!.freezes.map((f) => `${f.window_ms} ms ${f.outcome}${f.reason ? ` (${f.reason})` : ''}`).join(', ')}`,
  );
  const fromFreeze = m!.log.findIndex((l) => l.message.includes('freezing writes'));
  console.log(
    m!.log
      .slice(Math.max(0, fromFreeze - 1))
      .map((l) => `  ${l.at} ${l.level} ${l.message}`)
      .join('\n'),
  );
  if (report.violations.length > 0) console.log(formatViolations(report));
  expect(formatViolations(report)).toBe('');
  // The longest 503 window clients saw (first to last raw 503 of a freeze), against the budget
  // itself: the checker's rule allows a reload's slack on top, but nginx refuses writes only while
  // $msec is before freezeUntil, and the freeze is served after the second freezeUntil counts from.
  expect(report.refusal.longestMs, summarize(report)).toBeLessThanOrEqual(10_000);
  // The workload really ran across the cutover.
  expect(history.ops.filter((o) => o.outcome === 'acked' && o.op === 'put' && o.start > flip).length).toBeGreaterThan(0);
  expect(history.ops.filter((o) => o.outcome === 'acked' && o.op === 'get' && o.end < flip).length).toBeGreaterThan(0);

  // Destination equals what clients see; source data never deleted by orch (checked above), and the plan warns about the route.
  const plan = await e.cli(['plan', '--no-refresh']);
  expect(plan.stdout + plan.stderr).toMatch(/still names pool old/);
  return { report, migration: m! };
}
