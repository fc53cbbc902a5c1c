import type { IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';

/**
 * One HTTP/1.1 request on a connection of its own (`connection: close`), without Node's HTTP
 * client: what the splice relay needs (splice-relay.ts). The connection is read through a buffer
 * of its own (net's `onread`), so reading stops the very moment an answer's head is complete and
 * nothing past it is taken out of the kernel: the body stays in the socket for splice(2).
 *
 * Its descriptor can be lent to the relay (`lend`, `giveBack`). While it is lent, JavaScript
 * neither reads, writes nor closes the connection: `destroy` waits for the descriptor to come back
 * (closing a descriptor a native thread still uses would let the kernel hand its number to a new
 * file or socket, into which the thread would go on writing).
 */

/** Bytes of an answer's head at most; a longer one is not an S3 server's. */
const MAX_HEAD_BYTES = 64 * 1024;
/** One read at most (the kernel's; a head is usually far shorter). */
const READ_BYTES = 64 * 1024;

export interface AnswerHead {
  status: number;
  headers: IncomingHttpHeaders;
  /** Bytes read past the head (the start of the body), a copy of their own. */
  rest: Buffer;
}

/** What an aborted signal rejects with: its reason when it is an Error. */
export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/** A Content-Length header's value as a number, or null when absent or not a plain length. */
export function contentLength(headers: IncomingHttpHeaders): number | null {
  const v = headers['content-length'];
  return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : null;
}

/** A connection that failed, closed or was cut, with a Node-like `code` (ECONNRESET...). */
export function connectionError(message: string, code = 'ECONNRESET'): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * An HTTP/1.x answer's head (status line and header lines, without the blank line): lower-cased
 * names, repeated headers joined with `, ` as Node does. Null when it is not HTTP.
 */
export function parseHead(text: string): { status: number; headers: IncomingHttpHeaders } | null {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]!);
  if (!m) return null;
  const headers: Record<string, string> = {};
  let last = '';
  for (const line of lines.slice(1)) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      headers[last] += ` ${line.trim()}`; // obsolete line folding
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    last = name;
  }
  return { status: Number(m[1]), headers };
}

