import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';

/**
 * Real S3 servers for integration tests: s3rver instances, each in a child process (so one can be
 * killed like a crashed pool member, and so it runs with --openssl-legacy-provider for listings
 * longer than one page). Two instances on the same directory are two members of one pool sharing
 * its storage, as nanio members share theirs.
 *
 * s3rver never verifies SigV4 signatures and only accepts the access key id `S3RVER`; wrong
 * credentials are tested against `refusingS3Server` instead.
 */
const CHILD = join(import.meta.dirname, 's3rver-child.cjs');
export const S3RVER_ACCESS_KEY = 'S3RVER';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export class S3Member {
  private child: ChildProcess | null = null;
  port = 0;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts (or restarts, on the same port) the server. */
  async start(): Promise<this> {
    const child = spawn(process.execPath, ['--openssl-legacy-provider', CHILD, this.dir, String(this.port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    this.child = child;
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    this.port = await new Promise<number>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').once('data', (d: string) => resolve((JSON.parse(d.split('\n')[0]!) as { port: number }).port));
      child.once('exit', (code) => reject(new Error(`s3rver exited (${code}): ${err}`)));
    });
    return this;
  }

  /** Kills the process abruptly (a crashed member). */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((r) => {
      c.once('exit', () => r());
      c.kill('SIGKILL');
    });
    live.delete(c);
    this.child = null;
  }
}

export async function startMembers(root: string, spec: Record<string, number>): Promise<Record<string, S3Member[]>> {
  const out: Record<string, S3Member[]> = {};
  await Promise.all(
    Object.entries(spec).map(async ([pool, n]) => {
      const dir = join(root, pool);
      out[pool] = await Promise.all(Array.from({ length: n }, () => new S3Member(dir).start()));
    }),
  );
  return out;
}

/**
 * An SDK client with the settings the field notes require (path style, checksums when required),
 * for a test's own direct access to a server (seeding, inventories). It retries transient network
 * errors: a keep-alive socket left idle past the server's keep-alive timeout (a slow seeding step
 * on a loaded machine) can be reset as it is reused, which the SDK reports as
 * "TimeoutError: socket hang up" (seen in CI). S3 errors (404, 403) are not retried.
 */
export function s3Client(endpoint: string, credentials = { accessKeyId: S3RVER_ACCESS_KEY, secretAccessKey: 'S3RVER' }): S3Client {
  return new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
}

/**
 * A tiny HTTP server that refuses every request like an S3 server that verifies signatures and
 * does not accept the credentials: 403 with an S3 error document. `code` can be switched.
 */
export async function refusingS3Server(
  code: 'InvalidAccessKeyId' | 'SignatureDoesNotMatch',
): Promise<{ address: string; setCode(c: typeof code): void; requests(): number; close(): Promise<void> }> {
  let current = code;
  let count = 0;
  const server: Server = createServer((req, res) => {
    count++;
    req.resume();
    req.on('end', () => {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${current}</Code><Message>refused by the test server</Message><RequestId>test</RequestId></Error>`,
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    setCode: (c) => (current = c),
    requests: () => count,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * A pool member that accepts connections and requests and never answers: what only an abort (or a
 * timeout) can end. Counts the requests it got and the connections still open.
 */
export async function hangingMember(): Promise<{ address: string; requests(): number; openConnections(): number; close(): Promise<void> }> {
  const open = new Set<Socket>();
  let count = 0;
  const server: Server = createServer(() => {
    count++;
  });
  server.on('connection', (sock: Socket) => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    requests: () => count,
    openConnections: () => open.size,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * Seeds many objects straight into an s3rver directory (its filesystem store: `<bucket>/<key>
 * ._S3rver_object` plus `._S3rver_metadata.json`; the md5 file is created on first read), the way
 * s3rver's own `configureBuckets` provisions: thousands of keys in milliseconds instead of seconds
 * of PUTs. The bucket must exist (create it through S3 first).
 */
export function seedOnDisk(poolDir: string, bucket: string, keys: readonly string[], body: string): void {
  for (const key of keys) {
    const base = join(poolDir, bucket, key);
    mkdirSync(dirname(base), { recursive: true });
    writeFileSync(`${base}._S3rver_object`, body);
    writeFileSync(`${base}._S3rver_metadata.json`, JSON.stringify({ 'content-type': 'application/octet-stream' }));
  }
}
