import type { IncomingMessage } from 'node:http';
import { compareKeys, isPlainMd5, type ComparePair, type CopyRecord, type ListedObject } from '../../domain/migrations/object-diff.js';
import { TokenBucket } from './bandwidth.js';
import { carriedHeaders, sdkHeaders, settledRead, versionRead, type VersionRead } from './object-metadata.js';
import { Changed, CopierError, describe, Gone, isPoolWide, mapGetError, worthRestart, type CopyFailure } from './copy-errors.js';
import { getObject, readAll } from './object-reads.js';
import { compareObjects } from './object-compare.js';
import { ByteBudget } from './byte-budget.js';
import { CopyRun } from './copy-run.js';
import type { PoolStorage } from '../../ports/pool-storage.js';
import type { ObjectTransfer } from '../../ports/object-transfer.js';
import { PoolS3Client, stripQuotes, type SourceStream } from './pool-s3-client.js';
import { describeCopyEngine, disableSplice, SpliceError, spliceAvailability } from './splice-relay.js';

/**
 * The copy engine of bucket migrations: copies objects of one bucket from a source pool to a
 * destination pool, talking to the pools' members directly (PoolS3Client: failover across members,
 * retries), never through the gateway. Three ways, by size:
 *
 * - **buffered** (below `partSize`, 16 MiB by default): one GET read whole into one buffer (the
 *   size is known from the listing), one PUT of that buffer with its Content-Length and a signed
 *   payload hash. Never a stream handed to the SDK's PutObject (sent aws-chunked under other
 *   checksum settings: the field notes' silent corruption).
 * - **streamed** (from `partSize` up to `multipartThreshold`, 128 MiB by default): the GET's body
 *   piped into one PUT with the GET's Content-Length, sent `UNSIGNED-PAYLOAD` (the payload cannot be
 *   hashed before it is sent; plain bytes, no aws-chunked framing). Memory: socket buffers only.
 *   On Linux, where orch's splice relay is built (splice-relay.ts), both requests run on
 *   connections of their own and the body goes socket to socket by splice(2), never through user
 *   space (a fifth of the CPU); otherwise (or `splice: false`, ORCH_SPLICE=0) through Node's HTTP client.
 *   This is what rclone does below its 200 MiB cutoff, and what servers do best: one request, no
 *   parts to reassemble (s3rver and nanio both store parts as files and concatenate them at
 *   completion, writing every byte twice).
 * - **multipart** (from `multipartThreshold`): ranged GETs of `partSize`, each part buffered and sent
 *   with UploadPart (signed), the parts of one object in parallel. The first part's GET tells the
 *   object's ETag; every other part is read with `IfMatch` on it and its answer's ETag is checked
 *   too (s3rver ignores IfMatch), so an object overwritten mid-copy is never stitched from two
 *   versions: the upload is aborted and the object started again (its new version).
 *
 * GETs, PUTs and UploadParts go through PoolS3Client.dataRequest, and listings through its own
 * ListObjectsV2 (our SigV4 signer, the pool's keep-alive sockets, no SDK: its per-command middleware
 * costs ~5 ms of CPU per request, more than a small object's copy, and once loaded and used it
 * makes large streams trigger many more full garbage collections); only CreateMultipartUpload,
 * CompleteMultipartUpload, AbortMultipartUpload and DeleteObjects are SDK commands, so a pass
 * without multipart objects or deletions never loads the SDK. Content-Type, Content-Encoding,
 * Content-Disposition, Content-Language, Cache-Control, Expires and x-amz-meta-* are carried over.
 *
 * - Memory: every buffer is reserved from one budget of `maxBufferedBytes` before its GET and
 *   released after its PUT; a stream reserves 1 MiB (its socket and stream buffers hold far less).
 *   Bytes held stay under the bound whatever the object sizes. Part buffers are reused (a part
 *   reserves a whole part size), so a large copy never has more than maxBufferedBytes / partSize
 *   of them allocated, whenever the garbage collector runs.
 * - Concurrency: a fixed pool of `concurrency` workers, each with at most one transfer in flight;
 *   they bypass the pool client's own request limit (the copier is the bound) and use its
 *   keep-alive sockets, raised to at least `concurrency` per member.
 * - Bandwidth: one token bucket over the bytes read (from the source; compare also reads the
 *   destination), paid before each GET of a whole object or part (so no socket idles waiting).
 * - Integrity: when the source's ETag and the one the destination returns are both plain MD5s,
 *   they must be equal, or the copy is a failure (bytes changed on the way) and is not recorded.
 * - Abort: no new work starts; in-flight GETs and UploadParts are aborted, their multipart uploads
 *   aborted (AbortMultipartUpload, best effort: s3rver answers 405) and never completed. PUTs
 *   already sending are let finish rather than cut: S3 (and nanio, which renames a complete file
 *   into place) discards a PUT whose body is cut short, but a server that writes in place (s3rver)
 *   would keep a truncated object. A buffered PUT is at most one part; a streamed one gets
 *   ABORT_GRACE_MS to finish, then is cut (bounding how long an abort takes: a freeze window waits
 *   on it). Then the call rejects with an AbortError. A cut stream is never recorded; on a server
 *   that writes in place its truncated object differs in size from the source, so the next diff
 *   copies it again.
 * - A source object gone since the listing (404) is skipped silently: the next diff handles it. An
 *   object that changed while being copied, or whose transfer broke, is started again (3 times at
 *   most). Any other per-object error (after PoolS3Client's failover and retries) is a CopyFailure
 *   whose message names codes only (never a server's message, which may echo a credential). When a
 *   whole pool is unreachable or refuses the credentials, no further object is started: the rest
 *   are failures too.
 *
 * The queue of one copy call and the three ways of copying are here; the rest is beside it:
 * object-reads.ts (GET, read whole, HEAD, streamed sha256), object-compare.ts (compare),
 * object-metadata.ts (the metadata carried and compared), copy-errors.ts (what a failure means, in
 * words safe to print).
 */

