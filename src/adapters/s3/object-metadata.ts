import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { compareKeys, secondsOf, SETTLE_SECONDS } from '../../domain/migrations/object-diff.js';

/**
 * The metadata a client reads back besides the bytes, as the object copier carries and compares
 * it: the headers carried over to a copy, their digest, what one read tells of the version (and
 * whether it had settled), and the same headers as SDK input fields.
 */

/** Response headers carried over to the copy (what clients get back from the gateway). */
const CARRIED = ['content-type', 'content-encoding', 'content-disposition', 'content-language', 'cache-control', 'expires'];

/** What a read tells of the source version besides its bytes (recorded with the copy). */
export interface VersionRead {
  meta: string;
  modified: number | null;
  /** The server's clock when it answered (Date header), epoch seconds. */
  date: number | null;
}

/**
 * A digest of what a client reads back besides the bytes: the carried headers (Content-Type,
 * -Encoding, -Disposition, -Language, Cache-Control, Expires, every x-amz-meta-*), names
 * lowercased, sorted. Equal digests: equal metadata.
 */
export function metadataDigest(carried: Record<string, string>): string {
  const entries = Object.entries(carried)
    .map(([k, v]) => [k.toLowerCase(), v.trim()] as const)
    .sort(([a], [b]) => compareKeys(a, b));
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex').slice(0, 32);
}

export function versionRead(h: IncomingMessage['headers']): VersionRead {
  const one = (v: string | string[] | undefined) => (typeof v === 'string' ? v : undefined);
  return { meta: metadataDigest(carriedHeaders(h)), modified: secondsOf(one(h['last-modified'])), date: secondsOf(one(h.date)) };
}

export function settledRead(read: VersionRead): boolean {
  return read.modified !== null && read.date !== null && read.date >= read.modified + SETTLE_SECONDS;
}

export function carriedHeaders(h: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (typeof v !== 'string') continue;
    if (CARRIED.includes(k) || k.startsWith('x-amz-meta-')) out[k] = v;
  }
  return out;
}

/** The carried headers as SDK input fields (for CreateMultipartUpload). */
export function sdkHeaders(h: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (h['content-type']) out.ContentType = h['content-type'];
  if (h['content-encoding']) out.ContentEncoding = h['content-encoding'];
  if (h['content-disposition']) out.ContentDisposition = h['content-disposition'];
  if (h['content-language']) out.ContentLanguage = h['content-language'];
  if (h['cache-control']) out.CacheControl = h['cache-control'];
  if (h.expires && !Number.isNaN(Date.parse(h.expires))) out.Expires = new Date(h.expires);
  const meta = Object.entries(h).filter(([k]) => k.startsWith('x-amz-meta-'));
  if (meta.length > 0) out.Metadata = Object.fromEntries(meta.map(([k, v]) => [k.slice('x-amz-meta-'.length), v]));
  return out;
}
