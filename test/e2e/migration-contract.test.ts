import { describe, it } from 'vitest';
import { runWithWorkload } from '../helpers/migration-run.js';
import { skipWithoutNanio } from '../helpers/nanio.js';

/**
 * The migration contract, end to end: a real nginx applied by orch, two real nanio pools (SigV4
 * verified; orch's credentials differ per pool; the destination has two members on one data
 * directory), a client workload through the gateway for the whole migration (new keys, overwrites,
 * metadata-only overwrites, deletes, reads right after writes, multipart uploads, the SDK's
 * default retries), every acknowledged operation
 * recorded and checked against the six points of docs/migrations.md. Crashes and resumes are in
 * migration-crash.test.ts (a separate file, so the two run in parallel).
 */
describe.skipIf(skipWithoutNanio()).sequential('live bucket migration under a client workload (nanio)', () => {
  it('copy mode: every point of the contract holds', async () => {
    await runWithWorkload({ mode: 'copy' });
  }, 360_000);

  it('sync mode: every point of the contract holds', async () => {
    await runWithWorkload({ mode: 'sync' });
  }, 360_000);
});