export type { CopyFailure };

export interface CopyProgress {
  /** Objects copied (or, by compare, found equal or different). */
  objects: number;
  /** Bytes written to the destination (multipart: as each part is uploaded), or read by compare. */
  bytes: number;
}

export interface CopierOptions {
  /** Objects (or parts) in flight. */
  concurrency: number;
  /** Bytes per second over all transfers; null = unlimited. */
  bandwidthLimit: number | null;
  /** Multipart part size (default 16 MiB; at least 5 MiB, the S3 minimum); also the buffered limit. */
  partSize?: number;
  /** Objects of at least this size go multipart (default 128 MiB, see DEFAULT_MULTIPART_THRESHOLD). */
  multipartThreshold?: number;
  /** Hard bound on bytes held in memory at once (default 64 MiB; at least one part). */
  maxBufferedBytes?: number;
  /** Abort: stop starting work, abort in-flight multipart uploads, reject with an AbortError. */
  signal?: AbortSignal;
  onProgress?: (p: CopyProgress) => void;
  /**
   * Streamed objects moved socket to socket by the splice relay (splice-relay.ts); default: when it
   * is available. False: through Node's HTTP client (the same requests and bytes, more CPU).
   */
  splice?: boolean;
}

const MiB = 1024 * 1024;
/** S3's smallest part (but the last) and largest part count. */
const MIN_PART_SIZE = 5 * MiB;
const MAX_PARTS = 10_000;
export const DEFAULT_PART_SIZE = 16 * MiB;
/**
 * Objects from 128 MiB on go multipart. Below, one streamed PUT is the cheapest copy (one request,
 * no reassembly of parts on the server, which writes every byte a second time at completion), and
 * losing one to a broken connection costs at most 128 MiB resent; above, parts bound what a failure
 * costs, let one object use several workers, and keep single requests well below S3's 5 GiB PUT
 * limit. 128 MiB also bounds how long an abort waits for the streams in flight (~1 s each on a LAN).
 */
export const DEFAULT_MULTIPART_THRESHOLD = 128 * MiB;
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * MiB;
/** Restarts of one object (changed while being copied, or a broken transfer) before it is a failure. */
const MAX_RESTARTS = 3;
/** How long a streamed PUT in flight may go on after an abort before it is cut. */
export const ABORT_GRACE_MS = 2000;
/** What a stream reserves from the memory budget (its real footprint is socket and stream buffers). */
const STREAM_RESERVATION = 1 * MiB;

