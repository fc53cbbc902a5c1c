// `orch watch` benchmark (part of `npm run bench`; `BENCH_ONLY=watch node test/bench/run.mjs` runs
// only this part). On the 1,000-virtual-host fleet (fleet.mjs), behind a private nginx on loopback
// ports, with `orch watch` running as a child process:
//   - manifest saved -> route served: edit ONE route's pool (a different virtual host each run) and
//     poll through nginx, on the virtual host's port with its Host header, until the answer comes
//     from the new pool (small HTTP servers bound on the pool members' loopback addresses answer
//     with their pool's name); BENCH_RUNS runs;
//   - reloads per burst: 20 route files edited within 1 s (a git pull), then wait until all 20
//     routes are served by their new pool and the daemon is idle; count generations and reloads
//     (the daemon's /metrics), BENCH_WATCH_BURSTS bursts (default 3).
// Environment: BENCH_RUNS, BENCH_WATCH_BURSTS, ORCH_NGINX.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { generateFleet, PLAIN_PORTS } from './fleet.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const BURST_EDITS = 20;
const BURST_WINDOW_MS = 1000;

function stats(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return { median: v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2, min: v[0], max: v[v.length - 1], runs: v.length };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function httpGet(port, path, host, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'GET', timeout: timeoutMs, agent: false, headers: { host, connection: 'close' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode, body, pool: res.headers['x-bench-pool'] ?? null }));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

/** HTTP servers on a pool's member addresses (127.0.x.y:9000), answering with the pool's name. */
class PoolServers {
  constructor(manifests) {
    this.manifests = manifests;
    this.servers = new Map();
  }
  async ensure(pool) {
    if (this.servers.has(pool)) return;
    const text = readFileSync(join(this.manifests, 'pools', `${pool}.yaml`), 'utf8');
    const members = [...text.matchAll(/address: (\S+):(\d+)/g)].map((m) => ({ host: m[1], port: Number(m[2]) }));
    const list = [];
    for (const m of members) {
      const server = createHttpServer((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'text/plain', 'x-bench-pool': pool });
        res.end(`pool=${pool}\n`);
      });
      await new Promise((resolve, reject) => {
        server.once('error', (e) => reject(new Error(`cannot bind pool ${pool}'s member ${m.host}:${m.port}: ${e.message}`)));
        server.listen(m.port, m.host, resolve);
      });
      list.push(server);
    }
    this.servers.set(pool, list);
  }
  async close() {
    for (const list of this.servers.values()) {
      for (const s of list) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    }
  }
}

function mainConf(prefix, nginxDir) {
  const t = (n) => `    ${n}_temp_path ${join(prefix, 'temp', n)};`;
  return `# orch watch bench: private nginx, loopback ports only.
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')} notice;
events {
    worker_connections 1024;
}
http {
    access_log off;
${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(t).join('\n')}
    server_names_hash_bucket_size 128;
    server_names_hash_max_size 65536;
    include ${join(nginxDir, 'pools')}/*.conf;
    include ${join(nginxDir, 'vhosts')}/*.conf;
}
`;
}

