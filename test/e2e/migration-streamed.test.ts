import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectContract } from '../helpers/json-contract.js';
import { MigrationEnv } from '../helpers/migration-env.js';
import type { MigrationJson } from '../helpers/migration-run.js';

const MiB = 1024 * 1024;

/**
 * A migration of a bucket holding objects of the streamed size class (16-128 MiB), run by the built
 * CLI against a real nginx and two s3rver pools: on Linux those objects go socket to socket by the
 * splice relay (a relay that is not built fails this test there), and arrive byte for byte.
 */
/**
 * A fresh environment whose bucket holds 2 objects of 17 MiB, 2 of 40 MiB and 2 small ones, a sync
 * Migration `photos-to-new` applied (pending); `test` gets it and the source's listing before.
 */
async function withLargeMigration(
  test: (e: MigrationEnv, before: Awaited<ReturnType<MigrationEnv['listPool']>>) => Promise<void>,
): Promise<void> {
  const e = await MigrationEnv.start({ seed: { count: 6, sizes: [1000, 17 * MiB, 40 * MiB], concurrency: 3 } });
  try {
    const before = await e.listPool('old');
    e.writeManifest('migrations/photos.yaml', e.migrationYaml({ name: 'photos-to-new', mode: 'sync', freezeBudget: '10s' }));
    await e.apply();
    await test(e, before);
  } finally {
    await e.close();
  }
}

describe('live bucket migration of large objects', () => {
  it('moves 17 and 40 MiB objects by the splice relay: done, the same sizes and MD5s on the destination, the log names the engine', async () => {
    await withLargeMigration(async (e, before) => {
      const run = await e.cli(['migrate', 'run', 'photos-to-new']);
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
      const r = await e.cli(['migrations', '--json', '--log', '100']);
      expect(r.code, r.stderr).toBe(0);
      const [m] = (JSON.parse(r.stdout) as { migrations: MigrationJson[] }).migrations;
      expect(m).toMatchObject({ phase: 'done', routing: 'destination' });
      const engine =
        process.platform === 'linux'
          ? 'copy engine: objects of 16-128 MiB go socket to socket by the splice relay'
          : expect.stringMatching(/^copy engine: objects of 16-128 MiB go through Node's HTTP client/);
      expect(m!.log.map((l) => l.message)).toContainEqual(engine);
      // Sizes and ETags (each server's own MD5 of what it stored) equal, object for object.
      expect([...before.values()].filter((o) => o.size >= 16 * MiB)).toHaveLength(4);
      expect(await e.listPool('new')).toEqual(before);
    });
  }, 240_000);

  it('killed with SIGKILL while a large body is half-way to the destination, then run again: done, every object whole', async () => {
    await withLargeMigration(async (e, before) => {
      const large = [...before].filter(([, o]) => o.size >= 16 * MiB);
      const run = e.spawnCli(['migrate', 'run', 'photos-to-new']);
      // s3rver writes a PUT's body to its object file as it arrives: a file between empty and whole
      // is a body in flight.
      let partial: { key: string; bytes: number } | null = null;
      for (const end = Date.now() + 60_000; !partial && Date.now() < end; await new Promise((r) => setTimeout(r, 5))) {
        for (const [key, o] of large) {
          let bytes = 0;
          try {
            bytes = statSync(join(e.members.new.dir, e.bucket, `${key}._S3rver_object`)).size;
          } catch {
            continue;
          }
          if (bytes > 0 && bytes < o.size) partial = { key, bytes };
        }
      }
      expect(partial, run.output()).not.toBeNull();
      const killed = await run.kill('SIGKILL');
      expect(killed.signal).toBe('SIGKILL');
      console.log(`killed with ${partial!.bytes} of ${before.get(partial!.key)!.size} bytes of ${partial!.key} at the destination`);

      const again = await e.cli(['migrate', 'run', 'photos-to-new', '--json']);
      expect(again.code, `${again.stdout}\n${again.stderr}`).toBe(0);
      expect(expectContract('migrate', again.stdout)).toMatchObject({
        outcome: 'done',
        migration: { name: 'photos-to-new', phase: 'done' },
      });
      const r = await e.cli(['migrations', '--json']);
      const [m] = expectContract<{ migrations: MigrationJson[] }>('migrations', r.stdout).migrations;
      expect(m).toMatchObject({ phase: 'done', routing: 'destination' });
      expect(await e.listPool('new')).toEqual(before);
    });
  }, 240_000);
});
