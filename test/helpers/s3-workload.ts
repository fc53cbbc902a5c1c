import { Buffer } from 'node:buffer';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  AbortMultipartUploadCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

/**
 * A client workload through the gateway, for proving that live bucket migrations lose nothing
 * (issue 6). Several virtual clients, each sequential, each the only writer of its own keys (so
 * the write order of every key is well defined); reads may be of anyone's keys. Every write
 * carries unique content (`makeBody`) so every read can be attributed to exactly one write.
 *
 * Everything is recorded on one monotonic clock (`performance.now()`, ms; `timeOrigin` relates it
 * to wall-clock time): every operation with its outcome, and every raw HTTP answer >= 400 (and
 * every attempt that got no answer) as the SDK's attempts see them, below its retries, so a
 * freeze window hidden by retries is still measured. `contract-checker.ts` judges the history.
 */

// ---------------------------------------------------------------------------------------------
// Content: unique per write, self-describing, verifiable.

const HEADER = /^#([A-Za-z0-9._-]+)#(\d+)#/;

/**
 * The body of write `writeId`: `#<writeId>#<size>#` then `<writeId>.` repeated, exactly `size`
 * bytes (at least the header's length: see `bodySize`). Deterministic, so a reader can tell which
 * write it got and whether the bytes are intact.
 */
export function makeBody(writeId: string, size: number): Buffer {
  const n = bodySize(writeId, size);
  const header = `#${writeId}#${n}#`;
  const buf = Buffer.alloc(n);
  buf.write(header, 0, 'latin1');
  if (n > header.length) buf.fill(`${writeId}.`, header.length, n, 'latin1');
  return buf;
}

/** The size `makeBody(writeId, size)` really has: `size`, or the header's length if larger. */
export function bodySize(writeId: string, size: number): number {
  let n = Math.max(size, 0);
  // The header holds the size itself: grow until it fits (its digits can change its length).
  for (;;) {
    const h = `#${writeId}#${n}#`.length;
    if (n >= h) return n;
    n = h;
  }
}

/** Which write a body comes from, and whether it is exactly that write's bytes. */
export function parseBody(body: Buffer): { writeId: string | null; intact: boolean } {
  const m = HEADER.exec(body.subarray(0, 200).toString('latin1'));
  if (!m) return { writeId: null, intact: false };
  const writeId = m[1]!;
  const size = Number(m[2]);
  return { writeId, intact: size === body.length && makeBody(writeId, size).equals(body) };
}

// ---------------------------------------------------------------------------------------------
// The history.

export type OpKind = 'seed' | 'put' | 'delete' | 'multipart' | 'get' | 'list';
export type WriteKind = 'seed' | 'put' | 'delete' | 'multipart';
export const WRITE_KINDS: ReadonlySet<OpKind> = new Set(['seed', 'put', 'delete', 'multipart']);

export interface OpError {
  /** SDK error name (`SlowDown`, `NoSuchUpload`, `TimeoutError`, ...). */
  name: string;
  /** S3 error code when the server answered one, else the name or a network code. */
  code: string;
  /** HTTP status of the final answer; undefined when the last attempt got no answer. */
  status?: number;
  message: string;
  /** Attempts the SDK made (`$metadata.attempts`), when known. */
  attempts?: number;
  /**
   * True when every attempt of every request of this operation got an HTTP answer (no network
   * error, no timeout): the server definitely refused it, so it must never take effect. False
   * means the outcome is unknown (it may have been applied).
   */
  definite: boolean;
}

/** One step of a multipart upload (create, each part, complete, abort). */
export interface MultipartStep {
  step: 'create' | 'part' | 'complete' | 'abort';
  part?: number;
  start: number;
  end: number;
  ok: boolean;
  error?: OpError;
}

export interface ReadResult {
  /** The write whose content came back, or null for 404 (NoSuchKey). */
  writeId: string | null;
  /** The bytes are exactly that write's (false also for content no write produced). */
  intact: boolean;
  size: number;
}

