import type { IncomingMessage } from 'node:http';
import type { ListedEntry } from '../../../ports/pool-storage.js';
import { OwnTimeout } from './failover.js';
import type { PoolMembers, WireRequest } from './members.js';

/**
 * Listings without the SDK: one ListObjectsV2 request to one member (listPageOnce), its XML answer
 * read by hand (parseListObjectsV2). Paging and failover are PoolS3Client's (listPages, attempt).
 */

/** One page of a ListObjectsV2 answer. */
export interface ListObjectsV2Page {
  contents: ListedEntry[];
  isTruncated: boolean;
  nextContinuationToken?: string;
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

/**
 * One listing request to one member, answer read whole, within LIST_DEADLINE_FACTOR x the
 * request timeout: the socket-inactivity timeout alone would let a member that trickles its
 * answer a byte at a time hold a listing forever (the SDK's handler capped it the same way).
 */
export async function listPageOnce(
  members: PoolMembers,
  index: number,
  wire: WireRequest,
  signal: AbortSignal | undefined,
): Promise<ListObjectsV2Page> {
  const limitMs = LIST_DEADLINE_FACTOR * members.opts.timeoutMs;
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new OwnTimeout(`listing not answered within ${limitMs / 1000}s`)), limitMs);
  try {
    // The deadline, or the call's signal, cuts the request and an answer still arriving.
    const stop = signal ? AbortSignal.any([deadline.signal, signal]) : deadline.signal;
    const res = await members.httpOnce(index, wire, stop);
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

/** An ETag as S3 writes it (`"..."`), without its quotes (S3 ignores every double quote when comparing). */
export function stripQuotes(etag: string | undefined): string {
  return (etag ?? '').replace(/"/g, '');
}
