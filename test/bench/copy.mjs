// Copy engine benchmark (part of `npm run bench`; `BENCH_ONLY=copy node test/bench/run.mjs` runs it
// alone): orch's migration copier against `rclone copy` between the same two S3 servers, in one run.
//
//   - two S3 servers, each in its own child process, on directories under the bench's temp dir:
//     the source pool and the destination pool. Real nanio (the pools' server: SigV4 verified,
//     one Python process each, started by nanio's serve.sh; ORCH_NANIO_DIR or ../shared/nanio)
//     when it can run here, else s3rver (test/helpers/s3rver-child.cjs, with
//     --openssl-legacy-provider for listings longer than one page); BENCH_COPY_SERVER=nanio|s3rver
//     chooses (nanio missing with BENCH_COPY_SERVER=nanio is an error);
//   - the source seeded on disk in the server's own layout (nanio: the file and its metadata
//     sidecar with the MD5 ETag; s3rver: the object, its MD5 file and metadata), so no server
//     hashes on first read: 2,000 objects of 4 KiB, 5 of 64 MiB, 2 of 256 MiB;
//   - per workload, pairs of runs (3 for 2,000 x 4 KiB, 7 for 5 x 64 MiB; BENCH_COPY_RUNS sets
//     both), the order alternating each pair,
//     each tool into a fresh empty destination bucket:
//       orch:   a child node process (this file, `child` mode) importing the built copier from the
//               build under test: listAll of both buckets + diffObjects + ObjectCopier.copy,
//               concurrency 32, no bandwidth limit (what `orch migrate run` does for one pass);
//               streamed objects through the splice relay where it is built (the run says which),
//               and for 5 x 64 MiB a third contender in every pair: orch with ORCH_SPLICE=0 (Node's
//               HTTP client, the path where the relay is not built);
//       rclone: `rclone copy src:B dst:B2 --transfers 32 --checkers 32` (temp config: type s3,
//               provider Other, list_version 2, force_path_style);
//     wall time of the whole process for both (start-up included), and every copied object
//     checked against the source (count, sizes, MD5s: on nanio of the bytes stored, on s3rver as
//     the destination server computed them);
//   - for 5 x 64 MiB, in every pair, the destination server's intake (see `ceiling`): the same
//     objects PUT from memory by a minimal client, so each tool's wall time is also shown as the
//     share it reaches of what the destination can take in;
//   - peak RSS of orch's copier while it copies the 2 x 256 MiB objects (VmHWM of the child at the
//     end, and /usr/bin/time's figure when present).
// The node contenders run without NODE_EXTRA_CA_CERTS (see NODE_ENV); what it costs is printed.
// Throughput ratio = orch objects/s (or MB/s) / rclone's, on process wall times: per pair of adjacent
// runs, median over the pairs (the machine is shared: its load drifts between pairs). The CPU each
// tool used (its own, and what it cost the two servers) is printed too: less skewed by other load.

import { spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const S3RVER_CHILD = fileURLToPath(new URL('../helpers/s3rver-child.cjs', import.meta.url));
const RCLONE = process.env.BENCH_RCLONE || '/usr/bin/rclone';
const TIME_BIN = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const MiB = 1024 * 1024;
const CONCURRENCY = 32;

export const COPY_TARGETS = { ratio: 1.0, peakRssMB: 200 };

// pairs: default number of pairs of runs (BENCH_COPY_RUNS overrides both). The large workload takes
// ~2.5 s a run and its ratio moves by +-5% between pairs on a shared 2-CPU machine: 7 pairs.
const WORKLOADS = [
  { key: 'small', label: '2,000 x 4 KiB', objects: 2000, size: 4 * 1024, unit: 'objects', pairs: 3 },
  { key: 'large', label: '5 x 64 MiB', objects: 5, size: 64 * MiB, unit: 'bytes', pairs: 7, ceiling: true },
];
const HUGE = { key: 'huge', label: '2 x 256 MiB', objects: 2, size: 256 * MiB };

// ---------------------------------------------------------------- child mode: orch's copier, one pass

const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
// nanio verifies signatures: a key pair of this run's own (given to both servers, the copier, rclone).
const NANIO_CREDENTIALS = { accessKeyId: 'AKIABENCHCOPY0000001', secretAccessKey: `bench-${randomBytes(12).toString('hex')}` };
const NANIO_DIR = process.env.ORCH_NANIO_DIR ?? fileURLToPath(new URL('../../../shared/nanio/', import.meta.url));
const NANIO_PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** Why nanio cannot run here, or null (the same checks as test/helpers/nanio.ts). */
function nanioUnavailable() {
  if (!existsSync(join(NANIO_DIR, 'serve.sh'))) return `nanio not found: ${join(NANIO_DIR, 'serve.sh')} is missing (set ORCH_NANIO_DIR)`;
  const probe = spawnSync(NANIO_PYTHON, [
    '-c',
    'import sys, starlette, uvicorn, defusedxml; sys.exit(0 if sys.version_info >= (3, 11) else 3)',
  ]);
  return probe.status === 0 ? null : 'nanio cannot start: needs Python >= 3.11 with python3-starlette, python3-uvicorn, python3-defusedxml';
}

/** The servers of this run: BENCH_COPY_SERVER, else nanio where it can run, else s3rver. */
export function copyServer() {
  const wanted = process.env.BENCH_COPY_SERVER;
  if (wanted && wanted !== 'nanio' && wanted !== 's3rver') throw new Error(`BENCH_COPY_SERVER=${wanted}: use nanio or s3rver`);
  const why = nanioUnavailable();
  if (wanted === 'nanio' && why) throw new Error(`BENCH_COPY_SERVER=nanio: ${why}`);
  return { server: wanted ?? (why ? 's3rver' : 'nanio'), whyNotNanio: why };
}

/**
 * What every copier run starts with, from the built code: clients on both servers, both buckets
 * listed, the diff (what `orch migrate run` does before a pass copies). `t` gets the phase times.
 */
async function listAndDiff(a, t) {
  const imp = (p) => import(pathToFileURL(join(a.dist, p)).href);
  const [copier, { PoolS3Client }, { diffObjects }, { spliceAvailability }] = await Promise.all([
    imp('adapters/s3/object-copier.js'),
    imp('adapters/s3/pool-s3-client.js'),
    imp('domain/migrations/object-diff.js'),
    imp('adapters/s3/splice-relay.js'),
  ]);
  t.import = performance.now();
  const opts = { timeoutMs: 30_000, retries: 2, concurrency: a.concurrency };
  const source = await PoolS3Client.open({ pool: 'source', members: [a.source], credentials: a.credentials }, opts);
  const destination = await PoolS3Client.open({ pool: 'destination', members: [a.destination], credentials: a.credentials }, opts);
  const [src, dst] = await Promise.all([copier.listAll(source, a.bucket), copier.listAll(destination, a.bucket)]);
  t.list = performance.now();
  const diff = diffObjects({ source: src, destination: dst, records: new Map(), baseline: new Map(), mode: 'sync' });
  t.diff = performance.now();
  // ORCH_SPLICE=0 as the CLI's composition root reads it (src/composition-root.ts: spliceTurnedOff).
  const engine = process.env.ORCH_SPLICE === '0' ? { available: false, reason: 'turned off (ORCH_SPLICE=0)' } : spliceAvailability();
  return { source, destination, src, diff, ObjectCopier: copier.ObjectCopier, engine };
}

async function child(argsJson) {
  const a = JSON.parse(argsJson);
  const t0 = performance.now();
  const t = {};
  const { source, destination, src, diff, ObjectCopier, engine } = await listAndDiff(a, t);
  const { import: tImport, list: tList, diff: tDiff } = t;
  const records = [];
  const copier = new ObjectCopier(source, destination, a.bucket, {
    concurrency: a.concurrency,
    bandwidthLimit: null,
    splice: engine.available,
  });
  const { failures } = await copier.copy(diff.copy, (r) => records.push(r));
  const tCopy = performance.now();
  source.close();
  destination.close();
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? NaN);
  process.stdout.write(
    `${JSON.stringify({
      spliceRelay: engine.available,
      phasesMs: { import: tImport - t0, list: tList - tImport, diff: tDiff - tList, copy: tCopy - tDiff },
      listed: src.length,
      toCopy: diff.copy.length,
      copied: records.length,
      bytes: records.reduce((n, r) => n + r.srcSize, 0),
      failures: failures.slice(0, 5),
      failureCount: failures.length,
      vmHWMKiB: kib('VmHWM'),
    })}\n`,
  );
}

// ---------------------------------------------------------------- ceiling mode: the destination's intake

