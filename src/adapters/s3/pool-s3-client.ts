import type { S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { PoolAccessError } from '../../domain/buckets/pool-access-error.js';
import type {
  BucketStats,
  ListedEntry,
  ObjectEntry,
  PoolEndpoint,
  PoolStorage,
  PoolStorageFactory,
  PoolStorageOptions,
} from '../../ports/pool-storage.js';
import {
  abortReason,
  connectionError,
  contentLength,
  RawConnection,
  requestHead,
  type AnswerHead,
  type Deadline,
} from './raw-connection.js';
import { EMPTY_SHA256, SigV4Signer, uriEscape, UNSIGNED_PAYLOAD } from './sigv4.js';
import { SpliceError, startRelay, type RunningRelay } from './splice-relay.js';

type Sdk = typeof import('@aws-sdk/client-s3');
/** The SDK module, for callers of `transfer` that build their own commands. */
export type S3Sdk = Sdk;

/** Options of one `transfer`. */
export interface TransferOptions {
  /** Aborts the request in flight and the backoff between rounds; no other member is tried. */
  signal?: AbortSignal;
  /** HTTP statuses rethrown as the SDK raised them (e.g. 412 of an `IfMatch`, 416 of a `Range`). */
  passThrough?: readonly number[];
}

/**
 * One request of the data path (`dataRequest`): GET or PUT of one object (or part) of a bucket.
 * `body`: a Buffer (signed payload; replayed on failover) or a stream of exactly the
 * `content-length` header's bytes (sent with `x-amz-content-sha256: UNSIGNED-PAYLOAD`, once: no
 * failover, no retry, the caller starts over).
 */
export interface DataRequest {
  method: 'GET' | 'PUT' | 'HEAD';
  bucket: string;
  key: string;
  query?: Readonly<Record<string, string>>;
  headers?: Readonly<Record<string, string>>;
  body?: Buffer | Readable;
}

/** A 2xx answer of the data path: its body is the caller's to consume or destroy. */
export interface DataResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

/**
 * The region the pools' requests are signed for (nanio and s3rver accept any; the SDK clients are
 * configured with the same one, so both paths sign alike).
 */
const REGION = 'us-east-1';

/** How long a kept-alive socket may stay idle (see agentFor). */
const IDLE_SOCKET_MS = 3000;

/** Bytes of a non-2xx answer's body read for its error code at most (the rest is drained unread). */
const ERROR_BODY_CHARS = 4096;

/** A non-2xx answer as an error shaped like the SDK's: its S3 code only, never the server's message. */
function s3AnswerError(status: number, text: string): Error {
  const code = /<Code>([^<]{1,64})<\/Code>/.exec(text)?.[1] ?? (status === 404 ? 'NotFound' : `HTTP${status}`);
  return Object.assign(new Error(code), { name: code, Code: code, $metadata: { httpStatusCode: status } });
}

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

/** The path-style path of an object: `/bucket/key`, the key encoded as the SDK does. */
function objectPath(o: { bucket: string; key: string }): string {
  return `/${o.bucket}/${encodeKeyPath(o.key)}`;
}

/** A key in a path-style URL as the SDK writes it: each `/`-separated segment percent-encoded (RFC 3986). */
export function encodeKeyPath(key: string): string {
  if (/^[A-Za-z0-9\-._~/]*$/.test(key)) return key;
  return key.split('/').map(uriEscape).join('/');
}

/** One page of a ListObjectsV2 answer. */
export interface ListObjectsV2Page {
  contents: ListedEntry[];
  isTruncated: boolean;
  nextContinuationToken?: string;
}

/** One request as sent by httpOnce: `path` already encoded (see encodeKeyPath). */
interface WireRequest {
  method: string;
  path: string;
  query: Readonly<Record<string, string>>;
  headers: Readonly<Record<string, string>>;
  body?: Buffer | Readable;
}

const XML_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * The text of an XML element's content: line ends normalised (`\r\n` and `\r` read as `\n`, as
 * every XML parser does, the SDK's included), CDATA sections kept as they are, the five named
 * entities and numeric ones (`&#..;`, `&#x..;`) decoded. An unknown entity is kept as written.
 */
export function xmlText(raw: string): string {
  const text = raw.includes('\r') ? raw.replace(/\r\n?/g, '\n') : raw;
  if (!text.includes('&') && !text.includes('<')) return text;
  let out = '';
  for (const part of text.split(/(<!\[CDATA\[[\s\S]*?\]\]>)/)) {
    if (part.startsWith('<![CDATA[')) {
      out += part.slice(9, -3);
      continue;
    }
    out += part.replace(/&(?:#x([0-9a-fA-F]{1,6})|#([0-9]{1,7})|([a-zA-Z]+));/g, (whole, hex?: string, dec?: string, named?: string) => {
      if (named !== undefined) return XML_ENTITIES[named] ?? whole;
      const cp = parseInt(hex ?? dec!, hex ? 16 : 10);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : whole;
    });
  }
  return out;
}

/** The content of the first `<name>` element of `xml` (undefined when there is none; `<name/>` is ''). */
function element(xml: string, name: string): string | undefined {
  const open = xml.indexOf(`<${name}>`);
  if (open < 0) return xml.includes(`<${name}/>`) ? '' : undefined;
  const start = open + name.length + 2;
  const end = xml.indexOf(`</${name}>`, start);
  return end < 0 ? undefined : xmlText(xml.slice(start, end));
}

/**
 * A ListObjectsV2 answer, read without an XML library: each `<Contents>`'s Key, Size, ETag (quotes
 * stripped) and LastModified; IsTruncated and NextContinuationToken. Text never holds a raw `<`
 * (it is written `&lt;`), so searching for tags is exact whatever the keys hold. A 2xx answer that
 * is not a ListBucketResult is an error (a member that is not an S3 server): it fails over.
 */
export function parseListObjectsV2(xml: string): ListObjectsV2Page {
  if (!/<ListBucketResult[\s>]/.test(xml)) {
    throw Object.assign(new Error('not a ListObjectsV2 answer'), { name: 'InvalidListing' });
  }
  const contents: ListedEntry[] = [];
  let at = 0;
  for (;;) {
    const open = xml.indexOf('<Contents>', at);
    if (open < 0) break;
    const close = xml.indexOf('</Contents>', open);
    if (close < 0) throw Object.assign(new Error('truncated ListObjectsV2 answer'), { name: 'InvalidListing' });
    const block = xml.slice(open + 10, close);
    at = close + 11;
    const key = element(block, 'Key');
    if (key === undefined) continue;
    const modified = element(block, 'LastModified');
    const date = modified ? new Date(modified) : undefined;
    contents.push({
      key,
      size: Number(element(block, 'Size') ?? 0) || 0,
      etag: stripQuotes(element(block, 'ETag')),
      ...(date && !Number.isNaN(date.getTime()) ? { lastModified: date } : {}),
    });
  }
  // Outside the Contents blocks (a key holding `<IsTruncated>` is written with `&lt;` anyway).
  const rest = xml.slice(0, xml.indexOf('<Contents>') < 0 ? xml.length : xml.indexOf('<Contents>')) + xml.slice(at);
  const token = element(rest, 'NextContinuationToken');
  return { contents, isTruncated: element(rest, 'IsTruncated') === 'true', ...(token ? { nextContinuationToken: token } : {}) };
}

/** A response body read whole as UTF-8 (an answer cut short rejects). */
function readText(body: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    body.on('data', (c: Buffer) => chunks.push(c));
    body.once('end', () => {
      ended = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    body.once('error', reject);
    body.once('close', () => {
      if (!ended) reject(Object.assign(new Error('answer cut short'), { code: 'ECONNRESET' }));
    });
  });
}
/** A whole listing request (answer read to its end) may take this many request timeouts. */
const LIST_DEADLINE_FACTOR = 3;

let sdkPromise: Promise<Sdk> | null = null;
/**
 * The SDK costs ~0.3 s to load, and once one of its clients has sent a request, plain Node http
 * streaming of large bodies in the process triggers many more full garbage collections: only the
 * requests that need SDK commands (ListBuckets, CreateBucket, DeleteObjects, multipart uploads)
 * load it. The data path and listings never do.
 */
function loadSdk(): Promise<Sdk> {
  sdkPromise ??= import('@aws-sdk/client-s3');
  return sdkPromise;
}

/** Codes that say the credentials themselves are refused: trying another member changes nothing. */
const AUTH_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'InvalidToken',
  'ExpiredToken',
  'AuthorizationHeaderMalformed',
  'Forbidden',
]);
/** Codes of an S3 answer that is final (the caller handles it); everything else fails over. */
const FINAL_CODES = new Set([
  'NoSuchBucket',
  'NoSuchKey',
  'NotFound',
  'BucketAlreadyOwnedByYou',
  'BucketAlreadyExists',
  'BucketNotEmpty',
  'InvalidBucketName',
]);

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function statusOf(e: unknown): number | undefined {
  return (e as SdkError)?.$metadata?.httpStatusCode;
}

