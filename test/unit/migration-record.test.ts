import { describe, expect, it } from 'vitest';
import {
  decodeMigrationStateFile,
  encodeMigrationRecord,
  latestMigrationStateFiles,
  migrationFileName,
  newMigrationRecord,
  type MigrationStateFile,
} from '../../src/domain/migrations/migration-record.js';
import { migrationRowOf } from '../../src/use-cases/migrations/migration-records.js';
import { origin } from '../helpers/desired-builders.js';

/** The one codec of the migration record: state files (formatVersion 1) in, the same JSON out (file and database row). */

const minimal = {
  formatVersion: 1,
  name: 'photos-to-2026',
  virtualHost: 's3-main',
  bucket: 'photos',
  from: 'pool-2025',
  to: 'pool-2026',
  mode: 'copy',
  phase: 'copying',
  startedAt: '2026-01-02T03:04:05Z',
  updatedAt: '2026-01-02T03:09:00Z',
  finishedAt: null,
  orphanedSource: null,
};

const decode = (file: string, body: unknown) => decodeMigrationStateFile(file, typeof body === 'string' ? body : JSON.stringify(body));

function ok(file: string, body: unknown): MigrationStateFile {
  const read = decode(file, body);
  if (!read.ok) throw new Error(read.problem);
  return read.value;
}

describe('the migration record codec', () => {
  it('reads the minimal formatVersion 1 shape with safe defaults, and keeps fields it does not model', () => {
    const { record, completed, file } = ok('photos-to-2026.state.json', { ...minimal, cursor: 'photos/2019/' });
    expect({ completed, file }).toEqual({ completed: false, file: 'photos-to-2026.state.json' });
    expect(record).toMatchObject({
      phase: 'copying',
      routing: 'source',
      routingLive: 'source',
      concurrency: 16,
      freezeBudgetSeconds: 10,
      freezes: [],
      cancelRequested: false,
    });
    expect(record.progress).toMatchObject({ pass: 0, objectsCopied: 0, objectsTotal: null });
    expect(record.extra).toEqual({ cursor: 'photos/2019/' });
    expect(JSON.parse(encodeMigrationRecord(record))).toMatchObject({ ...minimal, cursor: 'photos/2019/' });
  });

  it('a done record defaults to the destination routing', () => {
    const { record, completed } = ok('photos-to-2026.done.json', {
      ...minimal,
      phase: 'done',
      orphanedSource: { pool: 'pool-2025', prefix: 'photos/', at: 'x' },
    });
    expect(completed).toBe(true);
    expect(record).toMatchObject({
      routing: 'destination',
      routingLive: 'destination',
      orphanedSource: { pool: 'pool-2025', prefix: 'photos/', at: 'x' },
    });
  });

  it('round-trips what the engine writes, byte for byte', () => {
    const r = newMigrationRecord(
      {
        name: 'm',
        virtualHost: 'vh',
        bucket: 'b',
        from: 'a',
        to: 'z',
        mode: 'sync',
        concurrency: 8,
        bandwidthLimit: 1000,
        freezeBudgetSeconds: 20,
        origin: origin('Migration', 'm', 'm.yaml'),
      },
      new Date('2026-01-01T00:00:00Z'),
    );
    const copying = {
      ...r,
      phase: 'copying' as const,
      routing: 'freeze' as const,
      freezeUntil: 1_800_000_000,
      freezes: [{ startedAt: 's', endedAt: null, windowMs: null, outcome: null, reason: null }],
    };
    const text = encodeMigrationRecord(copying);
    const back = ok(migrationFileName(copying), text).record;
    expect(back).toEqual(copying);
    expect(encodeMigrationRecord(back)).toBe(text);
  });

  it('a phase this orch does not know reads as error (an operator decides)', () => {
    expect(ok('photos-to-2026.state.json', { ...minimal, phase: 'defragmenting' }).record.phase).toBe('error');
  });

  it.each([
    ['photos-to-2026.json', minimal, /does not end with/],
    ['photos-to-2026.state.json', '{', /not valid JSON/],
    ['photos-to-2026.state.json', [], /not a JSON object/],
    ['photos-to-2026.state.json', { ...minimal, formatVersion: 2 }, /formatVersion 2 is not one this orch reads/],
    ['photos-to-2026.state.json', { ...minimal, bucket: '' }, /field "bucket" is not a non-empty string/],
    ['photos-to-2026.state.json', { ...minimal, mode: 'move' }, /field "mode" is not copy or sync/],
    ['other.state.json', minimal, /does not match its file name/],
    ['photos-to-2026.state.json', { ...minimal, startedAt: 5 }, /field "startedAt" is not a string or null/],
    ['photos-to-2026.state.json', { ...minimal, orphanedSource: { pool: 'p' } }, /"orphanedSource" needs/],
  ])('refuses %s %j', (file, body, problem) => {
    const read = decode(file, body);
    expect(read.ok).toBe(false);
    if (!read.ok) expect(read.problem).toMatch(problem);
  });

  it('one file per migration: a .done.json wins over a .state.json left by a crash', () => {
    const state = ok('photos-to-2026.state.json', minimal);
    const done = ok('photos-to-2026.done.json', { ...minimal, phase: 'done' });
    const other = ok('a.state.json', { ...minimal, name: 'a' });
    expect(latestMigrationStateFiles([done, state, other]).map((f) => f.file)).toEqual(['a.state.json', 'photos-to-2026.done.json']);
    expect(latestMigrationStateFiles([state, done]).map((f) => f.file)).toEqual(['photos-to-2026.done.json']);
  });

  it('the database row stores the same JSON, with columns derived from it', () => {
    const { record, file, completed } = ok('photos-to-2026.done.json', {
      ...minimal,
      phase: 'done',
      orphanedSource: { pool: 'p', prefix: 'photos/', at: 't' },
      cursor: 'c',
    });
    const row = migrationRowOf(record, file, completed);
    expect(row).toMatchObject({
      name: 'photos-to-2026',
      phase: 'done',
      completed: true,
      stateFile: 'photos-to-2026.done.json',
      orphanedSource: '{"pool":"p","prefix":"photos/","at":"t"}',
    });
    expect(JSON.parse(row.document)).toEqual(JSON.parse(encodeMigrationRecord(record)));
    expect(migrationRowOf(record)).toMatchObject({ stateFile: 'photos-to-2026.done.json', completed: true });
  });
});