async function startNginx(nginx, prefix, conf, children) {
  const child = spawn(nginx, ['-p', prefix, '-c', conf, '-e', join(prefix, 'logs', 'error.log'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const pidFile = join(prefix, 'nginx.pid');
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited at start (${child.exitCode}): ${stderr.trim()}`);
    if (existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8').trim()) === child.pid) return child;
    await sleep(25);
  }
  throw new Error(`nginx did not start: ${stderr.trim()}`);
}

async function stopChild(child, signal = 'SIGTERM', timeoutMs = 15_000) {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  const exited = new Promise((r) => child.once('exit', (code, sig) => r({ code, signal: sig })));
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const r = await exited;
  clearTimeout(t);
  return r;
}

function run(cmd, args, env, cwd) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, wallMs: performance.now() - started }));
  });
}

/** Samples of one metric family from a Prometheus text exposition (the daemon's own output). */
function metricValue(text, name, labels = '') {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : null;
}

/**
 * The benchmark. `orch`: bin/run.js of the build under test; `ports`: { base, status } from the
 * caller (vhost ports base..base+PLAIN_PORTS, orch's reload-confirmation status port).
 */
export async function benchWatch({ orch, tmpRoot, log, tls, ports, nginx, runs, children = new Set() }) {
  const base = join(tmpRoot, 'watch-1000');
  const manifests = join(base, 'manifests');
  const nginxDir = join(base, 'managed');
  const stateDir = join(base, 'state');
  const prefix = join(base, 'live-nginx');
  for (const d of [join(nginxDir, 'pools'), join(nginxDir, 'vhosts'), join(prefix, 'logs'), join(prefix, 'temp')])
    mkdirSync(d, { recursive: true });
  const gen = generateFleet({ dir: manifests, virtualHosts: 1000, routesPerHost: 10, pools: 200, tls, basePort: ports.base });
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, mainConf(prefix, nginxDir));
  writeFileSync(join(base, 'orch.yaml'), '# bench: settings come from ORCH_* variables\n');
  const watchPort = await freePort();
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ORCH_')) env[k] = v;
  Object.assign(env, {
    NO_COLOR: '1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ORCH_CONFIG: join(base, 'orch.yaml'),
    ORCH_NGINX: nginx,
    ORCH_MANIFESTS: manifests,
    ORCH_NGINX_DIR: nginxDir,
    ORCH_STATE_DIR: stateDir,
    ORCH_NGINX_CONF: conf,
    ORCH_NGINX_PREFIX: prefix,
    ORCH_STATUS_LISTEN: `127.0.0.1:${ports.status}`,
    ORCH_RELOAD_TIMEOUT: '60',
    ORCH_WATCH_LISTEN: `127.0.0.1:${watchPort}`,
    ORCH_DRIFT_INTERVAL: '0',
    ORCH_BUCKET_SYNC_INTERVAL: '0',
    ORCH_BACKUP_INTERVAL: '0',
  });
  const poolServers = new PoolServers(manifests);
  const ng = await startNginx(nginx, prefix, conf, children);
  let daemon = null;
  const result = { fleet: gen.counts, watchListen: env.ORCH_WATCH_LISTEN };
  try {
    log('[watch] initial orch apply of the 1,000-vhost fleet ...');
    const first = await run(process.execPath, [orch, 'apply', '--auto-approve', '--json'], env, base);
    if (first.code !== 0) throw new Error(`initial orch apply exited ${first.code}: ${first.stderr.slice(-2000)}`);
    result.initialApplyMs = first.wallMs;

    // The daemon, its JSON logs collected.
    const t0 = performance.now();
    daemon = spawn(process.execPath, [orch, 'watch', '--log-level', 'debug'], { env, cwd: base, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(daemon);
    const logs = [];
    let partial = '';
    let stderr = '';
    daemon.stdout.setEncoding('utf8').on('data', (d) => {
      const parts = (partial + d).split('\n');
      partial = parts.pop();
      for (const l of parts) {
        try {
          logs.push(JSON.parse(l));
        } catch {
          /* not JSON */
        }
      }
    });
    daemon.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const status = async () => {
      const r = await httpGet(watchPort, '/status', 'localhost', 5000);
      return r && r.status === 200 ? JSON.parse(r.body) : null;
    };
    const waitStatus = async (pred, what, timeoutMs = 120_000) => {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        if (daemon.exitCode !== null) throw new Error(`orch watch exited (${daemon.exitCode}): ${stderr.slice(-2000)}`);
        const s = await status();
        if (s && pred(s)) return s;
        if (performance.now() > deadline)
          throw new Error(`orch watch: timed out waiting for ${what}; last status ${JSON.stringify(s)?.slice(0, 2000)}`);
        await sleep(20);
      }
    };
    const metrics = async () => (await httpGet(watchPort, '/metrics', 'localhost', 5000))?.body ?? '';
    await waitStatus((s) => s.ready, 'the first reconcile');
    result.startToReadyMs = performance.now() - t0;
    const startLog = logs.find((l) => l.event === 'reconcile.done');
    result.startupReconcile = startLog ? { outcome: startLog.outcome, durationMs: startLog.durationMs } : null;
    log(
      `[watch] daemon ready in ${Math.round(result.startToReadyMs)} ms (first reconcile ${startLog?.outcome}, ${startLog?.durationMs} ms)`,
    );

    const idle = (s) => s.running === null && s.pending_triggers.length === 0;
    // Plain-port S3 hosts (TLS hosts listen on the last port with https).
    const hosts = gen.hosts.filter((h) => !h.isFileHost && h.port !== ports.base + PLAIN_PORTS);
    const pickTarget = (route, i) => [1, 2].map((d) => gen.nanioPools[(i * 17 + d) % gen.nanioPools.length]).find((p) => p !== route.pool);
    const editRoute = (route, to) => {
      const file = join(manifests, route.file);
      const before = readFileSync(file, 'utf8');
      const after = before.replace(/^ {2}pool: .*$/m, `  pool: ${to}`);
      if (after === before) throw new Error(`could not edit ${file}`);
      writeFileSync(file, after);
      route.pool = to;
    };
    const servedBy = async (host, route) =>
      (await httpGet(host.port, `${route.path}bench-object`, `${host.name}.bench.test`))?.pool ?? null;

    // ---- manifest saved -> route served, one route at a time
    const latency = [];
    for (let i = 0; i < runs; i++) {
      const host = hosts[Math.floor(((i + 0.5) * hosts.length) / (runs + 4))];
      const route = host.routes[2];
      const to = pickTarget(route, i);
      await poolServers.ensure(route.pool);
      await poolServers.ensure(to);
      const from = await servedBy(host, route);
      if (from !== route.pool) throw new Error(`${host.name}${route.path} is served by ${from}, expected ${route.pool} before the edit`);
      const before = await status();
      const logFrom = logs.length;
      const saved = performance.now();
      editRoute(route, to);
      for (;;) {
        if ((await servedBy(host, route)) === to) break;
        if (performance.now() - saved > 60_000) throw new Error(`${host.name}${route.path} never served by ${to}`);
        await sleep(5);
      }
      const servedMs = performance.now() - saved;
      const after = await waitStatus((s) => idle(s) && s.reconciles > before.reconciles, 'idle after one edit');
      const done = logs.slice(logFrom).find((l) => l.event === 'reconcile.done' && l.outcome === 'applied');
      // Where the reconcile's time goes: the apply steps' durations from the daemon's debug log.
      const steps = Object.fromEntries(
        logs
          .slice(logFrom)
          .filter((l) => l.event === 'apply.step' && typeof l.durationMs === 'number')
          .map((l) => [l.step, l.durationMs]),
      );
      latency.push({
        route: route.name,
        to,
        servedMs,
        reconcileMs: done?.durationMs ?? null,
        generations: after.generation - before.generation,
        steps,
      });
      log(
        `[watch] edit ${i + 1}/${runs}: ${route.name} -> ${to} served after ${Math.round(servedMs)} ms (reconcile ${done?.durationMs ?? '?'} ms)`,
      );
      await sleep(300);
    }
    const stepNames = [...new Set(latency.flatMap((r) => Object.keys(r.steps)))];
    result.latency = {
      runs: latency,
      servedMs: stats(latency.map((r) => r.servedMs)),
      reconcileMs: stats(latency.map((r) => r.reconcileMs)),
      stepsMs: Object.fromEntries(stepNames.map((k) => [k, stats(latency.map((r) => r.steps[k]))])),
      debounceMs: 500,
    };

    // ---- bursts: 20 route files within 1 s
    const bursts = [];
    const nBursts = Math.max(1, Number(process.env.BENCH_WATCH_BURSTS ?? 3));
    for (let b = 0; b < nBursts; b++) {
      const picked = [];
      for (let k = 0; k < BURST_EDITS; k++) {
        const host = hosts[(b * 97 + k * 37 + 11) % hosts.length];
        picked.push({ host, route: host.routes[(b + 5) % host.routes.length] });
      }
      const to = gen.nanioPools[(b * 13 + 7) % gen.nanioPools.length];
      await poolServers.ensure(to);
      const before = await status();
      const m0 = await metrics();
      const reloads0 = metricValue(m0, 'orch_reload_duration_seconds_count') ?? 0;
      const reconciles0 = before.reconciles;
      for (const { route } of picked) {
        route.targetPool = route.pool === to ? gen.nanioPools[(b * 13 + 8) % gen.nanioPools.length] : to;
        await poolServers.ensure(route.targetPool);
      }
      const start = performance.now();
      for (let k = 0; k < picked.length; k++) {
        editRoute(picked[k].route, picked[k].route.targetPool);
        await sleep(Math.max(0, start + ((k + 1) * BURST_WINDOW_MS) / (BURST_EDITS + 1) - performance.now()));
      }
      const lastEdit = performance.now();
      const windowMs = lastEdit - start;
      for (const { host, route } of picked) {
        for (;;) {
          if ((await servedBy(host, route)) === route.targetPool) break;
          if (performance.now() - lastEdit > 120_000)
            throw new Error(`burst ${b + 1}: ${host.name}${route.path} never served by ${route.targetPool}`);
          await sleep(10);
        }
      }
      const allServedMs = performance.now() - lastEdit;
      await sleep(1500); // anything still scheduled by the burst would start by now
      const after = await waitStatus(idle, 'idle after a burst');
      const reloads = (metricValue(await metrics(), 'orch_reload_duration_seconds_count') ?? 0) - reloads0;
      bursts.push({
        edits: BURST_EDITS,
        windowMs,
        lastEditToAllServedMs: allServedMs,
        generations: after.generation - before.generation,
        reloads,
        reconciles: after.reconciles - reconciles0,
      });
      log(
        `[watch] burst ${b + 1}/${nBursts}: ${BURST_EDITS} edits in ${Math.round(windowMs)} ms -> ${after.generation - before.generation} generation(s), ${reloads} reload(s); all served ${Math.round(allServedMs)} ms after the last edit`,
      );
    }
    result.bursts = bursts;

    const stopped = performance.now();
    const exit = await stopChild(daemon);
    result.shutdown = { code: exit.code, signal: exit.signal, ms: performance.now() - stopped };
    daemon = null;
  } finally {
    if (daemon) await stopChild(daemon);
    await stopChild(ng);
    await poolServers.close();
  }
  return result;
}

const fmt = (x) => (x === null || x === undefined ? '-' : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);
const st = (s) => (s ? `${fmt(s.median).padStart(8)}  [${fmt(s.min)} - ${fmt(s.max)}]` : '-');

export function printWatch(w) {
  if (w.error) return `\n== orch watch benchmark FAILED: ${w.error}`;
  const out = [''];
  out.push(
    `== orch watch on the 1,000-vhost fleet (${w.fleet.virtualHosts} vhosts, ${w.fleet.routes} routes, ${w.fleet.files} manifest files)`,
  );
  out.push(
    `   initial orch apply ${fmt(w.initialApplyMs)}; daemon start -> ready (first reconcile: ${w.startupReconcile?.outcome}, ${fmt(w.startupReconcile?.durationMs)}) ${fmt(w.startToReadyMs)}`,
  );
  out.push(`   ${'measure'.padEnd(44)} median  [min - max]`);
  out.push(
    `   ${'manifest saved -> route served (nginx)'.padEnd(44)} ${st(w.latency.servedMs)}   (includes the ${w.latency.debounceMs} ms debounce)`,
  );
  out.push(`   ${'  reconcile (plan + apply) inside it'.padEnd(44)} ${st(w.latency.reconcileMs)}`);
  for (const [k, v] of Object.entries(w.latency.stepsMs ?? {})) out.push(`   ${`    step ${k}`.padEnd(44)} ${st(v)}`);
  for (const b of w.bursts) {
    out.push(
      `   burst: ${b.edits} route edits in ${fmt(b.windowMs)} -> ${b.reconciles} reconcile(s), ${b.generations} generation(s), ${b.reloads} reload(s); all served ${fmt(b.lastEditToAllServedMs)} after the last edit`,
    );
  }
  out.push(`   SIGTERM -> exit ${w.shutdown?.code ?? w.shutdown?.signal} in ${fmt(w.shutdown?.ms)}`);
  return out.join('\n');
}

export function watchTargets(w) {
  if (w.error) return [['watch benchmark ran', 'failed', false]];
  return [
    [
      `watch: reloads per burst of ${BURST_EDITS} edits in 1 s <= 2`,
      w.bursts.map((b) => b.reloads).join(' '),
      w.bursts.every((b) => b.reloads >= 1 && b.reloads <= 2),
    ],
    [
      'watch: every edit served after one reconcile (one generation)',
      w.latency.runs.map((r) => r.generations).join(' '),
      w.latency.runs.every((r) => r.generations === 1),
    ],
    ['watch: SIGTERM exits 0', String(w.shutdown?.code), w.shutdown?.code === 0],
  ];
}
