import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../src/adapters/sqlite/state-store.js';
import type { GenerationCommit } from '../../src/ports/state-store.js';
import { UserError } from '../../src/domain/errors.js';
import { runCli, STACK_LINE } from '../helpers/cli.js';

/**
 * The state database as a real SQLite file: schema version, WAL and foreign keys, a generation
 * committed in one transaction (all or nothing), rotated online backups, and a damaged file
 * reported as `state.corrupt` (pointing at rebuild-db) by the store and by every CLI command.
 */

let dir: string;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function commitOf(n: number, files: Record<string, string>, opts: { command?: string } = {}): GenerationCommit {
  return {
    generation: {
      number: n,
      command: opts.command ?? 'apply',
      fingerprint: `sha256:${'f'.repeat(63)}${n}`,
      outcome: 'applied',
      summary: '{}',
      nginxOutput: null,
    },
    upsert: Object.entries(files).map(([path, sha]) => ({
      path,
      resourceKind: path.startsWith('pools/') ? 'Pool' : 'VirtualHost',
      resourceName: path.replace(/^\w+\/|\.conf$|\.meta\.json$/g, ''),
      role: path.endsWith('.meta.json') ? ('sidecar' as const) : ('config' as const),
      sha256: sha,
      size: 10,
      generation: n,
      originFile: 'manifests/x.yaml',
      originIndex: 0,
    })),
    remove: [],
    files,
    audit: Object.entries(files).map(([path, sha]) => ({
      command: opts.command ?? 'apply',
      action: 'update',
      subject: path,
      afterSha256: sha,
    })),
  };
}

const sha = (c: string) => c.repeat(64);

function generationsIn(path: string): number[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    expect(db.pragma('quick_check', { simple: true })).toBe('ok');
    return (db.prepare('SELECT number FROM generations ORDER BY number').all() as Array<{ number: number }>).map((r) => r.number);
  } finally {
    db.close();
  }
}