function codeOf(e: unknown): string {
  const err = e as SdkError;
  return err?.Code ?? err?.name ?? err?.code ?? 'Error';
}

/** A timeout of this client's own, whose message says it in the operator's words. */
class OwnTimeout extends Error {
  override readonly name = 'TimeoutError';
  readonly code = 'ETIMEDOUT';
}

/**
 * What went wrong with one member, in words safe to print: network codes and S3 error codes only.
 * A server's own message is never repeated: it may echo the access key id.
 */
function describeFailure(e: unknown, timeoutMs: number): string {
  const err = e as SdkError & { message?: string };
  const status = statusOf(e);
  if (status !== undefined) return `HTTP ${status} ${codeOf(e)}`;
  if (err instanceof OwnTimeout) return err.message;
  if (err?.name === 'TimeoutError' || /timeout/i.test(err?.message ?? '')) return `no answer within ${timeoutMs / 1000}s`;
  if (err?.code === 'ECONNREFUSED') return 'connection refused';
  if (err?.code) return err.code;
  return `${err?.name ?? 'error'} (not an S3 answer?)`;
}

/**
 * An S3 client for one pool. The data path (`dataRequest`: GET, PUT, UploadPart) and listings are
 * plain HTTP requests signed by our own SigV4 signer (sigv4.ts), without the SDK. Other commands
 * go through @aws-sdk/client-s3, loaded on first use, with the settings the field notes require:
 * path-style addressing, region us-east-1, checksums only when the operation requires them (a
 * streamed body otherwise goes out aws-chunked and nanio stores the framing as the object).
 *
 * Fails over across the enabled members (sticky to the last one that answered), retries whole
 * rounds with exponential backoff, bounds requests in flight per pool, and never lists with v1
 * (nanio has no `marker` paging) nor with a delimiter (nanio repeats common prefixes).
 */
