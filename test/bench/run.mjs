#!/usr/bin/env node
// `npm run bench`: orch at fleet size, measured side by side with nginx in one run.
//
// For each fleet (100 vhosts x 10 routes / 50 pools, then 1,000 vhosts x 10 routes / 200 pools):
//   - generate the manifests (fleet.mjs) into a temp dir, one Route per file;
//   - start a private nginx (daemon off, under a private prefix, loopback ports only) whose main
//     nginx.conf includes the managed pools/ and vhosts/, and run the initial
//     `orch apply --auto-approve --json` against it;
//   - measure, interleaved, BENCH_RUNS times (default 5): `orch validate`, a no-op `orch plan`,
//     the in-process core (core.mjs: the plan pipeline without the CLI), and `nginx -t` of the same
//     rendered tree through a wrapper nginx.conf under another private prefix;
//   - on the 1,000-vhost fleet, the apply benchmark: change ONE route's pool and run
//     `orch apply --auto-approve --json` (BENCH_RUNS times, a different route each time), beside
//     `nginx -t` of the live configuration and the reload confirmation time (from `nginx -s reload`
//     until a changed response is served); then, each time, another route changed and `orch plan` run
//     first (untimed), as when a plan is reviewed: the apply after it (the manifests' validation cached).
//     And a third apply per round with ORCH_RELOAD_SIGNAL=0: the reload as `nginx -s reload` instead of SIGHUP to the master.
// Prints a table, writes the figures as JSON to <os tmpdir>/orch-bench/latest.json (path printed),
// stops nginx and removes the temp dirs whatever happens.
//
// Environment: BENCH_RUNS (default 5), BENCH_FLEETS (e.g. "100" or "100,1000"; default both),
// BENCH_KEEP=1 keeps the temp dir (printed) for inspection, ORCH_NGINX (nginx binary). BENCH_ONLY=fleet runs only this part;
// BENCH_ONLY takes a comma-separated list too (BENCH_ONLY=copy,migration: those two parts, in one run).
// On the 1,000-vhost fleet, the speed-ups on and off (benchSpeedups): `orch validate`, a no-op `orch plan` and a plan after one file edited, with each
// speed-up switched off in turn, interleaved in one run (BENCH_SPEEDUPS=0 skips it; BENCH_ONLY=speedups runs only the
// fleet's set-up and this part; BENCH_BASELINE=<a built checkout> runs that build in the same rounds).
// Then the write freeze of a bucket migrated under a steady write load (migration.mjs; BENCH_MIGRATION_RUNS, default 2). BENCH_ONLY=migration runs only that part.
// Then `orch watch` on the 1,000-vhost fleet (watch.mjs): saved-to-served latency, reloads per burst. BENCH_ONLY=watch runs only that part.
// Then the copy engine against rclone (copy.mjs; pairs of runs per workload, 3 and 7, or BENCH_COPY_RUNS). BENCH_ONLY=copy runs only that part.

import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchCopy, copyTargets, printCopy } from './copy.mjs';
import { generateFleet, makeSelfSignedCert, PORTS_USED } from './fleet.mjs';
import { benchMigration, migrationTargets, printMigration } from './migration.mjs';
import { benchWatch, printWatch, watchTargets } from './watch.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CORE = fileURLToPath(new URL('./core.mjs', import.meta.url));
const NGINX = process.env.ORCH_NGINX || 'nginx';
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5));
const WARM_RUNS = Math.max(0, Number(process.env.BENCH_WARM_RUNS ?? 1));
const TIME_BIN = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
// BENCH_ONLY: one part or a comma-separated list of parts (fleet, speedups, copy, watch, migration); unset: all.
const ONLY = (process.env.BENCH_ONLY ?? '')
  .split(',')
  .map((x) => x.trim())
  .filter(Boolean);
const only = (part) => ONLY.length === 0 || ONLY.includes(part);
const FLEETS = [
  { key: '100', label: '100 vhosts x 10 routes, 50 pools', virtualHosts: 100, pools: 50, apply: false },
  { key: '1000', label: '1,000 vhosts x 10 routes, 200 pools', virtualHosts: 1000, pools: 200, apply: true },
].filter((f) => !process.env.BENCH_FLEETS || process.env.BENCH_FLEETS.split(',').includes(f.key));

const TARGETS = { planMs: 1000, planRssMiB: 250, applyRatio: 1.5, nginxTests: 1, reloads: 1, resourceFilesWritten: 2, rebuildMs: 2000 };

// ---------------------------------------------------------------- cleanup, whatever happens

const tmpRoot = mkdtempSync(join(tmpdir(), 'orch-bench-'));

// The build under test is copied once (bin, dist, schemas, package.json, oclif manifest, the splice
// relay; node_modules linked), so a rebuild of the checkout by someone else during the run cannot change or break it.
const SNAP = join(tmpRoot, 'orch');
const ORCH = join(SNAP, 'bin', 'run.js');
function snapshotBuild() {
  mkdirSync(SNAP, { recursive: true });
  for (const d of ['bin', 'dist', 'schemas', 'examples'])
    if (existsSync(join(ROOT, d))) cpSync(join(ROOT, d), join(SNAP, d), { recursive: true });
  // The splice relay (built by npm install) sits where the built code looks for it, from the root.
  for (const f of ['package.json', 'oclif.manifest.json', 'src/adapters/s3/native/build/Release/orch_splice.node']) {
    if (!existsSync(join(ROOT, f))) continue;
    mkdirSync(dirname(join(SNAP, f)), { recursive: true });
    cpSync(join(ROOT, f), join(SNAP, f));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(SNAP, 'node_modules'), 'dir');
}
const nginxChildren = new Set();

function stopAllNginx() {
  for (const child of nginxChildren) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGTERM'); // nginx: fast shutdown of master and workers
      } catch {
        /* already gone */
      }
    }
  }
}

function cleanupSync() {
  stopAllNginx();
  if (process.env.BENCH_KEEP === '1') {
    process.stderr.write(`bench: kept ${tmpRoot}\n`);
    return;
  }
  // Give the nginx master a moment to take its workers down before removing its prefix.
  for (let i = 0; i < 50 && [...nginxChildren].some((c) => c.exitCode === null && c.signalCode === null); i++) {
    spawnSync('sleep', ['0.05']);
  }
  rmSync(tmpRoot, { recursive: true, force: true });
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    process.stderr.write(`\nbench: ${sig}, cleaning up\n`);
    cleanupSync();
    process.exit(130);
  });
}

// ---------------------------------------------------------------- helpers

const log = (s) => process.stderr.write(`${s}\n`);

function stats(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], runs: v.length };
}

