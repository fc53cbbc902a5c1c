import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkContract, formatViolations, summarize, type ContractReport } from '../helpers/contract-checker.js';
import { MigrationEnv } from '../helpers/migration-env.js';
import { nanioUnavailable } from '../helpers/nanio.js';
import { keysOf, readFinalState, startWorkload, type OpRecord, type WorkloadHistory } from '../helpers/s3-workload.js';

/**
 * `npm run bench`, part "migration" (test/bench/migration.mjs runs this file through
 * test/bench/vitest.bench.config.ts; `BENCH_ONLY=migration node test/bench/run.mjs` runs only it):
 * the write freeze of a bucket migrated under a steady write load, measured end to end.
 *
 * Each run, in a fresh environment (test/helpers/migration-env.ts: a real nginx applied by the
 * built orch, two s3rver pools): 2,000 objects of 4 KiB seeded on the source pool; a client
 * workload through the gateway (4 clients x 10 ops/s, the default mix: new keys, overwrites,
 * deletes, reads, listings; no multipart) for the whole migration; the Migration manifest applied;
 * `orch migrate run bench` timed; the workload stopped 7 s after it returned (clients refused
 * during the freeze wait Retry-After 5 s); then orch's own record (`orch migrations --json`), the
 * refusal window as the clients saw it and the contract check (test/helpers/contract-checker.ts).
 *
 * Figures go to the JSON file named by BENCH_MIGRATION_OUT (rewritten after every run, so a failed
 * run still leaves the figures of the others); BENCH_MIGRATION_RUNS runs (default 2). A contract
 * violation fails the run, after its figures and violations are written.
 */

const RUNS = Math.max(1, Number(process.env.BENCH_MIGRATION_RUNS ?? 2));
const OUT = process.env.BENCH_MIGRATION_OUT ?? join(tmpdir(), 'orch-bench', 'migration.json');
// Real nanio pools when nanio is here (BENCH_MIGRATION_SERVER=s3rver for the old setup); 16 clients
// x 5 ops/s of a mix with about 65% writes: about 52 writes/s offered. Each client is sequential
// (an operation, then the next when its turn comes), so a client gets through at most 1/latency
// operations a second: 8 clients x 10 ops/s reached only 18-24 writes/s because one nanio process
// serves one request at a time while it writes (two fsyncs per PUT on its event loop: object and
// metadata) and the source pool had one member. Three members per pool (one data directory each
// pool, as in production) and twice the clients at half the rate each; the rate reached is
// measured and printed (before the migration, while \`orch migrate run\` runs, whole run).
const SERVER: 's3rver' | 'nanio' = (process.env.BENCH_MIGRATION_SERVER ?? (nanioUnavailable() === null ? 'nanio' : 's3rver')) as
  's3rver' | 'nanio';
// The freeze budget of the Migration (default 10 s, the product's default) and how long one
// `orch migrate run` may take. Under a write load the machine's pools cannot keep up with, no pass
// is quiet enough for the final delta to fit the budget and the migration copies on without
// freezing (correctly); a larger budget then shows the freeze window such a load would need.
const FREEZE_BUDGET_S = Number(/^(\d+)s?$/.exec(process.env.BENCH_MIGRATION_FREEZE_BUDGET ?? '10')?.[1] ?? 10);
const RUN_LIMIT_S = Number(process.env.BENCH_MIGRATION_RUN_LIMIT_S ?? 480);
const SETUP = {
  server: SERVER,
  seedObjects: 2000,
  seedSize: 4096,
  poolMembers: { old: Number(process.env.BENCH_MIGRATION_MEMBERS ?? 3), new: Number(process.env.BENCH_MIGRATION_MEMBERS ?? 3) },
  clients: Number(process.env.BENCH_MIGRATION_CLIENTS ?? 16),
  opsPerSecondPerClient: Number(process.env.BENCH_MIGRATION_CLIENT_OPS ?? 5),
  mix: 'put 3, overwriteSame 2, overwriteResize 2, overwriteMeta 2, delete 1, readOwn 2, readOther 3, list 0.5',
  /** Share of the mix's operations that write (10 of 15.5). */
  writeShare: 10 / 15.5,
  readAfterWrite: 0.3,
  multipart: false,
  freezeBudget: `${FREEZE_BUDGET_S}s`,
  freezeBudgetMs: FREEZE_BUDGET_S * 1000,
  /** `orch migrate run` is killed (SIGKILL) after this long: a migration that never freezes ends the run as failed. */
  runLimitMs: RUN_LIMIT_S * 1000,
  workloadBeforeApplyMs: 5000,
  workloadAfterRunMs: 7000,
} as const;

