import type { S3Client } from '@aws-sdk/client-s3';
import { type PoolMembers, REGION } from './members.js';

/** The pool client's AWS SDK transport: the SDK loaded on first use, one client per member. */

type Sdk = typeof import('@aws-sdk/client-s3');
/** The SDK module, for callers of `transfer` that build their own commands. */
export type S3Sdk = Sdk;

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

/**
 * The AWS SDK's side of a pool client: the commands that need it (ListBuckets, CreateBucket,
 * DeleteObjects, the copier's multipart uploads) go out through one SDK client per member, on the
 * members' keep-alive agents.
 */
export class SdkTransport {
  private sdk: Sdk | null = null;
  private clients: S3Client[] | null = null;

  constructor(private readonly members: PoolMembers) {}

  /** The SDK and one client per member, loaded and made on first use. */
  async sdkClients(): Promise<{ sdk: Sdk; clients: S3Client[] }> {
    const sdk = (this.sdk ??= await loadSdk());
    this.clients ??= this.members.endpoint.members.map(
      (m, i) =>
        new sdk.S3Client({
          endpoint: `http://${m}`,
          forcePathStyle: true,
          region: REGION,
          credentials: {
            accessKeyId: this.members.endpoint.credentials.accessKeyId,
            secretAccessKey: this.members.endpoint.credentials.secretAccessKey,
          },
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
            connectionTimeout: Math.min(2000, this.members.opts.timeoutMs),
            socketTimeout: this.members.opts.timeoutMs,
            requestTimeout: this.members.opts.timeoutMs * 3,
            throwOnRequestTimeout: true,
            httpAgent: this.members.agentFor(i),
          },
        }),
    );
    return { sdk, clients: this.clients };
  }

  /** Destroys the SDK clients; a later command makes new ones. */
  close(): void {
    for (const c of this.clients ?? []) c.destroy();
    this.clients = null;
  }
}