export class PoolS3Client implements PoolStorage {
  readonly pool: string;
  private clients: S3Client[] | null = null;
  private sdk: Sdk | null = null;
  /**
   * One keep-alive agent per member, shared by the data path and the SDK clients (the SDK otherwise
   * opens a socket per request of 2 MiB or more). Idle sockets close after 3 s: before the members'
   * own keep-alive timeouts (5 s for uvicorn and Node servers) can close one under a request reusing
   * it ("socket hang up").
   */
  private agents: Array<Agent | undefined> = [];
  private readonly signer: SigV4Signer;
  private socketsWanted: number;
  private preferred = 0;
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  private constructor(
    private readonly endpoint: PoolEndpoint,
    private readonly opts: PoolStorageOptions,
  ) {
    this.pool = endpoint.pool;
    this.socketsWanted = Math.max(opts.maxSockets ?? 50, opts.concurrency);
    this.signer = new SigV4Signer(
      { accessKeyId: endpoint.credentials.accessKeyId, secretAccessKey: endpoint.credentials.secretAccessKey },
      REGION,
      's3',
    );
  }

  static async open(endpoint: PoolEndpoint, opts: PoolStorageOptions): Promise<PoolS3Client> {
    if (endpoint.members.length === 0) {
      throw new PoolAccessError(
        endpoint.pool,
        'unreachable',
        `pool ${endpoint.pool} has no enabled member to talk to.`,
        'Enable a member of the pool in its manifest.',
      );
    }
    return new PoolS3Client(endpoint, opts);
  }

