#!/usr/bin/env node
// What a client with the AWS SDK's retry settings experiences while writes are refused with
// `503 SlowDown` (a migration's write freeze), measured against a real nginx in front of a real
// s3rver:
//
//   - a private nginx (own prefix, loopback port) proxies to one s3rver (child process);
//   - a "freeze" is a reload to a configuration that answers every write (any method but GET and
//     HEAD) with 503 and the S3 XML error body `SlowDown` (Content-Type application/xml), reads
//     still proxied; the reload back ends it. Both reloads are confirmed by probing a location
//     that serves the mode;
//   - for each window W (default 1, 3, 10 s): freeze, start every call at once (each on its own
//     S3Client), unfreeze W s after the freeze was confirmed, wait for every call to end;
//   - calls: PutObject (64 KiB Buffer body), UploadPart (5 MiB Buffer body, upload created before
//     the freeze), PutObject with a stream body (64 KiB Readable with ContentLength) - each with
//     the SDK defaults (standard mode, maxAttempts 3), with `maxAttempts: 10`, and with
//     `retryMode: 'adaptive'`; SLOWDOWN_REPS calls of each (default 4);
//   - extra passes where the freeze answer carries `Retry-After: 5` (the SDK honours it).
//
// Every attempt is seen by a middleware below the SDK's retries (deserialize step): its start,
// end and HTTP status; so the number of attempts and the delays between them are measured, not
// taken from the SDK's own counters (which are reported beside them).
//
// Environment: SLOWDOWN_WINDOWS ("1,3,10"), SLOWDOWN_REPS (4), SLOWDOWN_RETRY_AFTER_WINDOWS
// ("3,10"; "" for none), ORCH_NGINX (nginx binary). `--json FILE` writes every call's record.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, CreateMultipartUploadCommand, PutObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const S3RVER_CHILD = fileURLToPath(new URL('../helpers/s3rver-child.cjs', import.meta.url));
const NGINX = process.env.ORCH_NGINX || 'nginx';
const WINDOWS = (process.env.SLOWDOWN_WINDOWS ?? '1,3,10').split(',').filter(Boolean).map(Number);
const RA_WINDOWS = (process.env.SLOWDOWN_RETRY_AFTER_WINDOWS ?? '3,10').split(',').filter(Boolean).map(Number);
const REPS = Math.max(1, Number(process.env.SLOWDOWN_REPS ?? 4));
const JSON_OUT = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : null;
const BUCKET = 'bench';
const SLOWDOWN_BODY =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

const SETTINGS = [
  { name: 'defaults (standard, 3 attempts)', cfg: {} },
  { name: 'maxAttempts: 10', cfg: { maxAttempts: 10 } },
  { name: "retryMode: 'adaptive'", cfg: { retryMode: 'adaptive' } },
];
const OPS = ['PutObject', 'UploadPart', 'PutObject (stream body)'];

const root = mkdtempSync(join(tmpdir(), 'orch-slowdown-'));
const prefix = join(root, 'nginx');
let s3rver = null;
let nginxStarted = false;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

function nginxArgs() {
  return ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'logs', 'error.log')];
}

function writeConf(port, s3port, mode, retryAfter) {
  const t = (n) => join(prefix, 'temp', n);
  const freeze =
    mode === 'frozen'
      ? `            if ($request_method !~ ^(GET|HEAD)$) {
${retryAfter ? `                add_header Retry-After ${retryAfter} always;\n` : ''}                return 503 '${SLOWDOWN_BODY}';
            }
`
      : '';
  writeFileSync(
    join(prefix, 'nginx.conf'),
    `worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')};
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path ${t('client_body')};
    proxy_temp_path ${t('proxy')};
    fastcgi_temp_path ${t('fastcgi')};
    uwsgi_temp_path ${t('uwsgi')};
    scgi_temp_path ${t('scgi')};
    upstream s3 { server 127.0.0.1:${s3port}; keepalive 32; }
    server {
        listen 127.0.0.1:${port};
        client_max_body_size 0;
        location = /_mode { return 200 '${mode}${retryAfter ? `-ra${retryAfter}` : ''}'; }
        location / {
            default_type application/xml;
${freeze}            proxy_pass http://s3;
            proxy_set_header Host $http_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_request_buffering off;
            proxy_buffering off;
        }
    }
}
`,
  );
}

