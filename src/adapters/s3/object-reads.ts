import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TokenBucket } from './bandwidth.js';
import { Changed, CopierError, Gone, mapGetError } from './copy-errors.js';
import { carriedHeaders, versionRead, type VersionRead } from './object-metadata.js';
import { stripQuotes, type PoolS3Client } from './pool-s3-client.js';

/**
 * Reads of one object on one pool, for the object copier: a GET (whole or ranged, IfMatch) with
 * its body left to the caller, a body read whole into a buffer, a HEAD, and a streamed sha256.
 */

/** One GET's answer, its body not read yet. */
export interface Got {
  /** The ETag as the server sent it (quoted), for IfMatch. */
  etag: string;
  length: number;
  /** The whole object's size (Content-Range's total for a ranged GET). */
  total: number;
  headers: Record<string, string>;
  /** The version read: its metadata (digest), Last-Modified and the server's Date. */
  read: VersionRead;
  body: IncomingMessage;
}

/** `bytes 0-99/1234` -> 1234. */
function totalOf(contentRange: string | undefined): number | null {
  const m = /\/(\d+)\s*$/.exec(contentRange ?? '');
  return m ? Number(m[1]) : null;
}

/**
 * One GET (ranged when `range`, with `IfMatch` when given), its body not read yet. Gone when the
 * object is not there (404), Changed when it is not the version asked for (412) or the range is
 * past its end (416).
 */
export async function getObject(
  pool: PoolS3Client,
  bucket: string,
  key: string,
  o: { range?: [number, number]; ifMatch?: string },
  signal: AbortSignal,
): Promise<Got> {
  const headers: Record<string, string> = {};
  if (o.range) headers.range = `bytes=${o.range[0]}-${o.range[1]}`;
  if (o.ifMatch) headers['if-match'] = o.ifMatch;
  let res;
  try {
    res = await pool.dataRequest({ method: 'GET', bucket, key, headers }, `GetObject ${bucket}`, {
      signal,
      passThrough: [404, 412, 416],
    });
  } catch (e) {
    throw mapGetError(e);
  }
  const length = Number(res.headers['content-length']);
  if (!Number.isSafeInteger(length) || length < 0) {
    res.body.destroy();
    throw new CopierError('GetObject answered without a valid Content-Length');
  }
  const total = o.range && res.status === 206 ? (totalOf(res.headers['content-range']) ?? length) : length;
  const etag = typeof res.headers.etag === 'string' ? res.headers.etag : '';
  return { etag, length, total, headers: carriedHeaders(res.headers), read: versionRead(res.headers), body: res.body };
}

/**
 * Reads a GET's body into one buffer (`into`, when given, of at least maxLength bytes); Changed
 * when it is larger than `maxLength` (the object grew).
 */
export async function readAll(got: Got, maxLength: number, signal: AbortSignal, into?: Buffer): Promise<Buffer> {
  const { body, length } = got;
  if (length > maxLength) {
    body.destroy();
    throw new Changed(got.total);
  }
  const buf = into ? into.subarray(0, length) : Buffer.allocUnsafe(length);
  let offset = 0;
  await eachChunk(body, signal, (chunk) => {
    if (offset + chunk.length > length) throw new CopierError('GetObject sent more bytes than its Content-Length');
    chunk.copy(buf, offset);
    offset += chunk.length;
  });
  if (offset !== length) throw Object.assign(new Error('short read'), { code: 'ESHORTREAD' });
  return buf;
}

/** HEAD of one object: ETag (no quotes), size and what it tells of the version; null when not there. */
export async function headObject(
  pool: PoolS3Client,
  bucket: string,
  key: string,
  signal: AbortSignal,
): Promise<{ etag: string; size: number; read: VersionRead } | null> {
  let res;
  try {
    res = await pool.dataRequest({ method: 'HEAD', bucket, key }, `HeadObject ${bucket}`, {
      signal,
      passThrough: [404],
    });
  } catch (e) {
    if (mapGetError(e) instanceof Gone) return null;
    throw e;
  }
  res.body.resume();
  const size = Number(res.headers['content-length']);
  if (!Number.isSafeInteger(size) || size < 0) throw new CopierError('HeadObject answered without a valid Content-Length');
  const etag = typeof res.headers.etag === 'string' ? stripQuotes(res.headers.etag) : '';
  return { etag, size, read: versionRead(res.headers) };
}

/**
 * sha256 of one object, streamed: one GET when the listed size fits in one part, else ranged reads
 * of one part each, every range after the first with IfMatch on the first one's ETag (and that
 * ETag checked). Each read is paid for before its GET. Null when the object is not there.
 */
export async function hashObject(
  pool: PoolS3Client,
  bucket: string,
  key: string,
  listedSize: number,
  o: { partSize: number; bandwidth: TokenBucket | null },
  signal: AbortSignal,
): Promise<{ sha256: string; size: number; etag: string; read: VersionRead } | null> {
  const hash = createHash('sha256');
  let read: VersionRead | null = null;
  const ranged = listedSize > o.partSize;
  let etag: string | null = null;
  let total = ranged ? listedSize : Infinity;
  let size = 0;
  for (let start = 0; start < total;) {
    // Every range within the object (as listed, then as the first answer says): a range past the
    // end is refused by some servers (nanio: 400 InvalidArgument) rather than clamped.
    const end = Math.min(start + o.partSize, Number.isFinite(total) ? total : listedSize) - 1;
    await o.bandwidth?.take(end - start + 1, signal);
    let got: Got;
    try {
      got = await getObject(
        pool,
        bucket,
        key,
        { ...(ranged ? { range: [start, end] as [number, number] } : {}), ...(etag ? { ifMatch: etag } : {}) },
        signal,
      );
    } catch (e) {
      if (e instanceof Gone) return null;
      throw e;
    }
    if (etag === null) {
      etag = got.etag;
      total = got.total;
      read = got.read;
    } else if (got.etag !== etag || got.total !== total) {
      got.body.destroy();
      throw new Changed(got.total);
    }
    let n = 0;
    await eachChunk(got.body, signal, (chunk) => {
      hash.update(chunk);
      n += chunk.length;
    });
    if (n !== got.length) throw Object.assign(new Error('short read'), { code: 'ESHORTREAD' });
    size += n;
    start += n;
    if (n === 0 || !ranged) break;
  }
  if (size !== total) throw new Changed(total);
  return { sha256: hash.digest('hex'), size, etag: stripQuotes(etag ?? ''), read: read ?? { meta: '', modified: null, date: null } };
}

/**
 * Hands each chunk of a body to `onChunk`. An abort destroys the body; on any failure (or a throw
 * of onChunk) the body is destroyed and the call rejects, with the abort's reason when aborted.
 */
async function eachChunk(body: IncomingMessage, signal: AbortSignal, onChunk: (chunk: Buffer) => void): Promise<void> {
  const onAbort = () => body.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) onChunk(chunk);
  } catch (e) {
    body.destroy();
    signal.throwIfAborted();
    throw e;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
