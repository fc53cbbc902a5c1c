import { describe, expect, it } from 'vitest';
import { checkContract, formatViolations, type CheckOptions, type ContractPoint, type PoolListing } from '../helpers/contract-checker.js';
import type { FinalState, OpError, OpRecord, RawResponse, ReadResult, WorkloadHistory } from '../helpers/s3-workload.js';

/** Synthetic histories for the contract checker: what it accepts, and one failure (at least) per point. */

const slowDown = (attempts = 3): OpError => ({
  name: 'SlowDown',
  code: 'SlowDown',
  status: 503,
  message: 'Please reduce your request rate.',
  attempts,
  definite: true,
});
const s3Error = (code: string, status: number): OpError => ({ name: code, code, status, message: code, definite: true });
const noAnswer = (code = 'ECONNRESET'): OpError => ({ name: 'Error', code, message: 'socket hang up', definite: false });

class H {
  ops: OpRecord[] = [];
  raw: RawResponse[] = [];
  private op(o: Omit<OpRecord, 'id' | 'outcome'> & { outcome?: OpRecord['outcome'] }): OpRecord {
    const rec: OpRecord = { outcome: 'acked', ...o, id: this.ops.length };
    this.ops.push(rec);
    return rec;
  }
  seed(key: string, writeId: string, size = 100): this {
    this.op({ client: -1, op: 'seed', key, writeId, size, start: 0, end: 0 });
    return this;
  }
  put(client: number, key: string, writeId: string, start: number, end: number, error?: OpError): this {
    this.op({ client, op: 'put', key, writeId, size: 100, start, end, ...(error ? { outcome: 'error' as const, error } : {}) });
    return this;
  }
  del(client: number, key: string, writeId: string, start: number, end: number, error?: OpError): this {
    this.op({ client, op: 'delete', key, writeId, start, end, ...(error ? { outcome: 'error' as const, error } : {}) });
    return this;
  }
  multipart(client: number, key: string, writeId: string, start: number, end: number, error?: OpError): this {
    this.op({
      client,
      op: 'multipart',
      key,
      writeId,
      size: 12_000_000,
      start,
      end,
      steps: [],
      ...(error ? { outcome: 'error' as const, error } : {}),
    });
    return this;
  }
  get(
    client: number,
    key: string,
    start: number,
    end: number,
    writeId: string | null,
    opts: { intact?: boolean; error?: OpError } = {},
  ): this {
    const read: ReadResult = { writeId, intact: opts.intact ?? true, size: writeId ? 100 : 0 };
    this.op({ client, op: 'get', key, start, end, ...(opts.error ? { outcome: 'error' as const, error: opts.error } : { read }) });
    return this;
  }
  list(client: number, prefix: string, start: number, end: number, listed: string[]): this {
    this.op({ client, op: 'list', key: prefix, start, end, listed });
    return this;
  }
  /** A raw answer for the LAST operation recorded. */
  rawAnswer(t: number, status: number, code: string | null, command = 'PutObjectCommand'): this {
    const last = this.ops[this.ops.length - 1]!;
    this.raw.push({ t, client: last.client, opId: last.id, op: last.op, command, key: last.key, status, code });
    return this;
  }
  history(): WorkloadHistory {
    return { bucket: 'photos', timeOrigin: 0, startedAt: 0, stoppedAt: 100_000, clients: 3, ops: this.ops, raw: this.raw };
  }
}

/** Final state: key -> write id (null: 404); listed = the keys with content, unless given. */
function final(objects: Record<string, string | null>, opts: { corrupt?: string[]; listed?: string[] } = {}): FinalState {
  const m: FinalState['objects'] = new Map();
  for (const [k, w] of Object.entries(objects)) m.set(k, { writeId: w, intact: !(opts.corrupt ?? []).includes(k), size: w ? 100 : 0 });
  return {
    objects: m,
    listed: new Set(
      opts.listed ??
        Object.entries(objects)
          .filter(([, w]) => w !== null)
          .map(([k]) => k),
    ),
  };
}