  private agentFor(index: number): Agent {
    return (this.agents[index] ??= new Agent({ keepAlive: true, maxSockets: this.socketsWanted, timeout: IDLE_SOCKET_MS }));
  }

  /** The SDK and one client per member, loaded and made on first use. */
  private async sdkClients(): Promise<{ sdk: Sdk; clients: S3Client[] }> {
    const sdk = (this.sdk ??= await loadSdk());
    this.clients ??= this.endpoint.members.map(
      (m, i) =>
        new sdk.S3Client({
          endpoint: `http://${m}`,
          forcePathStyle: true,
          region: REGION,
          credentials: { accessKeyId: this.endpoint.credentials.accessKeyId, secretAccessKey: this.endpoint.credentials.secretAccessKey },
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
          // Retries and failover are ours: across members, not against the same one.
          maxAttempts: 1,
          // No `Expect: 100-continue` round trip before bodies of 2 MiB or more (members answer
          // directly; the SDK also gives such requests a socket of their own, without keep-alive).
          expectContinueHeader: false,
          // socketTimeout: no byte for that long fails the request (this SDK's requestTimeout only
          // warns unless told to throw); a whole request is bounded at three times that.
          requestHandler: {
            connectionTimeout: Math.min(2000, this.opts.timeoutMs),
            socketTimeout: this.opts.timeoutMs,
            requestTimeout: this.opts.timeoutMs * 3,
            throwOnRequestTimeout: true,
            httpAgent: this.agentFor(i),
          },
        }),
    );
    return { sdk, clients: this.clients };
  }

  private async acquire(): Promise<void> {
    const own = this.opts.signal;
    own?.throwIfAborted();
    if (this.active < Math.max(1, this.opts.concurrency)) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        own?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(own!.reason);
      };
      this.waiting.push(grant);
      own?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  /** A call's own signal joined with the client's (PoolStorageOptions.signal); either may be absent. */
  private joined(signal: AbortSignal | undefined): AbortSignal | undefined {
    const own = this.opts.signal;
    if (!own || own === signal) return signal ?? own;
    return signal ? AbortSignal.any([own, signal]) : own;
  }

  /** Sends one command with failover and retries; S3 answers that are final are rethrown as they are. */
  private async send<T>(make: (sdk: Sdk) => unknown, what: string): Promise<T> {
    await this.acquire();
    try {
      const { sdk, clients } = await this.sdkClients();
      return await this.attempt<T>(
        (i, signal) => clients[i]!.send(make(sdk) as never, signal ? { abortSignal: signal } : undefined) as Promise<T>,
        what,
        {},
      );
    } finally {
      this.release();
    }
  }

  /**
   * For bulk transfers (the migration copier): one command with the same failover and retries as
   * every other request, outside this pool's request limit (the caller bounds its own transfers in
   * flight, see `reserveSockets`), abortable, with the statuses of `passThrough` rethrown as the SDK
   * raised them. Errors otherwise as for every request: PoolAccessError, or a final S3 answer
   * (NoSuchKey...) as it is. A streamed response body is the caller's to consume or destroy.
   */
  async transfer<T>(make: (sdk: S3Sdk) => unknown, what: string, opts: TransferOptions = {}): Promise<T> {
    const { sdk, clients } = await this.sdkClients();
    return this.attempt<T>(
      (i, signal) => clients[i]!.send(make(sdk) as never, signal ? { abortSignal: signal } : undefined) as Promise<T>,
      what,
      opts,
    );
  }