export interface OpRecord {
  /** Sequence number in the history (order of start). */
  id: number;
  /** Virtual client index; -1 for seeded objects and probes made outside the clients. */
  client: number;
  op: OpKind;
  /** The object key; for `list`, the prefix listed. */
  key: string;
  /** Writes (put, multipart, delete, seed): unique id; the content of a put is `makeBody(writeId, size)`. */
  writeId?: string;
  size?: number;
  /** ms on the workload clock (`performance.now()`). Seeds: both 0. */
  start: number;
  end: number;
  /**
   * `acked`: the client got a success answer (reads that answered 404 too); `error`: see `error`;
   * `pending`: still running when the history was taken (only in a history taken before stop()).
   */
  outcome: 'acked' | 'error' | 'pending';
  error?: OpError;
  /** get: what came back. */
  read?: ReadResult;
  /** list: the keys listed. */
  listed?: string[];
  /** multipart: its steps. */
  steps?: MultipartStep[];
}

/** One raw HTTP answer (status >= 400), or an attempt without an answer (status 0), below the SDK's retries. */
export interface RawResponse {
  t: number;
  client: number;
  /** The operation (OpRecord.id) the attempt belonged to. */
  opId: number;
  op: OpKind;
  /** SDK command name (PutObjectCommand, UploadPartCommand, ...). */
  command: string;
  key: string;
  /** 0 when the attempt got no answer (network error, timeout). */
  status: number;
  /** S3 error code from the XML body (or the network error's code when status is 0), null when none. */
  code: string | null;
}

export interface WorkloadHistory {
  bucket: string;
  /** `performance.timeOrigin` of the recording process: wall-clock ms = timeOrigin + t. */
  timeOrigin: number;
  startedAt: number;
  stoppedAt: number;
  clients: number;
  ops: OpRecord[];
  raw: RawResponse[];
}

export interface SeedObject {
  key: string;
  writeId: string;
  size: number;
}

// ---------------------------------------------------------------------------------------------
// The workload.

export interface WorkloadMix {
  /** New key. */
  put: number;
  /** Overwrite an own existing key with the same size. */
  overwriteSame: number;
  /** Overwrite an own existing key with a different size. */
  overwriteResize: number;
  /** Overwrite an own existing key with the same bytes and new metadata (x-amz-meta-w): only the metadata changes. */
  overwriteMeta: number;
  delete: number;
  /** Read one of the own keys. */
  readOwn: number;
  /** Read any key written by anyone (deleted ones too). */
  readOther: number;
  /** List the own prefix. */
  list: number;
}

export interface MultipartOptions {
  /** Virtual clients that only do multipart uploads (back to back), in addition to `clients`. Default 1. */
  clients?: number;
  /** Part size (>= 5 MiB, S3's minimum for all but the last part). Default 5 MiB. */
  partSize?: number;
  /** Parts per upload (the last one is half a part). Default 3. */
  parts?: number;
  /** Pause between parts, so an upload stays in flight for a while and may straddle a cutover. Default 1000 ms. */
  partDelayMs?: number;
  /** Pause between uploads. Default 300 ms. */
  pauseMs?: number;
  /** Share of uploads that overwrite an earlier own multipart key. Default 0.3. */
  overwrite?: number;
}