const listing = (entries: Record<string, number>): PoolListing =>
  new Map(Object.entries(entries).map(([k, size]) => [k, { size, etag: `"${k}-${size}"` }]));
const opts: CheckOptions = { freezeBudgetMs: 2000, slackMs: 500 };

function violations(h: H, f: FinalState, extra: Partial<CheckOptions> = {}, source?: { before: PoolListing; after: PoolListing }) {
  return checkContract({ history: h.history(), final: f, options: { ...opts, ...extra }, ...(source ? { source } : {}) }).violations;
}
function expectOnly(vs: ReturnType<typeof violations>, point: ContractPoint, re: RegExp) {
  expect(vs.map((v) => `[${v.point}] ${v.message}`)).toEqual([expect.stringMatching(new RegExp(`^\\[${point}\\] ${re.source}`))]);
}

/** A history that meets every point: overwrites, deletes, concurrent reads, a freeze, a straddling multipart upload. */
function good(): { h: H; f: FinalState; source: { before: PoolListing; after: PoolListing } } {
  const h = new H()
    .seed('seed/a', 's.a')
    .seed('seed/b', 's.b')
    .seed('seed/c', 's.c')
    // client 0 overwrites seed/a, reads it back, deletes seed/b (both before the flip at 5000)
    .put(0, 'seed/a', 'c0.1', 100, 150)
    .get(0, 'seed/a', 160, 170, 'c0.1')
    .del(0, 'seed/b', 'c0.2', 200, 220)
    .get(0, 'seed/b', 230, 240, null)
    // client 1: a new key, a read by client 2 concurrent with the overwrite may see either version
    .put(1, 'c1/k', 'c1.1', 300, 320)
    .put(1, 'c1/k', 'c1.2', 400, 450)
    .get(2, 'c1/k', 410, 420, 'c1.1')
    .get(2, 'c1/k', 430, 440, 'c1.2')
    .get(2, 'c1/k', 460, 470, 'c1.2')
    .list(1, 'c1/', 480, 490, ['c1/k'])
    // a read of a key before anyone wrote it
    .get(2, 'c0/later', 500, 510, null)
    // the freeze: 4500-5500; a put refused after 3 attempts, another acked after a retry
    .put(0, 'c0/later', 'c0.3', 4500, 5200, slowDown())
    .rawAnswer(4510, 503, 'SlowDown')
    .rawAnswer(4700, 503, 'SlowDown')
    .rawAnswer(5150, 503, 'SlowDown')
    .put(1, 'c1/k', 'c1.3', 5300, 5900)
    .rawAnswer(5400, 503, 'SlowDown')
    .put(0, 'c0/later', 'c0.4', 6000, 6050)
    .get(0, 'c0/later', 6060, 6070, 'c0.4')
    // a multipart upload straddling the cutover fails with NoSuchUpload; another one completes
    .multipart(3, 'm3/big', 'c3.1', 3000, 6500, s3Error('NoSuchUpload', 404))
    .rawAnswer(5600, 404, 'NoSuchUpload', 'UploadPartCommand')
    .multipart(3, 'm3/big', 'c3.2', 7000, 9000)
    .get(3, 'm3/big', 9010, 9100, 'c3.2')
    .get(2, 'c1/k', 9400, 9410, 'c1.3');
  const f = final({ 'seed/a': 'c0.1', 'seed/b': null, 'seed/c': 's.c', 'c1/k': 'c1.3', 'c0/later': 'c0.4', 'm3/big': 'c3.2' });
  return {
    h,
    f,
    source: { before: listing({ 'seed/a': 100, 'seed/b': 100, 'seed/c': 100 }), after: listing({ 'seed/a': 120, 'seed/c': 100 }) },
  };
}