/**
 * Runs a streamed PUT that an abort does not stop at once: it may finish for ABORT_GRACE_MS, then
 * `cut` stops its body (see the header comment).
 */
async function withAbortGrace<T>(signal: AbortSignal, cut: (e: Error) => void, put: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    timer = setTimeout(() => cut(new CopierError('cut by an abort')), ABORT_GRACE_MS);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await put();
  } finally {
    signal.removeEventListener('abort', onAbort);
    clearTimeout(timer);
  }
}

interface Upload {
  source: ListedObject;
  restarts: number;
  uploadId: string;
  /** The source ETag as the server sent it (quoted), for IfMatch. */
  etag: string;
  /** The first part's read: the metadata the upload was created with. */
  read: VersionRead;
  total: number;
  partSize: number;
  parts: Array<{ PartNumber: number; ETag: string } | undefined>;
  /** Parts not finished yet (done, failed or skipped). */
  pending: number;
  failure: unknown;
}

type Task = { kind: 'object'; object: ListedObject; restarts: number } | { kind: 'part'; upload: Upload; index: number };

interface CopyContext {
  run: CopyRun;
  urgent: Task[];
  failures: CopyFailure[];
  /** Calls the caller's onCopied; if it throws, the whole call stops and rejects with its error. */
  copied: (r: CopyRecord) => void;
}

export class ObjectCopier {
  private readonly concurrency: number;
  private readonly partSize: number;
  private readonly threshold: number;
  private splice: boolean;
  private readonly budget: ByteBudget;
  private readonly bandwidth: TokenBucket | null;
  private readonly progress: CopyProgress = { objects: 0, bytes: 0 };
  /** Free part buffers (of partSize bytes), reused across parts and objects. */
  private readonly slabs: Buffer[] = [];

  constructor(
    private readonly source: PoolS3Client,
    private readonly destination: PoolS3Client,
    private readonly bucket: string,
    private readonly opts: CopierOptions,
  ) {
    this.concurrency = Math.max(1, Math.floor(opts.concurrency));
    const maxBuffered = Math.max(MIN_PART_SIZE, opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES);
    this.partSize = Math.min(maxBuffered, Math.max(MIN_PART_SIZE, opts.partSize ?? DEFAULT_PART_SIZE));
    this.threshold = Math.max(1, opts.multipartThreshold ?? DEFAULT_MULTIPART_THRESHOLD);
    this.splice = opts.splice ?? spliceAvailability().available;
    this.budget = new ByteBudget(maxBuffered);
    this.bandwidth = opts.bandwidthLimit === null ? null : new TokenBucket(opts.bandwidthLimit);
    source.reserveSockets(this.concurrency);
    destination.reserveSockets(this.concurrency);
  }

  /**
   * Copies each object source -> destination, calls onCopied with the record after each success.
   * Continues past per-object failures and returns them.
   */
  async copy(objects: readonly ListedObject[], onCopied: (r: CopyRecord) => void): Promise<{ failures: CopyFailure[] }> {
    const failures: CopyFailure[] = [];
    const urgent: Task[] = [];
    let next = 0;
    const run = new CopyRun(this.opts.signal);
    const take = (): Task | undefined => {
      if (run.stopped) {
        // Parts already queued still run (skipped at once) so that the last one aborts its upload.
        for (let t = urgent.shift(); t; t = urgent.shift()) {
          if (t.kind === 'part') return t;
          if (run.poolError && !run.aborted) failures.push({ key: t.object.key, message: `not copied: ${run.poolError.message}` });
        }
        return undefined;
      }
      if (urgent.length > 0) return urgent.shift();
      if (next < objects.length) return { kind: 'object', object: objects[next++]!, restarts: 0 };
      return undefined;
    };
    const copied = (r: CopyRecord) => {
      try {
        onCopied(r);
      } catch (e) {
        run.fail(e);
      }
    };
    const ctx: CopyContext = { run, urgent, failures, copied };
    await run.workers(this.concurrency, async () => {
      for (let task = take(); task; task = take()) {
        if (task.kind === 'object') await this.copyObject(task.object, task.restarts, ctx);
        else await this.copyPart(task.upload, task.index, ctx);
      }
    });
    // Objects never started because a pool was unreachable or refused the credentials.
    if (run.poolError && !run.aborted) {
      for (; next < objects.length; next++) failures.push({ key: objects[next]!.key, message: `not copied: ${run.poolError.message}` });
    }
    this.slabs.length = 0; // no part buffer kept between calls
    run.finish();
    failures.sort((a, b) => compareKeys(a.key, b.key));
    return { failures };
  }