export interface WorkloadOptions {
  bucket: string;
  /** One S3 client per virtual client (e.g. `env.gatewayClient`); the workload adds its recording middleware to it. */
  client: (index: number) => S3Client;
  /** Virtual clients doing the mix. Default 4. */
  clients?: number;
  /** Operations per second per mix client (paced; a slow operation just delays the next). Default 8. */
  opsPerSecond?: number;
  /** Stop by itself after this long (still call `stop()` for the history). */
  durationMs?: number;
  mix?: Partial<WorkloadMix>;
  /** Sizes of single-PUT objects. Default [64, 1000, 16384, 150000]. */
  sizes?: number[];
  /** Probability of reading a key right after writing (or deleting) it. Default 0.7. */
  readAfterWrite?: number;
  /** Multipart uploads; `false` for none. */
  multipart?: MultipartOptions | false;
  /** Objects already in the bucket (seeded before): in the history as acked writes at t=0, owned by client i % clients. */
  seed?: readonly SeedObject[];
  /** PRNG seed, for a reproducible mix. Default: random. */
  rngSeed?: number;
  /**
   * Reads of other clients' keys never overlap a write of that key (default true). s3rver writes an
   * object in place (truncate, then write): a GET concurrent with a PUT of the same key can return
   * an empty or partial object, which a server with atomic PUTs never does. Reads that START after
   * a write was acknowledged (contract point 3) are unaffected. `false` lets them overlap.
   */
  isolateReads?: boolean;
  /**
   * Several workloads on one bucket: a run id puts this run's keys under `<runId>/` and its write
   * ids after `<runId>-`, so runs never share keys or write ids (read back with `prefix: '<runId>/'`).
   */
  runId?: string;
}

const DEFAULT_MIX: WorkloadMix = {
  put: 3,
  overwriteSame: 2,
  overwriteResize: 2,
  overwriteMeta: 0,
  delete: 1,
  readOwn: 2,
  readOther: 3,
  list: 0.5,
};
const MiB = 1024 * 1024;

interface OwnKey {
  key: string;
  /** Size of the last write (acked or not). */
  size: number;
  /** Is there (probably) an object: last write a put that was acked or has an unknown outcome. */
  exists: boolean;
  /** The write whose bytes the last put sent (a metadata-only overwrite sends them again). */
  bodyId?: string;
}

interface Current {
  opId: number;
  op: OpKind;
  key: string;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface SdkError {
  name?: string;
  message?: string;
  Code?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

function toOpError(e: unknown, noAnswer: boolean): OpError {
  const err = e as SdkError;
  const status = err?.$metadata?.httpStatusCode;
  const name = err?.name ?? 'Error';
  return {
    name,
    code: err?.Code ?? (status !== undefined ? name : (err?.code ?? name)),
    ...(status !== undefined ? { status } : {}),
    message: String(err?.message ?? e).slice(0, 300),
    ...(err?.$metadata?.attempts !== undefined ? { attempts: err.$metadata.attempts } : {}),
    definite: status !== undefined && !noAnswer,
  };
}

function isNotFound(e: unknown): boolean {
  const err = e as SdkError;
  return err?.$metadata?.httpStatusCode === 404 && (err.name === 'NoSuchKey' || err.Code === 'NoSuchKey' || err.name === 'NotFound');
}

async function bodyBytes(body: unknown): Promise<Buffer> {
  const b = body as { transformToByteArray?: () => Promise<Uint8Array> } & AsyncIterable<Uint8Array>;
  if (typeof b?.transformToByteArray === 'function') return Buffer.from(await b.transformToByteArray());
  const chunks: Buffer[] = [];
  for await (const c of b) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Reads a raw error body (a stream from the node handler), so its S3 code can be recorded; the SDK gets the bytes back. */
async function drain(body: unknown): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body;
  if (body === undefined || body === null) return new Uint8Array();
  if (typeof body === 'string') return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Uint8Array | string>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Reads one key (GET): which write it holds, or 404. Throws on any other failure. */
export async function readKey(client: S3Client, bucket: string, key: string): Promise<ReadResult> {
  try {
    const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = await bodyBytes(r.Body);
    const p = parseBody(bytes);
    // A workload PUT names its write in x-amz-meta-w and the write whose bytes it sent in
    // x-amz-meta-b (another one for a metadata-only overwrite): the read is that write's only if
    // the bytes and the metadata both are (stale metadata on new bytes, or the reverse, is not).
    const w = r.Metadata?.['w'];
    if (w !== undefined) return { writeId: w, intact: p.intact && p.writeId === r.Metadata?.['b'], size: bytes.length };
    return { writeId: p.writeId, intact: p.intact, size: bytes.length };
  } catch (e) {
    if (isNotFound(e)) return { writeId: null, intact: true, size: 0 };
    throw e;
  }
}

/** Every key of a bucket (flat ListObjectsV2, paged). */
export async function listKeys(client: S3Client, bucket: string, prefix?: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key !== undefined) out.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** What a bucket holds at the end, read back (through the gateway, normally): every listed key and every key in `keys`. */
export interface FinalState {
  /** key -> what a GET returned. A GET that failed is recorded with `error` (the checker reports it). */
  objects: Map<string, ReadResult & { error?: string }>;
  /** The keys a listing of the whole bucket returned. */
  listed: Set<string>;
}

/**
 * Reads back the bucket: a listing (of `prefix`, default the whole bucket) and a GET of every
 * listed key and every key in `keys`.
 */
export async function readFinalState(
  client: S3Client,
  bucket: string,
  keys: Iterable<string>,
  opts: { prefix?: string; concurrency?: number } = {},
): Promise<FinalState> {
  const concurrency = opts.concurrency ?? 8;
  const listed = new Set(await listKeys(client, bucket, opts.prefix));
  const all = [...new Set([...keys, ...listed])].sort();
  const objects: FinalState['objects'] = new Map();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, all.length) }, async () => {
      while (next < all.length) {
        const key = all[next++]!;
        try {
          objects.set(key, await readKey(client, bucket, key));
        } catch (e) {
          objects.set(key, { writeId: null, intact: false, size: 0, error: toOpError(e, false).code });
        }
      }
    }),
  );
  return { objects, listed };
}

