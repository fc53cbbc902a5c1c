import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PoolS3Client, type SourceStream } from '../../src/adapters/s3/pool-s3-client.js';
import { parseHead, RawConnection, requestHead } from '../../src/adapters/s3/raw-connection.js';
import { resetSpliceForTests, SpliceError, spliceAvailability, startRelay } from '../../src/adapters/s3/splice-relay.js';
import { s3ObjectTransfer } from '../../src/adapters/s3/object-copier.js';
import { spliceTurnedOff } from '../../src/composition-root.js';

/**
 * The splice relay (orch's Node-API addon) and the raw connections around it, against real
 * sockets: small servers that answer as S3 members would, or break the way members do (a body cut
 * short, a member that stalls, an early error answer). What must hold every time: the PUT fails
 * with an error that says what happened, promptly, and every connection is closed afterwards (the
 * relay never keeps or closes a descriptor behind JavaScript's back).
 */
const MiB = 1024 * 1024;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const credentials = { accessKeyId: 'AKIDSPLICE', secretAccessKey: 'splice-secret-Qx7' };

type Handler = (socket: Socket, head: string, rest: Buffer) => void;

interface Member {
  address: string;
  /** Connections accepted and still open. */
  open: Set<Socket>;
  heads: string[];
  close(): Promise<void>;
}

const servers: Member[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  resetSpliceForTests();
});

/** A member that reads each request's head, then hands the connection to `handle`. */
async function member(handle: Handler): Promise<Member> {
  const open = new Set<Socket>();
  const heads: string[] = [];
  const server: Server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const head = buf.toString('latin1', 0, end);
      heads.push(head);
      handle(socket, head, buf.subarray(end + 4));
    };
    socket.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const m: Member = {
    address: `127.0.0.1:${port}`,
    open,
    heads,
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
  servers.push(m);
  return m;
}