interface LogLine {
  at: string;
  level: string;
  message: string;
}

interface MigrationJson {
  name: string;
  phase: string;
  routing: string;
  started_at: string | null;
  finished_at: string | null;
  progress: {
    pass: number;
    objects_total: number | null;
    bytes_total: number | null;
    objects_copied: number;
    bytes_copied: number;
    objects_deleted: number;
    rate_bytes_per_second: number | null;
  };
  freezes: Array<{ started_at: string; ended_at: string | null; window_ms: number | null; outcome: string | null; reason: string | null }>;
  last_error: string | null;
  log: LogLine[];
}

export interface MigrationRunResult {
  run: number;
  loadAvg: { start: number[]; end: number[] };
  setupMs: number;
  applyMs: number;
  migrateRun: { wallMs: number; exit: number | string | null };
  phase: string | null;
  passes: { total: number | null; copyPasses: Array<{ pass: number; text: string }> };
  progress: MigrationJson['progress'] | null;
  freezes: Array<{
    windowMs: number | null;
    outcome: string | null;
    reason: string | null;
    startedAt: string;
    endedAt: string | null;
    /**
     * The raw 503s clients got in this freeze (from 3 s before its recorded start, which comes after
     * its generation was served, to 1.5 s after its end): count, and first to last relative to the start.
     */
    clientRefusals: { raw503: number; firstMs: number | null; lastMs: number | null; spanMs: number | null };
    /** Its start and end on the workload clock (ms), to compare with the operations. */
    clock: { startMs: number; endMs: number | null };
  }>;
  switchedWindowMs: number | null;
  /** First to last raw 503 of the switched freeze, as clients saw it (see freezes[].clientRefusals). */
  switchedRefusalSpanMs: number | null;
  phasesMs: {
    freezeServed: number | null;
    oldWorkersGone: number | null;
    finalDelta: number | null;
    cutoverServed: number | null;
    destinationServed: number | null;
    /** Log time from the freeze decision (-> write_routing) to done. */
    freezeDecidedToDone: number | null;
  };
  lateWrites: string | null;
  /** The last "not freezing yet" line of the migration's log (why it did not freeze after a pass), if any. */
  notFreezingYet: string | null;
  refusal: {
    raw503: number;
    longestMs: number;
    overallMs: number;
    /** Each window of raw 503s, times relative to the switched freeze's start as orch recorded it (after its generation was served). */
    windows: Array<{ fromFreezeStartMs: number | null; toFreezeStartMs: number | null; ms: number; refusals: number }>;
  };
  writes: {
    total: number;
    acked: number;
    /** Writes that got at least one raw 503. */
    refused: number;
    /** Of those: acknowledged after the SDK's retries. */
    refusedThenAcked: number;
    /** Of those: failed with SlowDown after the SDK's last attempt. */
    refusedGaveUp: number;
    refusedOtherOutcome: number;
    /** Raw 503 answers to write attempts (every attempt). */
    raw503OnWrites: number;
    maxRefusalsOneWrite: number;
    /** Longest time a refused write took from its start to its acknowledgement (the SDK's retries included). */
    maxRefusedThenAckedMs: number | null;
    unknown: number;
    /** Each write that got a 503: its attempts' raw answers in order (503 code, or the network error of an attempt without an answer) and its outcome. */
    refusedDetail: Array<{
      op: string;
      key: string;
      /** Start, relative to the switched freeze's recorded start. */ fromFreezeStartMs: number | null;
      durationMs: number;
      outcome: string;
      error: string | null;
      attempts: number | null;
      raw: string[];
    }>;
  };
  workload: { durationMs: number; ops: number; opsPerSecond: number; byOp: Record<string, number> };
  /**
   * The write rate the clients got through (acknowledged writes per second, and PUT latency), in
   * three windows on the workload clock: before the Migration was applied, while \`orch migrate
   * run\` ran, and the whole workload. The rate offered is clients x ops/s x writeShare.
   */
  rates: {
    offeredWritesPerSecond: number;
    windows: Record<'beforeApply' | 'migrateRun' | 'whole', RateWindow>;
  };
  counts: ContractReport['counts'] | null;
  summary: string | null;
  violations: Array<{ point: number; message: string }>;
  /** For diagnosis: every operation on the keys of the first 10 violations, with its raw error answers, in start order (ms on the workload clock). */
  violationKeys: Record<
    string,
    Array<{
      id: number;
      client: number;
      op: string;
      start: number;
      end: number;
      outcome: string;
      writeId?: string;
      size?: number;
      error?: string;
      read?: string;
      raw: string[];
    }>
  >;
  /** The migration log from the freeze on (the last switched freeze), for reading. */
  logTail: string[];
  error: string | null;
}

