import type { S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { PoolAccessError, type BucketStats, type ObjectEntry, type PoolStorage } from '../../core/buckets/pool-storage.js';
import type { CredentialValues } from '../../core/secrets/credential-cipher.js';
import { EMPTY_SHA256, SigV4Signer, uriEscape, UNSIGNED_PAYLOAD } from './sigv4.js';

/** How to reach one nanio pool: its enabled members, directly (never through the gateway). */
export interface PoolEndpoint {
  pool: string;
  /** `host:port` of the enabled members, in manifest order. */
  members: string[];
  credentials: CredentialValues;
}

export interface S3ClientOptions {
  /** One request (socket inactivity), per member. */
  timeoutMs: number;
  /** Extra rounds over every member after all of them failed, with exponential backoff. */
  retries: number;
  /** Requests in flight for this pool at most. */
  concurrency: number;
  /** Base backoff between rounds (doubled each round). */
  backoffMs?: number;
  /** Keep-alive sockets per member at most (default: 50, or `concurrency` when larger). */
  maxSockets?: number;
}

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
  /**
   * GET only: over a connection of its own (`Connection: close`), the answer read off the socket
   * without Node's HTTP client (see rawGetOnce). For large bodies streamed elsewhere: it saves a
   * quarter of the copier's CPU per byte; a connection per request costs nothing at that size.
   */
  ownSocket?: boolean;
}

/** A 2xx answer of the data path: its body is the caller's to consume or destroy. */
export interface DataResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Exactly the answer's bytes (an IncomingMessage, or the socket of an `ownSocket` GET). */
  body: Readable;
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

/** The head of an answer read off a raw socket at most (status line and headers). */
const MAX_HEAD_BYTES = 64 * 1024;

function timeoutError(what: string): Error {
  return Object.assign(new Error(what), { name: 'TimeoutError', code: 'ETIMEDOUT' });
}

/** A non-2xx answer as the SDK raises it: the S3 error code only (a server's message may echo the access key id). */
function s3Error(status: number, body: string): Error {
  const code = /<Code>([^<]{1,64})<\/Code>/.exec(body)?.[1] ?? (status === 404 ? 'NotFound' : `HTTP${status}`);
  return Object.assign(new Error(code), { name: code, Code: code, $metadata: { httpStatusCode: status } });
}

/**
 * An HTTP/1.x answer's head (status line and header lines, without the blank line): lower-cased
 * names, repeated headers joined with `, ` as Node does. Null when it is not HTTP.
 */
function parseHead(text: string): { status: number; headers: IncomingHttpHeaders } | null {
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

/**
 * The body of an `ownSocket` answer: the socket's bytes after the head, exactly `length` of them
 * (whatever the server sends after is dropped, and the socket closed), with backpressure (the
 * socket is paused while the reader is full). A socket that ends or fails earlier fails the body.
 */
class SocketBody extends Readable {
  private remaining: number;

  constructor(
    private readonly socket: Socket,
    length: number,
  ) {
    // 256 KiB buffered before the socket is paused (fewer pause/resume rounds than the default 16 KiB).
    super({ highWaterMark: 256 * 1024 });
    this.remaining = length;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
    if (length === 0) this.finish(null);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (chunk.length >= this.remaining) {
      this.finish(chunk.length === this.remaining ? chunk : chunk.subarray(0, this.remaining));
      return;
    }
    this.remaining -= chunk.length;
    if (!this.push(chunk)) this.socket.pause();
  };

  private readonly onEnd = (): void => {
    if (this.remaining > 0) this.destroy(Object.assign(new Error('answer cut short'), { code: 'ECONNRESET' }));
  };

  private readonly onError = (e: Error): void => {
    this.destroy(e);
  };

  private finish(last: Buffer | null): void {
    this.remaining = 0;
    this.detach();
    this.socket.destroy();
    if (last) this.push(last);
    this.push(null);
  }

  private detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    // A late error of the closed socket must not go unhandled.
    this.socket.on('error', () => {});
  }

  override _read(): void {
    if (this.remaining > 0) this.socket.resume();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.detach();
    this.socket.destroy();
    cb(err);
  }
}