  /**
   * Looks at each pair (object-compare.ts): equal ones come back as records (to store), different
   * ones as objects to copy.
   */
  compare(pairs: readonly ComparePair[]): Promise<{ equal: CopyRecord[]; different: ListedObject[]; failures: CopyFailure[] }> {
    const { source, destination, bucket, concurrency, partSize, bandwidth } = this;
    const advance = (objects: number, bytes: number) => this.advance(objects, bytes);
    return compareObjects({ source, destination, bucket, concurrency, partSize, bandwidth, signal: this.opts.signal, advance }, pairs);
  }

  /** Deletes keys at the destination (DeleteObjects, batches of 1000). */
  async deleteAtDestination(keys: readonly string[]): Promise<{ failures: CopyFailure[] }> {
    const failures: CopyFailure[] = [];
    const batches: string[][] = [];
    for (let i = 0; i < keys.length; i += 1000) batches.push(keys.slice(i, i + 1000));
    const run = new CopyRun(this.opts.signal);
    let next = 0;
    await run.workers(Math.min(this.concurrency, 4), async () => {
      while (!run.stopped && next < batches.length) {
        const batch = batches[next++]!;
        try {
          const out = await this.destination.transfer<{ Errors?: Array<{ Key?: string; Code?: string }> }>(
            (s) => new s.DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
            `DeleteObjects ${this.bucket}`,
            { signal: run.signal },
          );
          for (const e of out.Errors ?? []) failures.push({ key: e.Key ?? '?', message: `DeleteObjects: ${e.Code ?? 'Error'}` });
        } catch (e) {
          if (run.aborted) break;
          for (const key of batch) failures.push({ key, message: describe(e, 'DeleteObjects') });
          if (isPoolWide(e)) run.stopOnPoolError(e);
        }
      }
    });
    if (run.poolError && !run.aborted)
      for (; next < batches.length; next++)
        for (const key of batches[next]!) failures.push({ key, message: `not deleted: ${run.poolError.message}` });
    run.finish();
    return { failures: failures.sort((a, b) => compareKeys(a.key, b.key)) };
  }

  // ------------------------------------------------------------------ copy, one object

  private async copyObject(object: ListedObject, restarts: number, ctx: CopyContext): Promise<void> {
    try {
      if (object.size >= this.threshold) await this.startMultipart(object, restarts, ctx);
      else if (object.size >= Math.min(this.partSize, this.threshold)) await this.copyStreamed(object, ctx);
      else await this.copyBuffered(object, ctx);
    } catch (e) {
      this.settle(object, restarts, e, ctx);
    }
  }

  /** What to do after an object's copy failed: skip (gone), start again (changed), or a failure. */
  private settle(object: ListedObject, restarts: number, e: unknown, ctx: CopyContext): void {
    if (ctx.run.aborted || e instanceof Gone) return;
    if (worthRestart(e) && restarts < MAX_RESTARTS) {
      const size = e instanceof Changed && e.size !== null ? e.size : object.size;
      ctx.urgent.unshift({ kind: 'object', object: { ...object, size }, restarts: restarts + 1 });
      return;
    }
    const message = e instanceof Changed ? `the object changed ${restarts + 1} times while it was being copied` : describe(e, 'copy');
    ctx.failures.push({ key: object.key, message });
    if (isPoolWide(e)) ctx.run.stopOnPoolError(e);
  }

  /** The record of a finished copy, after the integrity check on comparable ETags. */
  private finished(
    key: string,
    srcEtagQuoted: string,
    srcSize: number,
    dstEtagQuoted: string | undefined,
    read: VersionRead,
    ctx: CopyContext,
  ): void {
    const srcEtag = stripQuotes(srcEtagQuoted);
    const dstEtag = stripQuotes(dstEtagQuoted);
    if (isPlainMd5(srcEtag) && isPlainMd5(dstEtag) && srcEtag.toLowerCase() !== dstEtag.toLowerCase()) {
      throw new CopierError("the destination's MD5 of the copy differs from the source's: bytes changed on the way (not recorded)");
    }
    this.advance(1, 0);
    ctx.copied({ key, srcEtag, srcSize, dstEtag, srcModified: read.modified, meta: read.meta, settled: settledRead(read) });
  }