  /**
   * The data path of bulk copies (GetObject, PutObject, UploadPart): one request over this pool's
   * keep-alive sockets, signed by our SigV4 signer (sigv4.ts: the same signature the SDK's would
   * be), without the SDK: its per-command middleware costs ~5 ms of CPU per request on a small
   * machine, more than the request itself, and loading it costs ~0.3 s and slows large streams (see
   * loadSdk). Same failover, retries and error classification as every other request (a stream body
   * is sent once: see DataRequest). Non-2xx answers are errors shaped like the SDK's
   * (`$metadata.httpStatusCode`, `Code`), never carrying the server's message.
   */
  async dataRequest(req: DataRequest, what: string, opts: TransferOptions = {}): Promise<DataResponse> {
    const streamed = req.body !== undefined && !Buffer.isBuffer(req.body);
    const headers: Record<string, string> = { ...req.headers };
    if (Buffer.isBuffer(req.body)) {
      headers['content-length'] = String(req.body.length);
      headers['x-amz-content-sha256'] = createHash('sha256').update(req.body).digest('hex');
    } else if (streamed) {
      if (headers['content-length'] === undefined) throw new Error('dataRequest: a stream body needs a content-length header');
      headers['x-amz-content-sha256'] = UNSIGNED_PAYLOAD;
    } else {
      headers['x-amz-content-sha256'] = EMPTY_SHA256;
    }
    const wire: WireRequest = { method: req.method, path: objectPath(req), query: req.query ?? {}, headers, body: req.body };
    return this.attempt((i, signal) => this.httpOnce(i, wire, signal), what, { ...opts, once: streamed });
  }

  /**
   * The GET of a whole object over a connection of its own, without Node's HTTP client
   * (raw-connection.ts): its body left in the socket for `splicePut`. The same failover, retries,
   * errors and `passThrough` as dataRequest. Null when the member answered 2xx without a
   * Content-Length (chunked): the caller asks again through dataRequest.
   */
  async openStream(req: { bucket: string; key: string }, what: string, opts: TransferOptions = {}): Promise<SourceStream | null> {
    const wire: WireRequest = { method: 'GET', path: objectPath(req), query: {}, headers: { 'x-amz-content-sha256': EMPTY_SHA256 } };
    return this.attempt((i, signal) => this.openStreamOnce(i, wire, signal), what, opts);
  }