/** Every key a history touched (for `readFinalState`). */
export function keysOf(history: WorkloadHistory): string[] {
  return [...new Set(history.ops.filter((o) => o.op !== 'list').map((o) => o.key))];
}

export class Workload {
  private readonly ops: OpRecord[] = [];
  private readonly raw: RawResponse[] = [];
  private readonly rng: () => number;
  private readonly opts: Required<
    Omit<WorkloadOptions, 'durationMs' | 'rngSeed' | 'mix' | 'multipart' | 'seed' | 'runId' | 'isolateReads'>
  > & { mix: WorkloadMix; multipart: Required<MultipartOptions> | null };
  private readonly clients: S3Client[] = [];
  private readonly current = new Map<number, Current | null>();
  /** Attempts without an answer, per op id (so an error after such an attempt is not "definite"). */
  private readonly noAnswer = new Set<number>();
  private readonly owned: OwnKey[][] = [];
  /** Every key anyone wrote (readOther picks from it). */
  private readonly allKeys: string[] = [];
  private readonly known = new Set<string>();
  private running: Promise<void>[] = [];
  private stopping = false;
  private started = false;
  private startedAt = 0;
  private stoppedAt = 0;
  private stopTimer: NodeJS.Timeout | null = null;
  private writeSeq = 0;
  private readonly isolateReads: boolean;
  /** Per key: reads of other clients in flight, and whether its owner writes (or waits to write) it. */
  private readonly keyUse = new Map<string, { readers: number; writing: boolean; drained: Array<() => void> }>();
  /** Key prefix (`<runId>/` or '') and write id prefix (`<runId>-` or ''). */
  private readonly keyBase: string;
  private readonly idBase: string;