/** A source answering 200 with `length` in its Content-Length, then `send` of the body. */
function source(length: number, send: (socket: Socket) => void, extra = ''): Promise<Member> {
  return member((socket) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${length}\r\nETag: "abc"\r\nContent-Type: image/png\r\n${extra}\r\n`);
    send(socket);
  });
}

/** A destination that reads the whole body (Content-Length) and answers 200 with its sha256 as ETag. */
function sink(received: Array<{ head: string; sha: string; bytes: number }>): Promise<Member> {
  return member((socket, head, rest) => {
    const length = Number(/content-length: (\d+)/i.exec(head)![1]);
    const hash = createHash('sha256').update(rest);
    let got = rest.length;
    const done = () => {
      const digest = hash.digest('hex');
      received.push({ head, sha: digest, bytes: got });
      socket.end(`HTTP/1.1 200 OK\r\nETag: "${digest}"\r\nContent-Length: 0\r\n\r\n`);
    };
    if (got >= length) return done();
    socket.on('data', (d: Buffer) => {
      hash.update(d);
      got += d.length;
      if (got >= length) done();
    });
    socket.resume();
  });
}

async function client(m: Member, timeoutMs = 5000): Promise<PoolS3Client> {
  return PoolS3Client.open(
    { pool: m.address, members: [m.address], credentials },
    { timeoutMs, retries: 0, concurrency: 4, backoffMs: 10 },
  );
}

/** Sockets this process holds open (its descriptors that are sockets). */
function openSockets(): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function relayOnce(
  src: Member,
  dst: Member,
  opts: { timeoutMs?: number; during?: (s: SourceStream) => void; signal?: AbortSignal } = {},
) {
  const [from, to] = [await client(src, opts.timeoutMs), await client(dst, opts.timeoutMs)];
  const before = openSockets();
  const t0 = performance.now();
  try {
    const stream = await from.openStream({ bucket: 'bkt', key: 'a/b c.bin' }, 'GetObject bkt');
    expect(stream).not.toBeNull();
    opts.during?.(stream!);
    try {
      const etag = await to.splicePut(
        { bucket: 'bkt', key: 'a/b c.bin', headers: { 'content-type': 'image/png' } },
        stream!,
        'PutObject bkt',
        opts.signal ? { signal: opts.signal } : {},
      );
      return { etag, error: null, ms: performance.now() - t0, before };
    } catch (e) {
      return { etag: undefined, error: e as Error, ms: performance.now() - t0, before };
    } finally {
      stream!.close();
    }
  } finally {
    from.close();
    to.close();
  }
}

describe.runIf(process.platform === 'linux')('splice relay', () => {
  it('is built on Linux (npm ci builds it) and ORCH_SPLICE=0, read by the composition root only, turns it off', () => {
    expect(spliceAvailability()).toEqual({ available: true, reason: 'built' });
    expect(spliceTurnedOff({})).toBeNull();
    expect(s3ObjectTransfer({ spliceTurnedOff: spliceTurnedOff({}) }).describe()).toBe(
      'objects of 16-128 MiB go socket to socket by the splice relay',
    );
    expect(spliceTurnedOff({ ORCH_SPLICE: '0' })).toBe('turned off (ORCH_SPLICE=0)');
    expect(s3ObjectTransfer({ spliceTurnedOff: spliceTurnedOff({ ORCH_SPLICE: '0' }) }).describe()).toBe(
      "objects of 16-128 MiB go through Node's HTTP client (the splice relay is turned off (ORCH_SPLICE=0))",
    );
    // The process's own environment is not looked at outside the composition root.
    process.env.ORCH_SPLICE = '0';
    try {
      resetSpliceForTests();
      expect(spliceAvailability()).toEqual({ available: true, reason: 'built' });
    } finally {
      delete process.env.ORCH_SPLICE;
    }
  });

  it('moves a body byte for byte, the bytes read with the head first, with a signed PUT head, and closes both connections', async () => {
    const body = randomBytes(10 * MiB + 7);
    // The head and the first 100 KiB in one write: part of the body arrives with the head.
    const src = await member((socket) => {
      socket.write(
        Buffer.concat([
          Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nETag: "abc"\r\n\r\n`),
          body.subarray(0, 100 * 1024),
        ]),
      );
      socket.end(body.subarray(100 * 1024));
    });
    const received: Array<{ head: string; sha: string; bytes: number }> = [];
    const dst = await sink(received);
    const r = await relayOnce(src, dst);
    expect(r.error).toBeNull();
    expect(received).toHaveLength(1);
    expect(received[0]!.bytes).toBe(body.length);
    expect(r.etag).toBe(`"${sha(body)}"`);
    const head = received[0]!.head;
    expect(head.split('\r\n')[0]).toBe('PUT /bkt/a/b%20c.bin HTTP/1.1');
    expect(head).toMatch(/\r\ncontent-length: 10485767\r\n/);
    expect(head).toMatch(/\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n/);
    expect(head).toMatch(/\r\nauthorization: AWS4-HMAC-SHA256 Credential=AKIDSPLICE\//);
    expect(head).toMatch(/\r\ncontent-type: image\/png\r\n/);
    expect(head).not.toContain('splice-secret');
    expect(src.heads[0]!.split('\r\n')[0]).toBe('GET /bkt/a/b%20c.bin HTTP/1.1');
    await until(() => src.open.size === 0 && dst.open.size === 0);
    await until(() => openSockets() <= r.before);
  });

  it('a source that ends early fails the PUT with how far it got; the destination never gets a whole body', async () => {
    const src = await source(8 * MiB, (socket) => socket.end(randomBytes(3 * MiB)));
    const received: Array<{ head: string; sha: string; bytes: number }> = [];
    const dst = await sink(received);
    const r = await relayOnce(src, dst);
    expect(r.error?.message).toBe(`the source's answer ended after ${3 * MiB} of ${8 * MiB} bytes`);
    expect((r.error as { code?: string }).code).toBe('ECONNRESET');
    expect(received).toEqual([]);
    await until(() => src.open.size === 0 && dst.open.size === 0);
  });

  it("a destination's early error answer is the PUT's error (its S3 code), not a broken pipe", async () => {
    const src = await source(16 * MiB, (socket) => socket.end(randomBytes(16 * MiB)));
    const dst = await member((socket) => {
      const xml = '<?xml version="1.0"?><Error><Code>EntityTooLarge</Code><Message>access key AKIDSPLICE</Message></Error>';
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nContent-Length: ${xml.length}\r\n\r\n${xml}`);
      setTimeout(() => socket.destroy(), 50);
    });
    const r = await relayOnce(src, dst);
    expect(r.error?.message).toContain('HTTP 400 EntityTooLarge');
    expect(r.error?.message).not.toContain('AKIDSPLICE');
    await until(() => src.open.size === 0 && dst.open.size === 0);
  });

  it('a source that stalls mid-body fails the PUT after the timeout with no byte moved, and the relay lets both connections go', async () => {
    const src = await source(8 * MiB, (socket) => socket.write(randomBytes(MiB))); // then nothing, the connection kept open
    const received: Array<{ head: string; sha: string; bytes: number }> = [];
    const dst = await sink(received);
    const r = await relayOnce(src, dst, { timeoutMs: 600 });
    expect(r.error?.message).toBe('no answer within 0.6s');
    expect(r.ms).toBeGreaterThanOrEqual(550);
    expect(r.ms).toBeLessThan(5000);
    expect(received).toEqual([]);
    await until(() => src.open.size === 0 && dst.open.size === 0);
  });

  it("cut (the copier's abort after its grace period) stops a relay in progress at once, with the cut's reason", async () => {
    const src = await source(8 * MiB, (socket) => socket.write(randomBytes(MiB)));
    const dst = await sink([]);
    const reason = new Error('cut by an abort');
    const r = await relayOnce(src, dst, { timeoutMs: 30_000, during: (s) => setTimeout(() => s.cut(reason), 300) });
    expect(r.error).toBe(reason);
    expect(r.ms).toBeLessThan(5000);
    await until(() => src.open.size === 0 && dst.open.size === 0);
  });

  it("the request's signal aborts a relay in progress: the PUT rejects with the abort", async () => {
    const src = await source(8 * MiB, (socket) => socket.write(randomBytes(MiB)));
    const dst = await sink([]);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const r = await relayOnce(src, dst, { timeoutMs: 30_000, signal: ac.signal });
    expect(r.error?.name).toBe('AbortError');
    expect(r.ms).toBeLessThan(5000);
    await until(() => src.open.size === 0 && dst.open.size === 0);
  });

  it('a descriptor splice(2) refuses (a file opened for appending: EINVAL) ends the relay as refused, before a byte is written', async () => {
    // The first bytes reach JavaScript (and stop its reading); the next ones wait in the socket.
    const src = await member((socket) => {
      socket.write('HTTP/1.1 200 OK\r\n\r\n');
      setTimeout(() => socket.write(Buffer.alloc(1000, 7)), 150);
    });
    const dir = mkdtempSync(join(tmpdir(), 'orch-splice-'));
    const conn = await RawConnection.open('127.0.0.1', Number(src.address.split(':')[1]), { ms: 2000, error: () => new Error('timeout') });
    const file = openSync(join(dir, 'appended'), 'a');
    try {
      await conn.write('GET / HTTP/1.1\r\n\r\n');
      await conn.readHead({ ms: 2000, error: () => new Error('timeout') });
      await new Promise((r) => setTimeout(r, 400));
      const relay = startRelay(conn.lend(), file, 1000, 2000);
      const err = (await relay.done.then(
        () => null,
        (e: unknown) => e,
      )) as SpliceError;
      conn.giveBack();
      expect(err).toBeInstanceOf(SpliceError);
      expect({ code: err.code, errno: err.errno, moved: err.moved, refused: err.refused }).toEqual({
        code: 'DESTINATION',
        errno: 22,
        moved: 0,
        refused: true,
      });
      expect(err.message).toBe('writing to the destination: Invalid argument');
      expect(readFileSync(join(dir, 'appended')).length).toBe(0);
    } finally {
      closeSync(file);
      conn.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a chunked answer (no Content-Length) is not relayed: openStream says so and closes it', async () => {
    const src = await member((socket) => socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'));
    const from = await client(src);
    try {
      expect(await from.openStream({ bucket: 'bkt', key: 'k' }, 'GetObject bkt')).toBeNull();
      await until(() => src.open.size === 0);
    } finally {
      from.close();
    }
  });
});

describe('raw requests', () => {
  it('refuse a header that could split the request, and parse answers as Node does', () => {
    expect(() => requestHead('PUT', '/b/k', { 'x-amz-meta-a': 'v\r\nx-injected: 1' })).toThrow(/not a valid header/);
    expect(() => requestHead('PUT', '/b/k', { 'bad name': 'v' })).toThrow(/not a valid header/);
    expect(() => requestHead('PUT', '/b/k x', {})).toThrow(/bad request line/);
    expect(requestHead('GET', '/b/k', { host: 'h:1' })).toBe('GET /b/k HTTP/1.1\r\nhost: h:1\r\nconnection: close\r\n\r\n');
    expect(parseHead('HTTP/1.1 200 OK\r\nETag: "x"\r\nX-A: 1\r\nx-a: 2\r\nX-B: a\r\n  b')).toEqual({
      status: 200,
      headers: { 'etag': '"x"', 'x-a': '1, 2', 'x-b': 'a b' },
    });
    expect(parseHead('SSH-2.0-OpenSSH')).toBeNull();
    expect(parseHead('HTTP/1.1 200 OK\r\nno colon')).toBeNull();
  });
});