  private async openStreamOnce(index: number, wire: WireRequest, signal: AbortSignal | undefined): Promise<SourceStream | null> {
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

  /**
   * A PUT whose body is another pool's answer (`openStream`), moved socket to socket by the splice
   * relay (splice-relay.ts) over a connection of its own: Content-Length the source's,
   * `UNSIGNED-PAYLOAD`, sent once (no failover, no retry: the caller starts over with a new GET).
   * Resolves with the ETag answered; rejects with the destination's error answer (read even when
   * it came early and closed the connection), the source's failure, a timeout (no byte moved for
   * the client's timeout), the abort, or the stream's cut reason; with a SpliceError whose
   * `refused` is true when the system refused splice(2) itself (nothing was copied).
   */
  async splicePut(
    req: { bucket: string; key: string; headers: Readonly<Record<string, string>> },
    source: SourceStream,
    what: string,
    opts: TransferOptions = {},
  ): Promise<string | undefined> {
    const headers = { ...req.headers, 'content-length': String(source.length), 'x-amz-content-sha256': UNSIGNED_PAYLOAD };
    const wire: WireRequest = { method: 'PUT', path: objectPath(req), query: {}, headers };
    return this.attempt((i, signal) => this.splicePutOnce(i, wire, source, signal), what, { ...opts, once: true });
  }

  private async splicePutOnce(
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
        const early = await conn.readHead({ ms: Math.min(1000, this.opts.timeoutMs), error: () => failure.error }).catch(() => null);
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
      relay = startRelay(srcFd, conn.lend(), left, this.opts.timeoutMs);
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
      if (err.code === 'TIMEOUT') return { error: this.noAnswer() };
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
    const { member, hostname, port } = this.address(index);
    const headers = this.signer.sign({
      method: wire.method,
      path: wire.path,
      query: wire.query,
      headers: { ...wire.headers, host: member },
    });
    const head = Buffer.from(requestHead(wire.method, PoolS3Client.target(wire), headers), 'latin1');
    const deadline: Deadline = { ms: this.opts.timeoutMs, error: () => this.noAnswer() };
    const conn = await RawConnection.open(
      hostname,
      port,
      { ms: Math.min(2000, this.opts.timeoutMs), error: () => this.noAnswer() },
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

  /** The host and port of a member (`host:port`, `[v6]:port`). */
  private address(index: number): { member: string; hostname: string; port: number } {
    const member = this.endpoint.members[index]!;
    const colon = member.lastIndexOf(':');
    return { member, hostname: member.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(member.slice(colon + 1)) };
  }

  /** The request target: the path and its query string (keys sorted, RFC 3986, `key` alone for ''). */
  private static target(req: WireRequest): string {
    const { path, query } = req;
    const qs = Object.keys(query)
      .sort()
      .map((k) => (query[k] === '' ? uriEscape(k) : `${uriEscape(k)}=${uriEscape(query[k]!)}`))
      .join('&');
    return qs ? `${path}?${qs}` : path;
  }

  private noAnswer(): Error {
    return new OwnTimeout(`no answer within ${this.opts.timeoutMs / 1000}s`);
  }

  /** One signed request to one member; resolves on a 2xx answer (its body unread), rejects otherwise. */
  private async httpOnce(index: number, req: WireRequest, signal: AbortSignal | undefined): Promise<DataResponse> {
    const { member, hostname, port } = this.address(index);
    const headers = this.signer.sign({ method: req.method, path: req.path, query: req.query, headers: { ...req.headers, host: member } });
    signal?.throwIfAborted();
    return new Promise<DataResponse>((resolve, reject) => {
      // The signal aborts the request until its answer arrives; the body is then the caller's.
      let detach = () => {};
      const r = httpRequest(
        { host: hostname, port, method: req.method, path: PoolS3Client.target(req), headers, agent: this.agentFor(index) },
        (res) => {
          detach();
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            resolve({ status, headers: res.headers, body: res });
            return;
          }
          // An S3 error document: keep its code only (its message may echo the access key id).
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            if (text.length < ERROR_BODY_CHARS) text += d;
          });
          res.on('error', reject);
          res.on('end', () => reject(s3AnswerError(status, text)));
        },
      );
      r.setTimeout(this.opts.timeoutMs, () => r.destroy(this.noAnswer()));
      r.once('socket', (socket) => {
        if (!socket.connecting) return;
        const t = setTimeout(() => r.destroy(this.noAnswer()), Math.min(2000, this.opts.timeoutMs));
        socket.once('connect', () => clearTimeout(t));
        r.once('close', () => clearTimeout(t));
      });
      if (signal) {
        const onAbort = () => r.destroy(abortReason(signal));
        signal.addEventListener('abort', onAbort, { once: true });
        detach = () => signal.removeEventListener('abort', onAbort);
        r.once('close', detach);
      }
      r.on('error', reject);
      const body = req.body;
      if (body === undefined) r.end();
      else if (Buffer.isBuffer(body)) r.end(body);
      else {
        body.once('error', (e) => r.destroy(e));
        body.pipe(r);
      }
    });
  }

  /**
   * One page of a flat ListObjectsV2 (`list-type=2`, no delimiter, no `encoding-type`: the SDK
   * sends none either, and s3rver ignores it), without the SDK, within this pool's request limit.
   * The answer is read whole inside the attempt, so a body cut short fails over like any failure.
   */
  private async listPage(bucket: string, token: string | undefined, maxKeys: number | undefined): Promise<ListObjectsV2Page> {
    const query: Record<string, string> = { 'list-type': '2' };
    if (token !== undefined) query['continuation-token'] = token;
    if (maxKeys) query['max-keys'] = String(maxKeys);
    const wire: WireRequest = { method: 'GET', path: `/${bucket}`, query, headers: { 'x-amz-content-sha256': EMPTY_SHA256 } };
    await this.acquire();
    try {
      return await this.attempt((i, signal) => this.listPageOnce(i, wire, signal), `ListObjectsV2 ${bucket}`, {});
    } finally {
      this.release();
    }
  }

