import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { PoolS3Client } from '../../src/adapters/s3/pool-s3-client.js';
import { listPools } from '../../src/use-cases/buckets/list-pools.js';
import { PoolAccessError } from '../../src/domain/buckets/pool-access-error.js';
import { freePorts } from '../helpers/ports.js';
import { hangingMember } from '../helpers/s3-servers.js';

/**
 * The S3 adapter's failover, retries, timeouts and concurrency limit, against small local HTTP
 * servers that answer like S3 servers (or fail like broken members). Real sockets, no mocks.
 */
const LIST_BUCKETS = (names: string[]) =>
  `<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult><Owner><ID>x</ID></Owner><Buckets>${names.map((n) => `<Bucket><Name>${n}</Name><CreationDate>2026-01-01T00:00:00.000Z</CreationDate></Bucket>`).join('')}</Buckets></ListAllMyBucketsResult>`;
const ERROR = (code: string) => `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>m</Message></Error>`;

const servers: Server[] = [];
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const s = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `127.0.0.1:${(s.address() as { port: number }).port}`;
}
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((r) => {
          s.closeAllConnections();
          s.close(() => r());
        }),
    ),
  );
});

const credentials = { accessKeyId: 'AK', secretAccessKey: 'SK' };
const opts = { timeoutMs: 1000, retries: 1, concurrency: 4, backoffMs: 10 };

describe('PoolS3Client', () => {
  it('fails over from a refused and a failing member to one that answers, and sticks to it', async () => {
    const [dead] = await freePorts(1);
    let broken = 0;
    let good = 0;
    const failing = await serve((_q, res) => {
      broken++;
      res.writeHead(503, { 'content-type': 'application/xml' }).end(ERROR('SlowDown'));
    });
    const answering = await serve((_q, res) => {
      good++;
      res.writeHead(200, { 'content-type': 'application/xml' }).end(LIST_BUCKETS(['b', 'a']));
    });
    const c = await PoolS3Client.open({ pool: 'p', members: [`127.0.0.1:${dead}`, failing, answering], credentials }, opts);
    try {
      expect(await c.listBuckets()).toEqual(['a', 'b']);
      expect(await c.listBuckets()).toEqual(['a', 'b']);
    } finally {
      c.close();
    }
    expect(broken).toBe(1);
    expect(good).toBe(2);
  });

  it('every member down: one error naming the pool and each member, after the retries', async () => {
    const [a, b] = await freePorts(2);
    const hanging = await serve(() => {
      /* never answers */
    });
    const c = await PoolS3Client.open(
      { pool: 'cold', members: [`127.0.0.1:${a}`, `127.0.0.1:${b}`, hanging], credentials },
      { ...opts, timeoutMs: 300 },
    );
    const started = Date.now();
    const err = await c.listBuckets().then(
      () => null,
      (e: unknown) => e,
    );
    c.close();
    expect(err).toBeInstanceOf(PoolAccessError);
    expect((err as PoolAccessError).problem).toBe('unreachable');
    expect((err as Error).message).toBe(
      `pool cold is unreachable: ListBuckets failed on every enabled member (127.0.0.1:${a}: connection refused; 127.0.0.1:${b}: connection refused; ${hanging}: no answer within 0.3s).`,
    );
    // Two rounds (retries: 1), each waiting once for the hanging member.
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
  });

  it('refused credentials stop at once (no failover, no retry) and never echo the server message', async () => {
    let hits = 0;
    const refusing = await serve((_q, res) => {
      hits++;
      res
        .writeHead(403, { 'content-type': 'application/xml' })
        .end(ERROR('SignatureDoesNotMatch').replace('<Message>m</Message>', '<Message>AWSAccessKeyId AK</Message>'));
    });
    const other = await serve((_q, res) => res.writeHead(200).end(LIST_BUCKETS([])));
    const c = await PoolS3Client.open({ pool: 'locked', members: [refusing, other], credentials }, opts);
    const err = (await c.listBuckets().catch((e: unknown) => e)) as PoolAccessError;
    c.close();
    expect(err.problem).toBe('access-denied');
    expect(err.message).toBe(
      `pool locked refused orch's credentials (ListBuckets: HTTP 403 SignatureDoesNotMatch from member ${refusing}).`,
    );
    expect(err.message).not.toContain('AK');
    expect(hits).toBe(1);
  });

  it('CreateBucket: 409 BucketAlreadyOwnedByYou or BucketAlreadyExists mean the bucket exists', async () => {
    let code = 'BucketAlreadyOwnedByYou';
    const server = await serve((req, res) => {
      if (req.url!.startsWith('/fresh')) res.writeHead(200).end();
      else res.writeHead(409, { 'content-type': 'application/xml' }).end(ERROR(code));
    });
    const c = await PoolS3Client.open({ pool: 'p', members: [server], credentials }, opts);
    try {
      expect(await c.createBucket('fresh')).toBe('created');
      expect(await c.createBucket('taken')).toBe('exists');
      code = 'BucketAlreadyExists';
      expect(await c.createBucket('taken')).toBe('exists');
    } finally {
      c.close();
    }
  });

  it('keeps at most `concurrency` requests in flight per pool', async () => {
    let inFlight = 0;
    let most = 0;
    const server = await serve((_q, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(200, { 'content-type': 'application/xml' }).end(LIST_BUCKETS([]));
      }, 20);
    });
    const c = await PoolS3Client.open({ pool: 'p', members: [server], credentials }, { ...opts, concurrency: 3 });
    try {
      await Promise.all(Array.from({ length: 12 }, () => c.listBuckets()));
    } finally {
      c.close();
    }
    expect(most).toBe(3);
  });

  it('a member that is not an S3 server (plain 404 page) is reported as a pool error, not a crash', async () => {
    const web = await serve((_q, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<html>not here</html>'));
    const c = await PoolS3Client.open({ pool: 'web', members: [web], credentials }, opts);
    const err = (await c.listBuckets().catch((e: unknown) => e)) as PoolAccessError;
    c.close();
    expect(err).toBeInstanceOf(PoolAccessError);
    expect(err.message).toContain(`pool web answered ListBuckets with HTTP 404`);
  });

  it('a pool without an enabled member is reported, not a crash', async () => {
    await expect(PoolS3Client.open({ pool: 'empty', members: [], credentials }, opts)).rejects.toThrow(
      'pool empty has no enabled member to talk to.',
    );
  });
});