  constructor(options: WorkloadOptions) {
    const mp =
      options.multipart === false
        ? null
        : { clients: 1, partSize: 5 * MiB, parts: 3, partDelayMs: 1000, pauseMs: 300, overwrite: 0.3, ...(options.multipart ?? {}) };
    if (mp && mp.partSize < 5 * MiB) throw new Error('multipart.partSize must be at least 5 MiB (S3 minimum part size)');
    this.opts = {
      bucket: options.bucket,
      client: options.client,
      clients: options.clients ?? 4,
      opsPerSecond: options.opsPerSecond ?? 8,
      sizes: options.sizes ?? [64, 1000, 16384, 150_000],
      readAfterWrite: options.readAfterWrite ?? 0.7,
      mix: { ...DEFAULT_MIX, ...(options.mix ?? {}) },
      multipart: mp,
    };
    if (options.runId !== undefined && !/^[A-Za-z0-9_-]+$/.test(options.runId)) throw new Error('runId: letters, digits, _ and - only');
    this.isolateReads = options.isolateReads ?? true;
    this.keyBase = options.runId ? `${options.runId}/` : '';
    this.idBase = options.runId ? `${options.runId}-` : '';
    this.rng = mulberry32(options.rngSeed ?? Math.floor(Math.random() * 2 ** 31));
    const total = this.totalClients();
    for (let i = 0; i < total; i++) {
      this.owned.push([]);
    }
    for (const [i, s] of (options.seed ?? []).entries()) {
      this.ops.push({
        id: this.ops.length,
        client: -1,
        op: 'seed',
        key: s.key,
        writeId: s.writeId,
        size: s.size,
        start: 0,
        end: 0,
        outcome: 'acked',
      });
      this.owned[i % this.opts.clients]!.push({ key: s.key, size: s.size, exists: true, bodyId: s.writeId });
      this.remember(s.key);
    }
    if (options.durationMs !== undefined) this.durationMs = options.durationMs;
  }

  private durationMs: number | null = null;

  /** The workload clock (ms). */
  now(): number {
    return performance.now();
  }

  /** A wall-clock time (Date.now() ms, e.g. from orch's JSON) on the workload clock. */
  fromWall(wallMs: number): number {
    return wallMs - performance.timeOrigin;
  }

  private totalClients(): number {
    return this.opts.clients + (this.opts.multipart?.clients ?? 0);
  }

  private remember(key: string): void {
    if (this.known.has(key)) return;
    this.known.add(key);
    this.allKeys.push(key);
  }

  /** Starts every virtual client. */
  start(): this {
    if (this.started) throw new Error('workload already started');
    this.started = true;
    this.startedAt = this.now();
    for (let i = 0; i < this.totalClients(); i++) {
      const c = this.opts.client(i);
      this.instrument(c, i);
      this.clients.push(c);
    }
    for (let i = 0; i < this.opts.clients; i++) this.running.push(this.mixLoop(i));
    for (let i = this.opts.clients; i < this.totalClients(); i++) this.running.push(this.multipartLoop(i));
    if (this.durationMs !== null) this.stopTimer = setTimeout(() => (this.stopping = true), this.durationMs);
    return this;
  }

  /** Asks every client to stop after its current operation (a multipart upload runs to its end), waits, returns the history. */
  async stop(): Promise<WorkloadHistory> {
    this.stopping = true;
    if (this.stopTimer) clearTimeout(this.stopTimer);
    await Promise.all(this.running);
    if (!this.stoppedAt) this.stoppedAt = this.now();
    return this.history();
  }

  /** Resolves when the clients have stopped by themselves (`durationMs`). */
  async finished(): Promise<void> {
    await Promise.all(this.running);
  }

  /** The history so far (a copy). */
  history(): WorkloadHistory {
    return {
      bucket: this.opts.bucket,
      timeOrigin: performance.timeOrigin,
      startedAt: this.startedAt,
      stoppedAt: this.stoppedAt || this.now(),
      clients: this.totalClients(),
      ops: this.ops.map((o) => ({ ...o })),
      raw: this.raw.map((r) => ({ ...r })),
    };
  }

  /** Live counters: operations by kind and outcome, raw 503s. */
  stats(): { ops: number; acked: number; errors: number; raw503: number; byOp: Record<string, number> } {
    const byOp: Record<string, number> = {};
    for (const o of this.ops) byOp[o.op] = (byOp[o.op] ?? 0) + 1;
    return {
      ops: this.ops.length,
      acked: this.ops.filter((o) => o.outcome === 'acked').length,
      errors: this.ops.filter((o) => o.outcome === 'error').length,
      raw503: this.raw.filter((r) => r.status === 503).length,
      byOp,
    };
  }

  private probeClient: S3Client | null = null;

