import { describe, expect, it } from 'vitest';
import { judgeState, StateLostError, type DatabaseProblem, type StateEvidence } from '../../src/domain/apply/state-loss.js';
import { asStorageError, StorageError, storageFailureOf } from '../../src/domain/apply/storage-failure.js';

/** "Never applied here" against "the state was lost", and storage failures as user errors: pure decisions. */

const DB = '/var/lib/orch/orch.db';
const nothing: StateEvidence = {
  nginxDir: '/etc/nginx/orch',
  orchFiles: 0,
  liveGeneration: null,
  generationDirs: 0,
  backups: [],
  journal: false,
  migrationFiles: 0,
};
const applied: StateEvidence = {
  ...nothing,
  orchFiles: 2401,
  liveGeneration: 12,
  generationDirs: 5,
  backups: [
    { path: `${DB}.bak`, writtenAt: Date.UTC(2026, 0, 2), generation: 12, usable: true },
    { path: `${DB}.bak.2`, writtenAt: Date.UTC(2026, 0, 1), generation: 11, usable: true },
  ],
};
/** The error of a verdict that stops. */
function stopped(v: ReturnType<typeof judgeState>): StateLostError {
  if (v.verdict !== 'stop') throw new Error(`expected a stop, got ${v.verdict}`);
  return v.error as StateLostError;
}

const facts = (e: StateEvidence, journalPresent = false) => ({
  nginxDir: e.nginxDir,
  liveGeneration: () => e.liveGeneration,
  evidence: () => e,
  journalPresent,
});

describe('state loss: pure decisions', () => {
  it.each([[{ kind: 'missing' }], [{ kind: 'no-generation' }], [{ kind: 'zero-bytes' }]] as Array<[DatabaseProblem]>)(
    '%o with nothing of orch on disk: a fresh start',
    (problem) => {
      expect(judgeState(DB, problem, null, facts(nothing))).toEqual({ verdict: 'fresh' });
    },
  );

  it('a missing database with orch files and backups: stop, say what was found, give the exact restore', () => {
    const v = judgeState(DB, { kind: 'missing' }, null, facts(applied));
    expect(v.verdict).toBe('stop');
    const e = stopped(v);
    expect(e).toBeInstanceOf(StateLostError);
    expect(e.code).toBe('state.lost');
    expect(e.message).toBe(
      "The state database /var/lib/orch/orch.db is missing, but orch has applied here before: 2,401 files carrying orch's marker in /etc/nginx/orch (generation 12 is live); 5 generation directories; 2 database backups (newest usable: /var/lib/orch/orch.db.bak, generation 12, written 2026-01-02T00:00:00.000Z). Nothing was changed: without its state orch cannot tell its own files from hand edits (an apply would overwrite edits unnoticed, delete files and restart the generation numbers).",
    );
    expect(e.hint).toContain(
      'Restore the newest backup, which records generation 12, the one live: cp -p /var/lib/orch/orch.db.bak /var/lib/orch/orch.db.',
    );
    expect(e.hint).toContain("'orch rebuild-db', then check");
  });

  it('a backup older than the live files is not offered first: rebuild, and why', () => {
    const v = judgeState(DB, { kind: 'missing' }, null, facts({ ...applied, backups: applied.backups.slice(1) }));
    const e = stopped(v);
    expect(e.hint).toMatch(
      /^Rebuild the state from the files: 'orch rebuild-db', then check with 'orch plan'\. The newest backup \(\S+\.bak\.2\) records generation 11, older than the live generation 12/,
    );
  });

  it.each([
    [{ kind: 'zero-bytes' }, 'state.lost', 'is empty (0 bytes)'],
    [{ kind: 'truncated', size: 4096, expected: 90112 }, 'state.truncated', 'is truncated (4,096 bytes; its header says 90,112 bytes)'],
    [{ kind: 'not-sqlite' }, 'state.not-sqlite', 'is not a SQLite database'],
    [
      { kind: 'foreign', detail: 'it has no generations table (its tables: users)' },
      'state.foreign',
      "is a SQLite database, but not orch's",
    ],
    [{ kind: 'corrupt', detail: 'database disk image is malformed' }, 'state.corrupt', 'is corrupt (database disk image is malformed)'],
  ] as Array<[DatabaseProblem, string, string]>)('%o is reported as such', (problem, code, says) => {
    const v = judgeState(DB, problem, null, facts(applied));
    const e = stopped(v);
    expect(e.code).toBe(code);
    expect(e.message).toContain(says);
    expect(e.hint).toContain(`mv ${DB} ${DB}.damaged && cp -p ${DB}.bak ${DB}`);
    expect(e.hint).toContain('orch rebuild-db --force');
  });

  it('an unusable file without any trace of orch is still reported (never initialized over)', () => {
    const v = judgeState(DB, { kind: 'not-sqlite' }, null, facts(nothing));
    expect(v.verdict).toBe('stop');
    expect(stopped(v).message).toBe(
      "/var/lib/orch/orch.db is not a SQLite database (it does not start with SQLite's header: random or foreign bytes). Nothing was changed.",
    );
  });

  it('a database older than the live generation (an old backup restored) stops writers and readers; not while a journal explains it', () => {
    const v = judgeState(DB, null, 10, facts(applied));
    expect(v.verdict).toBe('stop');
    expect(stopped(v).message).toMatch(/records generation 10, but generation 12 is live in \/etc\/nginx\/orch/);
    expect(judgeState(DB, null, 12, facts(applied))).toEqual({ verdict: 'ok' });
    expect(judgeState(DB, null, 11, facts(applied, true))).toEqual({ verdict: 'ok' });
  });
});