  private async copyBuffered(object: ListedObject, ctx: CopyContext): Promise<void> {
    const { signal } = ctx.run;
    await this.bandwidth?.take(object.size, signal);
    await this.budget.acquire(object.size, signal);
    try {
      const got = await getObject(this.source, this.bucket, object.key, {}, signal);
      const body = await readAll(got, object.size, signal);
      // Not abortable from here: a PUT's body goes whole or the object is not written.
      const put = await this.put(object.key, got.headers, body, {});
      this.advance(0, body.length);
      this.finished(object.key, got.etag, body.length, put, got.read, ctx);
    } finally {
      this.budget.release(object.size);
    }
  }

  private async copyStreamed(object: ListedObject, ctx: CopyContext): Promise<void> {
    const { signal } = ctx.run;
    const reserved = Math.min(object.size, STREAM_RESERVATION);
    await this.bandwidth?.take(object.size, signal);
    await this.budget.acquire(reserved, signal);
    try {
      if (this.splice && (await this.copySplicedOrRefused(object, ctx))) return;
      const got = await getObject(this.source, this.bucket, object.key, {}, signal);
      if (got.length >= this.threshold) {
        got.body.destroy();
        throw new Changed(got.length); // grew past the threshold: start again, multipart
      }
      let put: string | undefined;
      try {
        put = await withAbortGrace(
          signal,
          (e) => got.body.destroy(e),
          () => this.put(object.key, { ...got.headers, 'content-length': String(got.length) }, got.body, {}),
        );
      } finally {
        got.body.destroy();
      }
      this.advance(0, got.length);
      this.finished(object.key, got.etag, got.length, put, got.read, ctx);
    } finally {
      this.budget.release(reserved);
    }
  }

  /** copySpliced; false (the Node path then) when the system refuses splice(2): off from then on. */
  private async copySplicedOrRefused(object: ListedObject, ctx: CopyContext): Promise<boolean> {
    try {
      return await this.copySpliced(object, ctx);
    } catch (e) {
      if (!(e instanceof SpliceError && e.refused)) throw e;
      this.splice = false;
      disableSplice(e.message);
      return false;
    }
  }

  /**
   * A streamed copy whose body the splice relay moves socket to socket (PoolS3Client.openStream ->
   * splicePut). False when the source answered without a Content-Length: the caller copies
   * through the Node path instead.
   */
  private async copySpliced(object: ListedObject, ctx: CopyContext): Promise<boolean> {
    const { signal } = ctx.run;
    let got: SourceStream | null;
    try {
      got = await this.source.openStream({ bucket: this.bucket, key: object.key }, `GetObject ${this.bucket}`, {
        signal,
        passThrough: [404],
      });
    } catch (e) {
      throw mapGetError(e);
    }
    if (got === null) return false;
    const stream = got;
    try {
      if (stream.length >= this.threshold) throw new Changed(stream.length); // grew past the threshold: start again, multipart
      const put = await withAbortGrace(
        signal,
        (e) => stream.cut(e),
        () =>
          this.destination.splicePut(
            { bucket: this.bucket, key: object.key, headers: carriedHeaders(stream.headers) },
            stream,
            `PutObject ${this.bucket}`,
          ),
      );
      this.advance(0, stream.length);
      this.finished(
        object.key,
        typeof stream.headers.etag === 'string' ? stream.headers.etag : '',
        stream.length,
        put,
        versionRead(stream.headers),
        ctx,
      );
      return true;
    } finally {
      stream.close();
    }
  }

  /** PUT (or UploadPart, with `query`) to the destination; returns the ETag it answered. */
  private async put(
    key: string,
    headers: Record<string, string>,
    body: Buffer | IncomingMessage,
    query: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const what = query.uploadId ? `UploadPart ${this.bucket}` : `PutObject ${this.bucket}`;
    const res = await this.destination.dataRequest(
      { method: 'PUT', bucket: this.bucket, key, query, headers, body },
      what,
      signal ? { signal } : {},
    );
    res.body.resume();
    const etag = res.headers.etag;
    return typeof etag === 'string' ? etag : undefined;
  }