  /**
   * One recorded GET of `key` outside the virtual clients (client -1), at any time (before start,
   * after stop): on its own S3 client from `options.client(clients)`, instrumented like the others.
   */
  async probe(key: string): Promise<OpRecord> {
    if (!this.probeClient) {
      this.probeClient = this.opts.client(this.totalClients());
      this.instrument(this.probeClient, -1);
    }
    return this.read(-1, key, this.probeClient);
  }

  // -- recording --------------------------------------------------------------------------------

  /** Adds a middleware below the SDK's retries: it sees each attempt's raw answer (or its network error). */
  private instrument(client: S3Client, index: number): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const cur = this.current.get(index) ?? null;
        const base = {
          client: index,
          opId: cur?.opId ?? -1,
          op: cur?.op ?? ('get' as OpKind),
          key: cur?.key ?? '',
          command: String(context.commandName ?? ''),
        };
        try {
          const out = await next(args);
          const res = out.response as { statusCode?: number; body?: unknown };
          const status = res?.statusCode ?? 0;
          if (status >= 400) {
            const bytes = await drain(res.body);
            res.body = bytes;
            const code = /<Code>([^<]*)<\/Code>/.exec(Buffer.from(bytes).toString('utf8'))?.[1] ?? null;
            this.raw.push({ t: this.now(), ...base, status, code });
          }
          return out;
        } catch (e) {
          // No answer at all for this attempt (an HTTP error answer is returned above, not thrown here).
          const err = e as SdkError;
          if (err?.$metadata?.httpStatusCode === undefined) {
            this.raw.push({ t: this.now(), ...base, status: 0, code: err?.code ?? err?.name ?? 'Error' });
            if (cur) this.noAnswer.add(cur.opId);
          }
          throw e;
        }
      },
      { step: 'deserialize', priority: 'low', name: `workloadRaw${index}` },
    );
  }

  private begin(client: number, op: OpKind, key: string, extra: Partial<OpRecord> = {}): OpRecord {
    const rec: OpRecord = { id: this.ops.length, client, op, key, start: this.now(), end: 0, outcome: 'pending', ...extra };
    this.ops.push(rec);
    this.current.set(client, { opId: rec.id, op, key });
    return rec;
  }

  private finish(rec: OpRecord, error?: unknown): OpRecord {
    rec.end = this.now();
    rec.outcome = 'acked';
    if (error !== undefined) {
      rec.outcome = 'error';
      rec.error = toOpError(error, this.noAnswer.has(rec.id));
    }
    this.current.set(rec.client, null);
    return rec;
  }

  private nextWriteId(client: number): string {
    return `${this.idBase}c${client}.${++this.writeSeq}`;
  }

  // -- operations -------------------------------------------------------------------------------

  // -- isolation of other clients' reads from writes (see `isolateReads`) -------------------------

  private use(key: string) {
    let u = this.keyUse.get(key);
    if (!u) {
      u = { readers: 0, writing: false, drained: [] };
      this.keyUse.set(key, u);
    }
    return u;
  }

  /** The owner is about to write `key`: no new reader may start; waits for the readers in flight. */
  private async beginWrite(key: string): Promise<void> {
    if (!this.isolateReads) return;
    const u = this.use(key);
    u.writing = true;
    while (u.readers > 0) await new Promise<void>((r) => u.drained.push(r));
  }

  private endWrite(key: string): void {
    if (this.isolateReads) this.use(key).writing = false;
  }

  /** A reader of someone else's key: false when the key is being written. */
  private tryBeginRead(key: string): boolean {
    if (!this.isolateReads) return true;
    const u = this.use(key);
    if (u.writing) return false;
    u.readers++;
    return true;
  }

  private endRead(key: string): void {
    if (!this.isolateReads) return;
    const u = this.use(key);
    if (--u.readers === 0) for (const r of u.drained.splice(0)) r();
  }

  /** A PUT of write `writeId`: its own bytes, or (`bodyId`) the bytes of an earlier write again with new metadata. */
  private async put(client: number, key: string, size: number, bodyId?: string): Promise<OpRecord> {
    const writeId = this.nextWriteId(client);
    const body = makeBody(bodyId ?? writeId, size);
    this.remember(key);
    await this.beginWrite(key);
    const rec = this.begin(client, 'put', key, { writeId, size: body.length });
    try {
      await this.clients[client]!.send(
        new PutObjectCommand({ Bucket: this.opts.bucket, Key: key, Body: body, Metadata: { w: writeId, b: bodyId ?? writeId } }),
      );
      return this.finish(rec);
    } catch (e) {
      return this.finish(rec, e);
    } finally {
      this.endWrite(key);
    }
  }

  private async del(client: number, key: string): Promise<OpRecord> {
    await this.beginWrite(key);
    const rec = this.begin(client, 'delete', key, { writeId: this.nextWriteId(client) });
    try {
      await this.clients[client]!.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: key }));
      return this.finish(rec);
    } catch (e) {
      return this.finish(rec, e);
    } finally {
      this.endWrite(key);
    }
  }

  private async read(client: number, key: string, s3 = this.clients[client]!): Promise<OpRecord> {
    const rec = this.begin(client, 'get', key);
    try {
      rec.read = await readKey(s3, this.opts.bucket, key);
      return this.finish(rec);
    } catch (e) {
      return this.finish(rec, e);
    }
  }

  private async list(client: number, prefix: string): Promise<OpRecord> {
    const rec = this.begin(client, 'list', prefix);
    try {
      rec.listed = await listKeys(this.clients[client]!, this.opts.bucket, prefix);
      return this.finish(rec);
    } catch (e) {
      return this.finish(rec, e);
    }
  }

  private async multipart(client: number, key: string): Promise<OpRecord> {
    const mp = this.opts.multipart!;
    const writeId = this.nextWriteId(client);
    const total = mp.partSize * (mp.parts - 1) + Math.ceil(mp.partSize / 2);
    const body = makeBody(writeId, total);
    this.remember(key);
    await this.beginWrite(key);
    const rec = this.begin(client, 'multipart', key, { writeId, size: body.length, steps: [] });
    const s3 = this.clients[client]!;
    const Bucket = this.opts.bucket;
    const step = async <T>(s: MultipartStep['step'], part: number | undefined, fn: () => Promise<T>): Promise<T> => {
      const st: MultipartStep = { step: s, ...(part !== undefined ? { part } : {}), start: this.now(), end: 0, ok: true };
      rec.steps!.push(st);
      try {
        return await fn();
      } catch (e) {
        st.ok = false;
        st.error = toOpError(e, this.noAnswer.has(rec.id));
        throw e;
      } finally {
        st.end = this.now();
      }
    };
    let uploadId: string | undefined;
    try {
      const created = await step('create', undefined, () => s3.send(new CreateMultipartUploadCommand({ Bucket, Key: key })));
      uploadId = created.UploadId;
      const parts: Array<{ ETag: string; PartNumber: number }> = [];
      for (let n = 1; n <= mp.parts; n++) {
        if (n > 1) await sleep(mp.partDelayMs);
        const slice = body.subarray((n - 1) * mp.partSize, Math.min(body.length, n * mp.partSize));
        const r = await step('part', n, () =>
          s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: slice })),
        );
        parts.push({ ETag: r.ETag!, PartNumber: n });
      }
      await step('complete', undefined, () =>
        s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } })),
      );
      return this.finish(rec);
    } catch (e) {
      if (uploadId) {
        // Best effort (s3rver answers 405): not part of the outcome. Sent while the operation is
        // still the client's current one, so its raw answers (a 503 during a freeze) are
        // attributed to it, not to an anonymous read.
        await step('abort', undefined, () => s3.send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId }))).catch(
          () => undefined,
        );
      }
      return this.finish(rec, e);
    } finally {
      this.endWrite(key);
    }
  }

  // -- virtual clients ----------------------------------------------------------------------------

  private pick<T>(xs: readonly T[]): T | undefined {
    return xs.length === 0 ? undefined : xs[Math.floor(this.rng() * xs.length)];
  }

  private chooseOp(): keyof WorkloadMix {
    const entries = Object.entries(this.opts.mix) as Array<[keyof WorkloadMix, number]>;
    const total = entries.reduce((s, [, w]) => s + Math.max(0, w), 0);
    let r = this.rng() * total;
    for (const [k, w] of entries) {
      r -= Math.max(0, w);
      if (r < 0) return k;
    }
    return 'put';
  }

  private async afterWrite(client: number, key: string): Promise<void> {
    if (this.rng() < this.opts.readAfterWrite) await this.read(client, key);
  }

  private async mixLoop(client: number): Promise<void> {
    const interval = 1000 / this.opts.opsPerSecond;
    const own = this.owned[client]!;
    let n = 0;
    let next = this.now();
    while (!this.stopping) {
      const op = this.chooseOp();
      const existing = own.filter((k) => k.exists);
      const target = this.pick(existing);
      const needsTarget = ['overwriteSame', 'overwriteResize', 'overwriteMeta', 'delete', 'readOwn'].includes(op);
      if (op === 'put' || (needsTarget && !target)) {
        const key = `${this.keyBase}c${client}/k${String(n++).padStart(5, '0')}`;
        const size = this.pick(this.opts.sizes)!;
        const r = await this.put(client, key, size);
        own.push({ key, size: r.size!, exists: true, bodyId: r.writeId! });
        await this.afterWrite(client, key);
      } else if (op === 'overwriteMeta' && target!.bodyId !== undefined) {
        await this.put(client, target!.key, target!.size, target!.bodyId);
        target!.exists = true;
        await this.afterWrite(client, target!.key);
      } else if (op === 'overwriteSame' || op === 'overwriteResize' || op === 'overwriteMeta') {
        let size = target!.size;
        if (op === 'overwriteResize') {
          const others = this.opts.sizes.filter((s) => s !== target!.size);
          size = others.length ? this.pick(others)! : target!.size + 7;
        }
        // Same size means the same byte count: the header differs with the write id, the length does not.
        const r = await this.put(client, target!.key, op === 'overwriteResize' ? size : target!.size);
        target!.size = r.size!;
        target!.exists = true;
        target!.bodyId = r.writeId!;
        await this.afterWrite(client, target!.key);
      } else if (op === 'delete') {
        const r = await this.del(client, target!.key);
        // Refused for sure: still there. Otherwise (acked or unknown) treat it as gone.
        target!.exists = r.outcome === 'error' && r.error!.definite;
        await this.afterWrite(client, target!.key);
      } else if (op === 'readOwn') {
        await this.read(client, target!.key);
      } else if (op === 'readOther') {
        // A key nobody is writing right now (a few tries; see `isolateReads`).
        for (let tries = 0; tries < 5; tries++) {
          const key = this.pick(this.allKeys);
          if (key === undefined) break;
          const mine = own.some((k) => k.key === key);
          if (!mine && !this.tryBeginRead(key)) continue;
          try {
            await this.read(client, key);
          } finally {
            if (!mine) this.endRead(key);
          }
          break;
        }
      } else {
        await this.list(client, `${this.keyBase}c${client}/`);
      }
      next += interval * (0.5 + this.rng());
      const wait = next - this.now();
      if (wait > 0) await sleep(wait);
      else next = this.now();
    }
  }

  private async multipartLoop(client: number): Promise<void> {
    const mp = this.opts.multipart!;
    const own = this.owned[client]!;
    let n = 0;
    while (!this.stopping) {
      const reuse = own.length > 0 && this.rng() < mp.overwrite ? this.pick(own) : undefined;
      const key = reuse?.key ?? `${this.keyBase}m${client}/big${String(n++).padStart(4, '0')}`;
      const r = await this.multipart(client, key);
      if (!reuse) own.push({ key, size: r.size!, exists: true });
      if (r.outcome === 'acked') await this.read(client, key);
      if (!this.stopping) await sleep(mp.pauseMs);
    }
  }
}

export function startWorkload(options: WorkloadOptions): Workload {
  return new Workload(options).start();
}
