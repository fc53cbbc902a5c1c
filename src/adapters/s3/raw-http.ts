import type { IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';

/**
 * HTTP/1.1 over a socket of its own, for the copier's streamed objects (one GET relayed into one
 * PUT): the request head written and the answer's head parsed here, the bodies moved socket to
 * socket without Node's HTTP client. Node's client copies every body chunk it parses into a new
 * buffer and runs each one through two stream layers; on a 5 x 64 MiB copy that was 35-45% of the
 * copier's CPU. A connection per object costs nothing at the sizes that take this path (16 MiB
 * and more). Requests are sent with `Connection: close`; bodies are counted against their
 * Content-Length, so nothing past them is ever read as data.
 */

/** The head of an answer read at most (status line and headers). */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Bytes of a non-2xx answer's body read for its error code at most (the rest is not read). */
export const ERROR_BODY_CHARS = 4096;

/** A non-2xx S3 answer as the SDK raises it: the error code only (a server's message may echo the access key id). */
export function s3AnswerError(status: number, body: string): Error {
  const code = /<Code>([^<]{1,64})<\/Code>/.exec(body)?.[1] ?? (status === 404 ? 'NotFound' : `HTTP${status}`);
  return Object.assign(new Error(code), { name: code, Code: code, $metadata: { httpStatusCode: status } });
}

function protocolError(what: string): Error {
  return Object.assign(new Error(what), { code: 'EPROTO' });
}

function hangUp(what = 'socket hang up'): Error {
  return Object.assign(new Error(what), { code: 'ECONNRESET' });
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
  let head = `${method} ${target} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    // Never a header that could split the request (http.request refuses them too).
    if (/[\r\n\0]/.test(name) || /[\r\n\0]/.test(value)) throw new Error(`raw request: header ${JSON.stringify(name)} holds a line break`);
    head += `${name}: ${value}\r\n`;
  }
  return `${head}connection: close\r\n\r\n`;
}

/** An answer whose head was read: the socket paused, `rest` the bytes read past the head. */
export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  socket: Socket;
  rest: Buffer;
}

export interface Exchange {
  host: string;
  port: number;
  /** See requestHead. */
  head: string;
  /** Connection timeout (at most 2 s) and inactivity timeout of the socket, for its whole life. */
  timeoutMs: number;
  timeoutError: () => Error;
  /** Aborts the exchange until the answer's head has arrived. */
  signal?: AbortSignal | undefined;
  /** Sends the request body once the head is written (its failure destroys the socket). */
  body?: (socket: Socket) => Promise<void>;
  /** The socket's writable high-water mark (bytes queued before write() says wait). */
  writableHighWaterMark?: number;
}

/**
 * One request on a new connection: resolves once the answer's head has arrived (interim 1xx
 * answers skipped), the socket paused; rejects on a connection failure, a timeout, an abort, a
 * connection closed before the head, or an answer that is not HTTP.
 */
export function exchange(x: Exchange): Promise<RawAnswer> {
  x.signal?.throwIfAborted();
  return new Promise<RawAnswer>((resolve, reject) => {
    const socket = connect({ host: x.host, port: x.port, ...(x.writableHighWaterMark ? { writableHighWaterMark: x.writableHighWaterMark } : {}) });
    socket.setNoDelay(true);
    let pending: Buffer | null = null;
    let settled = false;
    const connectTimer = setTimeout(() => socket.destroy(x.timeoutError()), Math.min(2000, x.timeoutMs));
    const onAbort = () => socket.destroy(x.signal!.reason instanceof Error ? (x.signal!.reason as Error) : new Error('aborted'));
    const onError = (e: Error) => settle(() => reject(e));
    const onClose = () => settle(() => reject(hangUp()));
    const settle = (then: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      x.signal?.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      then();
    };
    const onData = (chunk: Buffer): void => {
      pending = pending ? Buffer.concat([pending, chunk]) : chunk;
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) {
          if (pending.length > MAX_HEAD_BYTES) socket.destroy(protocolError('answer head too long'));
          return;
        }
        const parsed = parseHead(pending.toString('latin1', 0, end));
        if (!parsed) {
          socket.destroy(protocolError('not an HTTP answer'));
          return;
        }
        pending = pending.subarray(end + 4);
        if (parsed.status >= 100 && parsed.status < 200) continue; // interim: the real answer follows
        socket.pause();
        // Errors from here on are the caller's (RawStream, readAnswerError); none may go unhandled.
        socket.on('error', () => {});
        const rest = pending;
        settle(() => resolve({ status: parsed.status, headers: parsed.headers, socket, rest }));
        return;
      }
    };
    socket.once('connect', () => clearTimeout(connectTimer));
    socket.setTimeout(x.timeoutMs, () => socket.destroy(x.timeoutError()));
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    x.signal?.addEventListener('abort', onAbort, { once: true });
    socket.write(x.head, 'latin1');
    x.body?.(socket).catch((e: unknown) => socket.destroy(e instanceof Error ? e : new Error(String(e))));
  });
}

/**
 * The error of a non-2xx answer: its body read up to ERROR_BODY_CHARS, its Content-Length, its last
 * chunk or the end of the connection (chunk framing, if any, is left in: the code is searched for,
 * not parsed), then the connection closed.
 */
export function readAnswerError(answer: RawAnswer): Promise<Error> {
  const { socket, status, headers } = answer;
  const lengthHeader = headers['content-length'];
  const length = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : NaN;
  const limit = Number.isSafeInteger(length) ? Math.min(length, ERROR_BODY_CHARS) : ERROR_BODY_CHARS;
  const chunked = /chunked/i.test(String(headers['transfer-encoding'] ?? ''));
  return new Promise<Error>((resolve) => {
    let text = answer.rest.toString('utf8');
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.off('data', onData);
      socket.destroy();
      resolve(s3AnswerError(status, text));
    };
    const complete = () => text.length >= limit || (chunked && /(^|\r\n)0\r\n\r\n$/.test(text));
    const onData = (d: Buffer) => {
      text += d.toString('utf8');
      if (complete()) finish();
    };
    if (complete()) return finish();
    socket.on('data', onData);
    socket.once('end', finish);
    socket.once('close', finish);
    socket.resume();
  });
}

/**
 * The body of a 2xx answer: exactly `length` bytes (those read past the head first), relayed into
 * another socket with backpressure (the answer's socket paused while the other is full). Bytes
 * past `length` are never read as data: the answer's socket is closed once the body is through.
 */
export class RawStream {
  private destroyed = false;

  constructor(
    private readonly socket: Socket,
    private readonly rest: Buffer,
    readonly length: number,
  ) {}

  /** Closes the answer's connection (with `err`, a relay in progress fails with it). */
  destroy(err?: Error): void {
    this.destroyed = true;
    this.socket.destroy(err);
  }

  /**
   * Writes the body into `out`; resolves once every byte was handed to it (not yet acknowledged by
   * the peer), rejects when the answer ends or fails early, or when `out` closes first.
   */
  relayTo(out: Socket): Promise<void> {
    const src = this.socket;
    return new Promise<void>((resolve, reject) => {
      if (this.destroyed) {
        reject(hangUp('answer body already closed'));
        return;
      }
      let left = this.length;
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        src.off('data', push);
        src.off('end', onEnd);
        src.off('close', onEnd);
        src.off('error', finish);
        out.off('drain', onDrain);
        out.off('close', onOutClose);
        src.destroy();
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => src.resume();
      const push = (chunk: Buffer): void => {
        if (chunk.length >= left) {
          out.write(chunk.length === left ? chunk : chunk.subarray(0, left));
          left = 0;
          finish();
          return;
        }
        left -= chunk.length;
        if (!out.write(chunk)) src.pause();
      };
      const onEnd = () => finish(hangUp(`answer body cut short: ${left} of ${this.length} bytes missing`));
      const onOutClose = () => finish(hangUp('the receiving connection closed during the body'));
      src.on('error', finish);
      src.on('end', onEnd);
      src.on('close', onEnd);
      out.on('drain', onDrain);
      out.on('close', onOutClose);
      if (left === 0) return finish();
      if (this.rest.length > 0) push(this.rest);
      if (!done) {
        src.on('data', push);
        if (!out.writableNeedDrain) src.resume();
      }
    });
  }
}