function get(port, path) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Reloads nginx into `mode` and waits until it serves it; returns the time it was confirmed. */
async function switchMode(port, s3port, mode, retryAfter) {
  writeConf(port, s3port, mode, retryAfter);
  const want = `${mode}${retryAfter ? `-ra${retryAfter}` : ''}`;
  const r = spawnSync(NGINX, [...nginxArgs(), '-s', 'reload'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nginx -s reload failed: ${r.stderr}`);
  for (let i = 0; i < 400; i++) {
    const a = await get(port, '/_mode');
    if (a && a.body === want) return now();
    await sleep(5);
  }
  throw new Error(`nginx did not switch to ${want}`);
}

function startS3rver(dir) {
  mkdirSync(dir, { recursive: true });
  const child = spawn(process.execPath, ['--openssl-legacy-provider', S3RVER_CHILD, dir, '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').once('data', (d) => resolve({ child, port: JSON.parse(d.split('\n')[0]).port }));
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code})`)));
  });
}

function client(endpoint, cfg, attempts) {
  const c = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...cfg,
  });
  if (attempts) {
    c.middlewareStack.add(
      (next) => async (args) => {
        const a = { start: now(), end: 0, status: 0 };
        attempts.push(a);
        try {
          const out = await next(args);
          a.status = out.response?.statusCode ?? 0;
          return out;
        } catch (e) {
          a.error = e?.code ?? e?.name;
          throw e;
        } finally {
          a.end = now();
        }
      },
      { step: 'deserialize', priority: 'low', name: 'benchAttempts' },
    );
  }
  return c;
}

async function oneCall(endpoint, setting, op, uploadId, key, t0) {
  const attempts = [];
  const c = client(endpoint, setting.cfg, attempts);
  const body = Buffer.alloc(op === 'UploadPart' ? 5 * 1024 * 1024 : 64 * 1024, 7);
  const start = now();
  let outcome;
  try {
    let out;
    if (op === 'UploadPart')
      out = await c.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: 1, Body: body }));
    else if (op === 'PutObject') out = await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    else out = await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Readable.from([body]), ContentLength: body.length }));
    outcome = { ok: true, sdkAttempts: out.$metadata.attempts, sdkRetryDelay: out.$metadata.totalRetryDelay };
  } catch (e) {
    outcome = {
      ok: false,
      error: e?.name,
      code: e?.Code ?? e?.name,
      status: e?.$metadata?.httpStatusCode,
      sdkAttempts: e?.$metadata?.attempts,
      sdkRetryDelay: e?.$metadata?.totalRetryDelay,
    };
  }
  const end = now();
  c.destroy();
  return {
    setting: setting.name,
    op,
    startedAfterFreezeMs: Math.round(start - t0),
    durationMs: Math.round(end - start),
    endedAfterFreezeMs: Math.round(end - t0),
    ...outcome,
    attempts: attempts.map((a) => ({
      at: Math.round(a.start - t0),
      ms: Math.round(a.end - a.start),
      status: a.status,
      ...(a.error ? { error: a.error } : {}),
    })),
    delaysMs: attempts.slice(1).map((a, i) => Math.round(a.start - attempts[i].end)),
  };
}

async function pass(endpoint, port, s3port, W, retryAfter) {
  // Uploads to put parts into, created before the freeze (CreateMultipartUpload is a write too).
  const setup = client(endpoint, {});
  const uploads = [];
  for (let i = 0; i < SETTINGS.length * REPS; i++) {
    const key = `mpu-${W}-${retryAfter ?? 0}-${i}`;
    const r = await setup.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    uploads.push({ key, uploadId: r.UploadId });
  }
  setup.destroy();
  const t0 = await switchMode(port, s3port, 'frozen', retryAfter);
  const unfreeze = (async () => {
    await sleep(Math.max(0, t0 + W * 1000 - now()));
    const t1 = await switchMode(port, s3port, 'open', null);
    return t1;
  })();
  const calls = [];
  let u = 0;
  for (const setting of SETTINGS) {
    for (const op of OPS) {
      for (let r = 0; r < REPS; r++) {
        const up = op === 'UploadPart' ? uploads[u++] : null;
        calls.push(
          oneCall(
            endpoint,
            setting,
            op,
            up?.uploadId,
            up?.key ?? `put-${W}-${retryAfter ?? 0}-${setting.name.length}-${op.length}-${r}`,
            t0,
          ),
        );
      }
    }
  }
  const results = await Promise.all(calls);
  const t1 = await unfreeze;
  return { W, retryAfter, freezeMs: Math.round(t1 - t0), results };
}