describe('storage failures: user errors naming the path', () => {
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), {
    code: 'ENOSPC',
    path: '/etc/nginx/orch/generations/.13.partial/vhosts/a.conf',
  });

  it('are recognized by their code (and through a cause), other errors are not', () => {
    expect(storageFailureOf(enospc)).toEqual({
      problem: 'full',
      code: 'ENOSPC',
      path: '/etc/nginx/orch/generations/.13.partial/vhosts/a.conf',
    });
    expect(storageFailureOf(new Error('x', { cause: Object.assign(new Error('y'), { code: 'EROFS' }) }))).toMatchObject({
      problem: 'read-only',
    });
    expect(storageFailureOf(Object.assign(new Error('z'), { code: 'EACCES' }))).toMatchObject({ problem: 'denied', path: null });
    expect(storageFailureOf(new Error('plain'))).toBeNull();
    expect(storageFailureOf(Object.assign(new Error('busy'), { code: 'SQLITE_BUSY' }))).toBeNull();
  });

  it('say which path, what was being done, what is live, and what to free or fix', () => {
    const e = asStorageError(enospc, {
      doing: 'preparing generation 13',
      outcome: 'Nothing live changed: generation 12 is live, as before.',
    });
    expect(e).toBeInstanceOf(StorageError);
    expect((e as StorageError).exitCode).toBe(1);
    expect((e as StorageError).message).toBe(
      'No space left on the file system holding /etc/nginx/orch/generations/.13.partial/vhosts/a.conf (ENOSPC) while preparing generation 13. Nothing live changed: generation 12 is live, as before.',
    );
    expect((e as StorageError).hint).toContain('df -h /etc/nginx/orch/generations/.13.partial/vhosts');
    const ro = asStorageError(Object.assign(new Error('EROFS'), { code: 'EROFS', path: '/var/lib/orch/orch.lock' }), {
      doing: 'starting apply',
      outcome: 'Nothing was changed.',
    });
    expect((ro as StorageError).message).toBe(
      '/var/lib/orch/orch.lock is on a read-only file system (EROFS) while starting apply. Nothing was changed.',
    );
    expect((ro as StorageError).hint).toContain('Remount /var/lib/orch read-write');
    const other = new Error('a bug');
    expect(asStorageError(other, { doing: 'x', outcome: 'y' })).toBe(other);
  });
});
