import { createHash, createHmac } from 'node:crypto';

/**
 * AWS Signature Version 4 for S3 requests, on node:crypto: what the SDK's S3 signer computes
 * (@smithy/signature-v4 as @aws-sdk/client-s3 configures it), without loading the SDK. Loading
 * @aws-sdk/client-s3 costs ~0.3 s of a copy pass, and once an SDK client has sent a request, Node's
 * plain http streaming of large bodies triggers many more full garbage collections: the copier's
 * data path and listings sign with this instead.
 *
 * Byte-identical to the SDK's `authorization` and `x-amz-date` for the same request and date
 * (test/unit/sigv4.test.ts compares them), including its choices that differ from a textbook
 * reading of the spec:
 * - the path is signed as given, already URI-encoded and not encoded a second time (the S3
 *   client's `signingEscapePath: false`), without normalising `.`, `..` or `//`;
 * - headers the SDK never signs are left out of SignedHeaders (`cache-control`, `user-agent`,
 *   `expect`, `connection`, `proxy-*`, `sec-*`...), and `date`, `authorization` and `x-amz-date`
 *   given by the caller are dropped (the signature sets the last two);
 * - header values have CR/LF turned into spaces, runs of spaces and tabs collapsed, one leading
 *   and one trailing space removed;
 * - a query value of `''` is signed as `key=`.
 */

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** One request to sign: `path` already encoded as sent on the wire (see encodeKeyPath), without query. */
export interface SignableRequest {
  method: string;
  path: string;
  query?: Readonly<Record<string, string>>;
  /** Every header the request carries, `host` included. */
  headers: Readonly<Record<string, string>>;
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const ALGORITHM = 'AWS4-HMAC-SHA256';
const SHA256_HEADER = 'x-amz-content-sha256';

/** Headers the SDK never signs (@smithy/signature-v4's ALWAYS_UNSIGNABLE_HEADERS, plus proxy-* and sec-*). */
const UNSIGNABLE = new Set([
  'authorization',
  'cache-control',
  'connection',
  'expect',
  'from',
  'keep-alive',
  'max-forwards',
  'pragma',
  'referer',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'x-amzn-trace-id',
]);
/** Headers the signature itself generates: a caller's own are dropped (as the SDK's prepareRequest does). */
const GENERATED = new Set(['authorization', 'x-amz-date', 'date']);

/** RFC 3986 percent-encoding, as the SDK's escapeUri: encodeURIComponent plus `!'()*`. */
export function uriEscape(s: string): string {
  const e = encodeURIComponent(s);
  return /[!'()*]/.test(e) ? e.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : e;
}

/** `20260102T030405Z` of a date (UTC, seconds). */
export function amzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/** The canonical query string: keys and values encoded, sorted by encoded key, `X-Amz-Signature` left out. */
export function canonicalQuery(query: Readonly<Record<string, string>> | undefined): string {
  if (!query) return '';
  const pairs: Array<[string, string]> = [];
  for (const key of Object.keys(query)) {
    if (key.toLowerCase() === 'x-amz-signature') continue;
    const value = query[key];
    if (typeof value !== 'string') continue;
    const k = uriEscape(key);
    pairs.push([k, `${k}=${uriEscape(value)}`]);
  }
  return pairs
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map((p) => p[1])
    .join('&');
}

function canonicalValue(v: string): string {
  return v
    .replace(/[\r\n]/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
}

/**
 * A SigV4 signer for one set of credentials, region and service. The signing key is derived once
 * per day (it depends on the date, not the request).
 */
export class SigV4Signer {
  private keyDate = '';
  private key: Buffer = Buffer.alloc(0);

  constructor(
    private readonly credentials: SigV4Credentials,
    private readonly region: string,
    private readonly service: string,
  ) {}

  /**
   * The headers to send: the request's own (lower-cased, those the signature generates replaced),
   * plus `x-amz-date`, `x-amz-security-token` when the credentials have a session token,
   * `x-amz-content-sha256` when missing (the empty body's hash: a request to sign with a body gives
   * its payload hash, or UNSIGNED-PAYLOAD, in that header) and `authorization`.
   */
  sign(req: SignableRequest, date: Date = new Date()): Record<string, string> {
    const headers: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const name of Object.keys(req.headers)) {
      const value = req.headers[name];
      if (value === undefined || value === null) continue;
      const lower = name.toLowerCase();
      if (GENERATED.has(lower)) continue;
      headers[lower] = value;
    }
    const longDate = amzDate(date);
    const shortDate = longDate.slice(0, 8);
    headers['x-amz-date'] = longDate;
    if (this.credentials.sessionToken) headers['x-amz-security-token'] = this.credentials.sessionToken;
    headers[SHA256_HEADER] ??= EMPTY_SHA256;
    const payloadHash = headers[SHA256_HEADER];

    const signed = Object.keys(headers)
      .filter((n) => !UNSIGNABLE.has(n) && !n.startsWith('proxy-') && !n.startsWith('sec-'))
      .sort();
    const signedHeaders = signed.join(';');
    const canonicalRequest = [
      req.method,
      req.path,
      canonicalQuery(req.query),
      signed.map((n) => `${n}:${canonicalValue(headers[n]!)}`).join('\n'),
      '',
      signedHeaders,
      payloadHash,
    ].join('\n');
    const scope = `${shortDate}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = `${ALGORITHM}\n${longDate}\n${scope}\n${createHash('sha256').update(canonicalRequest, 'utf8').digest('hex')}`;
    const signature = createHmac('sha256', this.signingKey(shortDate)).update(stringToSign, 'utf8').digest('hex');
    headers.authorization = `${ALGORITHM} Credential=${this.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    // A plain object again (callers spread it, hand it to http.request).
    return { ...headers };
  }

  private signingKey(shortDate: string): Buffer {
    if (this.keyDate !== shortDate) {
      let key = createHmac('sha256', `AWS4${this.credentials.secretAccessKey}`).update(shortDate, 'utf8').digest();
      for (const part of [this.region, this.service, 'aws4_request']) key = createHmac('sha256', key).update(part, 'utf8').digest();
      this.key = key;
      this.keyDate = shortDate;
    }
    return this.key;
  }
}