describe('state store on a real SQLite file', () => {
  it('creates a versioned schema with WAL and foreign keys; reopening does not migrate again', () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-state-'));
    const path = join(dir, 'orch.db');
    const store = SqliteStateStore.open(path);
    const version = store.schemaVersion();
    expect(version).toBeGreaterThanOrEqual(1);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    store.close();

    // Read independently: the version is SQLite's user_version, the tables are there.
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(version);
    const tables = (raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(['generations', 'inventory', 'generation_files', 'audit_log']));
    raw.close();

    const again = SqliteStateStore.open(path);
    expect(again.schemaVersion()).toBe(version);
    again.close();

    // A database from a newer orch is refused, not "migrated".
    const newer = new Database(path);
    newer.pragma(`user_version = ${version + 1}`);
    newer.close();
    expect(() => SqliteStateStore.open(path)).toThrow(expect.objectContaining({ code: 'state.too-new' }));
  });

  it('commits a generation, its inventory, file list and audit in one transaction', () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-state-'));
    const store = SqliteStateStore.open(join(dir, 'orch.db'));
    expect(store.currentGeneration()).toBeNull();
    store.commitGeneration(commitOf(1, { 'pools/a.conf': sha('a'), 'vhosts/v.conf': sha('b') }));
    expect(store.currentGeneration()).toBe(1);
    expect(store.inventory().map((r) => [r.path, r.sha256, r.generation])).toEqual([
      ['pools/a.conf', sha('a'), 1],
      ['vhosts/v.conf', sha('b'), 1],
    ]);
    expect(store.generationFiles(1)).toEqual({ 'pools/a.conf': sha('a'), 'vhosts/v.conf': sha('b') });
    expect(store.auditLog().map((a) => [a.subject, a.generation])).toEqual(
      expect.arrayContaining([
        ['pools/a.conf', 1],
        ['vhosts/v.conf', 1],
      ]),
    );

    // Generation 2 changes one file and removes another.
    const c2 = commitOf(2, { 'pools/a.conf': sha('c') });
    c2.remove = ['vhosts/v.conf'];
    store.commitGeneration(c2);
    expect(store.inventory().map((r) => [r.path, r.sha256, r.generation])).toEqual([['pools/a.conf', sha('c'), 2]]);

    // A commit that fails half-way (its generation number exists) leaves nothing behind.
    const bad = commitOf(2, { 'pools/z.conf': sha('d') });
    expect(() => store.commitGeneration(bad)).toThrow();
    expect(store.inventory().map((r) => r.path)).toEqual(['pools/a.conf']);
    expect(store.auditLog().some((a) => a.subject === 'pools/z.conf')).toBe(false);
    // Foreign keys are enforced: an inventory row cannot name a generation that does not exist.
    const orphan = commitOf(3, { 'pools/y.conf': sha('e') });
    orphan.upsert[0]!.generation = 42;
    expect(() => store.commitGeneration(orphan)).toThrow(/FOREIGN KEY/);
    expect(store.currentGeneration()).toBe(2);
    store.close();
  });

  it('backs up with the online backup API, rotating .bak, .bak.2, .bak.3', async () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-state-'));
    const path = join(dir, 'orch.db');
    const store = SqliteStateStore.open(path);
    for (let n = 1; n <= 5; n++) {
      store.commitGeneration(commitOf(n, { 'pools/a.conf': sha(String(n)) }));
      expect(await store.backup(3)).toBe(`${path}.bak`);
    }
    store.close();
    // Newest first: each copy is a consistent database holding the generations of its time.
    expect(generationsIn(`${path}.bak`)).toEqual([1, 2, 3, 4, 5]);
    expect(generationsIn(`${path}.bak.2`)).toEqual([1, 2, 3, 4]);
    expect(generationsIn(`${path}.bak.3`)).toEqual([1, 2, 3]);
    expect(existsSync(`${path}.bak.4`)).toBe(false);
    expect(existsSync(`${path}.bak.tmp`)).toBe(false);
  });

  it('a database overwritten with random bytes is state.corrupt, pointing at rebuild-db', () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-state-'));
    const path = join(dir, 'orch.db');
    writeFileSync(path, randomBytes(64 * 1024));
    for (const open of [() => SqliteStateStore.open(path), () => SqliteStateStore.openIfExists(path)]) {
      let err: unknown;
      try {
        open()?.close();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).code).toBe('state.corrupt');
      expect((err as UserError).message).toContain(path);
      expect((err as UserError).hint).toContain('orch rebuild-db');
    }
  });

  it('a database whose pages were overwritten (header intact) is state.corrupt too', async () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-state-'));
    const path = join(dir, 'orch.db');
    const store = SqliteStateStore.open(path);
    for (let n = 1; n <= 30; n++)
      store.commitGeneration(
        commitOf(n, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`vhosts/v${i}.conf`, sha(String(n % 10))]))),
      );
    store.close(); // checkpoints the WAL into the file
    const bytes = readFileSync(path);
    const pageSize = bytes.readUInt16BE(16);
    expect(bytes.length / pageSize).toBeGreaterThan(4);
    // Keep page 1 (header and schema), garble every other page.
    randomBytes(bytes.length - pageSize).copy(bytes, pageSize);
    writeFileSync(path, bytes);
    expect(statSync(path).size).toBe(bytes.length);
    expect(() => SqliteStateStore.open(path)).toThrow(expect.objectContaining({ code: 'state.corrupt' }));
  });

  it('through the CLI: every command says the database is corrupt and how to rebuild it (exit 1, no stack trace)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-state-cli-'));
    const state = join(dir, 'state');
    const manifests = join(dir, 'manifests');
    const env = {
      ORCH_STATE_DIR: state,
      ORCH_NGINX_DIR: join(dir, 'nginx'),
      ORCH_MANIFESTS: manifests,
      ORCH_NGINX_CONF: join(dir, 'nginx.conf'),
      ORCH_NGINX_PREFIX: dir,
    };
    writeFileSync(join(dir, 'orch.yaml'), '');
    mkdirSync(state, { recursive: true });
    mkdirSync(manifests, { recursive: true });
    writeFileSync(join(state, 'orch.db'), randomBytes(32 * 1024));
    // apply and rollback refuse early without nginx's main configuration: give them one.
    writeFileSync(join(dir, 'nginx.conf'), 'events {}\n');
    const commands = [['plan'], ['apply', '--auto-approve'], ['status'], ['drift'], ['history'], ['rollback', '--auto-approve']];
    const results = await Promise.all(
      commands.map((args) => runCli(args, { env: { ...env, ORCH_CONFIG: join(dir, 'orch.yaml') }, cwd: dir })),
    );
    results.forEach((r, i) => {
      const what = commands[i]!.join(' ');
      expect(r.code, `${what}: ${r.stderr}`).toBe(1);
      // Reported as what it is; nothing of orch on disk besides it: move it aside or rebuild.
      expect(r.stderr, what).toContain(`${join(state, 'orch.db')} is not a SQLite database`);
      expect(r.stderr, what).toContain("'orch rebuild-db --force'");
      expect(r.stderr, what).not.toMatch(STACK_LINE);
      expect(r.stderr, what).not.toContain('Internal error');
    });
    // A writer that failed this way released its lock.
    expect(existsSync(join(state, 'orch.lock')), 'lock left behind by a failed writer').toBe(false);
  });
});