  /** Part size for an object of this size: the configured one, larger when 10,000 parts would not hold it. */
  private partSizeFor(size: number): number {
    const needed = Math.ceil(size / MAX_PARTS / MiB) * MiB;
    return Math.max(this.partSize, needed);
  }

  /** Reads the first part (learning the ETag), creates the upload, queues the other parts, uploads the first. */
  private async startMultipart(object: ListedObject, restarts: number, ctx: CopyContext): Promise<void> {
    const { signal } = ctx.run;
    const partSize = this.partSizeFor(object.size);
    if (partSize > this.budget.capacity) {
      throw new CopierError(
        `${object.size} bytes need parts of ${partSize} bytes, more than the memory bound of ${this.budget.capacity} bytes`,
      );
    }
    await this.bandwidth?.take(partSize, signal);
    await this.budget.acquire(partSize, signal);
    const slab = this.takeSlab(partSize);
    let upload: Upload | null = null;
    try {
      const got = await getObject(this.source, this.bucket, object.key, { range: [0, partSize - 1] }, signal);
      const first = await readAll(got, partSize, signal, slab);
      if (got.total <= partSize) {
        // The object shrank to one part since the listing: this read holds all of it.
        const put = await this.put(object.key, got.headers, first, {});
        this.advance(0, first.length);
        this.finished(object.key, got.etag, first.length, put, got.read, ctx);
        return;
      }
      const parts = Math.ceil(got.total / partSize);
      if (parts > MAX_PARTS) throw new Changed(got.total);
      const created = await this.destination.transfer<{ UploadId?: string }>(
        (s) => new s.CreateMultipartUploadCommand({ Bucket: this.bucket, Key: object.key, ...sdkHeaders(got.headers) }),
        `CreateMultipartUpload ${this.bucket}`,
        { signal },
      );
      if (!created.UploadId) throw new CopierError('CreateMultipartUpload returned no upload id');
      upload = {
        source: object,
        restarts,
        uploadId: created.UploadId,
        etag: got.etag,
        read: got.read,
        total: got.total,
        partSize,
        parts: new Array(parts),
        pending: parts,
        failure: null,
      };
      // The other parts go first in the queue: an object in progress finishes before new ones start.
      for (let i = parts - 1; i >= 1; i--) ctx.urgent.unshift({ kind: 'part', upload, index: i });
      await this.uploadPart(upload, 0, first, signal);
    } catch (e) {
      if (!upload) throw e;
      upload.failure ??= e;
    } finally {
      this.giveSlab(slab);
      this.budget.release(partSize);
    }
    await this.partDone(upload, ctx);
  }

  private async copyPart(upload: Upload, index: number, ctx: CopyContext): Promise<void> {
    if (upload.failure === null && !ctx.run.stopped) {
      const { signal } = ctx.run;
      const start = index * upload.partSize;
      const end = Math.min(upload.total, start + upload.partSize) - 1;
      const length = end - start + 1;
      let slab: Buffer | null = null;
      try {
        await this.bandwidth?.take(length, signal);
        // A whole part size: the part is read into a reused buffer of that size.
        await this.budget.acquire(upload.partSize, signal);
        slab = this.takeSlab(upload.partSize);
        if (upload.failure === null) {
          const got = await getObject(this.source, this.bucket, upload.source.key, { range: [start, end], ifMatch: upload.etag }, signal);
          if (got.etag !== upload.etag || got.total !== upload.total || got.length !== length) {
            got.body.destroy();
            throw new Changed(got.total);
          }
          const part = await readAll(got, length, signal, slab);
          await this.uploadPart(upload, index, part, signal);
        }
      } catch (e) {
        upload.failure ??= e;
      } finally {
        if (slab) {
          this.giveSlab(slab);
          this.budget.release(upload.partSize);
        }
      }
    } else {
      upload.failure ??= ctx.run.signal.reason ?? new CopierError('stopped');
    }
    await this.partDone(upload, ctx);
  }