/** Environment for orch: this fleet's ORCH_* only (none inherited from the caller). */
function orchEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ORCH_')) env[k] = v;
  env.NO_COLOR = '1';
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  env.ORCH_NGINX = NGINX;
  return { ...env, ...extra };
}

/**
 * Runs a command as a child, wall time by performance.now() around it, peak RSS by
 * `/usr/bin/time -f %M` (KiB) when present. Resolves whatever the exit code.
 */
function runTimed(cmd, args, { env = process.env, cwd = tmpRoot, timeoutMs = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const rssFile = TIME_BIN ? join(tmpRoot, `rss-${process.pid}-${Math.random().toString(36).slice(2)}`) : null;
    const [file, argv] = TIME_BIN ? [TIME_BIN, ['-f', '%M', '-o', rssFile, cmd, ...args]] : [cmd, args];
    const started = performance.now();
    const child = spawn(file, argv, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    const stamped = [];
    let partial = '';
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
      // Arrival time of each stderr line: apply's progress lines mark the end of each step.
      const now = performance.now() - started;
      const parts = (partial + d).split('\n');
      partial = parts.pop();
      for (const text of parts) stamped.push({ ms: now, text });
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      const wallMs = performance.now() - started;
      clearTimeout(timer);
      let rssKiB = null;
      if (rssFile) {
        try {
          const lines = readFileSync(rssFile, 'utf8').trim().split('\n');
          rssKiB = Number(lines[lines.length - 1]) || null; // "Command exited with non-zero status" may come first
          rmSync(rssFile, { force: true });
        } catch {
          /* no figure */
        }
      }
      resolve({ code, signal, stdout, stderr, stderrLines: stamped, wallMs, rssKiB });
    });
  });
}