// What the destination server can take in, with the cheapest client there is: a node process that
// PUTs the workload's objects from memory (one buffer, no source server), all at once, over raw
// sockets (signed head, UNSIGNED-PAYLOAD, 64 KiB writes). No copy tool can beat its wall time by
// more than the GETs it does not do; both tools' times are compared to it.
async function ceiling(argsJson) {
  const a = JSON.parse(argsJson);
  const { SigV4Signer, UNSIGNED_PAYLOAD } = await import(pathToFileURL(join(a.dist, 'adapters/s3/sigv4.js')).href);
  const signer = new SigV4Signer(a.credentials, 'us-east-1', 's3');
  const body = Buffer.alloc(a.size, 0x5a);
  const [host, port] = a.destination.split(':');
  const putOne = (key) =>
    new Promise((resolve, reject) => {
      const path = `/${a.bucket}/${key}`;
      const headers = signer.sign({
        method: 'PUT',
        path,
        headers: { 'host': a.destination, 'content-length': String(body.length), 'x-amz-content-sha256': UNSIGNED_PAYLOAD },
      });
      let head = `PUT ${path} HTTP/1.1\r\n`;
      for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
      const socket = connect(Number(port), host);
      socket.write(`${head}connection: close\r\n\r\n`, 'latin1');
      let off = 0;
      const pump = () => {
        while (off < body.length) {
          const end = Math.min(off + 64 * 1024, body.length);
          const more = socket.write(body.subarray(off, end));
          off = end;
          if (!more) return void socket.once('drain', pump);
        }
      };
      pump();
      let answer = '';
      socket.setEncoding('latin1');
      socket.on('data', (d) => {
        answer += d;
        const end = answer.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.destroy();
        if (/^HTTP\/1\.1 200 /.test(answer)) resolve();
        else reject(new Error(`PUT ${key}: ${answer.slice(0, end)}`));
      });
      socket.on('error', reject);
      socket.on('close', () => reject(new Error(`PUT ${key}: closed without an answer`)));
    });
  await Promise.all(Array.from({ length: a.objects }, (_, i) => putOne(`ceiling-${i}.bin`)));
  process.stdout.write('{}\n');
}

// ---------------------------------------------------------------- parent: servers, seeding, runs

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); null elsewhere. */
function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

