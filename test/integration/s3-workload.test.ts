import { existsSync } from 'node:fs';
import { createServer, request, Agent, type Server } from 'node:http';
import { connect } from 'node:net';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkContract, formatViolations, summarize, type ContractReport } from '../helpers/contract-checker.js';
import { MigrationEnv } from '../helpers/migration-env.js';
import { keysOf, makeBody, readFinalState, startWorkload, Workload, type OpRecord, type WorkloadHistory } from '../helpers/s3-workload.js';

/**
 * The migration test harness against a real gateway (nginx applied by the built orch, two s3rver
 * pools) WITHOUT a migration: the workload through the gateway must show zero violations; then
 * objects changed behind the gateway's back (directly on the pool) must be reported; then writes
 * refused with 503 SlowDown (by a tiny proxy in front of the gateway) must be recorded below the
 * SDK's retries and measured as a refusal window.
 */
describe.sequential('client workload and contract checker against a real gateway (no migration)', () => {
  let env: MigrationEnv;
  let history: WorkloadHistory;
  let before: Map<string, { size: number; etag?: string }>;

  beforeAll(async () => {
    env = await MigrationEnv.start({ seed: { count: 60, sizes: [100, 4096, 70_000] } });
  }, 120_000);

  afterAll(async () => {
    await env?.close();
  });

  it('a 5 s workload through the gateway (new keys, overwrites, deletes, reads, listings, multipart) has zero violations', async () => {
    before = await env.listPool('old');
    expect(before.size).toBe(60);
    const wl = startWorkload({
      bucket: env.bucket,
      client: () => env.gatewayClient(),
      clients: 4,
      opsPerSecond: 12,
      mix: { list: 1.5 },
      seed: env.seeded,
      multipart: { clients: 2, partDelayMs: 300, pauseMs: 100 },
      rngSeed: 6,
    });
    await new Promise((r) => setTimeout(r, 5000));
    history = await wl.stop();
    const final = await readFinalState(env.gatewayClient(), env.bucket, keysOf(history));
    const report = checkContract({
      history,
      final,
      source: { before, after: await env.listPool('old') },
      options: { freezeBudgetMs: 10_000 },
    });
    console.log(`workload without migration: ${summarize(report)}`);
    expect(formatViolations(report)).toBe('');

    // The workload really did all of it (a checker that saw nothing would pass too).
    const ops = history.ops;
    const acked = (op: OpRecord['op']) => ops.filter((o) => o.op === op && o.outcome === 'acked');
    const putsPerKey = countBy(acked('put'), (o) => o.key);
    expect(acked('put').length).toBeGreaterThan(30);
    expect([...putsPerKey.values()].some((n) => n >= 2)).toBe(true); // overwrites
    expect(acked('put').some((o) => o.key.startsWith('seed/'))).toBe(true); // overwrites of seeded objects
    expect(acked('delete').length).toBeGreaterThan(2);
    expect(acked('multipart').length).toBeGreaterThanOrEqual(2);
    expect(acked('list').length).toBeGreaterThan(0);
    const gets = acked('get');
    expect(gets.length).toBeGreaterThan(40);
    expect(gets.some((o) => o.read!.writeId === null)).toBe(true); // reads after deletes
    expect(
      gets.some(
        (o) =>
          o.read!.writeId !== null &&
          !o.key.startsWith(`c${o.client}/`) &&
          !o.key.startsWith(`m${o.client}/`) &&
          !o.key.startsWith('seed/'),
      ),
    ).toBe(true); // other clients' keys
    expect(gets.some((o) => o.key.startsWith('m'))).toBe(true); // multipart objects read back
    expect(report.counts.readsChecked).toBe(gets.length);
    expect(report.counts.finalKeysChecked).toBeGreaterThanOrEqual(report.counts.keys);
    expect(report.refusal).toMatchObject({ count: 0, windows: [], longestMs: 0 });
    expect(ops.every((o) => o.outcome === 'acked')).toBe(true);
    expect(history.raw.filter((r) => r.status !== 404)).toEqual([]);
  }, 60_000);

  it('objects changed directly on the pool behind the gateway are reported: a lost write, older data, a stale read, an undone delete, source data deleted', async () => {
    const old = env.poolClient('old');
    const bucket = env.bucket;
    const seq = perKey(history);
    const lastIs = (k: string, op: OpRecord['op']) => seq.get(k)!.at(-1)!.op === op;
    const keys = [...seq.keys()];
    // A key whose last acknowledged write is a put by a client, and which has an older put: its older version goes back.
    const older = keys.find((k) => k.startsWith('c') && lastIs(k, 'put') && seq.get(k)!.filter((o) => o.op === 'put').length >= 2);
    // Another client key whose last write is a put: deleted behind the gateway (a lost write).
    const lost = keys.find((k) => k !== older && k.startsWith('c') && lastIs(k, 'put'));
    // A key deleted by a client after a put: its old content comes back (a delete undone).
    const undone = keys.find((k) => lastIs(k, 'delete') && seq.get(k)!.some((o) => o.op === 'put' || o.op === 'seed'));
    // A seeded object no client touched: deleted on the source (point 6: orch must never do that).
    const untouched = env.seeded.find((s) => seq.get(s.key)!.length === 1)?.key;
    expect({ older, lost, undone, untouched }).toEqual({
      older: expect.any(String),
      lost: expect.any(String),
      undone: expect.any(String),
      untouched: expect.any(String),
    });

    const prevPut = seq
      .get(older!)!
      .filter((o) => o.op === 'put')
      .at(-2)!;
    const lastPut = seq.get(older!)!.at(-1)!;
    await old.send(new PutObjectCommand({ Bucket: bucket, Key: older!, Body: makeBody(prevPut.writeId!, prevPut.size!) }));
    await old.send(new DeleteObjectCommand({ Bucket: bucket, Key: lost! }));
    const beforeDelete = seq
      .get(undone!)!
      .filter((o) => o.op !== 'delete')
      .at(-1)!;
    await old.send(new PutObjectCommand({ Bucket: bucket, Key: undone!, Body: makeBody(beforeDelete.writeId!, beforeDelete.size!) }));
    await old.send(new DeleteObjectCommand({ Bucket: bucket, Key: untouched! }));

    // Reads through the gateway after the tampering, recorded like any client read.
    const wl = new Workload({ bucket, client: () => env.gatewayClient() });
    const probes = [await wl.probe(older!), await wl.probe(undone!)];
    expect(probes.map((p) => p.read?.writeId)).toEqual([prevPut.writeId, beforeDelete.writeId]);
    const tampered: WorkloadHistory = {
      ...history,
      ops: [...history.ops, ...probes.map((p, i) => ({ ...p, id: history.ops.length + i }))],
    };

    const final = await readFinalState(env.gatewayClient(), bucket, keysOf(tampered));
    const report = checkContract({
      history: tampered,
      final,
      source: { before, after: await env.listPool('old') },
      options: { freezeBudgetMs: 10_000 },
    });
    const text = formatViolations(report);
    console.log(`tampered behind the gateway:\n${text}`);
    const has = (point: number, re: RegExp) => report.violations.some((v) => v.point === point && re.test(v.message));
    expect(
      has(
        1,
        new RegExp(
          `at the end, ${esc(lost!)} returned 404 although put ${esc(seq.get(lost!)!.at(-1)!.writeId!)} .*acknowledged write lost`,
        ),
      ),
      text,
    ).toBe(true);
    expect(
      has(
        1,
        new RegExp(
          `at the end, ${esc(older!)} returned put ${esc(prevPut.writeId!)} .*older than put ${esc(lastPut.writeId!)} .*replaced by older data`,
        ),
      ),
      text,
    ).toBe(true);
    expect(
      has(
        3,
        new RegExp(
          `read of ${esc(older!)} by client -1 .*returned put ${esc(prevPut.writeId!)} .*older than put ${esc(lastPut.writeId!)}.*stale read`,
        ),
      ),
      text,
    ).toBe(true);
    expect(
      has(
        2,
        new RegExp(
          `at the end, ${esc(undone!)} returned .*${esc(beforeDelete.writeId!)} although delete .*had deleted it \\(delete undone\\)`,
        ),
      ),
      text,
    ).toBe(true);
    expect(has(2, new RegExp(`read of ${esc(undone!)} by client -1 .*delete undone`)), text).toBe(true);
    expect(has(6, new RegExp(`${esc(untouched!)} was deleted from the source pool`)), text).toBe(true);
    expect(has(1, new RegExp(`at the end, ${esc(untouched!)} returned 404 although seeded object`)), text).toBe(true);
    // Nothing else: exactly the tampered keys.
    expect(new Set(report.violations.map((v) => v.key))).toEqual(new Set([older, lost, undone, untouched]));
  }, 60_000);

  it('503 SlowDown answers hidden by the SDK retries are recorded and measured as a refusal window (a proxy refusing writes for 1.5 s)', async () => {
    const proxy = await slowDownProxy(env.port);
    try {
      const wl = startWorkload({
        bucket: env.bucket,
        client: () => env.gatewayClient({ endpoint: proxy.url }),
        clients: 6,
        opsPerSecond: 15,
        multipart: { clients: 1, partDelayMs: 400, pauseMs: 100, parts: 2 },
        rngSeed: 7,
        runId: 'r3',
      });
      await new Promise((r) => setTimeout(r, 1000));
      const refusedFrom = wl.now();
      proxy.refuseWrites(true);
      await new Promise((r) => setTimeout(r, 1500));
      proxy.refuseWrites(false);
      const refusedTo = wl.now();
      await new Promise((r) => setTimeout(r, 1500));
      const h = await wl.stop();
      const final = await readFinalState(env.gatewayClient(), env.bucket, keysOf(h), { prefix: 'r3/' });
      const report = checkContract({ history: h, final, options: { freezeBudgetMs: 1500, slackMs: 300 } });
      console.log(`writes refused for 1.5 s by a proxy: ${summarize(report)}; proxy refused ${proxy.refused()} requests`);
      expect(formatViolations(report)).toBe('');
      expect(report.refusal.count).toBe(proxy.refused());
      expect(report.refusal.count).toBeGreaterThan(3);
      expect(report.refusal.windows).toHaveLength(1);
      const w = report.refusal.windows[0]!;
      expect(w.first).toBeGreaterThanOrEqual(refusedFrom);
      expect(w.last).toBeLessThanOrEqual(refusedTo + 250); // a request refused just before the switch is answered just after
      expect(w.ms).toBeGreaterThan(500);
      const odd503 = h.raw.filter((r) => r.status === 503 && !(r.code === 'SlowDown' && r.op !== 'get' && r.op !== 'list'));
      expect(odd503, 'every 503 is a SlowDown refusal of a write').toEqual([]);
      // Every refusal belongs to a write of the history, which either got through on a retry (the
      // refusals hidden from the caller) or failed after exactly as many attempts as refusals were
      // recorded for it, with the S3 code and status, as a definite refusal.
      const refusalsOf = new Map<number, number>();
      for (const r of h.raw.filter((x) => x.status === 503 && x.command !== 'AbortMultipartUploadCommand'))
        refusalsOf.set(r.opId, (refusalsOf.get(r.opId) ?? 0) + 1);
      expect(refusalsOf.size).toBeGreaterThan(0);
      for (const [opId, n] of refusalsOf) {
        const o = h.ops[opId]!;
        expect(['put', 'delete', 'multipart']).toContain(o.op);
        if (o.outcome === 'error' && o.op !== 'multipart')
          expect(o.error).toMatchObject({ code: 'SlowDown', status: 503, definite: true, attempts: n });
        else if (o.op !== 'multipart') expect(o.outcome).toBe('acked');
      }
      console.log(
        `refused writes: ${[...refusalsOf].map(([id, n]) => `${h.ops[id]!.op} ${h.ops[id]!.outcome} after ${n} refusal(s)`).join(', ')}`,
      );

      // The same history against a smaller budget: the window is reported.
      const strict: ContractReport = checkContract({ history: h, final, options: { freezeBudgetMs: 300, slackMs: 0 } });
      expect(strict.violations.filter((v) => v.point === 5).map((v) => v.message)).toEqual([
        expect.stringMatching(
          /^writes were refused with 503 for \d+ ms \(\d+ refusals from \d+ ms to \d+ ms\), longer than the freeze budget 300 ms \+ 0 ms slack$/,
        ),
      ]);
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('spawnCli: a CLI child to watch (waitFor) and kill; close() stops nginx and both S3 servers and removes every temp dir', async () => {
    const plan = env.spawnCli(['plan', '--detailed-exitcode']);
    await plan.waitFor(/No changes/);
    expect((await plan.done).code).toBe(0);
    await expect(env.spawnCli(['plan']).waitFor(/never printed/, 30_000)).rejects.toThrow(/exited before printing/);
    // A child killed while running (nginx -t of a large config is not needed: SIGKILL right away).
    const killed = env.spawnCli(['plan']);
    const r = await killed.kill('SIGKILL');
    expect(r.signal).toBe('SIGKILL');

    const nginxPid = env.gw.masterPid()!;
    const members = [...env.members.old.addresses, ...env.members.new.addresses].map((a) => Number(a.split(':')[1]));
    expect(isAlive(nginxPid)).toBe(true);
    await env.close();
    expect(isAlive(nginxPid)).toBe(false);
    expect(existsSync(env.root)).toBe(false);
    for (const port of [...members, env.port]) expect(await connects(port)).toBe(false);
    await env.close(); // idempotent
  }, 60_000);
});

function countBy<T>(xs: T[], f: (x: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(f(x), (m.get(f(x)) ?? 0) + 1);
  return m;
}

/** Acknowledged writes (and seeds) per key, in order. */
function perKey(h: WorkloadHistory): Map<string, OpRecord[]> {
  const m = new Map<string, OpRecord[]>();
  for (const o of h.ops) {
    if (!['seed', 'put', 'delete', 'multipart'].includes(o.op) || o.outcome !== 'acked') continue;
    m.set(o.key, [...(m.get(o.key) ?? []), o]);
  }
  for (const l of m.values()) l.sort((a, b) => a.start - b.start);
  return m;
}

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A tiny HTTP proxy in front of the gateway: passes everything through, except that while
 * `refuseWrites(true)` it answers every write (PUT, POST, DELETE) itself with 503 SlowDown and an
 * S3 error body, as a write freeze does.
 */
async function slowDownProxy(
  targetPort: number,
): Promise<{ url: string; refuseWrites(on: boolean): void; refused(): number; close(): Promise<void> }> {
  let refusing = false;
  let refused = 0;
  const agent = new Agent({ keepAlive: true });
  const server: Server = createServer((req, res) => {
    if (refusing && req.method !== 'GET' && req.method !== 'HEAD') {
      refused++;
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
        );
      });
      return;
    }
    const up = request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      ures.pipe(res);
    });
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    refuseWrites: (on) => (refusing = on),
    refused: () => refused,
    close: () =>
      new Promise<void>((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port }, () => {
      sock.destroy();
      resolve(true);
    });
    sock.on('error', () => resolve(false));
  });
}
