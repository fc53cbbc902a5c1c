import { Agent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { PoolEndpoint, PoolStorageOptions } from '../../../ports/pool-storage.js';
import { abortReason } from '../raw-connection.js';
import { SigV4Signer, uriEscape } from '../sigv4.js';
import { OwnTimeout } from './failover.js';

/**
 * One request to one member of a pool: how it is addressed, signed and sent over Node's HTTP
 * client (PoolMembers), what it is on the wire (WireRequest, objectPath) and what comes back
 * (DataResponse, s3AnswerError). Shared by every transport of the pool client.
 */

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
export const REGION = 'us-east-1';

/** How long a kept-alive socket may stay idle (see agentFor). */
const IDLE_SOCKET_MS = 3000;

/** Bytes of a non-2xx answer's body read for its error code at most (the rest is drained unread). */
export const ERROR_BODY_CHARS = 4096;

/** A non-2xx answer as an error shaped like the SDK's: its S3 code only, never the server's message. */
export function s3AnswerError(status: number, text: string): Error {
  const code = /<Code>([^<]{1,64})<\/Code>/.exec(text)?.[1] ?? (status === 404 ? 'NotFound' : `HTTP${status}`);
  return Object.assign(new Error(code), { name: code, Code: code, $metadata: { httpStatusCode: status } });
}

/** The path-style path of an object: `/bucket/key`, the key encoded as the SDK does. */
export function objectPath(o: { bucket: string; key: string }): string {
  return `/${o.bucket}/${encodeKeyPath(o.key)}`;
}

/** A key in a path-style URL as the SDK writes it: each `/`-separated segment percent-encoded (RFC 3986). */
export function encodeKeyPath(key: string): string {
  if (/^[A-Za-z0-9\-._~/]*$/.test(key)) return key;
  return key.split('/').map(uriEscape).join('/');
}

/** One request as sent by httpOnce: `path` already encoded (see encodeKeyPath). */
export interface WireRequest {
  method: string;
  path: string;
  query: Readonly<Record<string, string>>;
  headers: Readonly<Record<string, string>>;
  body?: Buffer | Readable;
}

/**
 * The members of one pool as requests reach them: their addresses, one keep-alive agent each, the
 * SigV4 signer, and one signed request over Node's HTTP client (`httpOnce`, the data path and
 * listings). Which member to ask, and again after what, is PoolS3Client's (`attempt`).
 */
export class PoolMembers {
  /**
   * One keep-alive agent per member, shared by the data path and the SDK clients (the SDK otherwise
   * opens a socket per request of 2 MiB or more). Idle sockets close after 3 s: before the members'
   * own keep-alive timeouts (5 s for uvicorn and Node servers) can close one under a request reusing
   * it ("socket hang up").
   */
  private agents: Array<Agent | undefined> = [];
  readonly signer: SigV4Signer;
  private socketsWanted: number;

  constructor(
    readonly endpoint: PoolEndpoint,
    readonly opts: PoolStorageOptions,
  ) {
    this.socketsWanted = Math.max(opts.maxSockets ?? 50, opts.concurrency);
    this.signer = new SigV4Signer(
      { accessKeyId: endpoint.credentials.accessKeyId, secretAccessKey: endpoint.credentials.secretAccessKey },
      REGION,
      's3',
    );
  }

  agentFor(index: number): Agent {
    return (this.agents[index] ??= new Agent({ keepAlive: true, maxSockets: this.socketsWanted, timeout: IDLE_SOCKET_MS }));
  }

  /** At least n keep-alive sockets per member (a copier with n transfers in flight). */
  reserveSockets(n: number): void {
    if (n <= this.socketsWanted) return;
    this.socketsWanted = n;
    for (const a of this.agents) if (a) a.maxSockets = n;
  }

  /** The host and port of a member (`host:port`, `[v6]:port`). */
  address(index: number): { member: string; hostname: string; port: number } {
    const member = this.endpoint.members[index]!;
    const colon = member.lastIndexOf(':');
    return { member, hostname: member.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(member.slice(colon + 1)) };
  }

  /** The request target: the path and its query string (keys sorted, RFC 3986, `key` alone for ''). */
  static target(req: WireRequest): string {
    const { path, query } = req;
    const qs = Object.keys(query)
      .sort()
      .map((k) => (query[k] === '' ? uriEscape(k) : `${uriEscape(k)}=${uriEscape(query[k]!)}`))
      .join('&');
    return qs ? `${path}?${qs}` : path;
  }

  noAnswer(): Error {
    return new OwnTimeout(`no answer within ${this.opts.timeoutMs / 1000}s`);
  }

  /** One signed request to one member; resolves on a 2xx answer (its body unread), rejects otherwise. */
  async httpOnce(index: number, req: WireRequest, signal: AbortSignal | undefined): Promise<DataResponse> {
    const { member, hostname, port } = this.address(index);
    const headers = this.signer.sign({ method: req.method, path: req.path, query: req.query, headers: { ...req.headers, host: member } });
    signal?.throwIfAborted();
    return new Promise<DataResponse>((resolve, reject) => {
      // The signal aborts the request until its answer arrives; the body is then the caller's.
      let detach = () => {};
      const r = httpRequest(
        { host: hostname, port, method: req.method, path: PoolMembers.target(req), headers, agent: this.agentFor(index) },
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

  /** Closes every kept-alive socket; a later request opens new ones. */
  close(): void {
    for (const a of this.agents) a?.destroy();
    this.agents = [];
  }
}