/** A key in a path-style URL as the SDK writes it: each `/`-separated segment percent-encoded (RFC 3986). */
export function encodeKeyPath(key: string): string {
  if (/^[A-Za-z0-9\-._~/]*$/.test(key)) return key;
  return key.split('/').map(uriEscape).join('/');
}

/** One object of a detailed listing: what ListObjectsV2 says of it, ETag without quotes. */
export interface ListedEntry {
  key: string;
  size: number;
  etag: string;
  lastModified?: Date;
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
    contents.push({ key, size: Number(element(block, 'Size') ?? 0) || 0, etag: stripQuotes(element(block, 'ETag')), ...(date && !Number.isNaN(date.getTime()) ? { lastModified: date } : {}) });
  }
  // Outside the Contents blocks (a key holding `<IsTruncated>` is written with `&lt;` anyway).
  const rest = xml.slice(0, xml.indexOf('<Contents>') < 0 ? xml.length : xml.indexOf('<Contents>')) + xml.slice(at);
  const token = element(rest, 'NextContinuationToken');
  return { contents, isTruncated: element(rest, 'IsTruncated') === 'true', ...(token ? { nextContinuationToken: token } : {}) };
}

/** A response body read whole as UTF-8 (an answer cut short rejects). */
function readText(body: Readable): Promise<string> {
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
const AUTH_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken', 'AuthorizationHeaderMalformed', 'Forbidden']);
/** Codes of an S3 answer that is final (the caller handles it); everything else fails over. */
const FINAL_CODES = new Set(['NoSuchBucket', 'NoSuchKey', 'NotFound', 'BucketAlreadyOwnedByYou', 'BucketAlreadyExists', 'BucketNotEmpty', 'InvalidBucketName']);

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

/**
 * What went wrong with one member, in words safe to print: network codes and S3 error codes only.
 * A server's own message is never repeated: it may echo the access key id.
 */
function describeFailure(e: unknown, timeoutMs: number): string {
  const err = e as SdkError & { message?: string };
  const status = statusOf(e);
  if (status !== undefined) return `HTTP ${status} ${codeOf(e)}`;
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
    private readonly opts: S3ClientOptions,
  ) {
    this.pool = endpoint.pool;
    this.socketsWanted = Math.max(opts.maxSockets ?? 50, opts.concurrency);
    this.signer = new SigV4Signer({ accessKeyId: endpoint.credentials.accessKeyId, secretAccessKey: endpoint.credentials.secretAccessKey }, REGION, 's3');
  }

  static async open(endpoint: PoolEndpoint, opts: S3ClientOptions): Promise<PoolS3Client> {
    if (endpoint.members.length === 0) {
      throw new PoolAccessError(endpoint.pool, 'unreachable', `pool ${endpoint.pool} has no enabled member to talk to.`, 'Enable a member of the pool in its manifest.');
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
    if (this.active < Math.max(1, this.opts.concurrency)) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  /** Sends one command with failover and retries; S3 answers that are final are rethrown as they are. */
  private async send<T>(make: (sdk: Sdk) => unknown, what: string): Promise<T> {
    await this.acquire();
    try {
      const { sdk, clients } = await this.sdkClients();
      return await this.attempt<T>((i) => clients[i]!.send(make(sdk) as never) as Promise<T>, what, {});
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
    const { signal } = opts;
    return this.attempt<T>((i) => clients[i]!.send(make(sdk) as never, signal ? { abortSignal: signal } : undefined) as Promise<T>, what, opts);
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
    const wire: WireRequest = { method: req.method, path: `/${req.bucket}/${encodeKeyPath(req.key)}`, query: req.query ?? {}, headers, body: req.body };
    const raw = req.ownSocket === true && req.method === 'GET';
    return this.attempt((i) => (raw ? this.rawGetOnce(i, wire, opts.signal) : this.httpOnce(i, wire, opts.signal)), what, { ...opts, once: streamed });
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

  /**
   * A GET over a connection of its own, read without Node's HTTP client: the signed request written
   * with `Connection: close`, the status line and headers parsed here, then the socket itself is
   * the body (the bytes read past the head put back first), counted against Content-Length (see
   * SocketBody). Node's HTTP parser copies every body chunk into a new buffer and costs ~a quarter
   * of the copier's CPU per streamed byte; this hands on the socket's own chunks. Same answers as
   * httpOnce: a 2xx with its body unread, or a non-2xx rejected as an S3 error (code only, error
   * body read up to ERROR_BODY_CHARS); same connection and inactivity timeouts (the latter for the
   * body too) and abort signal (until the head arrives). An answer without a Content-Length
   * (chunked) is asked again through httpOnce.
   */
  private async rawGetOnce(index: number, req: WireRequest, signal: AbortSignal | undefined): Promise<DataResponse> {
    const { member, hostname, port } = this.address(index);
    const headers = this.signer.sign({ method: 'GET', path: req.path, query: req.query, headers: { ...req.headers, host: member } });
    let head = `GET ${PoolS3Client.target(req)} HTTP/1.1\r\n`;
    for (const [name, value] of Object.entries(headers)) {
      // Never a header that could split the request (http.request refuses them too).
      if (/[\r\n\0]/.test(value)) throw new Error(`dataRequest: header ${name} holds a line break`);
      head += `${name}: ${value}\r\n`;
    }
    head += 'connection: close\r\n\r\n';
    signal?.throwIfAborted();
    const { timeoutMs } = this.opts;
    return new Promise<DataResponse>((resolve, reject) => {
      const socket = connect({ host: hostname, port });
      socket.setNoDelay(true);
      let pending: Buffer | null = null;
      let settled = false;
      const connectTimer = setTimeout(() => socket.destroy(timeoutError('connection timeout')), Math.min(2000, timeoutMs));
      const onAbort = () => socket.destroy(signal!.reason instanceof Error ? (signal!.reason as Error) : new Error('aborted'));
      const onError = (e: Error) => settle(() => reject(e));
      const onClose = () => settle(() => reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
      function settle(then: () => void): void {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        signal?.removeEventListener('abort', onAbort);
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', onClose);
        then();
      }
      const onData = (chunk: Buffer) => {
        pending = pending ? Buffer.concat([pending, chunk]) : chunk;
        for (;;) {
          const end = pending.indexOf('\r\n\r\n');
          if (end < 0) {
            if (pending.length > MAX_HEAD_BYTES) socket.destroy(Object.assign(new Error('answer head too long'), { code: 'EPROTO' }));
            return;
          }
          const parsed = parseHead(pending.toString('latin1', 0, end));
          if (!parsed) {
            socket.destroy(Object.assign(new Error('not an HTTP answer'), { code: 'EPROTO' }));
            return;
          }
          pending = pending.subarray(end + 4);
          if (parsed.status >= 100 && parsed.status < 200) continue; // an interim answer: the real one follows
          const rest = pending;
          settle(() => this.answered(index, req, signal, socket, parsed.status, parsed.headers, rest, resolve, reject));
          return;
        }
      };
      socket.once('connect', () => clearTimeout(connectTimer));
      socket.setTimeout(timeoutMs, () => socket.destroy(timeoutError('socket inactivity timeout')));
      socket.on('data', onData);
      socket.on('error', onError);
      socket.on('close', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.write(head, 'latin1');
    });
  }

  /** rawGetOnce, once the head arrived: the body handed on (2xx), or the error read. */
  private answered(
    index: number,
    req: WireRequest,
    signal: AbortSignal | undefined,
    socket: Socket,
    status: number,
    headers: IncomingHttpHeaders,
    rest: Buffer,
    resolve: (r: DataResponse | Promise<DataResponse>) => void,
    reject: (e: unknown) => void,
  ): void {
    socket.pause();
    if (rest.length > 0) socket.unshift(rest);
    const lengthHeader = headers['content-length'];
    const length = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : NaN;
    if (status >= 200 && status < 300) {
      if (headers['transfer-encoding'] !== undefined || !Number.isSafeInteger(length)) {
        socket.destroy();
        resolve(this.httpOnce(index, req, signal));
        return;
      }
      resolve({ status, headers, body: new SocketBody(socket, length) });
      return;
    }
    // An error document: its first ERROR_BODY_CHARS bytes at most, up to its Content-Length, its last
    // chunk, or the end of the connection (chunk framing, if any, is left in: the code is searched
    // for, not parsed).
    const limit = Number.isSafeInteger(length) ? Math.min(length, ERROR_BODY_CHARS) : ERROR_BODY_CHARS;
    const chunked = /chunked/i.test(String(headers['transfer-encoding'] ?? ''));
    let text = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.removeListener('data', onData);
      socket.on('error', () => {});
      socket.destroy();
      reject(s3Error(status, text));
    };
    const onData = (d: Buffer) => {
      text += d.toString('utf8');
      if (text.length >= limit || (chunked && /(^|\r\n)0\r\n\r\n$/.test(text))) finish();
    };
    socket.on('data', onData);
    socket.once('end', finish);
    socket.once('close', finish);
    socket.once('error', (e) => {
      if (done) return;
      done = true;
      socket.removeListener('data', onData);
      reject(e);
    });
    if (limit === 0) finish();
    else socket.resume();
  }

  /** One signed request to one member; resolves on a 2xx answer (its body unread), rejects otherwise. */
  private async httpOnce(index: number, req: WireRequest, signal: AbortSignal | undefined): Promise<DataResponse> {
    const { member, hostname, port } = this.address(index);
    const headers = this.signer.sign({ method: req.method, path: req.path, query: req.query, headers: { ...req.headers, host: member } });
    signal?.throwIfAborted();
    return new Promise<DataResponse>((resolve, reject) => {
      // The signal aborts the request until its answer arrives; the body is then the caller's.
      let detach = () => {};
      const r = httpRequest({ host: hostname, port, method: req.method, path: PoolS3Client.target(req), headers, agent: this.agentFor(index) }, (res) => {
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
        res.on('end', () => reject(s3Error(status, text)));
      });
      r.setTimeout(this.opts.timeoutMs, () => r.destroy(timeoutError('socket inactivity timeout')));
      r.once('socket', (socket) => {
        if (!socket.connecting) return;
        const t = setTimeout(() => r.destroy(timeoutError('connection timeout')), Math.min(2000, this.opts.timeoutMs));
        socket.once('connect', () => clearTimeout(t));
        r.once('close', () => clearTimeout(t));
      });
      if (signal) {
        const onAbort = () => r.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
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
      return await this.attempt(async (i) => parseListObjectsV2(await readText((await this.httpOnce(i, wire, undefined)).body)), `ListObjectsV2 ${bucket}`, {});
    } finally {
      this.release();
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
   * rethrown as it is, and the next request starts on the next member.
   */
  private async attempt<T>(call: (index: number) => Promise<T>, what: string, opts: TransferOptions & { once?: boolean }): Promise<T> {
    const { signal, passThrough } = opts;
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
          const out = await call(index);
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
            throw new PoolAccessError(this.pool, 'error', `pool ${this.pool} answered ${what} with HTTP ${status} ${code} (member ${member}).`);
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
  private unexpected(e: unknown, what: string): PoolAccessError {
    if (e instanceof PoolAccessError) return e;
    return new PoolAccessError(this.pool, 'error', `pool ${this.pool} answered ${what} with HTTP ${statusOf(e) ?? '-'} ${codeOf(e)}.`);
  }

  async listBuckets(): Promise<string[]> {
    const out = await this.send<{ Buckets?: Array<{ Name?: string }> }>((s) => new s.ListBucketsCommand({}), 'ListBuckets').catch((e: unknown) => {
      throw this.unexpected(e, 'ListBuckets');
    });
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
