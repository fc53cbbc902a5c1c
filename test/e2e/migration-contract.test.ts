import { describe, it } from 'vitest';
import { runWithWorkload } from '../helpers/migration-run.js';

/**
 * The migration contract, end to end: a real nginx applied by orch, two s3rver pools, a client
 * workload through the gateway for the whole migration (new keys, overwrites, deletes, reads right
 * after writes, multipart uploads, the SDK's default retries), every acknowledged operation
 * recorded and checked against the six points of docs/migrations.md. Crashes and resumes are in
 * migration-crash.test.ts (a separate file, so the two run in parallel).
 */
describe.sequential('live bucket migration under a client workload', () => {
  it('copy mode: every point of the contract holds', async () => {
    await runWithWorkload({ mode: 'copy' });
  }, 240_000);

  it('sync mode: every point of the contract holds', async () => {
    await runWithWorkload({ mode: 'sync' });
  }, 240_000);
});