export interface RateWindow {
  seconds: number;
  writesAckedPerSecond: number;
  opsPerSecond: number;
  putMs: { p50: number | null; p95: number | null };
}

function rateWindow(ops: OpRecord[], from: number, to: number): RateWindow {
  const inside = ops.filter((o) => o.start >= from && o.start < to);
  const seconds = Math.max(0.001, (to - from) / 1000);
  const puts = inside
    .filter((o) => o.op === 'put' && o.outcome === 'acked')
    .map((o) => o.end - o.start)
    .sort((a, b) => a - b);
  const q = (f: number) => (puts.length ? Math.round(puts[Math.min(puts.length - 1, Math.floor(puts.length * f))]!) : null);
  return {
    seconds: +seconds.toFixed(1),
    writesAckedPerSecond: +(inside.filter((o) => WRITES.has(o.op) && o.outcome === 'acked').length / seconds).toFixed(1),
    opsPerSecond: +(inside.length / seconds).toFixed(1),
    putMs: { p50: q(0.5), p95: q(0.95) },
  };
}

function ratesOf(
  ops: OpRecord[],
  history: WorkloadHistory,
  marks: { applied: number; runStart: number; runEnd: number },
): MigrationRunResult['rates'] {
  return {
    offeredWritesPerSecond: +(SETUP.clients * SETUP.opsPerSecondPerClient * SETUP.writeShare).toFixed(1),
    windows: {
      beforeApply: rateWindow(ops, history.startedAt, marks.applied || history.stoppedAt),
      migrateRun: rateWindow(ops, marks.runStart || history.startedAt, marks.runEnd || history.stoppedAt),
      whole: rateWindow(ops, history.startedAt, history.stoppedAt),
    },
  };
}

/** What a run had measured when it failed before its figures were complete (written with the error). */
let partial: Partial<MigrationRunResult> = {};

