// Migration freeze benchmark (part of `npm run bench`; `BENCH_ONLY=migration node test/bench/run.mjs`
// runs only this part): the write freeze of a bucket migrated under a steady write load.
//
// Runs `npx vitest run --config test/bench/vitest.bench.config.ts` (test/bench/migration-freeze.bench.ts,
// which reuses the typed end-to-end helpers: MigrationEnv, startWorkload, checkContract) as a
// child, relays its output line by line to the bench's log, and reads the figures it writes to the
// JSON file named by BENCH_MIGRATION_OUT. BENCH_MIGRATION_RUNS runs (default 3), each in a fresh
// environment: 2,000 x 4 KiB seeded on the source pool (nanio pools of 3 members each where nanio
// can run), 16 clients x 5 ops/s through the gateway (about 52 writes/s offered; the rate reached is
// printed), freezeBudget 10s, `orch migrate run` timed. BENCH_MIGRATION_CLIENTS,
// BENCH_MIGRATION_CLIENT_OPS and BENCH_MIGRATION_MEMBERS change the load and the pools;
// BENCH_MIGRATION_FREEZE_BUDGET (seconds, default 10) the Migration's freezeBudget;
// BENCH_MIGRATION_RUN_LIMIT_S (default 480) how long one `orch migrate run` may take.
//
// Note: the helpers run the checkout's bin/run.js and dist/ (not the bench's snapshot of the build).
// A contract violation, a failed migration or a failed child is printed in full, makes the
// targets FAIL and sets the exit code to 1.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONFIG = 'test/bench/vitest.bench.config.ts';
const TIMEOUT_MS = Number(process.env.BENCH_MIGRATION_TIMEOUT_MS ?? 30 * 60_000);

const ms = (x) =>
  x === null || x === undefined
    ? '-'
    : x >= 10_000
      ? `${(x / 1000).toFixed(1)} s`
      : x >= 1000
        ? `${(x / 1000).toFixed(2)} s`
        : `${x.toFixed(0)} ms`;

