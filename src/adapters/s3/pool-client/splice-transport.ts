import type { IncomingHttpHeaders } from 'node:http';
import {
  abortReason,
  connectionError,
  contentLength,
  RawConnection,
  requestHead,
  type AnswerHead,
  type Deadline,
} from '../raw-connection.js';
import { SpliceError, startRelay, type RunningRelay } from '../splice-relay.js';
import { ERROR_BODY_CHARS, PoolMembers, s3AnswerError, type WireRequest } from './members.js';

/**
 * The pool client's splice path: a GET whose body stays in its socket (SourceStream), and a PUT
 * fed from that socket by the splice relay (SpliceTransport), each over a connection of its own.
 */

/**
 * The 2xx answer of a GET on a connection of its own (`openStream`), its body still in the socket
 * (what a read brought past the head in `rest`): for `splicePut` to relay, or to close.
 */
export class SourceStream {
  private relay: RunningRelay | null = null;
  /** Why the stream was cut (see `cut`), once it was. */
  cutReason: Error | null = null;

  constructor(
    readonly headers: IncomingHttpHeaders,
    /** The body's length (Content-Length). */
    readonly length: number,
    readonly conn: RawConnection,
    readonly rest: Buffer,
  ) {}

  /** Stops the body where it is: a relay in progress ends (its PUT fails with `err`). */
  cut(err: Error): void {
    this.cutReason ??= err;
    if (this.relay) this.relay.cancel();
    else this.conn.destroy(err);
  }

  /** Closes the connection (once a relay using it has finished). */
  close(): void {
    this.conn.destroy();
  }

  /** @internal splicePut's relay, so that `cut` can stop it. */
  attach(relay: RunningRelay | null): void {
    this.relay = relay;
  }
}

/**
 * The splice path of a pool client: the GET of a whole object over a connection of its own
 * (raw-connection.ts), its body left in the socket, and the PUT that the splice relay
 * (splice-relay.ts, the C addon in native/) feeds from it, socket to socket.
 */
export class SpliceTransport {
  constructor(private readonly members: PoolMembers) {}

  /** One try of PoolS3Client.openStream on one member. */
  async openStreamOnce(index: number, wire: WireRequest, signal: AbortSignal | undefined): Promise<SourceStream | null> {
    const { conn, deadline } = await this.rawRequest(index, wire, signal);
    try {
      const head = await conn.readHead(deadline, signal);
      if (head.status < 200 || head.status >= 300) throw await this.answerError(conn, head, deadline);
      const length = contentLength(head.headers);
      if (head.headers['transfer-encoding'] !== undefined || length === null) {
        conn.destroy();
        return null;
      }
      if (head.rest.length > length) throw connectionError('GetObject answered more bytes than its Content-Length', 'EPROTO');
      return new SourceStream(head.headers, length, conn, head.rest);
    } catch (e) {
      conn.destroy();
      throw e;
    }
  }

  /** One try of PoolS3Client.splicePut on one member (there is only ever one: the body goes once). */
  async splicePutOnce(
    index: number,
    wire: WireRequest,
    source: SourceStream,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    const { conn, deadline } = await this.rawRequest(index, wire, signal, source.rest);
    try {
      const failure = await this.relayBody(source, conn, signal);
      if (failure?.atDestination) {
        // An error answer (sent early, the connection then closed) says more than the broken pipe.
        const early = await conn
          .readHead({ ms: Math.min(1000, this.members.opts.timeoutMs), error: () => failure.error })
          .catch(() => null);
        if (early && (early.status < 200 || early.status >= 300)) throw await this.answerError(conn, early, deadline);
      }
      if (failure) throw failure.error;
      const head = await conn.readHead(deadline, signal);
      if (head.status < 200 || head.status >= 300) throw await this.answerError(conn, head, deadline);
      const etag = head.headers.etag;
      return typeof etag === 'string' ? etag : undefined;
    } finally {
      conn.destroy();
    }
  }

  /**
   * Relays the rest of `source` into `conn`: null when all went, else the error that stopped it
   * (`atDestination`: writing to the destination failed, which may have answered already).
   */
  private async relayBody(
    source: SourceStream,
    conn: RawConnection,
    signal: AbortSignal | undefined,
  ): Promise<{ error: Error; atDestination?: boolean } | null> {
    const left = source.length - source.rest.length;
    if (left === 0) return null;
    if (source.cutReason) return { error: source.cutReason };
    // A Node whose sockets do not expose their descriptor: as if the system refused the relay.
    if (source.conn.fd === null || conn.fd === null)
      throw new SpliceError('ERRNO', 'socket descriptors not available from this Node', 0, 95);
    const srcFd = source.conn.lend();
    let relay: RunningRelay;
    try {
      relay = startRelay(srcFd, conn.lend(), left, this.members.opts.timeoutMs);
    } catch (e) {
      source.conn.giveBack();
      conn.giveBack();
      throw e;
    }
    source.attach(relay);
    const onAbort = () => relay.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await relay.done;
      return null;
    } catch (e) {
      if (signal?.aborted) return { error: abortReason(signal) };
      if (source.cutReason) return { error: source.cutReason };
      const err = e as SpliceError;
      if (err.refused) throw err; // not this copy's failure: the caller goes the Node path
      if (err.code === 'TIMEOUT') return { error: this.members.noAnswer() };
      const moved = source.rest.length + err.moved;
      if (err.code === 'EOF') return { error: connectionError(`the source's answer ended after ${moved} of ${source.length} bytes`) };
      const error = connectionError(
        `relaying the body failed after ${moved} of ${source.length} bytes (${err.message})`,
        err.code === 'DESTINATION' ? 'EPIPE' : 'ECONNRESET',
      );
      return { error, atDestination: err.code === 'DESTINATION' };
    } finally {
      signal?.removeEventListener('abort', onAbort);
      source.attach(null);
      source.conn.giveBack();
      conn.giveBack();
    }
  }

  /** A signed request (head, then `body` when given) sent on a new connection to a member. */
  private async rawRequest(
    index: number,
    wire: WireRequest,
    signal: AbortSignal | undefined,
    body?: Buffer,
  ): Promise<{ conn: RawConnection; deadline: Deadline }> {
    const { member, hostname, port } = this.members.address(index);
    const headers = this.members.signer.sign({
      method: wire.method,
      path: wire.path,
      query: wire.query,
      headers: { ...wire.headers, host: member },
    });
    const head = Buffer.from(requestHead(wire.method, PoolMembers.target(wire), headers), 'latin1');
    const deadline: Deadline = { ms: this.members.opts.timeoutMs, error: () => this.members.noAnswer() };
    const conn = await RawConnection.open(
      hostname,
      port,
      { ms: Math.min(2000, this.members.opts.timeoutMs), error: () => this.members.noAnswer() },
      signal,
    );
    try {
      await conn.write(body && body.length > 0 ? Buffer.concat([head, body]) : head);
    } catch (e) {
      conn.destroy();
      throw e;
    }
    return { conn, deadline };
  }

  /** A non-2xx answer read on a raw connection, as the error dataRequest would raise. */
  private async answerError(conn: RawConnection, head: AnswerHead, deadline: Deadline): Promise<Error> {
    const body = await conn.readBody(head.rest, contentLength(head.headers), ERROR_BODY_CHARS, deadline);
    return s3AnswerError(head.status, body.toString('utf8'));
  }
}