function failedRun(run: number, e: unknown): MigrationRunResult {
  return {
    run,
    loadAvg: { start: [], end: [] },
    setupMs: 0,
    applyMs: 0,
    migrateRun: { wallMs: 0, exit: null },
    phase: null,
    passes: { total: null, copyPasses: [] },
    progress: null,
    freezes: [],
    switchedWindowMs: null,
    switchedRefusalSpanMs: null,
    phasesMs: {
      freezeServed: null,
      oldWorkersGone: null,
      finalDelta: null,
      cutoverServed: null,
      destinationServed: null,
      freezeDecidedToDone: null,
    },
    lateWrites: null,
    notFreezingYet: null,
    refusal: { raw503: 0, longestMs: 0, overallMs: 0, windows: [] },
    writes: {
      total: 0,
      acked: 0,
      refused: 0,
      refusedThenAcked: 0,
      refusedGaveUp: 0,
      refusedOtherOutcome: 0,
      raw503OnWrites: 0,
      maxRefusalsOneWrite: 0,
      maxRefusedThenAckedMs: null,
      unknown: 0,
      refusedDetail: [],
    },
    workload: { durationMs: 0, ops: 0, opsPerSecond: 0, byOp: {} },
    rates: {
      offeredWritesPerSecond: 0,
      windows: { beforeApply: rateWindow([], 0, 1), migrateRun: rateWindow([], 0, 1), whole: rateWindow([], 0, 1) },
    },
    counts: null,
    summary: null,
    violations: [],
    violationKeys: {},
    logTail: [],
    ...partial,
    error: `the run failed before its figures were complete: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`.slice(0, 3000),
  };
}

const results: MigrationRunResult[] = [];

function writeOut(): void {
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify({ format_version: '1', setup: SETUP, runs: results }, null, 2)}\n`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const WRITES = new Set(['put', 'delete', 'multipart']);

function lastIndex(log: LogLine[], re: RegExp): number {
  for (let i = log.length - 1; i >= 0; i--) if (re.test(log[i]!.message)) return i;
  return -1;
}

function servedMs(log: LogLine[], routing: string): number | null {
  const re = new RegExp(`^routing ${routing}(?: served as generation \\S+| \\(no file change\\)) in (\\d+) ms`);
  const i = lastIndex(log, re);
  return i < 0 ? null : Number(re.exec(log[i]!.message)![1]);
}

function between(log: LogLine[], from: RegExp, to: RegExp): number | null {
  const a = lastIndex(log, from);
  const b = lastIndex(log, to);
  return a < 0 || b < 0 || b < a ? null : Date.parse(log[b]!.at) - Date.parse(log[a]!.at);
}

async function migrationJson(env: MigrationEnv): Promise<MigrationJson | null> {
  const r = await env.cli(['migrations', '--json', '--log', '200']);
  if (r.code !== 0) throw new Error(`orch migrations --json exited ${r.code}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { migrations: MigrationJson[] }).migrations.find((m) => m.name === 'bench') ?? null;
}

async function reloadTimes(env: MigrationEnv, timeOrigin: number): Promise<number[]> {
  const r = await env.cli(['history', '--json']);
  if (r.code !== 0) throw new Error(`orch history --json exited ${r.code}: ${r.stderr}`);
  const json = JSON.parse(r.stdout) as { generations: Array<{ created_at: string }> };
  return json.generations.map((g) => Date.parse(g.created_at) - timeOrigin);
}