  private async uploadPart(upload: Upload, index: number, body: Buffer, signal: AbortSignal): Promise<void> {
    const etag = await this.put(upload.source.key, {}, body, { partNumber: String(index + 1), uploadId: upload.uploadId }, signal);
    if (!etag) throw new CopierError('UploadPart returned no ETag');
    upload.parts[index] = { PartNumber: index + 1, ETag: etag };
    this.advance(0, body.length);
  }

  /** One part of an upload is over (done, failed or skipped): the last one completes or aborts the upload. */
  private async partDone(upload: Upload | null, ctx: CopyContext): Promise<void> {
    if (!upload || --upload.pending > 0) return;
    const key = upload.source.key;
    if (upload.failure === null) {
      try {
        // Not abortable: completing is one atomic step on the server; an abort that arrives now waits for it.
        const out = await this.destination.transfer<{ ETag?: string }>(
          (s) =>
            new s.CompleteMultipartUploadCommand({
              Bucket: this.bucket,
              Key: key,
              UploadId: upload.uploadId,
              MultipartUpload: { Parts: upload.parts as Array<{ PartNumber: number; ETag: string }> },
            }),
          `CompleteMultipartUpload ${this.bucket}`,
        );
        this.finished(key, upload.etag, upload.total, out.ETag, upload.read, ctx);
        return;
      } catch (e) {
        if (e instanceof CopierError) {
          // Completed, but not what was read: a failure (not recorded), nothing to abort.
          this.settle(upload.source, MAX_RESTARTS, e, ctx);
          return;
        }
        upload.failure = e;
      }
    }
    await this.abortUpload(upload);
    this.settle(upload.source, upload.restarts, upload.failure, ctx);
  }

  /** Best effort: the upload is never completed either way (s3rver answers 405; nanio may too). */
  private async abortUpload(upload: Upload): Promise<void> {
    try {
      await this.destination.transfer(
        (s) => new s.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.source.key, UploadId: upload.uploadId }),
        `AbortMultipartUpload ${this.bucket}`,
      );
    } catch {
      /* tolerated: an upload never completed is never visible */
    }
  }

  /** A part buffer: a free one, or a new one (there are never more than the budget holds). */
  private takeSlab(size: number): Buffer {
    if (size !== this.partSize) return Buffer.allocUnsafeSlow(size);
    return this.slabs.pop() ?? Buffer.allocUnsafeSlow(size);
  }

  private giveSlab(slab: Buffer): void {
    if (slab.length === this.partSize) this.slabs.push(slab);
  }

  private advance(objects: number, bytes: number): void {
    this.progress.objects += objects;
    this.progress.bytes += bytes;
    this.opts.onProgress?.({ ...this.progress });
  }
}

/** Flat ListObjectsV2 of a whole bucket with size and ETag (quotes stripped), sorted by key (code-unit order). */
export async function listAll(pool: PoolStorage, bucket: string): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  await pool.listObjectsDetailed(bucket, (page) => {
    for (const o of page)
      out.push({ key: o.key, size: o.size, etag: o.etag, ...(o.lastModified ? { lastModified: o.lastModified.toISOString() } : {}) });
  });
  return out.sort((a, b) => compareKeys(a.key, b.key));
}

/**
 * The object-transfer port on the S3 adapter. `spliceTurnedOff`: why the splice relay must not be
 * used (the composition root's choice, e.g. `ORCH_SPLICE=0`), or null to use it where it is built.
 * The addon is loaded on the first copy, not when the port is built.
 */
export function s3ObjectTransfer(opts: { spliceTurnedOff: string | null }): ObjectTransfer {
  const engine = () => (opts.spliceTurnedOff !== null ? { available: false, reason: opts.spliceTurnedOff } : spliceAvailability());
  const s3 = (pool: PoolStorage): PoolS3Client => {
    if (!(pool instanceof PoolS3Client)) throw new Error(`pool ${pool.pool} is not reached through the S3 adapter`);
    return pool;
  };
  return {
    describe: () => describeCopyEngine(engine()),
    list: (pool, bucket) => listAll(pool, bucket),
    between: (source, destination, bucket, options) =>
      new ObjectCopier(s3(source), s3(destination), bucket, { ...options, splice: engine().available }),
  };
}