/** A request head: request line, the headers, `connection: close`, the blank line. */
export function requestHead(method: string, target: string, headers: Readonly<Record<string, string>>): string {
  if (!/^[A-Z]+$/.test(method) || /[\s\0]/.test(target))
    throw new Error(`raw request: bad request line ${method} ${JSON.stringify(target)}`);
  let head = `${method} ${target} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    // Never a header that could split the request (http.request refuses them too).
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(value))
      throw new Error(`raw request: header ${JSON.stringify(name)} is not a valid header`);
    head += `${name}: ${value}\r\n`;
  }
  return `${head}connection: close\r\n\r\n`;
}

export interface Deadline {
  ms: number;
  /** The error of a deadline passed (the client's own timeout error). */
  error: () => Error;
}

export class RawConnection {
  private readonly socket: Socket;
  /** What takes each chunk read (a view of the read buffer, valid during the call); false stops reading. */
  private onChunk: (chunk: Buffer) => boolean = (chunk) => this.keep(chunk);
  /** Chunks read while nobody was reading (an answer before readHead): reading stopped, kept for it. */
  private early: Buffer[] = [];
  private onGone: (e: Error) => void = () => {};
  private failure: Error | null = null;
  private lent = false;
  /** destroy() asked while lent: done by giveBack. */
  private pendingDestroy: { err: Error | undefined } | null = null;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('error', (e) => this.gone(e));
    socket.on('end', () => this.gone(connectionError('the server closed the connection')));
    socket.on('close', () => this.gone(connectionError('the connection closed')));
  }

  /** A connection to host:port, connected within `connect` (a refusal or timeout rejects). */
  static open(host: string, port: number, deadline: Deadline, signal?: AbortSignal): Promise<RawConnection> {
    signal?.throwIfAborted();
    return new Promise<RawConnection>((resolve, reject) => {
      let conn: RawConnection | undefined;
      const socket = connect({
        host,
        port,
        noDelay: true,
        onread: {
          buffer: Buffer.allocUnsafe(READ_BYTES),
          callback: (n: number, buf: Uint8Array) => conn!.onChunk(Buffer.from(buf.buffer, buf.byteOffset, n)),
        },
      });
      conn = new RawConnection(socket);
      const timer = setTimeout(() => socket.destroy(deadline.error()), deadline.ms);
      const onAbort = () => socket.destroy(abortReason(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (e?: Error) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        conn!.onGone = () => {};
        if (e) reject(e);
        else resolve(conn!);
      };
      conn.onGone = done;
      socket.once('connect', () => done());
    });
  }

  /** The connection's descriptor (libuv's), or null when Node does not expose it. */
  get fd(): number | null {
    const fd = (this.socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : null;
  }

  /** Writes `data`; resolves once it is in the kernel's hands (nothing left queued in Node). */
  write(data: string | Buffer): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.socket.write(data, (e) => (e ? reject(e) : resolve()));
    });
  }

  /**
   * Reads the answer's head (interim 1xx answers skipped) and stops reading right after it; `rest`
   * holds what the last read brought past the head. Rejects when the connection fails or closes
   * first, at the deadline, on an abort, or when the answer is not HTTP (each closes it).
   */
  readHead(deadline: Deadline, signal?: AbortSignal): Promise<AnswerHead> {
    let pending = Buffer.alloc(0);
    return this.reading<AnswerHead>(deadline, signal, (chunk, settle) => {
      pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) {
          if (pending.length > MAX_HEAD_BYTES) throw connectionError('answer head too long', 'EPROTO');
          return true;
        }
        const parsed = parseHead(pending.toString('latin1', 0, end));
        if (!parsed) throw connectionError('not an HTTP answer', 'EPROTO');
        pending = pending.subarray(end + 4);
        if (parsed.status >= 100 && parsed.status < 200) continue; // interim: the real answer follows
        settle({ ...parsed, rest: pending });
        return false;
      }
    });
  }

  /**
   * Reads a body up to `limit` bytes, its `length` (when known) or the end of the connection,
   * whichever comes first; `first` is what readHead already read of it. Never rejects for a
   * connection that ends: what was read is the answer.
   */
  readBody(first: Buffer, length: number | null, limit: number, deadline: Deadline): Promise<Buffer> {
    const want = Math.min(limit, length ?? Infinity);
    let body = Buffer.from(first.subarray(0, want));
    if (body.length >= want) return Promise.resolve(body);
    return this.reading<Buffer>(deadline, undefined, (chunk, settle) => {
      body = Buffer.concat([body, chunk]);
      if (body.length < want) return true;
      settle(body.subarray(0, want));
      return false;
    }).catch(() => body);
  }

  /** Lends the descriptor to a native relay (see the module comment); reading must be stopped. */
  lend(): number {
    const fd = this.fd;
    if (fd === null || this.failure || this.socket.writableLength > 0) throw connectionError('connection not usable for a relay', 'EBADF');
    this.lent = true;
    return fd;
  }

  /** The relay is done with the descriptor: a destroy asked meanwhile happens now. */
  giveBack(): void {
    this.lent = false;
    if (this.pendingDestroy) {
      const { err } = this.pendingDestroy;
      this.pendingDestroy = null;
      this.destroy(err);
    }
  }

  /** Closes the connection (at once, or when the descriptor comes back from a relay). */
  destroy(err?: Error): void {
    if (this.lent) {
      this.pendingDestroy ??= { err };
      return;
    }
    this.socket.destroy(err);
  }

  private keep(chunk: Buffer): boolean {
    this.early.push(Buffer.from(chunk));
    return false;
  }

  private gone(e: Error): void {
    this.failure ??= e;
    this.onGone(this.failure);
  }

  /** Reads chunk by chunk into `take` until it settles; the deadline covers silence between reads. */
  private reading<T>(
    deadline: Deadline,
    signal: AbortSignal | undefined,
    take: (chunk: Buffer, settle: (v: T) => void) => boolean,
  ): Promise<T> {
    if (this.lent) return Promise.reject(connectionError('connection lent to a relay', 'EBUSY'));
    if (this.failure && this.early.length === 0) return Promise.reject(this.failure);
    signal?.throwIfAborted();
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => fail(deadline.error()), deadline.ms);
      const onAbort = () => fail(abortReason(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      const finish = () => {
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.onChunk = (chunk) => this.keep(chunk);
        this.onGone = () => {};
      };
      const fail = (e: Error) => {
        if (done) return;
        finish();
        this.destroy(e);
        reject(e);
      };
      this.onGone = fail;
      this.onChunk = (chunk) => {
        if (done) return false;
        timer.refresh();
        try {
          return take(chunk, (v) => {
            finish();
            resolve(v);
          });
        } catch (e) {
          fail(e as Error);
          return false;
        }
      };
      for (let chunk = this.early.shift(); chunk && !done; chunk = this.early.shift()) {
        if (!this.onChunk(chunk)) return;
      }
      if (done) return;
      if (this.failure) fail(this.failure);
      else this.socket.resume();
    });
  }
}