function writeFigures(ops: OpRecord[], history: WorkloadHistory, freezeStart: number | null): MigrationRunResult['writes'] {
  const refusalsByOp = new Map<number, number>();
  for (const r of history.raw) if (r.status === 503 && WRITES.has(r.op)) refusalsByOp.set(r.opId, (refusalsByOp.get(r.opId) ?? 0) + 1);
  const writes = ops.filter((o) => WRITES.has(o.op));
  const refused = writes.filter((o) => refusalsByOp.has(o.id));
  const rawByOp = new Map<number, string[]>();
  for (const r of history.raw)
    if (refusalsByOp.has(r.opId))
      rawByOp.set(r.opId, [
        ...(rawByOp.get(r.opId) ?? []),
        r.status === 0 ? `no answer (${r.code ?? 'network error'})` : `${r.status} ${r.code ?? ''}`.trim(),
      ]);
  const acked = refused.filter((o) => o.outcome === 'acked').length;
  const gaveUp = refused.filter((o) => o.outcome === 'error' && o.error?.code === 'SlowDown').length;
  return {
    total: writes.length,
    acked: writes.filter((o) => o.outcome === 'acked').length,
    refused: refused.length,
    refusedThenAcked: acked,
    refusedGaveUp: gaveUp,
    refusedOtherOutcome: refused.length - acked - gaveUp,
    raw503OnWrites: [...refusalsByOp.values()].reduce((s, n) => s + n, 0),
    maxRefusalsOneWrite: Math.max(0, ...refusalsByOp.values()),
    maxRefusedThenAckedMs: refused.some((o) => o.outcome === 'acked')
      ? Math.max(...refused.filter((o) => o.outcome === 'acked').map((o) => o.end - o.start))
      : null,
    unknown: writes.filter((o) => o.outcome !== 'acked' && !(o.outcome === 'error' && o.error?.definite)).length,
    refusedDetail: refused.map((o) => ({
      op: o.op,
      key: o.key,
      fromFreezeStartMs: freezeStart === null ? null : o.start - freezeStart,
      durationMs: o.end - o.start,
      outcome: o.outcome,
      error: o.error
        ? `${o.error.code}${o.error.status !== undefined ? ` (HTTP ${o.error.status})` : ''}${o.error.definite ? '' : ', outcome unknown'}`
        : null,
      attempts: o.error?.attempts ?? null,
      raw: rawByOp.get(o.id) ?? [],
    })),
  };
}

let env: MigrationEnv | null = null;
afterEach(async () => {
  await env?.close();
  env = null;
});