let running = null;
process.on('exit', () => {
  // The bench is stopped (signal, crash): take the vitest process group down with it.
  if (running && running.exitCode === null && running.signalCode === null) {
    try {
      process.kill(-running.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

export async function benchMigration(opts) {
  try {
    return await runMigrationBench(opts);
  } catch (e) {
    process.exitCode = 1;
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

async function runMigrationBench({ tmpRoot, log, runs = Math.max(1, Number(process.env.BENCH_MIGRATION_RUNS ?? 3)) }) {
  const out = join(tmpRoot, 'migration.json');
  const env = { NO_COLOR: '1', FORCE_COLOR: '0', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  // orch settings of the caller do not leak into the gateway's CLI runs; ORCH_NGINX (the binary) does.
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('ORCH_') || k === 'ORCH_NGINX' || k === 'ORCH_NANIO_DIR') env[k] ??= v;
  // BENCH_MIGRATION_* (clients, rates, members, server) reach the vitest child with the rest.
  Object.assign(env, { BENCH_MIGRATION_OUT: out, BENCH_MIGRATION_RUNS: String(runs) });
  log(`[migration] npx vitest run --config ${CONFIG} (${runs} runs; figures to ${out})`);
  const started = performance.now();
  const child = spawn('npx', ['vitest', 'run', '--config', CONFIG], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running = child;
  const relay = (stream) => {
    let partial = '';
    stream.setEncoding('utf8').on('data', (d) => {
      const parts = (partial + d).split('\n');
      partial = parts.pop();
      for (const line of parts) log(`[migration] ${line}`);
    });
    stream.on('end', () => partial && log(`[migration] ${partial}`));
  };
  relay(child.stdout);
  relay(child.stderr);
  const timer = setTimeout(() => {
    log(`[migration] no end after ${ms(TIMEOUT_MS)}: killing the vitest process group ${child.pid}`);
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, TIMEOUT_MS);
  const exit = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(signal ?? code));
  }).finally(() => clearTimeout(timer));
  running = null;
  const wallMs = performance.now() - started;
  const figures = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : { setup: null, runs: [] };
  const result = { runsWanted: runs, vitestExit: exit, wallMs, setup: figures.setup, runs: figures.runs };
  if (!migrationOk(result)) process.exitCode = 1; // loud: the bench exits 1 (see the FAIL lines and the violations printed)
  return result;
}

function migrationOk(r) {
  return !r.error && r.vitestExit === 0 && r.runs.length === r.runsWanted && r.runs.every((x) => !x.error && x.violations.length === 0);
}

const stat = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  return v.length ? `${ms(v[0])}${v.length > 1 ? ` - ${ms(v[v.length - 1])}` : ''}` : '-';
};

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

export function printMigration(r) {
  const out = [];
  out.push('');
  if (r.error) {
    out.push(`== Migration freeze benchmark FAILED: ${r.error}`);
    return out.join('\n');
  }
  const s = r.setup;
  out.push(
    `== Migration freeze under a steady write load (${r.runs.length} of ${r.runsWanted} runs, fresh environment each; vitest child exit ${r.vitestExit}, ${ms(r.wallMs)} in all)`,
  );
  if (s) {
    out.push(
      `   ${s.seedObjects.toLocaleString('en-US')} x ${s.seedSize / 1024} KiB seeded on the source pool (${s.server ?? 's3rver'}${s.poolMembers ? `, members per pool: old ${s.poolMembers.old}, new ${s.poolMembers.new}` : ''}); ${s.clients} clients x ${s.opsPerSecondPerClient} ops/s through nginx (${s.writeShare ? `about ${(s.clients * s.opsPerSecondPerClient * s.writeShare).toFixed(0)} writes/s offered` : 'default mix'}${s.readAfterWrite !== undefined ? `, read after ${Math.round(s.readAfterWrite * 100)}% of writes` : ''}), multipart ${s.multipart ? 'on' : 'off'}; freezeBudget ${s.freezeBudget}; workload started ${s.workloadBeforeApplyMs / 1000} s before the apply, stopped ${s.workloadAfterRunMs / 1000} s after \`orch migrate run\` returned`,
    );
  }
  const col = (label, f) => `   ${label.padEnd(44)} ${r.runs.map((x) => String(f(x)).padEnd(22)).join(' ')}`;
  out.push(col('measure', (x) => `run ${x.run}`));
  out.push(col('orch migrate run bench (wall)', (x) => `${ms(x.migrateRun.wallMs)} (exit ${x.migrateRun.exit})`));
  out.push(col('passes (progress.pass) / copy passes logged', (x) => `${x.passes.total ?? '-'} / ${x.passes.copyPasses.length}`));
  out.push(col('freeze window, orch record (switched)', (x) => ms(x.switchedWindowMs)));
  out.push(col('freezes aborted', (x) => x.freezes.filter((f) => f.outcome !== 'switched').length));
  out.push(col('  freeze generation served in', (x) => ms(x.phasesMs.freezeServed)));
  out.push(col('  old nginx workers gone after', (x) => ms(x.phasesMs.oldWorkersGone)));
  out.push(col('  final delta (-> verifying to -> switching)', (x) => ms(x.phasesMs.finalDelta)));
  out.push(col('  cutover generation served in', (x) => ms(x.phasesMs.cutoverServed)));
  out.push(col('  destination generation served in', (x) => ms(x.phasesMs.destinationServed)));
  out.push(col('  freeze decided -> done (log times)', (x) => ms(x.phasesMs.freezeDecidedToDone)));
  out.push(col('raw 503 SlowDown answers (windows, gap 3 s)', (x) => `${x.refusal.raw503} (${x.refusal.windows.length})`));
  out.push(col('  longest refusal window (checker)', (x) => ms(x.refusal.longestMs)));
  out.push(col('  first to last raw 503, switched freeze', (x) => ms(x.switchedRefusalSpanMs)));
  out.push(col('  first to last raw 503, whole run', (x) => ms(x.refusal.overallMs)));
  out.push(col('writes refused >= once / acked after retry', (x) => `${x.writes.refused} / ${x.writes.refusedThenAcked}`));
  out.push(col('  gave up (SlowDown) / other outcome', (x) => `${x.writes.refusedGaveUp} / ${x.writes.refusedOtherOutcome}`));
  out.push(
    col('  most 503s for one write / longest one', (x) => `${x.writes.maxRefusalsOneWrite} / ${ms(x.writes.maxRefusedThenAckedMs)}`),
  );
  out.push(
    col('workload ops (ops/s) / writes acked', (x) => `${x.workload.ops} (${x.workload.opsPerSecond.toFixed(1)}) / ${x.writes.acked}`),
  );
  const rate = (w) => (w ? `${w.writesAckedPerSecond.toFixed(1)} (${w.putMs.p50 ?? '-'}/${w.putMs.p95 ?? '-'} ms)` : '-');
  out.push(col('writes acked/s (PUT p50/p95): before apply', (x) => rate(x.rates?.windows.beforeApply)));
  out.push(col('  while orch migrate run ran', (x) => rate(x.rates?.windows.migrateRun)));
  out.push(col('  whole workload', (x) => rate(x.rates?.windows.whole)));
  out.push(col('connection resets at reloads', (x) => x.counts?.reloadResets ?? '-'));
  out.push(col('contract violations', (x) => x.violations.length));
  out.push(col('setup (start + seed) / apply', (x) => `${ms(x.setupMs)} / ${ms(x.applyMs)}`));
  out.push(col('load average at start of the run', (x) => x.loadAvg.start.join(' ')));
  out.push(
    `   spread over runs: migrate run ${stat(r.runs.map((x) => x.migrateRun.wallMs))}; freeze window ${stat(r.runs.map((x) => x.switchedWindowMs))}, median ${ms(median(r.runs.map((x) => x.switchedWindowMs)))}; first to last 503 of the switched freeze ${stat(r.runs.map((x) => x.switchedRefusalSpanMs))}; writes acked/s while migrating ${r.runs.map((x) => x.rates?.windows.migrateRun.writesAckedPerSecond ?? '-').join(', ')}`,
  );
  for (const x of r.runs) {
    out.push(
      `   run ${x.run}: (freeze lines: ms from that freeze's start as orch recorded it, after its generation was served; refused writes: ms from the switched freeze's start; each freeze's final delta is a pass of its own, not logged)`,
    );
    const passes = x.passes.copyPasses;
    for (const [i, p] of passes.entries()) {
      if (passes.length > 14 && i >= 6 && i < passes.length - 6) {
        if (i === 6) out.push(`     ... ${passes.length - 12} more passes (all in the JSON)`);
        continue;
      }
      out.push(`     pass ${p.pass}: ${p.text}`);
    }
    for (const f of x.freezes) {
      const c = f.clientRefusals;
      const seen = c.raw503
        ? `clients got ${c.raw503} raw 503s from ${c.firstMs.toFixed(0)} to ${c.lastMs.toFixed(0)} ms`
        : 'clients got no 503';
      out.push(
        `     freeze ${f.outcome ?? 'open'}: ${ms(f.windowMs)} (${f.startedAt} -> ${f.endedAt ?? '-'}); ${seen}${f.reason ? `; reason: ${f.reason}` : ''}`,
      );
    }
    if (x.lateWrites) out.push(`     late writes: ${x.lateWrites}`);
    if (x.notFreezingYet) out.push(`     last reason not to freeze: ${x.notFreezingYet}`);
    for (const w of x.writes.refusedDetail) {
      const at = w.fromFreezeStartMs === null ? '' : ` at ${w.fromFreezeStartMs >= 0 ? '+' : ''}${w.fromFreezeStartMs.toFixed(0)} ms`;
      out.push(
        `     refused write: ${w.op} ${w.key}${at}, ${ms(w.durationMs)}: ${w.raw.join(', ')} -> ${w.outcome === 'acked' ? 'acked' : `${w.outcome} ${w.error ?? ''}`.trim()}`,
      );
    }
    if (x.error)
      out.push(
        `     !! RUN FAILED: ${x.error.length > 1200 ? `${x.error.slice(0, x.error.indexOf('\n') + 1)}...${x.error.slice(-1000)}` : x.error}`,
      );
    if (x.violations.length > 0) {
      out.push(`     !! ${x.violations.length} CONTRACT VIOLATIONS:`);
      for (const v of x.violations.slice(0, 40)) out.push(`       [${v.point}] ${v.message}`);
      if (x.violations.length > 40) out.push(`       ... and ${x.violations.length - 40} more (all in the JSON)`);
      for (const [key, ops] of Object.entries(x.violationKeys ?? {})) {
        out.push(
          `       ops on ${key} (workload clock ms; freezes ${x.freezes.map((f) => `${f.clock.startMs}-${f.clock.endMs ?? '?'} ${f.outcome ?? 'open'}`).join(', ') || 'none'}):`,
        );
        for (const o of ops.slice(-12))
          out.push(
            `         #${o.id} c${o.client} ${o.op} ${o.start}-${o.end} ${o.outcome}${o.writeId ? ` ${o.writeId}` : ''}${o.size !== undefined ? ` ${o.size} B` : ''}${o.error ? ` ${o.error}` : ''}${o.read ? ` -> ${o.read}` : ''}${o.raw.length ? ` [${o.raw.join('; ')}]` : ''}`,
          );
      }
    }
  }
  if (r.vitestExit !== 0) out.push(`   !! the vitest child exited ${r.vitestExit}: see its output above (stderr)`);
  return out.join('\n');
}

export function migrationTargets(r) {
  if (r.error) return [['migration freeze benchmark ran', 'failed', false]];
  const budgetMs = r.setup?.freezeBudgetMs ?? 10_000;
  return [
    [
      `migration: ${r.runsWanted} runs completed, migration done`,
      `${r.runs.filter((x) => !x.error).length}/${r.runsWanted} (vitest exit ${r.vitestExit})`,
      r.vitestExit === 0 && r.runs.length === r.runsWanted && r.runs.every((x) => !x.error),
    ],
    [
      'migration: contract violations = 0 (every run)',
      r.runs.map((x) => x.violations.length).join(' '),
      r.runs.length > 0 && r.runs.every((x) => x.violations.length === 0),
    ],
    [
      `migration: freeze window <= freezeBudget ${budgetMs / 1000} s (orch record)`,
      r.runs.map((x) => ms(x.switchedWindowMs)).join(' '),
      r.runs.length > 0 && r.runs.every((x) => x.switchedWindowMs !== null && x.switchedWindowMs <= budgetMs),
    ],
  ];
}