describe('PoolS3Client listings', () => {
  it('a member that trickles its listing a byte at a time fails over within 3 request timeouts', { timeout: 20_000 }, async () => {
    const LISTING =
      '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><KeyCount>1</KeyCount><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>3</Size><ETag>"e"</ETag></Contents></ListBucketResult>';
    let trickled = 0;
    const trickling = await serve((_q, res) => {
      trickled++;
      res.writeHead(200, { 'content-type': 'application/xml', 'content-length': String(LISTING.length) });
      let at = 0;
      // One byte every 100 ms: never idle for a whole timeout (300 ms), never done within 900 ms.
      const t = setInterval(() => {
        if (res.destroyed || at >= LISTING.length) return clearInterval(t);
        res.write(LISTING[at++]!);
      }, 100);
    });
    const answering = await serve((_q, res) => res.writeHead(200, { 'content-type': 'application/xml' }).end(LISTING));
    const c = await PoolS3Client.open({ pool: 'p', members: [trickling, answering], credentials }, { ...opts, timeoutMs: 300 });
    try {
      const started = Date.now();
      const keys: string[] = [];
      await c.listObjectsDetailed('b', (page) => keys.push(...page.map((o) => o.key)));
      expect(keys).toEqual(['k']);
      expect(trickled).toBe(1);
      // The whole answer would take ~22 s; the deadline cuts it at 0.9 s (bound loose for loaded machines).
      expect(Date.now() - started).toBeLessThan(6000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(850);
    } finally {
      c.close();
    }

    // Only the trickling member: the error names the deadline.
    const alone = await PoolS3Client.open({ pool: 'p', members: [trickling], credentials }, { ...opts, timeoutMs: 300, retries: 0 });
    try {
      await expect(alone.listObjectsDetailed('b', () => {})).rejects.toThrow(/listing not answered within 0\.9s/);
    } finally {
      alone.close();
    }
  });
});

describe("PoolS3Client with the client's own signal", () => {
  const hung: Array<Awaited<ReturnType<typeof hangingMember>>> = [];
  afterEach(async () => {
    await Promise.all(hung.splice(0).map((m) => m.close()));
  });
  const hanging = async () => {
    const m = await hangingMember();
    hung.push(m);
    return m;
  };
  const until = async (what: string, ok: () => boolean, ms = 5000) => {
    const t0 = Date.now();
    while (!ok()) {
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('cuts the requests in flight (SDK and listings) and the one waiting for a slot: each rejects with the abort, every connection closed', async () => {
    const member = await hanging();
    const abort = new AbortController();
    // A request timeout far beyond the test: only the abort can end these calls.
    const c = await PoolS3Client.open(
      { pool: 'p', members: [member.address], credentials },
      { ...opts, timeoutMs: 60_000, concurrency: 2, signal: abort.signal },
    );
    const calls = [c.listBuckets(), c.bucketStats('b'), c.hasObjects('c')].map((p) =>
      p.then(
        () => 'answered',
        (e: unknown) => e,
      ),
    );
    await until('two requests at the member', () => member.requests() === 2);
    const reason = new DOMException('stopping', 'AbortError');
    const t0 = Date.now();
    abort.abort(reason);
    const outcomes = await Promise.all(calls);
    // The same abort, not a pool error (unreachable, timeout): nothing of it is reported as a pool's state.
    for (const o of outcomes) expect(o).toBe(reason);
    expect(Date.now() - t0).toBeLessThan(5000);
    // The third call never reached the member; the two in flight had their sockets destroyed.
    expect(member.requests()).toBe(2);
    await until('the connections closed', () => member.openConnections() === 0);
    // A client whose signal is aborted starts nothing.
    await expect(c.listBuckets()).rejects.toBe(reason);
    expect(member.requests()).toBe(2);
    c.close();
  });

  it('cuts the backoff between rounds', async () => {
    const [dead] = await freePorts(1);
    const abort = new AbortController();
    const c = await PoolS3Client.open(
      { pool: 'p', members: [`127.0.0.1:${dead}`], credentials },
      { ...opts, retries: 5, backoffMs: 30_000, signal: abort.signal },
    );
    const call = c.bucketStats('b').then(
      () => 'answered',
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 200));
    abort.abort();
    expect(await call).toBe(abort.signal.reason);
    c.close();
  });

  it('listPools: an abort rejects the whole listing (no pool reported unreachable) and closes every connection', async () => {
    const [slow, fast] = [await hanging(), await hanging()];
    const abort = new AbortController();
    const members = new Map([
      ['slow', [slow.address]],
      ['fast', [fast.address]],
    ]);
    const access = {
      usable: new Set(members.keys()),
      problems: new Map<string, string>(),
      open: (pool: string, overrides?: { signal?: AbortSignal }) =>
        PoolS3Client.open({ pool, members: members.get(pool)!, credentials }, { ...opts, timeoutMs: 60_000, ...overrides }),
    };
    const listing = listPools(access, ['slow', 'fast'], undefined, abort.signal).then(
      () => 'listed',
      (e: unknown) => e,
    );
    await until('both pools asked', () => slow.requests() === 1 && fast.requests() === 1);
    abort.abort();
    expect(await listing).toBe(abort.signal.reason);
    await until('the connections closed', () => slow.openConnections() + fast.openConnections() === 0);
  });
});