async function oneRun(run: number): Promise<void> {
  const loadStart = loadavg().map((x) => +x.toFixed(2));
  const t0 = performance.now();
  env = await MigrationEnv.start({
    seed: { count: SETUP.seedObjects, sizes: [SETUP.seedSize] },
    server: SETUP.server,
    members: SETUP.poolMembers,
  });
  const setupMs = performance.now() - t0;
  const e = env;
  const before = await e.listPool('old');
  const wl = startWorkload({
    bucket: e.bucket,
    client: () => e.gatewayClient(),
    clients: SETUP.clients,
    opsPerSecond: SETUP.opsPerSecondPerClient,
    seed: e.seeded,
    multipart: false,
    mix: { overwriteMeta: 2 },
    readAfterWrite: SETUP.readAfterWrite,
    rngSeed: 4200 + run,
  });
  const marks = { applied: 0, runStart: 0, runEnd: 0 };
  let history: WorkloadHistory | null = null;
  let applyMs = 0;
  let migrate: { wallMs: number; exit: number | string | null; output: string } = { wallMs: 0, exit: null, output: '' };
  try {
    await sleep(SETUP.workloadBeforeApplyMs);
    e.writeManifest('migrations/bench.yaml', e.migrationYaml({ name: 'bench', freezeBudget: SETUP.freezeBudget }));
    marks.applied = performance.now();
    applyMs = (await e.apply()).ms;
    const t1 = performance.now();
    marks.runStart = t1;
    const r = await e.cli(['migrate', 'run', 'bench'], { timeoutMs: SETUP.runLimitMs });
    marks.runEnd = performance.now();
    migrate = { wallMs: marks.runEnd - t1, exit: r.signal ?? r.code, output: `${r.stdout}\n${r.stderr}` };
    // Clients refused during the freeze wait Retry-After (5 s) before their retry: keep going past that.
    await sleep(SETUP.workloadAfterRunMs);
  } finally {
    history = await wl.stop();
  }
  const ops0 = history.ops.filter((o) => o.op !== 'seed');
  partial = {
    run,
    loadAvg: { start: loadStart, end: loadavg().map((x) => +x.toFixed(2)) },
    setupMs,
    applyMs,
    migrateRun: { wallMs: migrate.wallMs, exit: migrate.exit },
    rates: ratesOf(ops0, history, marks),
  };

  const m = await migrationJson(e);
  const log = m?.log ?? [];
  const switched = m?.freezes.find((f) => f.outcome === 'switched') ?? null;
  const flip = switched?.ended_at ? Date.parse(switched.ended_at) - history.timeOrigin : undefined;
  const freezeStart = switched ? Date.parse(switched.started_at) - history.timeOrigin : null;
  const cutovers = (m?.freezes ?? []).flatMap((f) => [
    Date.parse(f.started_at) - history!.timeOrigin,
    ...(f.ended_at ? [Date.parse(f.ended_at) - history!.timeOrigin] : []),
  ]);
  const final = await readFinalState(e.gatewayClient(), e.bucket, keysOf(history));
  const report = checkContract({
    history,
    final,
    source: { before, after: await e.listPool('old') },
    options: {
      freezeBudgetMs: SETUP.freezeBudgetMs,
      cutoverTimes: cutovers,
      ...(flip !== undefined ? { routeFlippedAt: flip } : {}),
      reloadTimes: await reloadTimes(e, history.timeOrigin),
    },
  });

  const ops = history.ops.filter((o) => o.op !== 'seed');
  const byOp: Record<string, number> = {};
  for (const o of ops) byOp[o.op] = (byOp[o.op] ?? 0) + 1;
  const durationMs = history.stoppedAt - history.startedAt;
  const fromFreeze = lastIndex(log, / -> write_routing:/);
  const raw503 = history.raw.filter((r) => r.status === 503).map((r) => r.t);
  const freezes = (m?.freezes ?? []).map((f) => {
    const start = Date.parse(f.started_at) - history.timeOrigin;
    const end = f.ended_at ? Date.parse(f.ended_at) - history.timeOrigin : start + SETUP.freezeBudgetMs;
    const ts = raw503.filter((t) => t >= start - 3000 && t <= end + 1500).map((t) => t - start);
    const firstMs = ts.length ? Math.min(...ts) : null;
    const lastMs = ts.length ? Math.max(...ts) : null;
    return {
      windowMs: f.window_ms,
      outcome: f.outcome,
      reason: f.reason,
      startedAt: f.started_at,
      endedAt: f.ended_at,
      clientRefusals: { raw503: ts.length, firstMs, lastMs, spanMs: firstMs === null || lastMs === null ? null : lastMs - firstMs },
      clock: { startMs: Math.round(start), endMs: f.ended_at ? Math.round(end) : null },
    };
  });
  const error =
    migrate.exit !== 0
      ? `orch migrate run bench exited ${migrate.exit}:\n${migrate.output.trim().slice(-3000)}`
      : m?.phase !== 'done'
        ? `the migration ended in phase ${m?.phase ?? '(not found)'}`
        : null;

  const result: MigrationRunResult = {
    run,
    loadAvg: { start: loadStart, end: loadavg().map((x) => +x.toFixed(2)) },
    setupMs,
    applyMs,
    migrateRun: { wallMs: migrate.wallMs, exit: migrate.exit },
    phase: m?.phase ?? null,
    passes: {
      total: m?.progress.pass ?? null,
      copyPasses: log.flatMap((l) => {
        const x = /^pass (\d+): (.*)$/.exec(l.message);
        return x ? [{ pass: Number(x[1]), text: x[2]! }] : [];
      }),
    },
    progress: m?.progress ?? null,
    freezes,
    switchedWindowMs: switched?.window_ms ?? null,
    switchedRefusalSpanMs: freezes.find((f) => f.outcome === 'switched')?.clientRefusals.spanMs ?? null,
    phasesMs: {
      freezeServed: servedMs(log, 'freeze'),
      oldWorkersGone: (() => {
        const i = lastIndex(log, /^old nginx workers gone after \d+ ms/);
        return i < 0 ? null : Number(/after (\d+) ms/.exec(log[i]!.message)![1]);
      })(),
      finalDelta: between(log, / -> verifying:/, / -> switching:/),
      cutoverServed: servedMs(log, 'cutover'),
      destinationServed: servedMs(log, 'destination'),
      freezeDecidedToDone: between(log, / -> write_routing:/, / -> done:/),
    },
    notFreezingYet: (() => {
      const i = lastIndex(log, /^not freezing yet/);
      return i < 0 ? null : log[i]!.message;
    })(),
    lateWrites: (() => {
      const i = lastIndex(log, /reached the source after the snapshot/);
      return i < 0 ? null : log[i]!.message;
    })(),
    refusal: {
      raw503: report.refusal.count,
      longestMs: report.refusal.longestMs,
      overallMs: report.refusal.overallMs,
      windows: report.refusal.windows.map((w) => ({
        fromFreezeStartMs: freezeStart === null ? null : w.first - freezeStart,
        toFreezeStartMs: freezeStart === null ? null : w.last - freezeStart,
        ms: w.ms,
        refusals: w.refusals,
      })),
    },
    writes: writeFigures(ops, history, freezeStart),
    workload: { durationMs, ops: ops.length, opsPerSecond: ops.length / (durationMs / 1000), byOp },
    rates: partial.rates!,
    counts: report.counts,
    summary: summarize(report),
    violations: report.violations.map((v) => ({ point: v.point, message: v.message })),
    violationKeys: Object.fromEntries(
      [...new Set(report.violations.flatMap((v) => (v.key ? [v.key] : [])))].slice(0, 10).map((key) => [
        key,
        history.ops
          .filter((o) => o.key === key)
          .map((o) => ({
            id: o.id,
            client: o.client,
            op: o.op,
            start: Math.round(o.start),
            end: Math.round(o.end),
            outcome: o.outcome,
            ...(o.writeId ? { writeId: o.writeId } : {}),
            ...(o.size !== undefined ? { size: o.size } : {}),
            ...(o.error
              ? { error: `${o.error.code} ${o.error.status ?? 'no answer'}${o.error.definite ? '' : ' (unknown outcome)'}` }
              : {}),
            ...(o.read ? { read: `${o.read.writeId ?? '404/none'} ${o.read.size} bytes${o.read.intact ? '' : ' NOT INTACT'}` } : {}),
            raw: history.raw.filter((r) => r.opId === o.id).map((r) => `${Math.round(r.t)} ${r.status} ${r.code ?? ''}`.trim()),
          })),
      ]),
    ),
    logTail: log.slice(Math.max(0, fromFreeze - 1)).map((l) => `${l.at} ${l.level} ${l.message}`),
    error,
  };
  results.push(result);
  writeOut();

  console.log(
    `migration run ${run}: migrate run ${(migrate.wallMs / 1000).toFixed(1)} s (exit ${migrate.exit}), ${result.passes.total} passes, freezes ${result.freezes.map((f) => `${f.windowMs} ms ${f.outcome}${f.reason ? ` (${f.reason})` : ''}`).join(', ') || 'none'}; ${result.summary}`,
  );
  console.log(result.logTail.map((l) => `  ${l}`).join('\n'));
  if (report.violations.length > 0) console.log(`CONTRACT VIOLATIONS (run ${run}):\n${formatViolations(report)}`);

  expect(error, error ?? '').toBeNull();
  expect(formatViolations(report)).toBe('');
  expect(switched, 'one switched freeze').not.toBeNull();
}

describe.sequential(`migration freeze under a steady write load (${RUNS} runs, fresh environment each)`, () => {
  for (let run = 1; run <= RUNS; run++) {
    it(`run ${run}: 2,000 x 4 KiB on ${SETUP.server}, ${SETUP.clients} clients x ${SETUP.opsPerSecondPerClient} ops/s, freezeBudget ${SETUP.freezeBudget}`, async () => {
      partial = {};
      try {
        await oneRun(run);
      } catch (e) {
        // A run that threw before writing its figures: write what it had, with the error.
        if (!results.some((r) => r.run === run)) {
          results.push(failedRun(run, e));
          writeOut();
        }
        throw e;
      }
    }, 600_000);
  }
});