function spawnTimed(cmd, args, { env = process.env, timeoutMs = 600_000, rssFile = null } = {}) {
  return new Promise((resolve, reject) => {
    // /usr/bin/time: peak RSS (KiB), then user and system CPU seconds.
    const [file, argv] = TIME_BIN && rssFile ? [TIME_BIN, ['-f', '%M %U %S', '-o', rssFile, cmd, ...args]] : [cmd, args];
    const started = performance.now();
    const c = spawn(file, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    c.on('close', (code, signal) => {
      clearTimeout(timer);
      let rssKiB = null;
      let cpuS = null;
      if (rssFile && existsSync(rssFile)) {
        const lines = readFileSync(rssFile, 'utf8').trim().split('\n');
        const [rss, user, sys] = lines[lines.length - 1].split(' ').map(Number);
        rssKiB = rss || null;
        cpuS = Number.isFinite(user + sys) ? user + sys : null;
        rmSync(rssFile, { force: true });
      }
      resolve({ code, signal, stdout, stderr, wallMs: performance.now() - started, rssKiB, cpuS });
    });
  });
}

async function startS3rver(dir, children) {
  mkdirSync(dir, { recursive: true });
  const c = spawn(process.execPath, ['--openssl-legacy-provider', S3RVER_CHILD, dir, '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(c);
  let err = '';
  c.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const port = await new Promise((resolve, reject) => {
    c.stdout.setEncoding('utf8').once('data', (d) => resolve(JSON.parse(d.split('\n')[0]).port));
    c.once('exit', (code) => reject(new Error(`s3rver exited (${code}): ${err}`)));
  });
  return { child: c, address: `127.0.0.1:${port}`, dir };
}

/** A free loopback port (the server binds it right after; a race with another process is unlikely). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** One nanio server (serve.sh, in the foreground: the child is the server) on `dir`; ready when GET / answers 403. */
async function startNanio(dir, children) {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const env = { ...process.env, NANIO_ACCESS_KEY: NANIO_CREDENTIALS.accessKeyId, NANIO_SECRET_KEY: NANIO_CREDENTIALS.secretAccessKey };
  const c = spawn('bash', [join(NANIO_DIR, 'serve.sh'), dir, String(port)], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(c);
  let err = '';
  c.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (c.exitCode !== null) throw new Error(`nanio exited (${c.exitCode}): ${err.slice(-2000)}`);
    const status = await new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/', timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', () => resolve(0));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (status === 403) break;
    if (Date.now() > deadline) throw new Error(`nanio on port ${port} not ready after 60 s: ${err.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child: c, address: `127.0.0.1:${port}`, dir };
}

async function stopChild(c) {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** An object in nanio's filesystem layout: the file, and its metadata sidecar with the MD5 ETag (as nanio writes on PUT). */
function seedNanioObject(poolDir, bucket, key, body) {
  const file = join(poolDir, bucket, key);
  const meta = join(poolDir, bucket, '.nanio-meta', `${key}.json`);
  mkdirSync(join(file, '..'), { recursive: true });
  mkdirSync(join(meta, '..'), { recursive: true });
  writeFileSync(file, body);
  writeFileSync(
    meta,
    JSON.stringify({
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
      size: body.length,
      last_modified: new Date().toISOString(),
      content_type: 'application/octet-stream',
      user_metadata: {},
      storage_class: 'STANDARD',
      content_encoding: null,
      content_disposition: null,
      cache_control: null,
    }),
  );
}

/** key -> { size, md5 } of a nanio bucket on disk, the MD5 of the bytes stored (not the sidecar's ETag: multipart ETags are not MD5s). */
function onDiskNanio(poolDir, bucket) {
  const out = new Map();
  const root = join(poolDir, bucket);
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (d !== root || e.name !== '.nanio-meta') walk(p);
      } else out.set(p.slice(root.length + 1), { size: statSync(p).size, md5: createHash('md5').update(readFileSync(p)).digest('hex') });
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

/** An object in s3rver's filesystem layout, with its MD5 file (as s3rver writes on PUT). */
function seedS3rverObject(poolDir, bucket, key, body) {
  const base = join(poolDir, bucket, key);
  mkdirSync(join(base, '..'), { recursive: true });
  writeFileSync(`${base}._S3rver_object`, body);
  writeFileSync(`${base}._S3rver_object.md5`, createHash('md5').update(body).digest('hex'));
  writeFileSync(`${base}._S3rver_metadata.json`, JSON.stringify({ 'content-type': 'application/octet-stream' }));
}

/** key -> { size, md5 } of a bucket on disk (s3rver layout). */
function onDiskS3rver(poolDir, bucket) {
  const out = new Map();
  const root = join(poolDir, bucket);
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('._S3rver_object')) {
        const key = p.slice(root.length + 1, -'._S3rver_object'.length);
        const md5File = `${p}.md5`;
        const md5 = existsSync(md5File) ? readFileSync(md5File, 'utf8') : createHash('md5').update(readFileSync(p)).digest('hex');
        out.set(key, { size: statSync(p).size, md5 });
      }
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

function verifyCopy(src, dst, what) {
  if (dst.size !== src.size) throw new Error(`${what}: ${dst.size} objects at the destination, ${src.size} at the source`);
  for (const [k, v] of src) {
    const d = dst.get(k);
    if (!d || d.size !== v.size || d.md5 !== v.md5) throw new Error(`${what}: ${k} differs at the destination`);
  }
}

function rcloneConf(file, source, destination, credentials) {
  const remote = (name, address) => `[${name}]
type = s3
provider = Other
env_auth = false
access_key_id = ${credentials.accessKeyId}
secret_access_key = ${credentials.secretAccessKey}
endpoint = http://${address}
region = us-east-1
list_version = 2
force_path_style = true
`;
  writeFileSync(file, `${remote('src', source)}\n${remote('dst', destination)}`);
}

/**
 * The environment of the node contenders (orch's copier, the intake client): this one without
 * NODE_EXTRA_CA_CERTS. Node reads and parses that bundle at every start, before any of orch's code
 * runs (~90 ms a process on the 2-CPU machines where it is set machine-wide); the copies here speak
 * plain HTTP to loopback and never use it, and rclone reads its CA files only for TLS. The run
 * prints what the variable costs a start (`bootTax`), so the figure is there for hosts that need it.
 */
const NODE_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'));

/** Median wall time of `node -e 0` with and without NODE_EXTRA_CA_CERTS (null when it is not set). */
async function bootTax() {
  if (!process.env.NODE_EXTRA_CA_CERTS) return null;
  const withVar = [];
  const without = [];
  for (let i = 0; i < 5; i++) {
    withVar.push((await spawnTimed(process.execPath, ['-e', '0'])).wallMs);
    without.push((await spawnTimed(process.execPath, ['-e', '0'], { env: NODE_ENV })).wallMs);
  }
  return { withMs: stats(withVar).median, withoutMs: stats(without).median };
}

function rcloneEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('RCLONE_') && !k.startsWith('AWS_')) env[k] = v;
  return env;
}

function stats(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return { median: v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2, min: v[0], max: v[v.length - 1], runs: v.length };
}

/**
 * Runs the copy benchmark. `dist`: the built code under test; `tmpRoot`: a temp dir (removed by the
 * caller); `log`: progress lines. Returns the figures (JSON-able).
 */
export async function benchCopy({ dist, tmpRoot, log = () => {}, runs = Number(process.env.BENCH_COPY_RUNS) || null }) {
  const rcloneVersion = await spawnTimed(RCLONE, ['version']).then(
    (r) => /rclone v?(\S+)/.exec(r.stdout)?.[1] ?? null,
    () => null,
  );
  if (!rcloneVersion) throw new Error(`rclone not found (${RCLONE}); install it (Debian: apt-get install rclone) or set BENCH_RCLONE`);
  const base = join(tmpRoot, 'copy');
  const children = new Set();
  const { spliceAvailability } = await import(pathToFileURL(join(dist, 'adapters/s3/splice-relay.js')).href);
  const { server, whyNotNanio } = copyServer();
  if (whyNotNanio && server === 's3rver' && !process.env.BENCH_COPY_SERVER) log(`[copy] on s3rver: ${whyNotNanio}`);
  const nanio = server === 'nanio';
  const credentials = nanio ? NANIO_CREDENTIALS : S3RVER_CREDENTIALS;
  const start = nanio ? startNanio : startS3rver;
  const seedObject = nanio ? seedNanioObject : seedS3rverObject;
  const onDisk = nanio ? onDiskNanio : onDiskS3rver;
  const result = {
    rclone: rcloneVersion,
    server,
    concurrency: CONCURRENCY,
    engine: spliceAvailability(),
    bootTax: await bootTax(),
    workloads: {},
  };
  try {
    const [src, dst] = await Promise.all([start(join(base, 'source'), children), start(join(base, 'destination'), children)]);
    mkdirSync(join(base, 'rss'), { recursive: true });
    const conf = join(base, 'rclone.conf');
    rcloneConf(conf, src.address, dst.address, credentials);

    for (const w of [...WORKLOADS, HUGE]) {
      const s0 = performance.now();
      for (let i = 0; i < w.objects; i++) {
        const key = w.objects > 10 ? `obj/${String(i).padStart(5, '0')}` : `blob-${i}.bin`;
        seedObject(src.dir, w.key, key, randomBytes(w.size));
      }
      log(`[copy] seeded ${w.label} in ${((performance.now() - s0) / 1000).toFixed(1)} s`);
    }
    const sources = new Map([...WORKLOADS, HUGE].map((w) => [w.key, onDisk(src.dir, w.key)]));
    // CPU seconds both servers used (for the CPU each tool costs them, a figure less skewed by other load than wall time).
    const servers = () => (cpuSeconds(src.child.pid) ?? NaN) + (cpuSeconds(dst.child.pid) ?? NaN);

    // Each run copies into the same bucket name (a migration keeps the name), emptied before: the
    // bucket's directory on the destination server is removed and made again (neither server
    // keeps a cache; nanio's bucket holds its metadata folder from the start, as CreateBucket makes it).
    const freshBucket = (name) => {
      rmSync(join(dst.dir, name), { recursive: true, force: true });
      mkdirSync(join(dst.dir, name, ...(nanio ? ['.nanio-meta'] : [])), { recursive: true });
    };
    // `extraEnv`: ORCH_SPLICE=0 for orch through Node's HTTP client.
    const orchOnce = async (w, tag, extraEnv = {}) => {
      freshBucket(w.key);
      const args = JSON.stringify({
        dist,
        source: src.address,
        destination: dst.address,
        bucket: w.key,
        concurrency: CONCURRENCY,
        credentials,
      });
      const env = { ...NODE_ENV, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extraEnv };
      const s0 = servers();
      const r = await spawnTimed(process.execPath, [SELF, 'child', args], { env, rssFile: join(base, 'rss', `orch-${tag}`) });
      const serversCpuS = servers() - s0;
      if (r.code !== 0) throw new Error(`orch copy of ${w.label} exited ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`);
      const out = JSON.parse(r.stdout.trim().split('\n').pop());
      if (out.failureCount) throw new Error(`orch copy of ${w.label}: ${out.failureCount} failures: ${JSON.stringify(out.failures)}`);
      if (out.spliceRelay !== (result.engine.available && extraEnv.ORCH_SPLICE !== '0'))
        throw new Error(`orch copy of ${w.label}: splice relay ${out.spliceRelay ? 'used' : 'not used'}, against what the run expects`);
      verifyCopy(sources.get(w.key), onDisk(dst.dir, w.key), `orch ${w.label}`);
      rmSync(join(dst.dir, w.key), { recursive: true, force: true });
      return { wallMs: r.wallMs, rssKiB: r.rssKiB, cpuS: r.cpuS, serversCpuS, ...out };
    };
    const rcloneOnce = async (w, tag) => {
      freshBucket(w.key);
      const s0 = servers();
      const r = await spawnTimed(
        RCLONE,
        ['copy', `src:${w.key}`, `dst:${w.key}`, '--transfers', '32', '--checkers', '32', '--config', conf, '-q'],
        { env: rcloneEnv(), rssFile: join(base, 'rss', `rclone-${tag}`) },
      );
      const serversCpuS = servers() - s0;
      if (r.code !== 0) throw new Error(`rclone copy of ${w.label} exited ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`);
      verifyCopy(sources.get(w.key), onDisk(dst.dir, w.key), `rclone ${w.label}`);
      rmSync(join(dst.dir, w.key), { recursive: true, force: true });
      return { wallMs: r.wallMs, rssKiB: r.rssKiB, cpuS: r.cpuS, serversCpuS };
    };

    const ceilingOnce = async (w) => {
      freshBucket(w.key);
      const args = JSON.stringify({ dist, destination: dst.address, bucket: w.key, objects: w.objects, size: w.size, credentials });
      const r = await spawnTimed(process.execPath, [SELF, 'ceiling', args], { env: NODE_ENV });
      if (r.code !== 0) throw new Error(`ceiling run of ${w.label} exited ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`);
      const stored = onDisk(dst.dir, w.key);
      if (stored.size !== w.objects || [...stored.values()].some((o) => o.size !== w.size))
        throw new Error(`ceiling run of ${w.label}: ${stored.size} objects stored`);
      rmSync(join(dst.dir, w.key), { recursive: true, force: true });
      return r.wallMs;
    };

    for (const w of WORKLOADS) {
      const orch = [];
      const rclone = [];
      const ceil = [];
      const nodePath = [];
      const pairs = runs ?? w.pairs;
      for (let i = 0; i < pairs; i++) {
        const order = i % 2 === 0 ? ['orch', 'rclone'] : ['rclone', 'orch'];
        if (w.ceiling) order.splice(i % 3, 0, 'ceiling');
        // orch through Node's HTTP client too, where the splice relay is what orch uses by default.
        if (w.ceiling && result.engine.available) order.splice((i + 1) % (order.length + 1), 0, 'orch-node');
        for (const tool of order) {
          log(`[copy] ${w.label}: ${tool} run ${i + 1}/${pairs}`);
          if (tool === 'orch') orch.push(await orchOnce(w, `${w.key}-${i}`));
          else if (tool === 'rclone') rclone.push(await rcloneOnce(w, `${w.key}-${i}`));
          else if (tool === 'orch-node') nodePath.push(await orchOnce(w, `${w.key}-node-${i}`, { ORCH_SPLICE: '0' }));
          else ceil.push(await ceilingOnce(w));
        }
      }
      const totalBytes = w.objects * w.size;
      const rate = (ms) => (w.unit === 'objects' ? w.objects / (ms / 1000) : totalBytes / 1e6 / (ms / 1000));
      const o = stats(orch.map((r) => r.wallMs));
      const rc = stats(rclone.map((r) => r.wallMs));
      result.workloads[w.key] = {
        label: w.label,
        pairs,
        objects: w.objects,
        bytes: totalBytes,
        unit: w.unit === 'objects' ? 'objects/s' : 'MB/s',
        orch: {
          wallMs: o,
          rate: stats(orch.map((r) => rate(r.wallMs))),
          phasesMs: Object.fromEntries(Object.keys(orch[0].phasesMs).map((k) => [k, stats(orch.map((r) => r.phasesMs[k]))])),
          copyOnlyRate: stats(orch.map((r) => rate(r.phasesMs.copy))),
          peakRssMiB: stats(orch.map((r) => r.vmHWMKiB / 1024)),
          cpuS: stats(orch.map((r) => r.cpuS)),
          serversCpuS: stats(orch.map((r) => r.serversCpuS)),
        },
        rclone: {
          wallMs: rc,
          rate: stats(rclone.map((r) => rate(r.wallMs))),
          peakRssMiB: stats(rclone.map((r) => (r.rssKiB ? r.rssKiB / 1024 : null))),
          cpuS: stats(rclone.map((r) => r.cpuS)),
          serversCpuS: stats(rclone.map((r) => r.serversCpuS)),
        },
        // Throughput ratio orch/rclone = rclone's wall time over orch's, per pair of adjacent runs (so
        // that a change of the machine's load between pairs cancels out), median over the pairs.
        pairRatios: stats(orch.map((r, i) => rclone[i].wallMs / r.wallMs)),
        ratioOfMedians: rc.median / o.median,
      };
      result.workloads[w.key].ratio = result.workloads[w.key].pairRatios.median;
      if (ceil.length > 0) {
        // Each tool's share of what the destination can take in: ceiling wall / tool wall, per run.
        const c = stats(ceil);
        result.workloads[w.key].ceiling = {
          wallMs: c,
          rate: stats(ceil.map((ms) => rate(ms))),
          orchShare: stats(orch.map((r, i) => ceil[i] / r.wallMs)),
          rcloneShare: stats(rclone.map((r, i) => ceil[i] / r.wallMs)),
        };
      }
      if (nodePath.length > 0) {
        result.workloads[w.key].nodePath = {
          wallMs: stats(nodePath.map((r) => r.wallMs)),
          cpuS: stats(nodePath.map((r) => r.cpuS)),
          serversCpuS: stats(nodePath.map((r) => r.serversCpuS)),
          pairRatios: stats(nodePath.map((r, i) => rclone[i].wallMs / r.wallMs)),
          share: ceil.length > 0 ? stats(nodePath.map((r, i) => ceil[i] / r.wallMs)) : null,
        };
      }
      log(
        `[copy] ${w.label}: orch ${(o.median / 1000).toFixed(2)} s, rclone ${(rc.median / 1000).toFixed(2)} s, ratio ${result.workloads[w.key].ratio.toFixed(2)}`,
      );
    }

    log(`[copy] ${HUGE.label}: orch peak RSS`);
    const huge = await orchOnce(HUGE, 'huge');
    result.peakRss = {
      label: HUGE.label,
      vmHWMMiB: huge.vmHWMKiB / 1024,
      timeMaxRssMiB: huge.rssKiB ? huge.rssKiB / 1024 : null,
      wallMs: huge.wallMs,
      mbPerS: (HUGE.objects * HUGE.size) / 1e6 / (huge.phasesMs.copy / 1000),
    };
  } finally {
    await Promise.all([...children].map(stopChild));
  }
  return result;
}

const secs = (x) => `${(x / 1000).toFixed(2)} s`;
const range = (s, f) => `${f(s.median)} [${f(s.min)} - ${f(s.max)}]`;

export function printCopy(r) {
  if (r.error) return `\n== Copy benchmark FAILED: ${r.error}`;
  const out = [];
  out.push('');
  out.push(
    `== Copy engine vs rclone ${r.rclone} (${r.server ?? 's3rver'} -> ${r.server ?? 's3rver'}, concurrency/transfers ${r.concurrency}, ${Object.values(
      r.workloads,
    )
      .map((w) => `${w.pairs} pairs of runs for ${w.label}`)
      .join(', ')}, order alternating; process wall times)`,
  );
  out.push(
    `   orch's streamed copies (16-128 MiB objects): ${r.engine.available ? 'splice relay' : `Node's HTTP client (splice relay ${r.engine.reason})`}`,
  );
  if (r.bootTax) {
    out.push(
      `   NODE_EXTRA_CA_CERTS is set here: Node parses that bundle at every start (node -e 0: ${r.bootTax.withMs.toFixed(0)} ms with it, ${r.bootTax.withoutMs.toFixed(0)} ms without); cleared for the node contenders, whose plain-HTTP copies never use it`,
    );
  }
  out.push(
    `   ${'workload'.padEnd(16)} ${'orch wall median [min - max]'.padEnd(34)} ${'rclone wall median [min - max]'.padEnd(34)} throughput (median)            ratio orch/rclone: median of pairs [min - max]`,
  );
  for (const w of Object.values(r.workloads)) {
    const f = (x) => `${x.toFixed(w.unit === 'MB/s' ? 0 : 0)}`;
    out.push(
      `   ${w.label.padEnd(16)} ${range(w.orch.wallMs, secs).padEnd(34)} ${range(w.rclone.wallMs, secs).padEnd(34)} ${`orch ${f(w.orch.rate.median)} / rclone ${f(w.rclone.rate.median)} ${w.unit}`.padEnd(30)} ${range(w.pairRatios, (x) => `${x.toFixed(2)}x`)}`,
    );
  }
  for (const w of Object.values(r.workloads)) {
    const p = w.orch.phasesMs;
    out.push(
      `   orch ${w.label}: import ${secs(p.import.median)}, SDK load + list both ${secs(p.list.median)}, diff ${p.diff.median.toFixed(0)} ms, copy ${secs(p.copy.median)} (${w.orch.copyOnlyRate.median.toFixed(0)} ${w.unit} in the copy itself); peak RSS orch ${w.orch.peakRssMiB.max.toFixed(0)} MiB, rclone ${w.rclone.peakRssMiB ? `${w.rclone.peakRssMiB.max.toFixed(0)} MiB` : '-'}`,
    );
    const cpu = (t) => (t.cpuS ? `${t.cpuS.median.toFixed(1)} s + servers ${t.serversCpuS.median.toFixed(1)} s` : '-');
    out.push(`     CPU (median, user+sys): orch ${cpu(w.orch)}; rclone ${cpu(w.rclone)}`);
    const c = w.ceiling;
    if (c) {
      const pct = (s) => `${(s.median * 100).toFixed(0)}% [${(s.min * 100).toFixed(0)} - ${(s.max * 100).toFixed(0)}]`;
      out.push(
        `     destination's intake (the same objects PUT from memory by a minimal raw-socket node client, no source): ${range(c.wallMs, secs)}, ${c.rate.median.toFixed(0)} MB/s; share of it reached: rclone ${pct(c.rcloneShare)}, orch ${pct(c.orchShare)}`,
      );
    }
    const x = w.nodePath;
    if (x) {
      out.push(
        `     orch through Node's HTTP client (ORCH_SPLICE=0, the path where the relay is not built), same pairs: wall ${range(x.wallMs, secs)}, ratio to rclone ${range(x.pairRatios, (v) => `${v.toFixed(2)}x`)}, CPU ${x.cpuS ? x.cpuS.median.toFixed(2) : '-'} s + servers ${x.serversCpuS.median.toFixed(1)} s${x.share ? `, ${(x.share.median * 100).toFixed(0)}% of the intake` : ''}`,
      );
    }
  }
  const h = r.peakRss;
  if (h)
    out.push(
      `   orch copying ${h.label}: peak RSS ${h.vmHWMMiB.toFixed(0)} MiB (VmHWM)${h.timeMaxRssMiB ? `, ${h.timeMaxRssMiB.toFixed(0)} MiB (/usr/bin/time)` : ''}; ${secs(h.wallMs)} wall, ${h.mbPerS.toFixed(0)} MB/s in the copy`,
    );
  return out.join('\n');
}

export function copyTargets(r) {
  if (r.error) return [['copy benchmark ran', 'failed', false]];
  const rows = [];
  for (const w of Object.values(r.workloads))
    rows.push([
      `copy ${w.label}: orch >= ${COPY_TARGETS.ratio.toFixed(1)}x rclone throughput`,
      `${w.ratio.toFixed(2)}x`,
      w.ratio >= COPY_TARGETS.ratio,
    ]);
  if (r.peakRss) {
    const mb = (Math.max(r.peakRss.vmHWMMiB, r.peakRss.timeMaxRssMiB ?? 0) * MiB) / 1e6;
    rows.push([
      `copy ${r.peakRss.label}: orch peak RSS < ${COPY_TARGETS.peakRssMB} MB`,
      `${mb.toFixed(0)} MB`,
      mb < COPY_TARGETS.peakRssMB,
    ]);
  }
  return rows;
}

const MODES = { child, ceiling };
if (Object.hasOwn(MODES, process.argv[2] ?? '') && process.argv[1] === SELF) {
  MODES[process.argv[2]](process.argv[3]).catch((e) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
