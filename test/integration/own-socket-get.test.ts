import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PoolS3Client } from '../../src/adapters/s3/pool-s3-client.js';
import { PoolAccessError } from '../../src/core/buckets/pool-storage.js';
import { freePorts } from '../helpers/gateway.js';

/**
 * PoolS3Client's `ownSocket` GET (the request written and the answer's head read on a raw socket,
 * the socket handed on as the body) against raw TCP servers that answer byte for byte as the test
 * says: the same answers and errors as the http.request path, whatever the server does wrong.
 */
const servers: NetServer[] = [];
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A TCP server: `answer` gets the request head and the socket, once the head has arrived. */
async function raw(answer: (head: string, socket: Socket) => void): Promise<{ address: string; heads: string[] }> {
  const heads: string[] = [];
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let data = '';
    const onData = (d: Buffer) => {
      data += d.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      heads.push(data.slice(0, end));
      answer(data.slice(0, end), socket);
    };
    socket.on('data', onData);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, heads };
}

const credentials = { accessKeyId: 'AKID', secretAccessKey: 'SECRET' };
const opts = { timeoutMs: 1000, retries: 0, concurrency: 4, backoffMs: 10 };

async function read(body: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function get(members: string[], o: { signal?: AbortSignal; passThrough?: number[]; timeoutMs?: number } = {}) {
  const c = await PoolS3Client.open({ pool: 'p', members, credentials }, { ...opts, ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) });
  try {
    return await c.dataRequest({ method: 'GET', bucket: 'b', key: 'dir/a b+c', headers: { range: 'bytes=0-9' }, ownSocket: true }, 'GetObject b', { ...(o.signal ? { signal: o.signal } : {}), ...(o.passThrough ? { passThrough: o.passThrough } : {}) });
  } finally {
    c.close();
  }
}

describe('dataRequest ownSocket GET', () => {
  it('sends one signed GET with Connection: close; hands on exactly Content-Length bytes, the rest dropped, split across writes', async () => {
    const s = await raw((_h, socket) => {
      // Head in two writes, the first body bytes with the head's end, more than Content-Length, socket left open.
      socket.write('HTTP/1.1 206 Partial Content\r\nETag: "abc"\r\nContent-Range: bytes 0-9/100\r\n');
      setTimeout(() => socket.write('Content-Length: 10\r\nX-Amz-Meta-Note: a\r\nx-amz-meta-note: b\r\n\r\n0123'), 20);
      setTimeout(() => socket.write('456789EXTRA BYTES'), 40);
    });
    const res = await get([s.address]);
    expect(res.status).toBe(206);
    expect(res.headers).toMatchObject({ etag: '"abc"', 'content-range': 'bytes 0-9/100', 'content-length': '10', 'x-amz-meta-note': 'a, b' });
    expect((await read(res.body)).toString()).toBe('0123456789');
    const head = s.heads[0]!.split('\r\n');
    expect(head[0]).toBe('GET /b/dir/a%20b%2Bc HTTP/1.1');
    expect(head).toContain('connection: close');
    expect(head).toContain('range: bytes=0-9');
    expect(head.some((l) => /^authorization: AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/.test(l))).toBe(true);
  });

  it('skips an interim 100 answer; an empty body ends at once', async () => {
    const s = await raw((_h, socket) => socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const res = await get([s.address]);
    expect(res.status).toBe(200);
    expect((await read(res.body)).length).toBe(0);
  });

  it('a body cut short fails the stream', async () => {
    const s = await raw((_h, socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this'));
    const res = await get([s.address]);
    await expect(read(res.body)).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('a 404 comes back as the SDK raises it (code only), through passThrough', async () => {
    const doc = '<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>key of AKID not found</Message></Error>';
    const s = await raw((_h, socket) => socket.write(`HTTP/1.1 404 Not Found\r\nContent-Length: ${doc.length}\r\n\r\n${doc}`));
    const err = (await get([s.address], { passThrough: [404] }).catch((e: unknown) => e)) as Error & { Code: string; $metadata: { httpStatusCode: number } };
    expect(err.name).toBe('NoSuchKey');
    expect(err.Code).toBe('NoSuchKey');
    expect(err.$metadata.httpStatusCode).toBe(404);
    expect(err.message).not.toContain('AKID');
  });

  it('a 403 is refused credentials (no failover); a 503 fails over to the next member', async () => {
    const refusing = await raw((_h, socket) => socket.end('HTTP/1.1 403 Forbidden\r\n\r\n<Error><Code>SignatureDoesNotMatch</Code></Error>'));
    const denied = (await get([refusing.address]).catch((e: unknown) => e)) as PoolAccessError;
    expect(denied).toBeInstanceOf(PoolAccessError);
    expect(denied.problem).toBe('access-denied');
    expect(denied.message).toBe(`pool p refused orch's credentials (GetObject b: HTTP 403 SignatureDoesNotMatch from member ${refusing.address}).`);

    const busy = await raw((_h, socket) => socket.write('HTTP/1.1 503 Slow Down\r\nTransfer-Encoding: chunked\r\n\r\n2f\r\n<Error><Code>SlowDown</Code><Message>m</Message></Error>\r\n0\r\n\r\n'));
    const good = await raw((_h, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const res = await get([busy.address, good.address]);
    expect((await read(res.body)).toString()).toBe('ok');
    expect(busy.heads.length).toBe(1);
  });

  it('an answer without Content-Length (chunked) is asked again through Node http', async () => {
    const s = await raw((_h, socket) => socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'));
    const res = await get([s.address]);
    expect((await read(res.body)).toString()).toBe('hello');
    expect(s.heads.length).toBe(2);
    expect(s.heads[1]!.toLowerCase()).not.toContain('connection: close');
  });

  it('every member down, silent or not speaking HTTP: one unreachable error naming each', async () => {
    const [dead] = await freePorts(1);
    const silent = await raw(() => {});
    const garbage = await raw((_h, socket) => socket.write('SSH-2.0-OpenSSH\r\n\r\n'));
    const err = (await get([`127.0.0.1:${dead}`, silent.address, garbage.address], { timeoutMs: 300 }).catch((e: unknown) => e)) as PoolAccessError;
    expect(err).toBeInstanceOf(PoolAccessError);
    expect(err.problem).toBe('unreachable');
    expect(err.message).toBe(`pool p is unreachable: GetObject b failed on every enabled member (127.0.0.1:${dead}: connection refused; ${silent.address}: no answer within 0.3s; ${garbage.address}: EPROTO).`);
  });

  it('an abort before the answer rejects at once; a stalled body times out', async () => {
    const silent = await raw(() => {});
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('stop')), 50);
    await expect(get([silent.address], { signal: controller.signal, timeoutMs: 5000 })).rejects.toThrow('stop');
    expect(Date.now() - started).toBeLessThan(1000);

    const stalling = await raw((_h, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome'));
    const res = await get([stalling.address], { timeoutMs: 300 });
    await expect(read(res.body)).rejects.toMatchObject({ name: 'TimeoutError' });
  });
});