  /**
   * One listing request to one member, answer read whole, within LIST_DEADLINE_FACTOR x the
   * request timeout: the socket-inactivity timeout alone would let a member that trickles its
   * answer a byte at a time hold a listing forever (the SDK's handler capped it the same way).
   */
  private async listPageOnce(index: number, wire: WireRequest, signal: AbortSignal | undefined): Promise<ListObjectsV2Page> {
    const limitMs = LIST_DEADLINE_FACTOR * this.opts.timeoutMs;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new OwnTimeout(`listing not answered within ${limitMs / 1000}s`)), limitMs);
    try {
      // The deadline, or the call's signal, cuts the request and an answer still arriving.
      const stop = signal ? AbortSignal.any([deadline.signal, signal]) : deadline.signal;
      const res = await this.httpOnce(index, wire, stop);
      const cut = () => res.body.destroy(stop.reason as Error);
      if (stop.aborted) cut();
      else stop.addEventListener('abort', cut, { once: true });
      try {
        return parseListObjectsV2(await readText(res.body));
      } catch (e) {
        throw stop.aborted ? stop.reason : e;
      } finally {
        stop.removeEventListener('abort', cut);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** At least n keep-alive sockets per member (a copier with n transfers in flight). */
  reserveSockets(n: number): void {
    if (n <= this.socketsWanted) return;
    this.socketsWanted = n;
    for (const a of this.agents) if (a) a.maxSockets = n;
  }

  /**
   * Calls one member after the other (sticky to the last that answered), rounds with backoff.
   * `once`: one call only (a body that cannot be sent twice): an error that would fail over is
   * rethrown as it is, and the next request starts on the next member. `call` gets the signal that
   * aborts it: the call's own joined with the client's (PoolStorageOptions.signal), or none.
   */
  private async attempt<T>(
    call: (index: number, signal: AbortSignal | undefined) => Promise<T>,
    what: string,
    opts: TransferOptions & { once?: boolean },
  ): Promise<T> {
    const { passThrough } = opts;
    const signal = this.joined(opts.signal);
    const members = this.endpoint.members.length;
    const failures: string[] = [];
    const backoff = this.opts.backoffMs ?? 100;
    for (let round = 0; round <= this.opts.retries; round++) {
      if (round > 0) {
        const pause = backoff * 2 ** (round - 1) * (0.75 + Math.random() / 2);
        await (signal ? sleepUnlessAborted(pause, signal) : sleep(pause));
      }
      for (let i = 0; i < members; i++) {
        signal?.throwIfAborted();
        const index = (this.preferred + i) % members;
        const member = this.endpoint.members[index]!;
        try {
          const out = await call(index, signal);
          this.preferred = index;
          return out;
        } catch (e) {
          signal?.throwIfAborted();
          const status = statusOf(e);
          const code = codeOf(e);
          if (status !== undefined && passThrough?.includes(status)) throw e;
          if (status === 403 || AUTH_CODES.has(code)) {
            throw new PoolAccessError(
              this.pool,
              'access-denied',
              `pool ${this.pool} refused orch's credentials (${what}: HTTP ${status ?? 403} ${code} from member ${member}).`,
              `Check spec.credentials of pool ${this.pool} and the values they reference: the access key must exist on the pool's servers and the secret must match it.`,
            );
          }
          if (FINAL_CODES.has(code)) throw e;
          if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
            throw new PoolAccessError(
              this.pool,
              'error',
              `pool ${this.pool} answered ${what} with HTTP ${status} ${code} (member ${member}).`,
            );
          }
          if (opts.once) {
            this.preferred = (index + 1) % members;
            throw e;
          }
          failures.push(`${member}: ${describeFailure(e, this.opts.timeoutMs)}`);
        }
      }
    }
    throw new PoolAccessError(
      this.pool,
      'unreachable',
      `pool ${this.pool} is unreachable: ${what} failed on every enabled member (${[...new Set(failures)].join('; ')}).`,
      `Check that the members of pool ${this.pool} run and are reachable from this machine (orch talks to them directly, not through the gateway).`,
    );
  }

  /** A final S3 answer (NoSuchBucket...) the caller did not expect, as a PoolAccessError. */
  private unexpected(e: unknown, what: string): Error {
    if (e instanceof PoolAccessError) return e;
    // Aborted by the client's signal: the abort, as it is (not a pool's problem).
    if (this.opts.signal?.aborted && e === this.opts.signal.reason) return e as Error;
    return new PoolAccessError(this.pool, 'error', `pool ${this.pool} answered ${what} with HTTP ${statusOf(e) ?? '-'} ${codeOf(e)}.`);
  }

  async listBuckets(): Promise<string[]> {
    const out = await this.send<{ Buckets?: Array<{ Name?: string }> }>((s) => new s.ListBucketsCommand({}), 'ListBuckets').catch(
      (e: unknown) => {
        throw this.unexpected(e, 'ListBuckets');
      },
    );
    return (out.Buckets ?? []).flatMap((b) => (b.Name ? [b.Name] : [])).sort();
  }

  /** False when the bucket does not exist on the pool. `detailed`: with ETag and last-modified. */
  private async listPages(bucket: string, onPage: (page: ObjectEntry[]) => void, maxKeys?: number, detailed = false): Promise<boolean> {
    let token: string | undefined;
    try {
      do {
        const out = await this.listPage(bucket, token, maxKeys);
        onPage(detailed ? out.contents : out.contents.map((o) => ({ key: o.key, size: o.size })));
        token = out.isTruncated ? out.nextContinuationToken : undefined;
        if (maxKeys) break;
      } while (token);
    } catch (e) {
      if (!(e instanceof PoolAccessError) && (codeOf(e) === 'NoSuchBucket' || statusOf(e) === 404)) return false;
      throw this.unexpected(e, `ListObjectsV2 ${bucket}`);
    }
    return true;
  }

  async listObjects(bucket: string, onPage: (page: ObjectEntry[]) => void): Promise<void> {
    if (!(await this.listPages(bucket, onPage))) {
      throw new PoolAccessError(this.pool, 'error', `bucket ${bucket} does not exist on pool ${this.pool}.`);
    }
  }

  /**
   * Every object with its size, ETag (quotes stripped) and last-modified, page by page (flat
   * ListObjectsV2 of 1,000 keys a page). Throws PoolAccessError when the bucket does not exist.
   */
  async listObjectsDetailed(bucket: string, onPage: (page: ListedEntry[]) => void): Promise<void> {
    if (!(await this.listPages(bucket, onPage as (page: ObjectEntry[]) => void, undefined, true))) {
      throw new PoolAccessError(this.pool, 'error', `bucket ${bucket} does not exist on pool ${this.pool}.`);
    }
  }

  /** Zero objects when the bucket does not exist. */
  async bucketStats(bucket: string): Promise<BucketStats> {
    const stats = { objects: 0, bytes: 0 };
    await this.listPages(bucket, (page) => {
      stats.objects += page.length;
      for (const o of page) stats.bytes += o.size;
    });
    return stats;
  }

  async hasObjects(bucket: string): Promise<boolean> {
    let any = false;
    await this.listPages(bucket, (page) => (any = page.length > 0), 1);
    return any;
  }

  async createBucket(bucket: string): Promise<'created' | 'exists'> {
    try {
      await this.send((s) => new s.CreateBucketCommand({ Bucket: bucket }), `CreateBucket ${bucket}`);
      return 'created';
    } catch (e) {
      const code = codeOf(e);
      if (code === 'BucketAlreadyOwnedByYou' || code === 'BucketAlreadyExists') return 'exists';
      throw this.unexpected(e, `CreateBucket ${bucket}`);
    }
  }

  async deleteObjects(bucket: string, keys: readonly string[]): Promise<Array<{ key: string; code: string }>> {
    const failed: Array<{ key: string; code: string }> = [];
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const out = await this.send<{ Errors?: Array<{ Key?: string; Code?: string }> }>(
        (s) => new s.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        `DeleteObjects ${bucket}`,
      ).catch((e: unknown) => {
        throw this.unexpected(e, `DeleteObjects ${bucket}`);
      });
      for (const e of out.Errors ?? []) failed.push({ key: e.Key ?? '?', code: e.Code ?? 'Error' });
    }
    return failed;
  }

  /** Closes every socket; a later request opens new ones. */
  close(): void {
    for (const c of this.clients ?? []) c.destroy();
    for (const a of this.agents) a?.destroy();
    this.clients = null;
    this.agents = [];
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** An ETag as S3 writes it (`"..."`), without its quotes (S3 ignores every double quote when comparing). */
export function stripQuotes(etag: string | undefined): string {
  return (etag ?? '').replace(/"/g, '');
}

/** The pool storage of production: an S3 client per pool (PoolS3Client). */
export const s3PoolStorage: PoolStorageFactory = {
  open: (endpoint, options) => PoolS3Client.open(endpoint, options),
};