const median = (xs) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : Math.round((s[s.length / 2 - 1] + s[s.length / 2]) / 2);
};
const range = (xs) => (xs.length === 0 ? '-' : `${Math.min(...xs)}-${Math.max(...xs)}`);

function summarize(p) {
  const rows = [];
  for (const setting of SETTINGS) {
    for (const op of OPS) {
      const rs = p.results.filter((r) => r.setting === setting.name && r.op === op);
      const ok = rs.filter((r) => r.ok);
      const failed = rs.filter((r) => !r.ok);
      const errors = [...new Set(failed.map((r) => `${r.error}${r.status ? ` (${r.status})` : ''}`))].join(', ');
      rows.push({
        window: `${p.W} s${p.retryAfter ? ` +Retry-After ${p.retryAfter}` : ''}`,
        settings: setting.name,
        op,
        calls: rs.length,
        succeeded: ok.length,
        failed: failed.length ? `${failed.length}: ${errors}` : '0',
        attempts: range(rs.map((r) => r.attempts.length)),
        refused503: range(rs.map((r) => r.attempts.filter((a) => a.status === 503).length)),
        delaysMs: rs.map((r) => r.delaysMs.join('+') || '-').join(' | '),
        durationMs: `${median(rs.map((r) => r.durationMs))} (${range(rs.map((r) => r.durationMs))})`,
      });
    }
  }
  return rows;
}

function printTable(rows) {
  const cols = Object.keys(rows[0]);
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(c.length, ...rows.map((r) => String(r[c]).length))]));
  console.log(cols.map((c) => c.padEnd(width[c])).join('  '));
  for (const r of rows) console.log(cols.map((c) => String(r[c]).padEnd(width[c])).join('  '));
}

async function cleanup() {
  if (nginxStarted) {
    try {
      const pid = Number(readFileSync(join(prefix, 'nginx.pid'), 'utf8').trim());
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await sleep(20);
      }
    } catch {
      /* not running */
    }
  }
  if (s3rver) s3rver.child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
}

async function main() {
  for (const d of ['logs', 'temp']) mkdirSync(join(prefix, d), { recursive: true });
  s3rver = await startS3rver(join(root, 's3'));
  const port = await freePort();
  writeConf(port, s3rver.port, 'open', null);
  const r = spawnSync(NGINX, nginxArgs(), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nginx did not start: ${r.stderr}`);
  nginxStarted = true;
  for (let i = 0; i < 200 && (await get(port, '/_mode'))?.body !== 'open'; i++) await sleep(10);
  const endpoint = `http://127.0.0.1:${port}`;
  const c = client(endpoint, {});
  await c.send(new CreateBucketCommand({ Bucket: BUCKET }));
  c.destroy();
  const nginxVersion = spawnSync(NGINX, ['-v'], { encoding: 'utf8' }).stderr.trim();
  console.log(
    `# 503 SlowDown windows vs the AWS SDK (${nginxVersion}, node ${process.version}, ${REPS} calls per cell, all started right after the freeze was confirmed)`,
  );

  const passes = [];
  for (const W of WINDOWS) passes.push(await pass(endpoint, port, s3rver.port, W, null));
  for (const W of RA_WINDOWS) passes.push(await pass(endpoint, port, s3rver.port, W, 5));
  const rows = passes.flatMap(summarize);
  for (const p of passes)
    console.log(
      `window ${p.W} s${p.retryAfter ? ` (Retry-After ${p.retryAfter})` : ''}: freeze confirmed -> unfreeze confirmed ${p.freezeMs} ms`,
    );
  printTable(rows);
  if (JSON_OUT) {
    writeFileSync(JSON_OUT, JSON.stringify({ nginxVersion, node: process.version, reps: REPS, passes }, null, 2));
    console.log(`wrote ${JSON_OUT}`);
  }
}

for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => cleanup().then(() => process.exit(130)));
main()
  .then(cleanup)
  .catch(async (e) => {
    console.error(e);
    await cleanup();
    process.exit(1);
  });