describe('contract checker', () => {
  it('accepts a history that meets every point, and measures the refusal window', () => {
    const { h, f, source } = good();
    const report = checkContract({ history: h.history(), final: f, source, options: { ...opts, routeFlippedAt: 5500 } });
    expect(formatViolations(report)).toBe('');
    expect(report.refusal).toMatchObject({
      count: 4,
      longestMs: 890,
      overallMs: 890,
      windows: [{ first: 4510, last: 5400, ms: 890, refusals: 4 }],
    });
    expect(report.counts).toMatchObject({
      keys: 6,
      readsChecked: 9,
      listsChecked: 1,
      finalKeysChecked: 6,
      sourceKeysChecked: 3,
      multipartAcked: 1,
      multipartFailed: 1,
      writesRefused: 2,
      writesUnknown: 0,
    });
  });

  it('a write with an unknown outcome (no answer): the key may hold it or the version before (1, 3); the failure itself is reported (5)', () => {
    const h = new H()
      .put(1, 'k', 'c1.1', 10, 20)
      .put(1, 'k', 'c1.2', 30, 40, noAnswer())
      .get(2, 'k', 50, 60, 'c1.1')
      .get(2, 'k', 70, 80, 'c1.2')
      .get(2, 'k', 90, 95, 'c1.1');
    for (const end of ['c1.1', 'c1.2']) {
      expectOnly(
        violations(h, final({ k: end })),
        5,
        /put c1\.2 by client 1 of k \(30 ms-40 ms\) failed with ECONNRESET \(no answer\): writes may only be refused with 503 SlowDown$/,
      );
    }
    // A write refused for sure (every attempt answered 503) must never take effect.
    const r = new H().put(1, 'k', 'c1.1', 10, 20).put(1, 'k', 'c1.2', 30, 40, slowDown());
    expectOnly(
      violations(r, final({ k: 'c1.2' })),
      5,
      /at the end, k returned put c1\.2 by client 1, which the client saw refused with SlowDown \(HTTP 503\): a refused write took effect$/,
    );
    expect(violations(r, final({ k: 'c1.1' }))).toEqual([]);
  });

  it('a connection reset at an nginx reload (retried by the SDK) is counted, not reported; one far from any reload is a violation (5)', () => {
    const h = new H().put(1, 'k', 'c1.1', 10, 400).rawAnswer(100, 0, 'ECONNRESET').get(2, 'k', 500, 600, 'c1.1');
    const atReload = checkContract({ history: h.history(), final: final({ k: 'c1.1' }), options: { ...opts, reloadTimes: [300] } });
    expect(formatViolations(atReload)).toBe('');
    expect(atReload.counts.reloadResets).toBe(1);
    const far = checkContract({ history: h.history(), final: final({ k: 'c1.1' }), options: { ...opts, reloadTimes: [20_000] } });
    expect(formatViolations(far)).toMatch(/an attempt of PutObjectCommand of k by client 1 at 100 ms got no answer \(ECONNRESET\)/);
    expect(far.counts.reloadResets).toBe(0);
  });

  it('a history taken while the workload runs: a pending write may or may not have taken effect, a pending read is not judged', () => {
    const h = new H().put(0, 'k', 'c0.1', 10, 20);
    h.ops.push({ id: 1, client: 0, op: 'put', key: 'k', writeId: 'c0.2', size: 100, start: 30, end: 0, outcome: 'pending' });
    h.ops.push({ id: 2, client: 1, op: 'get', key: 'k', start: 40, end: 0, outcome: 'pending' });
    h.get(2, 'k', 50, 60, 'c0.1').get(2, 'k', 70, 80, 'c0.2');
    expect(violations(h, final({ k: 'c0.1' }))).toEqual([]);
    expect(violations(h, final({ k: 'c0.2' }))).toEqual([]);
    expect(checkContract({ history: h.history(), final: final({ k: 'c0.2' }), options: opts }).counts).toMatchObject({
      readsChecked: 2,
      writesUnknown: 1,
    });
  });

  describe('1. no acknowledged write lost or replaced by older data', () => {
    it('reports a lost write', () => {
      const h = new H().put(0, 'k', 'c0.1', 10, 20);
      expectOnly(
        violations(h, final({ k: null })),
        1,
        /at the end, k returned 404 although put c0\.1 by client 0 \(acknowledged at 20 ms\) wrote it \(acknowledged write lost\)$/,
      );
    });
    it('reports data replaced by older data, and corrupted content', () => {
      const h = new H().seed('k', 's.1').put(0, 'k', 'c0.1', 10, 20).put(0, 'j', 'c0.2', 30, 40);
      expectOnly(
        violations(h, final({ k: 's.1', j: 'c0.2' })),
        1,
        /at the end, k returned seeded object s\.1, older than put c0\.1 by client 0 \(acknowledged at 20 ms\) \(replaced by older data\)$/,
      );
      expectOnly(
        violations(h, final({ k: 'c0.1', j: 'c0.2' }, { corrupt: ['j'] })),
        1,
        /at the end, j holds corrupted content \(claims write c0\.2, 100 bytes\)$/,
      );
    });
    it('reports content that no write of the key produced, and a key not read back', () => {
      const h = new H().put(0, 'k', 'c0.1', 10, 20).put(0, 'j', 'c0.2', 30, 40);
      expectOnly(
        violations(h, final({ k: 'c0.2', j: 'c0.2' })),
        1,
        /at the end, k returned content of put c0\.2 by client 0, which wrote j$/,
      );
      expectOnly(violations(h, final({ k: 'c0.1' })), 1, /harness: j was not read back at the end/);
    });
  });

  describe('2. no acknowledged delete undone', () => {
    it('reports a deleted key that comes back at the end', () => {
      const h = new H().seed('k', 's.1').del(0, 'k', 'c0.1', 10, 20);
      expectOnly(
        violations(h, final({ k: 's.1' })),
        2,
        /at the end, k returned seeded object s\.1 although delete c0\.1 by client 0 \(acknowledged at 20 ms\) had deleted it \(delete undone\)$/,
      );
    });
    it('reports a read after the delete that returns the deleted data, and a listing that shows it', () => {
      const h = new H().put(0, 'c0/k', 'c0.1', 1, 2).del(0, 'c0/k', 'c0.2', 10, 20).get(1, 'c0/k', 30, 40, 'c0.1');
      expectOnly(
        violations(h, final({ 'c0/k': null })),
        2,
        /read of c0\/k by client 1 at 30 ms-40 ms returned put c0\.1 by client 0 although delete c0\.2 .*\(delete undone\)$/,
      );
      const l = new H().put(0, 'c0/k', 'c0.1', 1, 2).del(0, 'c0/k', 'c0.2', 10, 20).list(0, 'c0/', 30, 40, ['c0/k']);
      expectOnly(
        violations(l, final({ 'c0/k': null })),
        2,
        /listing of c0\/ by client 0 at 30 ms-40 ms: c0\/k is listed although delete c0\.2 by client 0 \(acknowledged at 20 ms\) deleted it$/,
      );
      // A final listing that shows a key a GET cannot read.
      expectOnly(
        violations(new H().del(0, 'x', 'c0.1', 1, 2), final({ x: null }, { listed: ['x'] })),
        2,
        /at the end, x is listed although delete c0\.1 .* \(final listing\)$/,
      );
    });
  });

  describe('3. a read after an acknowledged write returns it or a newer one', () => {
    it('reports a stale read', () => {
      const h = new H().put(0, 'k', 'c0.1', 10, 20).put(0, 'k', 'c0.2', 30, 40).get(1, 'k', 41, 50, 'c0.1');
      expectOnly(
        violations(h, final({ k: 'c0.2' })),
        3,
        /read of k by client 1 at 41 ms-50 ms returned put c0\.1 by client 0, older than put c0\.2 by client 0 \(acknowledged at 40 ms\) \(stale read\)$/,
      );
    });
    it('reports a 404 after an acknowledged write, and a listing that misses the key', () => {
      const h = new H().put(0, 'c0/k', 'c0.1', 10, 20).get(1, 'c0/k', 21, 30, null);
      expectOnly(
        violations(h, final({ 'c0/k': 'c0.1' })),
        3,
        /read of c0\/k by client 1 at 21 ms-30 ms returned 404 although put c0\.1 by client 0 \(acknowledged at 20 ms\) wrote it$/,
      );
      const l = new H().put(0, 'c0/k', 'c0.1', 10, 20).list(0, 'c0/', 21, 30, []);
      expectOnly(
        violations(l, final({ 'c0/k': 'c0.1' })),
        3,
        /listing of c0\/ by client 0 at 21 ms-30 ms: c0\/k is missing from the listing although put c0\.1/,
      );
    });
    it('reports a read of a write that had not started, and corrupted content', () => {
      const h = new H().put(0, 'k', 'c0.1', 100, 120).get(1, 'k', 10, 20, 'c0.1');
      expectOnly(
        violations(h, final({ k: 'c0.1' })),
        3,
        /read of k by client 1 at 10 ms-20 ms returned put c0\.1 by client 0, which started only after the read had ended$/,
      );
      const c = new H().put(0, 'k', 'c0.1', 10, 20).get(1, 'k', 30, 40, 'c0.1', { intact: false });
      expectOnly(violations(c, final({ k: 'c0.1' })), 3, /read of k by client 1 at 30 ms-40 ms returned corrupted content/);
    });
  });

  describe('4. a multipart upload completes or fails visibly', () => {
    it('reports an acknowledged multipart upload missing at the end', () => {
      const h = new H().multipart(3, 'm3/big', 'c3.1', 10, 3000);
      expectOnly(
        violations(h, final({ 'm3/big': null })),
        4,
        /at the end, m3\/big returned 404 although multipart upload c3\.1 by client 3 \(acknowledged at 3000 ms\) wrote it/,
      );
    });
    it('reports a multipart upload that failed for the client but took effect', () => {
      const h = new H()
        .multipart(3, 'm3/big', 'c3.1', 4000, 6000, slowDown())
        .rawAnswer(5000, 503, 'SlowDown', 'CompleteMultipartUploadCommand');
      expectOnly(
        violations(h, final({ 'm3/big': 'c3.1' })),
        4,
        /at the end, m3\/big returned multipart upload c3\.1 by client 3, which the client saw refused with SlowDown \(HTTP 503\): a refused write took effect$/,
      );
    });
    it('reports a multipart upload that ended without an answer', () => {
      const h = new H().multipart(3, 'm3/big', 'c3.1', 10, 3000, noAnswer('ETIMEDOUT'));
      const vs = violations(h, final({ 'm3/big': null }));
      expect(vs.map((v) => v.point)).toEqual([4, 5]);
      expect(vs[0]!.message).toMatch(
        /multipart upload c3\.1 of m3\/big .* ended without an answer the client could act on: ETIMEDOUT \(no answer\)/,
      );
    });
  });

  describe('5. reads never fail; writes only refused with 503 SlowDown, for at most the budget', () => {
    it('reports a failed read, and a read attempt refused even when a retry hid it', () => {
      const h = new H().put(0, 'k', 'c0.1', 10, 20).get(1, 'k', 30, 40, null, { error: slowDown() });
      expectOnly(
        violations(h, final({ k: 'c0.1' })),
        5,
        /read \(get\) of k by client 1 at 30 ms failed with SlowDown \(HTTP 503\): reads never fail$/,
      );
      const r = new H().put(0, 'k', 'c0.1', 10, 20).get(1, 'k', 30, 40, 'c0.1').rawAnswer(31, 503, 'SlowDown', 'GetObjectCommand');
      const vs = violations(r, final({ k: 'c0.1' }));
      expect(vs.map((v) => `[${v.point}] ${v.message}`)).toEqual([
        expect.stringMatching(
          /^\[5\] a read attempt \(GetObjectCommand of k by client 1 at 31 ms\) was answered HTTP 503 SlowDown \(reads must never fail/,
        ),
      ]);
    });
    it('reports a write error that is not 503 SlowDown, a 503 without the code, a 502 hidden by a retry', () => {
      const h = new H().put(0, 'k', 'c0.1', 10, 20, s3Error('InternalError', 500));
      expectOnly(
        violations(h, final({ k: null })),
        5,
        /put c0\.1 by client 0 of k \(10 ms-20 ms\) failed with InternalError \(HTTP 500\): writes may only be refused with 503 SlowDown$/,
      );
      const n = new H().put(0, 'k', 'c0.1', 10, 20).rawAnswer(12, 503, null);
      expectOnly(
        violations(n, final({ k: 'c0.1' })),
        5,
        /a write attempt \(PutObjectCommand of k by client 0 at 12 ms\) was answered 503 without the S3 code SlowDown/,
      );
      const b = new H().put(0, 'k', 'c0.1', 10, 20).rawAnswer(12, 502, null);
      expectOnly(
        violations(b, final({ k: 'c0.1' })),
        5,
        /a write attempt .* was answered HTTP 502 \(no S3 code\): the only refusal allowed is 503 SlowDown$/,
      );
    });
    it('reports a refusal window longer than the budget', () => {
      const h = new H().put(0, 'k', 'c0.1', 10, 4000).rawAnswer(100, 503, 'SlowDown').rawAnswer(2900, 503, 'SlowDown');
      expectOnly(
        violations(h, final({ k: 'c0.1' })),
        5,
        /writes were refused with 503 for 2800 ms \(2 refusals from 100 ms to 2900 ms\), longer than the freeze budget 2000 ms \+ 500 ms slack$/,
      );
      // Two freezes far apart are two windows, each within the budget.
      const two = new H()
        .put(0, 'k', 'c0.1', 10, 20000)
        .rawAnswer(100, 503, 'SlowDown')
        .rawAnswer(1900, 503, 'SlowDown')
        .rawAnswer(15000, 503, 'SlowDown')
        .rawAnswer(16000, 503, 'SlowDown');
      const report = checkContract({ history: two.history(), final: final({ k: 'c0.1' }), options: opts });
      expect(report.violations).toEqual([]);
      expect(report.refusal.windows.map((w) => w.ms)).toEqual([1800, 1000]);
      expect(report.refusal.overallMs).toBe(15900);
    });
    it('allows an explicit S3 error on a multipart upload only when it straddles a cutover', () => {
      const h = new H()
        .multipart(3, 'm3/big', 'c3.1', 10, 3000, s3Error('NoSuchUpload', 404))
        .rawAnswer(2000, 404, 'NoSuchUpload', 'UploadPartCommand');
      const vs = violations(h, final({ 'm3/big': null }));
      expect(vs.map((v) => v.point)).toEqual([5, 5]);
      expect(vs[1]!.message).toMatch(
        /multipart upload c3\.1 by client 3 of m3\/big \(10 ms-3000 ms\) failed with NoSuchUpload \(HTTP 404\): writes may only be refused with 503 SlowDown \(or, straddling a cutover, an explicit S3 error\)$/,
      );
      expect(violations(h, final({ 'm3/big': null }), { cutoverTimes: [2500] })).toEqual([]);
    });
  });

  describe('6. source data never deleted', () => {
    it('reports a source object deleted or changed without a client write through the gateway', () => {
      const h = new H().seed('a', 's.a').seed('b', 's.b');
      const vs = violations(h, final({ a: 's.a', b: 's.b' }), {}, { before: listing({ a: 100, b: 100 }), after: listing({ b: 90 }) });
      expect(vs.map((v) => `[${v.point}] ${v.message}`)).toEqual([
        '[6] a was deleted from the source pool, and no client delete through the gateway reached the source',
        expect.stringMatching(/^\[6\] b was changed on the source pool \(100 -> 90 bytes, ETag changed\)/),
      ]);
    });
    it('allows keys clients deleted through the gateway before the route flipped, not after', () => {
      const h = new H().seed('a', 's.a').del(0, 'a', 'c0.1', 100, 110);
      const src = { before: listing({ a: 100 }), after: listing({}) };
      expect(violations(h, final({ a: null }), { routeFlippedAt: 500 }, src)).toEqual([]);
      expectOnly(violations(h, final({ a: null }), { routeFlippedAt: 50 }, src), 6, /a was deleted from the source pool/);
    });
  });
});
