import { createHash } from 'node:crypto';
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
import { AUTH_CODES, codeOf, describeFailure, FINAL_CODES, sleep, sleepUnlessAborted, statusOf } from './pool-client/failover.js';
import { listPageOnce, type ListObjectsV2Page } from './pool-client/list-objects.js';
import { objectPath, PoolMembers, type DataResponse, type WireRequest } from './pool-client/members.js';
import { SdkTransport, type S3Sdk } from './pool-client/sdk-transport.js';
import { SpliceTransport, type SourceStream } from './pool-client/splice-transport.js';
import { EMPTY_SHA256, UNSIGNED_PAYLOAD } from './sigv4.js';

// The pool client's one entry point: importers take every name from here. Its parts are in
// pool-client/: members.ts (addresses, keep-alive agents, SigV4 signing, one request over Node's
// HTTP client), sdk-transport.ts (the AWS SDK, loaded on first use), splice-transport.ts (the GET
// and PUT of the splice relay), list-objects.ts (ListObjectsV2 without the SDK) and failover.ts
// (what a failed request means).
export { parseListObjectsV2, stripQuotes, xmlText, type ListObjectsV2Page } from './pool-client/list-objects.js';
export { encodeKeyPath, type DataResponse } from './pool-client/members.js';
export type { S3Sdk } from './pool-client/sdk-transport.js';
export { SourceStream } from './pool-client/splice-transport.js';

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
  private readonly members: PoolMembers;
  private readonly sdkTransport: SdkTransport;
  private readonly spliceTransport: SpliceTransport;
  private preferred = 0;
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  private constructor(
    private readonly endpoint: PoolEndpoint,
    private readonly opts: PoolStorageOptions,
  ) {
    this.pool = endpoint.pool;
    this.members = new PoolMembers(endpoint, opts);
    this.sdkTransport = new SdkTransport(this.members);
    this.spliceTransport = new SpliceTransport(this.members);
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
  private async send<T>(make: (sdk: S3Sdk) => unknown, what: string): Promise<T> {
    await this.acquire();
    try {
      const { sdk, clients } = await this.sdkTransport.sdkClients();
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
    const { sdk, clients } = await this.sdkTransport.sdkClients();
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
   * loadSdk in pool-client/sdk-transport.ts). Same failover, retries and error classification as
   * every other request (a stream body is sent once: see DataRequest). Non-2xx answers are errors
   * shaped like the SDK's (`$metadata.httpStatusCode`, `Code`), never carrying the server's message.
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
    return this.attempt((i, signal) => this.members.httpOnce(i, wire, signal), what, { ...opts, once: streamed });
  }

  /**
   * The GET of a whole object over a connection of its own, without Node's HTTP client
   * (raw-connection.ts): its body left in the socket for `splicePut`. The same failover, retries,
   * errors and `passThrough` as dataRequest. Null when the member answered 2xx without a
   * Content-Length (chunked): the caller asks again through dataRequest.
   */
  async openStream(req: { bucket: string; key: string }, what: string, opts: TransferOptions = {}): Promise<SourceStream | null> {
    const wire: WireRequest = { method: 'GET', path: objectPath(req), query: {}, headers: { 'x-amz-content-sha256': EMPTY_SHA256 } };
    return this.attempt((i, signal) => this.spliceTransport.openStreamOnce(i, wire, signal), what, opts);
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
    return this.attempt((i, signal) => this.spliceTransport.splicePutOnce(i, wire, source, signal), what, { ...opts, once: true });
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
      return await this.attempt((i, signal) => listPageOnce(this.members, i, wire, signal), `ListObjectsV2 ${bucket}`, {});
    } finally {
      this.release();
    }
  }

  /** At least n keep-alive sockets per member (a copier with n transfers in flight). */
  reserveSockets(n: number): void {
    this.members.reserveSockets(n);
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
    this.sdkTransport.close();
    this.members.close();
  }
}

/** The pool storage of production: an S3 client per pool (PoolS3Client). */
export const s3PoolStorage: PoolStorageFactory = {
  open: (endpoint, options) => PoolS3Client.open(endpoint, options),
};