function mustSucceed(r, what, codes = [0]) {
  if (!codes.includes(r.code)) {
    throw new Error(`${what} exited ${r.code ?? r.signal}:\n${(r.stderr + r.stdout).trim().slice(-4000)}`);
  }
  return r;
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A base port with PORTS_USED free ports for the vhosts, plus one for orch's status server and one for the probe. */
async function pickPorts() {
  for (const base of [18000, 28000, 38000, 48000, 21000, 31000, 41000]) {
    const wanted = Array.from({ length: PORTS_USED }, (_, i) => base + i).concat([base + 20, base + 21]);
    let ok = true;
    for (const p of wanted) if (!(await portFree(p))) ok = false;
    if (ok) return { base, status: base + 20, probe: base + 21 };
  }
  throw new Error('no free loopback port range found for the private nginx');
}

function httpGet(port, path, host) {
  return new Promise((resolve) => {
    // A fresh connection each time (agent: false): a kept-alive connection to an old worker would
    // keep answering with the old configuration after the reload.
    const req = request(
      { host: '127.0.0.1', port, path, method: 'GET', timeout: 2000, agent: false, headers: { host, connection: 'close' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The live tree: pools/ and vhosts/ as nginx reaches them (symlinks into the live generation). */
function treeStats(dir) {
  let files = 0;
  let bytes = 0;
  let confs = 0;
  let sidecars = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        files++;
        bytes += statSync(p).size;
        if (e.name.endsWith('.conf')) confs++;
        if (e.name.endsWith('.meta.json')) sidecars++;
      }
    }
  };
  for (const sub of ['pools', 'vhosts']) if (existsSync(join(dir, sub))) walk(join(dir, sub));
  return { files, bytes, confs, sidecars };
}

const tempPaths = (prefix) =>
  ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((n) => `    ${n}_temp_path ${join(prefix, 'temp', n)};`).join('\n');

/** Wrapper nginx.conf for `nginx -t` of a rendered tree under a private prefix (pools/ then vhosts/). */
function wrapperConf(prefix, nginxDir) {
  return `pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')};
events {}
http {
    access_log off;
${tempPaths(prefix)}
    server_names_hash_bucket_size 128;
    server_names_hash_max_size 65536;
    include ${join(nginxDir, 'pools')}/*.conf;
    include ${join(nginxDir, 'vhosts')}/*.conf;
}
`;
}

/** The private nginx's main configuration: the managed tree plus a bench-owned probe server. */
function liveMainConf(prefix, nginxDir) {
  return `# orch bench: private nginx, loopback ports only.
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')} notice;
events {
    worker_connections 1024;
}
http {
    access_log off;
${tempPaths(prefix)}
    server_names_hash_bucket_size 128;
    server_names_hash_max_size 65536;
    include ${join(prefix, 'bench-probe.conf')};
    include ${join(nginxDir, 'pools')}/*.conf;
    include ${join(nginxDir, 'vhosts')}/*.conf;
}
`;
}

function probeConf(port, token) {
  return `server {
    listen 127.0.0.1:${port};
    server_name bench-probe;
    access_log off;
    location = /bench/probe {
        default_type text/plain;
        return 200 "${token}";
    }
}
`;
}

function prepPrefix(prefix) {
  for (const d of ['logs', 'temp']) mkdirSync(join(prefix, d), { recursive: true });
}

async function startNginx(prefix, conf) {
  const child = spawn(NGINX, ['-p', prefix, '-c', conf, '-e', join(prefix, 'logs', 'error.log'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  nginxChildren.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const pidFile = join(prefix, 'nginx.pid');
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited at start (${child.exitCode}): ${stderr.trim()}`);
    if (existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8').trim()) === child.pid) return child;
    await sleep(25);
  }
  throw new Error(`nginx did not write ${pidFile} within 10 s: ${stderr.trim()}`);
}

async function stopNginx(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
  nginxChildren.delete(child);
}

// ---------------------------------------------------------------- one fleet

async function benchFleet(fleet, tls, ports, env0) {
  const base = join(tmpRoot, `fleet-${fleet.key}`);
  const manifests = join(base, 'manifests');
  const nginxDir = join(base, 'managed');
  const stateDir = join(base, 'state');
  const livePrefix = join(base, 'live-nginx');
  const testPrefix = join(base, 'nginx-t');
  mkdirSync(join(nginxDir, 'pools'), { recursive: true });
  mkdirSync(join(nginxDir, 'vhosts'), { recursive: true });
  prepPrefix(livePrefix);
  prepPrefix(testPrefix);

  const g0 = performance.now();
  const gen = generateFleet({
    dir: manifests,
    virtualHosts: fleet.virtualHosts,
    routesPerHost: 10,
    pools: fleet.pools,
    tls,
    basePort: ports.base,
  });
  const generateMs = performance.now() - g0;
  log(`[${fleet.key}] generated ${gen.counts.files} manifest files (${kib(gen.counts.bytes)}) in ${ms(generateMs)}`);

  const liveConf = join(livePrefix, 'nginx.conf');
  writeFileSync(liveConf, liveMainConf(livePrefix, nginxDir));
  let probeToken = `probe-0-${Date.now()}`;
  writeFileSync(join(livePrefix, 'bench-probe.conf'), probeConf(ports.probe, probeToken));
  const testConf = join(testPrefix, 'nginx.conf');
  writeFileSync(testConf, wrapperConf(testPrefix, nginxDir));

  const env = orchEnv({
    ...env0,
    ORCH_MANIFESTS: manifests,
    ORCH_NGINX_DIR: nginxDir,
    ORCH_STATE_DIR: stateDir,
    ORCH_NGINX_CONF: liveConf,
    ORCH_NGINX_PREFIX: livePrefix,
    ORCH_STATUS_LISTEN: `127.0.0.1:${ports.status}`,
    ORCH_RELOAD_TIMEOUT: '60',
  });
  const orch = (args, opts = {}) => runTimed(process.execPath, [ORCH, ...args], { env, cwd: base, ...opts });
  const liveInv = ['-p', livePrefix, '-c', liveConf, '-e', join(livePrefix, 'logs', 'error.log')];

  const nginx = await startNginx(livePrefix, liveConf);
  const result = { fleet: { ...fleet, manifests: gen.counts, generateMs } };
  try {
    // Initial apply: renders and applies the whole tree (also the "already applied" state for the no-op plan).
    log(`[${fleet.key}] initial orch apply --auto-approve --json ...`);
    const first = mustSucceed(await orch(['apply', '--auto-approve', '--json']), 'initial orch apply');
    const firstJson = JSON.parse(first.stdout);
    result.initialApply = {
      wallMs: first.wallMs,
      rssKiB: first.rssKiB,
      filesWritten: firstJson.files_written,
      nginxTests: firstJson.nginx_tests,
      reloads: firstJson.reloads,
      timingsMs: firstJson.timings,
      summary: firstJson.plan?.summary,
    };
    result.tree = treeStats(nginxDir);
    log(`[${fleet.key}] applied in ${ms(first.wallMs)}: ${result.tree.files} files, ${kib(result.tree.bytes)} in the managed tree`);

    const noop = await orch(['plan', '--detailed-exitcode', '--no-diff']);
    result.noopPlanExit = noop.code;
    if (noop.code !== 0)
      log(`[${fleet.key}] WARNING: plan after apply is not a no-op (exit ${noop.code}):\n${(noop.stdout + noop.stderr).slice(-2000)}`);

    if (fleet.key === '1000' && process.env.BENCH_SPEEDUPS !== '0') result.speedups = await benchSpeedups({ fleet, gen, env, cwd: base });
    if (only('speedups') && !only('fleet')) return result;

    // Side by side, interleaved so that drift of the machine affects all alike.
    // The CLI's fixed cost: `orch plan` of a 4-document fleet (start-up, module loading, tiny core).
    const tiny = join(base, 'tiny');
    generateFleet({ dir: join(tiny, 'manifests'), virtualHosts: 1, routesPerHost: 1, pools: 2, basePort: ports.base });
    const tinyEnv = orchEnv({
      ORCH_MANIFESTS: join(tiny, 'manifests'),
      ORCH_NGINX_DIR: join(tiny, 'managed'),
      ORCH_STATE_DIR: join(tiny, 'state'),
    });
    const m = { nodeStart: [], cliFloor: [], validate: [], plan: [], planCold: [], core: [], nginxT: [] };
    const coreRuns = [];
    for (let i = 0; i < RUNS; i++) {
      log(`[${fleet.key}] run ${i + 1}/${RUNS}`);
      m.nodeStart.push(await runTimed(process.execPath, ['-e', '0'], { env }));
      m.cliFloor.push(
        mustSucceed(await runTimed(process.execPath, [ORCH, 'plan', '--no-diff'], { env: tinyEnv, cwd: tiny }), 'orch plan (4 documents)'),
      );
      m.validate.push(mustSucceed(await orch(['validate']), 'orch validate'));
      m.plan.push(mustSucceed(await orch(['plan', '--detailed-exitcode', '--no-diff']), 'orch plan (no-op)', [0, 2]));
      // The same plan without the validation cache (a fresh CI runner, or the first plan after an edit of the manifests).
      m.planCold.push(
        mustSucceed(
          await orch(['plan', '--detailed-exitcode', '--no-diff'], { env: { ...env, ORCH_MANIFEST_CACHE: '0' } }),
          'orch plan (no-op, no cache)',
          [0, 2],
        ),
      );
      const core = mustSucceed(
        await runTimed(process.execPath, [CORE], {
          env: { ...env, BENCH_WARM_RUNS: String(WARM_RUNS), BENCH_DIST: join(SNAP, 'dist') },
          cwd: base,
        }),
        'core probe',
      );
      m.core.push(core);
      coreRuns.push(JSON.parse(core.stdout.trim().split('\n').pop()));
      m.nginxT.push(
        mustSucceed(
          await runTimed(NGINX, ['-t', '-p', testPrefix, '-c', testConf, '-e', join(testPrefix, 'logs', 'error.log')], { env }),
          'nginx -t',
        ),
      );
    }
    const sum = (rs) => ({ wallMs: stats(rs.map((r) => r.wallMs)), rssMiB: stats(rs.map((r) => (r.rssKiB ? r.rssKiB / 1024 : null))) });
    result.measured = {
      nodeStart: sum(m.nodeStart),
      cliFloor: sum(m.cliFloor),
      validate: sum(m.validate),
      plan: { ...sum(m.plan), exitCodes: m.plan.map((r) => r.code) },
      planCold: { ...sum(m.planCold), exitCodes: m.planCold.map((r) => r.code) },
      coreProcess: sum(m.core),
      nginxT: sum(m.nginxT),
      core: {
        inProcessColdMs: stats(coreRuns.map((c) => c.coreMs)),
        importMs: stats(coreRuns.map((c) => c.importMs)),
        phasesMs: Object.fromEntries(Object.keys(coreRuns[0].phases).map((k) => [k, stats(coreRuns.map((c) => c.phases[k]))])),
        warmComputePlanMs: stats(coreRuns.flatMap((c) => c.warmComputePlanMs)),
        maxRssMiB: stats(coreRuns.map((c) => c.maxRssKiB / 1024)),
        planHasChanges: coreRuns.some((c) => c.planHasChanges),
        documents: coreRuns[0].documents,
      },
    };
    result.measured.planOverNginxT = result.measured.plan.wallMs.median / result.measured.nginxT.wallMs.median;

    if (fleet.apply) {
      try {
        result.apply = await benchApply({
          fleet,
          gen,
          orch,
          liveInv,
          livePrefix,
          ports,
          nginxDir,
          env,
          nextToken: () => (probeToken = `probe-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`),
        });
      } catch (e) {
        result.applyError = e instanceof Error ? e.message : String(e);
        log(`[${fleet.key}] apply benchmark failed: ${result.applyError}`);
      }
      // Last, as it throws the state away: rebuild-db with the database lost (the rest of the state
      // directory kept), then with the whole state directory lost; the plan after it must be empty.
      result.rebuild = await benchRebuild({ fleet, orch, stateDir });
    }
  } finally {
    await stopNginx(nginx);
  }
  return result;
}

/**
 * The speed-ups on the manifest-reading and planning path, on and off (issue 16: one is kept only if
 * it saves at least 20% of the command's wall time here). What is left is the validation cache
 * (ORCH_MANIFEST_CACHE=0 turns it off). Removed for not paying, with their figures in the commits:
 * the render memo, the manifest worker thread, the V8 code cache; and the hand-written YAML
 * reader with js-yaml, for one YAML parser.
 */
const SPEEDUP_VARIANTS = [
  { key: 'shipped', label: 'as shipped (both manifest caches on)', env: {} },
  { key: 'noParseCache', label: 'parse cache off (ORCH_PARSE_CACHE=0)', env: { ORCH_PARSE_CACHE: '0' } },
  { key: 'noCache', label: 'both caches off (ORCH_MANIFEST_CACHE=0)', env: { ORCH_MANIFEST_CACHE: '0' } },
];
/** Each speed-up: the variant with it on, the variant with it off. */
const SPEEDUP_COMPARISONS = [
  { label: 'manifest caches (validation + parse)', on: 'shipped', off: 'noCache' },
  { label: 'parse cache', on: 'shipped', off: 'noParseCache' },
];
// BENCH_BASELINE: another build of orch (a checkout with `npm run build` done), run in the same
// rounds for a before/after comparison ("saving" is then how much less time this build takes).
const BASELINE = process.env.BENCH_BASELINE ? join(process.env.BENCH_BASELINE, 'bin', 'run.js') : null;
if (BASELINE) {
  SPEEDUP_VARIANTS.push(
    { key: 'baselineShipped', label: 'BENCH_BASELINE as shipped', env: {}, bin: BASELINE },
    { key: 'baselineNoCache', label: 'BENCH_BASELINE, ORCH_MANIFEST_CACHE=0', env: { ORCH_MANIFEST_CACHE: '0' }, bin: BASELINE },
  );
  SPEEDUP_COMPARISONS.push(
    { label: 'this build vs baseline, as shipped', on: 'shipped', off: 'baselineShipped' },
    { label: 'this build vs baseline, no cache', on: 'noCache', off: 'baselineNoCache' },
  );
  // BENCH_BASELINE_OFF="NAME=value,...": the baseline with each of these switches set in turn (one
  // of its speed-ups off), each compared with the baseline as shipped.
  for (const sw of (process.env.BENCH_BASELINE_OFF ?? '').split(',').filter(Boolean)) {
    const [name, value] = sw.split('=');
    SPEEDUP_VARIANTS.push({ key: `baseline:${sw}`, label: `BENCH_BASELINE, ${sw}`, env: { [name]: value }, bin: BASELINE });
    SPEEDUP_COMPARISONS.push({ label: `baseline: ${sw} (speed-up off)`, on: 'baselineShipped', off: `baseline:${sw}` });
  }
}

async function benchSpeedups({ fleet, gen, env, cwd }) {
  // `edited`: a plan after ONE manifest file changed (a comment appended, a new one before each
  // run): the validation cache misses, the parse cache parses that one file again.
  const edited = join(gen.dir, gen.hosts[0].routes[0].file);
  const original = readFileSync(edited, 'utf8');
  let edits = 0;
  const commands = [
    { key: 'validate', args: ['validate'], codes: [0] },
    { key: 'plan', args: ['plan', '--detailed-exitcode', '--no-diff'], codes: [0] },
    {
      key: 'edited',
      args: ['plan', '--detailed-exitcode', '--no-diff'],
      codes: [0],
      before: () => writeFileSync(edited, `${original}# bench edit ${++edits}\n`),
    },
  ];
  const runs = Object.fromEntries(SPEEDUP_VARIANTS.map((v) => [v.key, { validate: [], plan: [], edited: [] }]));
  // One round first, not timed: the caches each variant uses are in place (as after an apply).
  for (let round = -1; round < RUNS; round++) {
    log(`[${fleet.key}] speed-ups ${round < 0 ? 'warm-up round' : `run ${round + 1}/${RUNS}`}`);
    // A different order each round, so that drift of the machine does not favour one variant.
    const order = SPEEDUP_VARIANTS.map((_, i) => SPEEDUP_VARIANTS[(i + Math.max(0, round) * 3) % SPEEDUP_VARIANTS.length]);
    for (const v of order) {
      for (const c of commands) {
        c.before?.();
        const r = await runTimed(process.execPath, [v.bin ?? ORCH, ...c.args], { env: { ...env, ...v.env }, cwd });
        mustSucceed(r, `orch ${c.args.join(' ')} (${v.label})`, c.codes);
        if (round >= 0) runs[v.key][c.key].push(r.wallMs);
      }
    }
  }
  const variants = SPEEDUP_VARIANTS.map((v) => ({
    key: v.key,
    label: v.label,
    env: v.env,
    validateMs: stats(runs[v.key].validate),
    planMs: stats(runs[v.key].plan),
    editedPlanMs: stats(runs[v.key].edited),
  }));
  writeFileSync(edited, original);
  const byKey = new Map(variants.map((v) => [v.key, v]));
  // Saving: the share of the command's time without the speed-up that the speed-up saves, (off - on) / off.
  const saving = (on, off) => ({ median: (off.median - on.median) / off.median, min: (off.min - on.min) / off.min });
  const comparisons = SPEEDUP_COMPARISONS.map((c) => {
    const [on, off] = [byKey.get(c.on), byKey.get(c.off)];
    return {
      ...c,
      validate: saving(on.validateMs, off.validateMs),
      plan: saving(on.planMs, off.planMs),
      editedPlan: saving(on.editedPlanMs, off.editedPlanMs),
    };
  });
  return { variants, comparisons };
}

function printSpeedups({ variants, comparisons }) {
  const out = ['', `== Speed-ups on and off, 1,000-vhost fleet (${RUNS} interleaved runs)`];
  out.push(`   ${'variant'.padEnd(42)} ${'orch validate'.padEnd(30)} ${'orch plan (no-op)'.padEnd(30)} orch plan (one file edited)`);
  for (const v of variants)
    out.push(`   ${v.label.padEnd(42)} ${st(v.validateMs).padEnd(30)} ${st(v.planMs).padEnd(30)} ${st(v.editedPlanMs)}`);
  const pct = (x) => `${(x * 100).toFixed(0)}%`;
  out.push('   saving = (off - on) / off, of the medians [of the minimums]; kept when >= 20%');
  for (const c of comparisons) {
    out.push(
      `   ${c.label.padEnd(42)} validate ${pct(c.validate.median)} [${pct(c.validate.min)}], plan ${pct(c.plan.median)} [${pct(c.plan.min)}], plan after one edit ${pct(c.editedPlan.median)} [${pct(c.editedPlan.min)}]`,
    );
  }
  return out.join('\n');
}

/** `orch rebuild-db` of the applied fleet: database lost, and whole state directory lost. */
async function benchRebuild({ fleet, orch, stateDir }) {
  const dbLost = [];
  const dirLost = [];
  const planExits = [];
  for (let i = 0; i < 3; i++) {
    for (const ext of ['', '-wal', '-shm']) rmSync(join(stateDir, `orch.db${ext}`), { force: true });
    dbLost.push(mustSucceed(await orch(['rebuild-db']), 'orch rebuild-db (database lost)').wallMs);
    planExits.push((await orch(['plan', '--detailed-exitcode', '--no-diff'])).code);
    rmSync(stateDir, { recursive: true, force: true });
    dirLost.push(mustSucceed(await orch(['rebuild-db']), 'orch rebuild-db (state directory lost)').wallMs);
    planExits.push((await orch(['plan', '--detailed-exitcode', '--no-diff'])).code);
  }
  log(
    `[${fleet.key}] rebuild-db: database lost ${ms(stats(dbLost).median)}, state directory lost ${ms(stats(dirLost).median)}; plan exits ${planExits.join(',')}`,
  );
  return { dbLostMs: stats(dbLost), stateDirLostMs: stats(dirLost), planExits };
}

/** One route's pool changed, applied; beside nginx -t of the live conf and the reload confirmation. */
async function benchApply({ fleet, gen, orch, liveInv, livePrefix, ports, nginxDir, env, nextToken }) {
  const s3Hosts = gen.hosts.filter((h) => !h.isFileHost);
  const runs = [];
  const reviewed = [];
  const byCommand = [];
  const nginxTLive = [];
  const reloadConfirm = [];
  for (let i = 0; i < RUNS; i++) {
    log(`[${fleet.key}] apply run ${i + 1}/${RUNS}`);
    // nginx -t of the live configuration (same invocation orch uses: -p, -c, -e).
    nginxTLive.push(mustSucceed(await runTimed(NGINX, ['-t', ...liveInv]), 'nginx -t (live)'));

    // Reload confirmation: a changed response served, timed from `nginx -s reload`.
    const token = nextToken();
    writeFileSync(join(livePrefix, 'bench-probe.conf'), probeConf(ports.probe, token));
    const t0 = performance.now();
    const rl = mustSucceed(await runTimed(NGINX, [...liveInv, '-s', 'reload']), 'nginx -s reload');
    let served = null;
    for (;;) {
      const r = await httpGet(ports.probe, '/bench/probe', 'bench-probe');
      if (r && r.status === 200 && r.body === token) {
        served = performance.now() - t0;
        break;
      }
      if (performance.now() - t0 > 60_000) throw new Error('the probe never served the new token after nginx -s reload');
      await sleep(10);
    }
    reloadConfirm.push({ reloadCommandMs: rl.wallMs, confirmMs: served });

    // Change ONE route's pool (a different virtual host each run) and apply.
    const host = s3Hosts[Math.floor(((i + 0.5) * s3Hosts.length) / RUNS)];
    const route = host.routes[3];
    const to = gen.nanioPools.find((p) => p !== route.pool);
    const file = join(gen.dir, route.file);
    const before = readFileSync(file, 'utf8');
    const after = before.replace(/^ {2}pool: .*$/m, `  pool: ${to}`);
    if (after === before) throw new Error(`could not edit ${file}`);
    writeFileSync(file, after);
    route.pool = to;
    const r = mustSucceed(await orch(['apply', '--auto-approve', '--json']), 'orch apply (one route)');
    const j = JSON.parse(r.stdout);
    const planFiles = (j.plan?.changes ?? []).flatMap((c) => c.files.map((f) => f.path));
    runs.push({
      route: route.name,
      from: before.match(/^ {2}pool: (.*)$/m)[1],
      to,
      wallMs: r.wallMs,
      rssKiB: r.rssKiB,
      filesWritten: j.files_written,
      filesDeleted: j.files_deleted,
      resourceFilesChanged: planFiles,
      nginxTests: j.nginx_tests,
      reloads: j.reloads,
      timingsMs: j.timings,
      summary: j.plan?.summary,
      stepsMs: stepDurations(r.stderrLines, r.wallMs),
    });

    // The same, as an operator does it: `orch plan` first (reviewed, untimed: it leaves the
    // validation of these manifests in the cache), then the apply, which does not parse them again.
    const route2 = host.routes[4];
    const to2 = gen.nanioPools.find((p) => p !== route2.pool);
    const file2 = join(gen.dir, route2.file);
    const before2 = readFileSync(file2, 'utf8');
    writeFileSync(file2, before2.replace(/^ {2}pool: .*$/m, `  pool: ${to2}`));
    route2.pool = to2;
    mustSucceed(await orch(['plan', '--no-diff', '--detailed-exitcode']), 'orch plan (reviewed)', [2]);
    const rr = mustSucceed(await orch(['apply', '--auto-approve', '--json']), 'orch apply (one route, after plan)');
    reviewed.push({ wallMs: rr.wallMs, stepsMs: stepDurations(rr.stderrLines, rr.wallMs), nginxTests: JSON.parse(rr.stdout).nginx_tests });

    // The first apply again with the reload as `nginx -s reload` (ORCH_RELOAD_SIGNAL=0) instead of
    // SIGHUP to the master: what signalling saves, in the same rounds.
    const route3 = host.routes[5];
    const to3 = gen.nanioPools.find((p) => p !== route3.pool);
    const file3 = join(gen.dir, route3.file);
    writeFileSync(file3, readFileSync(file3, 'utf8').replace(/^ {2}pool: .*$/m, `  pool: ${to3}`));
    route3.pool = to3;
    const rc3 = mustSucceed(
      await orch(['apply', '--auto-approve', '--json'], { env: { ...env, ORCH_RELOAD_SIGNAL: '0' } }),
      'orch apply (one route, nginx -s reload)',
    );
    byCommand.push({ wallMs: rc3.wallMs, stepsMs: stepDurations(rc3.stderrLines, rc3.wallMs) });
  }
  const nT = stats(nginxTLive.map((r) => r.wallMs));
  const rc = stats(reloadConfirm.map((r) => r.confirmMs));
  const aw = stats(runs.map((r) => r.wallMs));
  return {
    runs,
    wallMs: aw,
    rssMiB: stats(runs.map((r) => (r.rssKiB ? r.rssKiB / 1024 : null))),
    nginxTLiveMs: nT,
    reloadCommandMs: stats(reloadConfirm.map((r) => r.reloadCommandMs)),
    reloadConfirmMs: rc,
    timingsMs: Object.fromEntries(Object.keys(runs[0].timingsMs ?? {}).map((k) => [k, stats(runs.map((r) => r.timingsMs[k]))])),
    stepsMs: Object.fromEntries(Object.keys(runs[0].stepsMs).map((k) => [k, stats(runs.map((r) => r.stepsMs[k]))])),
    ratio: aw.median / (nT.median + rc.median),
    reviewed: {
      wallMs: stats(reviewed.map((r) => r.wallMs)),
      stepsMs: Object.fromEntries(Object.keys(reviewed[0].stepsMs).map((k) => [k, stats(reviewed.map((r) => r.stepsMs[k]))])),
      nginxTests: reviewed.map((r) => r.nginxTests),
      ratio: stats(reviewed.map((r) => r.wallMs)).median / (nT.median + rc.median),
    },
    byCommand: {
      wallMs: stats(byCommand.map((r) => r.wallMs)),
      stepsMs: Object.fromEntries(Object.keys(byCommand[0].stepsMs).map((k) => [k, stats(byCommand.map((r) => r.stepsMs[k]))])),
      ratio: stats(byCommand.map((r) => r.wallMs)).median / (nT.median + rc.median),
    },
    tree: treeStats(nginxDir),
  };
}

const STEP_LINES = [
  ['startup+lock+recover', /Recover an interrupted apply/],
  ['plan', /Compute the plan/],
  ['build', /Build the new generation/],
  ['validate', /Validate it with nginx's main configuration/],
  ['switch', /Switch to the new generation/],
  ['reload+confirm', /Reload nginx/],
  ['commit', /Commit the state/],
  ['backup', /Back up the state database/],
];

/**
 * Wall time of each apply step, from the arrival times of apply's progress lines on stderr (one
 * line when a step ends; steps run one after the other). The first step includes process start-up;
 * `exit` is the JSON output and process exit after the last step.
 */
function stepDurations(lines, wallMs) {
  const out = {};
  let prev = 0;
  for (const { ms: at, text } of lines ?? []) {
    const step = STEP_LINES.find(([, re]) => re.test(text));
    if (!step) continue;
    out[step[0]] = at - prev;
    prev = at;
  }
  out.exit = wallMs - prev;
  return out;
}

// ---------------------------------------------------------------- output

const ms = (x) =>
  x === null || x === undefined
    ? '-'
    : x >= 10_000
      ? `${(x / 1000).toFixed(1)} s`
      : x >= 1000
        ? `${(x / 1000).toFixed(2)} s`
        : `${x.toFixed(0)} ms`;
const kib = (b) => (b >= 1024 * 1024 ? `${(b / 1024 / 1024).toFixed(1)} MiB` : `${(b / 1024).toFixed(0)} KiB`);
const mib = (x) => (x === null || x === undefined ? '-' : `${x.toFixed(0)} MiB`);
const pf = (ok) => (ok ? 'PASS' : 'FAIL');
const st = (s, fmt = ms) => (s ? `${fmt(s.median).padStart(8)}  [${fmt(s.min)} - ${fmt(s.max)}]` : '-');

function printFleet(r) {
  const f = r.fleet;
  const c = f.manifests;
  const mm = r.measured;
  const out = [];
  out.push('');
  out.push(`== Fleet: ${f.label}`);
  out.push(
    `   manifests: ${c.files} files (${kib(c.bytes)}): ${c.pools} pools (${c.nanioPools} nanio, ${c.httpPools} http), ${c.virtualHosts} vhosts (${c.tlsHosts} TLS, ${c.ipRuleHosts} with IP rules, ${c.extraHosts} with extra blocks), ${c.routes} routes`,
  );
  out.push(`   rendered tree: ${r.tree.files} files (${r.tree.confs} .conf, ${r.tree.sidecars} sidecars), ${kib(r.tree.bytes)}`);
  out.push(
    `   initial apply: ${ms(r.initialApply.wallMs)} wall, ${r.initialApply.filesWritten} files written, nginx -t x${r.initialApply.nginxTests}, ${r.initialApply.reloads} reload; no-op plan afterwards exits ${r.noopPlanExit} ${r.noopPlanExit === 0 ? '(no changes)' : '(NOT a no-op!)'}`,
  );
  out.push('');
  out.push(`   ${'measure'.padEnd(40)} ${'wall median  [min - max]'.padEnd(30)} peak RSS median [min - max]`);
  const row = (name, s) => out.push(`   ${name.padEnd(40)} ${st(s.wallMs).padEnd(30)} ${s.rssMiB ? st(s.rssMiB, mib) : '-'}`);
  row('node -e 0 (bare node start-up)', mm.nodeStart);
  row('orch plan, 4-document fleet (CLI floor)', mm.cliFloor);
  row('orch validate', mm.validate);
  row('orch plan (no-op, validation cache)', mm.plan);
  if (mm.planCold) row('orch plan (no-op, ORCH_MANIFEST_CACHE=0)', mm.planCold);
  row(`core probe process (+${WARM_RUNS} warm repeats)`, mm.coreProcess);
  out.push(`   ${'  core in-process, cold (no CLI)'.padEnd(40)} ${st(mm.core.inProcessColdMs).padEnd(30)} ${st(mm.core.maxRssMiB, mib)}`);
  out.push(`   ${'  core in-process, warm computePlan()'.padEnd(40)} ${st(mm.core.warmComputePlanMs)}`);
  row('nginx -t (same rendered tree)', mm.nginxT);
  out.push('');
  const ph = mm.core.phasesMs;
  out.push(
    `   core phases (cold, median): ${Object.entries(ph)
      .map(([k, v]) => `${k} ${ms(v.median)}`)
      .join(', ')}; module import ${ms(mm.core.importMs.median)}`,
  );
  if (mm.core.planHasChanges) out.push('   WARNING: the core probe planned changes where orch plan found none (its figures include diffs)');
  out.push(
    `   orch plan = CLI floor ${ms(mm.cliFloor.wallMs.median)} (node ${ms(mm.nodeStart.wallMs.median)}, oclif + modules) + fleet-dependent core (${ms(mm.core.inProcessColdMs.median)} cold in process)`,
  );
  out.push(`   ratio plan / nginx -t: ${mm.planOverNginxT.toFixed(2)}`);
  return out.join('\n');
}

function printApply(a) {
  const out = [];
  out.push('');
  out.push(`== Apply of ONE changed route on the 1,000-vhost fleet (${a.runs.length} runs, a different route each)`);
  out.push(`   live tree: ${a.tree.files} files (${a.tree.confs} .conf, ${a.tree.sidecars} sidecars), ${kib(a.tree.bytes)}`);
  out.push(`   ${'measure'.padEnd(40)} wall median  [min - max]`);
  out.push(`   ${'orch apply --auto-approve --json'.padEnd(40)} ${st(a.wallMs)}   peak RSS ${st(a.rssMiB, mib)}`);
  for (const [k, v] of Object.entries(a.stepsMs)) out.push(`   ${`  step ${k}`.padEnd(40)} ${st(v)}`);
  for (const [k, v] of Object.entries(a.timingsMs)) out.push(`   ${`  orch timings.${k}`.padEnd(40)} ${st(v)}`);
  out.push(`   ${'nginx -t (live conf)'.padEnd(40)} ${st(a.nginxTLiveMs)}`);
  out.push(`   ${'nginx -s reload (command)'.padEnd(40)} ${st(a.reloadCommandMs)}`);
  out.push(`   ${'reload -> changed response served'.padEnd(40)} ${st(a.reloadConfirmMs)}`);
  out.push('   per run: files_written / resource files in plan / nginx_tests / reloads / wall');
  for (const r of a.runs) {
    out.push(
      `     ${r.route} ${r.from} -> ${r.to}: ${r.filesWritten} / ${r.resourceFilesChanged.length} [${r.resourceFilesChanged.join(', ')}] / ${r.nginxTests} / ${r.reloads} / ${ms(r.wallMs)}`,
    );
  }
  out.push(
    `   ratio apply wall / (nginx -t + reload confirm): ${ms(a.wallMs.median)} / (${ms(a.nginxTLiveMs.median)} + ${ms(a.reloadConfirmMs.median)}) = ${a.ratio.toFixed(2)}`,
  );
  if (a.reviewed) {
    out.push('');
    out.push('   the same after `orch plan` of the same manifests (their validation cached, as when a plan is reviewed first):');
    out.push(`   ${'orch apply --auto-approve --json'.padEnd(40)} ${st(a.reviewed.wallMs)}   nginx -t ${a.reviewed.nginxTests.join(' ')}`);
    for (const [k, v] of Object.entries(a.reviewed.stepsMs)) out.push(`   ${`  step ${k}`.padEnd(40)} ${st(v)}`);
    out.push(
      `   ratio apply wall / (nginx -t + reload confirm): ${ms(a.reviewed.wallMs.median)} / (${ms(a.nginxTLiveMs.median)} + ${ms(a.reloadConfirmMs.median)}) = ${a.reviewed.ratio.toFixed(2)}`,
    );
  }
  if (a.byCommand) {
    out.push('');
    out.push('   the first apply with the reload as `nginx -s reload` (ORCH_RELOAD_SIGNAL=0) instead of SIGHUP to the master:');
    out.push(`   ${'orch apply --auto-approve --json'.padEnd(40)} ${st(a.byCommand.wallMs)}`);
    out.push(`   ${'  step reload+confirm'.padEnd(40)} ${st(a.byCommand.stepsMs['reload+confirm'])}`);
    out.push(`   ratio: ${a.byCommand.ratio.toFixed(2)}`);
  }
  return out.join('\n');
}

function targets(results) {
  const rows = [];
  const big = results.find((r) => r.fleet.key === '1000' && r.measured);
  if (big) {
    const p = big.measured.plan;
    rows.push([
      `1,000-host no-op plan wall < ${TARGETS.planMs} ms (median, validation cache)`,
      ms(p.wallMs.median),
      p.wallMs.median < TARGETS.planMs,
    ]);
    const pc = big.measured.planCold;
    if (pc)
      rows.push([
        `1,000-host no-op plan wall < ${TARGETS.planMs} ms (median, no cache)`,
        ms(pc.wallMs.median),
        pc.wallMs.median < TARGETS.planMs,
      ]);
    if (p.rssMiB)
      rows.push([
        `1,000-host no-op plan peak RSS < ${TARGETS.planRssMiB} MB (max of runs)`,
        mib(p.rssMiB.max),
        p.rssMiB.max < TARGETS.planRssMiB,
      ]);
    else {
      const c = big.measured.core.maxRssMiB;
      rows.push([
        `1,000-host plan peak RSS < ${TARGETS.planRssMiB} MB (in-process core; no /usr/bin/time)`,
        mib(c.max),
        c.max < TARGETS.planRssMiB,
      ]);
    }
    rows.push(['1,000-host no-op plan reports no changes', `exit ${big.noopPlanExit}`, big.noopPlanExit === 0]);
  }
  if (big?.rebuild) {
    const rb = big.rebuild;
    rows.push([
      `1,000-host rebuild-db < ${TARGETS.rebuildMs} ms (median, database lost)`,
      ms(rb.dbLostMs.median),
      rb.dbLostMs.median < TARGETS.rebuildMs,
    ]);
    rows.push([
      `1,000-host rebuild-db < ${TARGETS.rebuildMs} ms (median, state dir lost)`,
      ms(rb.stateDirLostMs.median),
      rb.stateDirLostMs.median < TARGETS.rebuildMs,
    ]);
    rows.push(['plan after rebuild-db reports no changes', rb.planExits.join(','), rb.planExits.every((c) => c === 0)]);
  }
  const a = big?.apply;
  if (big?.fleet.apply && !a) rows.push(['apply benchmark ran', 'failed', false]);
  if (a) {
    rows.push([`apply ratio <= ${TARGETS.applyRatio}`, a.ratio.toFixed(2), a.ratio <= TARGETS.applyRatio]);
    if (a.reviewed)
      rows.push([
        `apply ratio <= ${TARGETS.applyRatio} after a plan of the same manifests`,
        a.reviewed.ratio.toFixed(2),
        a.reviewed.ratio <= TARGETS.applyRatio,
      ]);
    const okFiles = a.runs.every(
      (r) =>
        r.resourceFilesChanged.length === TARGETS.resourceFilesWritten &&
        r.filesWritten <= TARGETS.resourceFilesWritten + 1 &&
        r.filesWritten >= TARGETS.resourceFilesWritten,
    );
    rows.push([
      `files written = ${TARGETS.resourceFilesWritten} resource files (+ status file)`,
      a.runs.map((r) => `${r.resourceFilesChanged.length}+${r.filesWritten - r.resourceFilesChanged.length}`).join(' '),
      okFiles,
    ]);
    rows.push([
      `nginx -t runs <= ${TARGETS.nginxTests}`,
      a.runs.map((r) => r.nginxTests).join(' '),
      a.runs.every((r) => r.nginxTests <= TARGETS.nginxTests),
    ]);
    rows.push([`reloads = ${TARGETS.reloads}`, a.runs.map((r) => r.reloads).join(' '), a.runs.every((r) => r.reloads === TARGETS.reloads)]);
  }
  return rows;
}

// ---------------------------------------------------------------- main

async function main() {
  const started = performance.now();
  const nginxV = spawnSync(NGINX, ['-v'], { encoding: 'utf8' });
  const nginxVersion = /nginx\/(\S+)/.exec(`${nginxV.stderr}${nginxV.stdout}`)?.[1] ?? null;
  if (!nginxVersion) throw new Error(`nginx not found (${NGINX}); install it (Debian: apt-get install nginx-light) or set ORCH_NGINX`);
  if (!existsSync(join(ROOT, 'dist', 'commands', 'plan.js'))) throw new Error('dist/ is missing: run `npm run build` (npm run bench does)');
  const git = spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim() || null;
  const dirty = spawnSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .filter(Boolean).length;

  const env = {
    node: process.version,
    nginx: nginxVersion,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? null,
    memGiB: +(totalmem() / 2 ** 30).toFixed(1),
    loadAvgAtStart: loadavg().map((x) => +x.toFixed(2)),
    runs: RUNS,
    peakRssVia: TIME_BIN ? '/usr/bin/time -f %M' : 'process.resourceUsage().maxRSS (in-process core only)',
    git,
    srcFilesUncommitted: dirty,
  };
  snapshotBuild();
  log(`orch bench: ${RUNS} runs per measure; temp dir ${tmpRoot}; build under test copied to ${SNAP}`);
  const tls = makeSelfSignedCert(join(tmpRoot, 'tls'));
  const ports = await pickPorts();
  log(`ports: vhosts ${ports.base}-${ports.base + PORTS_USED - 1}, orch status ${ports.status}, probe ${ports.probe}`);

  const results = [];
  if (only('fleet') || only('speedups')) for (const fleet of FLEETS) results.push(await benchFleet(fleet, tls, ports, {}));
  const copy = only('copy')
    ? await benchCopy({ dist: join(SNAP, 'dist'), tmpRoot, log }).catch((e) => ({ error: e instanceof Error ? e.message : String(e) }))
    : null;

  const watchBench = only('watch')
    ? await benchWatch({ orch: ORCH, tmpRoot, log, tls, ports, nginx: NGINX, runs: RUNS, children: nginxChildren }).catch((e) => ({
        error: e instanceof Error ? e.message : String(e),
      }))
    : null;

  const migration = only('migration') ? await benchMigration({ tmpRoot, log }) : null;
  const lines = [];
  lines.push(
    `orch bench - node ${env.node}, nginx ${env.nginx}, ${env.cpus} CPUs (${env.cpuModel}), ${env.memGiB} GiB; git ${env.git}${env.srcFilesUncommitted ? ` + ${env.srcFilesUncommitted} uncommitted src/ files` : ''}`,
  );
  lines.push(`${RUNS} runs per measure, interleaved; wall = performance.now() around the child process; peak RSS via ${env.peakRssVia}`);
  for (const r of results) {
    if (r.measured) lines.push(printFleet(r));
    if (r.speedups) lines.push(printSpeedups(r.speedups));
    if (r.apply) lines.push(printApply(r.apply));
    if (r.rebuild) {
      const rb = r.rebuild;
      lines.push('');
      lines.push(`== rebuild-db of the ${r.fleet.label} fleet (3 runs each)`);
      lines.push(
        `   database lost (objects and the rest of the state dir kept)   ${ms(rb.dbLostMs.median)}  [${ms(rb.dbLostMs.min)} - ${ms(rb.dbLostMs.max)}]`,
      );
      lines.push(
        `   whole state directory lost (every content stored again)       ${ms(rb.stateDirLostMs.median)}  [${ms(rb.stateDirLostMs.min)} - ${ms(rb.stateDirLostMs.max)}]`,
      );
      lines.push(`   plan --detailed-exitcode after each rebuild: exits ${rb.planExits.join(', ')}`);
    }
    if (r.applyError) lines.push(`\n== Apply benchmark FAILED: ${r.applyError}`);
  }
  if (copy) lines.push(printCopy(copy));
  const t = [...targets(results), ...(copy ? copyTargets(copy) : []), ...(watchBench ? watchTargets(watchBench) : [])];
  if (watchBench) lines.push(printWatch(watchBench));
  if (migration) {
    lines.push(printMigration(migration));
    t.push(...migrationTargets(migration));
  }
  lines.push('');
  lines.push('== Targets (issues 2, 3 and 4)');
  for (const [name, value, ok] of t) lines.push(`   ${pf(ok)}  ${name.padEnd(62)} ${value}`);
  const totalMs = performance.now() - started;
  lines.push('');
  lines.push(
    `bench wall time: ${ms(totalMs)}; load average at start ${env.loadAvgAtStart.join(' ')}, at end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} (other work on the machine skews every figure)`,
  );

  const outDir = join(tmpdir(), 'orch-bench');
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, 'latest.json');
  writeFileSync(
    outFile,
    `${JSON.stringify({ format_version: '1', at: new Date().toISOString(), env, targets: Object.fromEntries(t.map(([n, v, ok]) => [n, { value: v, pass: ok }])), results, copy, watch: watchBench, migration, benchWallMs: totalMs }, null, 2)}\n`,
  );
  lines.push(`figures as JSON: ${outFile}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return t.every(([, , ok]) => ok);
}

let ok = false;
try {
  ok = await main();
} catch (e) {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
} finally {
  cleanupSync();
}
// Exit 0 even when a target FAILs: the figures are the product; FAIL lines say what missed.
if (process.exitCode === undefined) process.exitCode = 0;
void ok;
