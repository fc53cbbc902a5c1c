import type { StateStore, GenerationCommit, InventoryRow, StateDatabase } from '../../ports/state-store.js';
import type { WriterLocks } from '../../ports/writer-lock.js';
import type { Clock } from '../../ports/clock.js';
import { migrationRowOf } from '../migrations/migration-records.js';
import { isCorruptState, UserError } from '../../domain/errors.js';
import { planRebuild, type RebuildPlan } from '../../domain/rebuild/rebuild-state.js';
import { nginxFeaturesFor } from '../../domain/render/rendered-tree.js';
import { STATUS_FILE_PATH } from '../../domain/render/render-status.js';
import type { ApplyJournal } from '../../ports/apply-journal.js';
import type { ContentStore } from '../../ports/content-store.js';
import type { ManagedTree } from '../../ports/managed-tree.js';
import type { MigrationFiles } from '../../ports/migration-files.js';
import type { Nginx } from '../../ports/nginx.js';
import type { RemovedPoolsFile } from '../../ports/removed-pools-file.js';
import { recoverRemovedPools } from '../buckets/removed-pools.js';
import type { Settings } from '../../config/settings.js';

export interface RebuildOptions {
  dryRun: boolean;
  force: boolean;
  command: string;
}

/**
 * What a rebuild needs: the settings, the state database, the writer lock, the clock (the kept
 * copy's name), and what it rebuilds from: the managed tree, the migration state files, the
 * journal of an interrupted apply, nginx's version; the content store receives the files' contents.
 */
export interface RebuildPorts {
  settings: Settings;
  state: StateDatabase;
  locks: WriterLocks;
  clock: Clock;
  tree: Pick<ManagedTree, 'exists' | 'read' | 'readLive'>;
  migrationFiles: Pick<MigrationFiles, 'readAll'>;
  journal: Pick<ApplyJournal, 'read'>;
  nginx: Pick<Nginx, 'version'>;
  contents: Pick<ContentStore, 'putMany'>;
  /** The removed-pool records' copy beside the database. */
  removedPoolsFile: Pick<RemovedPoolsFile, 'read' | 'path'>;
}

/** What the database looked like before the rebuild. */
export type DatabaseBefore = 'missing' | 'empty' | 'populated' | 'corrupt';

export interface RebuildResult {
  dryRun: boolean;
  dbPath: string;
  before: DatabaseBefore;
  /** Where the previous database was kept (`--force`), or null. */
  keptAs: string | null;
  plan: RebuildPlan;
  nginxVersion: string | null;
  /** The removed pools whose records were recovered from the copy beside the database (with --dry-run: would be). */
  removedPools: string[];
}

/**
 * `orch rebuild-db`: rebuilds the state database from the managed directory, the status file and
 * the migration state files. Never touches an nginx file. Refuses a database that holds anything
 * (or cannot be read) unless `force`, and then keeps it under `orch.db.before-rebuild-<time>`;
 * a corrupt database is moved aside without ever being opened for writing.
 */
export async function rebuildDatabase(ports: RebuildPorts, opts: RebuildOptions): Promise<RebuildResult> {
  const { settings } = ports;
  const dbPath = ports.state.path;
  if (!ports.tree.exists()) {
    throw new UserError(
      'rebuild.no-managed-dir',
      `The managed nginx directory ${settings.nginxDir} does not exist: there is nothing to rebuild the state from.`,
      {
        hint: 'Point --nginx-dir (or ORCH_NGINX_DIR, or nginxDir in the config file) at the directory holding pools/ and vhosts/.',
      },
    );
  }
  // A dry run writes nothing, not even the lock file: it only reads, like `orch plan`.
  const lock = opts.dryRun ? null : await ports.locks.acquire(opts.command, settings.lockTimeoutSeconds);
  try {
    const journal = ports.journal.read();
    if (journal) {
      throw new UserError(
        'rebuild.interrupted-apply',
        journal.version === 1
          ? `An apply of generation ${journal.generation} by an older orch was interrupted (phase ${journal.phase}): the managed files may be a mix of two generations, which cannot be recorded as one.`
          : `An apply of generation ${journal.generation} was interrupted (phase ${journal.phase}): whether generation ${journal.generation} or ${journal.previous} stays live depends on what nginx serves, which a writer decides (and records).`,
        {
          hint: `Let a writer finish or undo it first: 'orch apply --dry-run' does that, then stops before applying anything new. If the database is corrupt, move it aside first (mv ${dbPath} ${dbPath}.broken).`,
        },
      );
    }
    const { before, recordedDir } = inspectDatabase(ports.state);
    if (before === 'corrupt' || before === 'populated' || (recordedDir !== null && recordedDir !== settings.nginxDir)) {
      // A dry run writes nothing: it previews even over a database it would refuse to replace.
      if (!opts.force && !opts.dryRun) throw refusal(dbPath, before, recordedDir, settings.nginxDir);
    }

    const version = await ports.nginx.version();
    const plan = planRebuild({
      files: ports.tree.read().files,
      statusFile: ports.tree.readLive(STATUS_FILE_PATH),
      migrationFiles: ports.migrationFiles.readAll(),
      features: nginxFeaturesFor(version),
    });
    const result: RebuildResult = { dryRun: opts.dryRun, dbPath, before, keptAs: null, plan, nginxVersion: version, removedPools: [] };
    // Read before anything is written: a dry run reports it the same way.
    const removed = recoverRemovedPools({ setMeta: () => {} }, ports.removedPoolsFile);
    result.removedPools = removed.pools;
    plan.diagnostics.push(...removed.diagnostics);
    if (opts.dryRun) return result;

    if (before !== 'missing' && (before !== 'empty' || opts.force)) {
      result.keptAs = ports.state.moveAside(`before-rebuild-${timestamp(new Date(ports.clock.now()))}`);
    }
    ports.contents.putMany(plan.contents);
    const store = ports.state.open();
    try {
      store.setMeta('nginx_dir', settings.nginxDir);
      recoverRemovedPools(store, ports.removedPoolsFile);
      if (plan.files.length > 0 || plan.migrations.length > 0)
        store.commitRebuild(
          commitOf(plan, opts.command),
          plan.migrations.map((m) => migrationRowOf(m.record, m.file, m.completed)),
        );
      else
        store.audit([
          {
            command: opts.command,
            action: 'rebuild',
            subject: 'state database',
            details: 'no orch file in the managed directory: nothing recorded',
          },
        ]);
      // Backups of the lost state hold its history (generations, audit log): a rebuild never
      // rotates them away. The next apply backs up the rebuilt state, rotating as usual.
      if (ports.state.backups().length === 0) await store.backup(settings.backupRotate);
    } finally {
      store.close();
    }
    return result;
  } finally {
    lock?.release();
  }
}

function inspectDatabase(state: StateDatabase): { before: DatabaseBefore; recordedDir: string | null } {
  // Read without writing anything: a dry run leaves no -wal, -shm or journal file.
  const condition = state.condition();
  if (condition.kind === 'missing') return { before: 'missing', recordedDir: null };
  if (condition.kind === 'zero-bytes') return { before: 'empty', recordedDir: null };
  if (condition.kind !== 'usable') return { before: 'corrupt', recordedDir: null };
  let store: StateStore | null;
  try {
    store = state.openIfExists();
  } catch (e) {
    if (isCorruptState(e)) return { before: 'corrupt', recordedDir: null };
    throw e;
  }
  if (store === null) return { before: 'missing', recordedDir: null };
  try {
    return { before: store.isEmpty() && store.migrations().length === 0 ? 'empty' : 'populated', recordedDir: store.getMeta('nginx_dir') };
  } catch {
    // Readable as SQLite but not as orch's schema (another program's database, a damaged table).
    return { before: 'corrupt', recordedDir: null };
  } finally {
    store.close();
  }
}

function refusal(dbPath: string, before: DatabaseBefore, recordedDir: string | null, nginxDir: string): UserError {
  if (before === 'corrupt') {
    return new UserError(
      'rebuild.corrupt',
      `The state database ${dbPath} is corrupt or not an orch database; rebuild-db will not overwrite it without --force.`,
      {
        hint: "Run 'orch rebuild-db --force': the damaged file is kept as orch.db.before-rebuild-<time>, never opened for writing.",
      },
    );
  }
  if (before !== 'populated' && recordedDir !== null) {
    return new UserError(
      'rebuild.other-nginx-dir',
      `The state database ${dbPath} belongs to the nginx directory ${recordedDir}, not ${nginxDir}.`,
      {
        hint: 'Check --nginx-dir and --state-dir. To rebuild it for this directory anyway, pass --force (the old database is kept).',
      },
    );
  }
  return new UserError('rebuild.not-empty', `The state database ${dbPath} is not empty; rebuild-db replaces it only with --force.`, {
    hint: "Preview with 'orch rebuild-db --dry-run'. With --force the current database is kept as orch.db.before-rebuild-<time> (its history: generations, audit log).",
  });
}

function timestamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function commitOf(plan: RebuildPlan, command: string): GenerationCommit {
  const upsert: InventoryRow[] = plan.files.map((f) => ({
    path: f.path,
    resourceKind: f.resource?.kind ?? 'Status',
    resourceName: f.resource?.name ?? 'orch-status',
    role: f.role,
    sha256: f.recordedSha256,
    size: f.recordedSize,
    generation: plan.generation,
    originFile: f.originFile,
    originIndex: f.originIndex,
  }));
  const edited = plan.files.filter((f) => f.recordedSha256 !== f.diskSha256).map((f) => f.path);
  return {
    generation: {
      number: plan.generation,
      command,
      fingerprint: plan.fingerprint,
      outcome: 'rebuilt',
      summary: JSON.stringify({
        note: `rebuilt from the managed directory${plan.generationSource === 'status-file' ? ' (generation number from the status file)' : ''}`,
        files: plan.files.length,
        resources: plan.resources.filter((r) => r.from !== null).length,
        migrations: plan.migrations.length,
        warnings: plan.diagnostics.length,
      }),
      nginxOutput: null,
    },
    upsert,
    remove: [],
    files: Object.fromEntries(plan.files.map((f) => [f.path, f.diskSha256])),
    audit: [
      {
        command,
        action: 'rebuild',
        subject: `generation ${plan.generation}`,
        details: JSON.stringify({
          files: plan.files.length,
          edited,
          unmanaged: plan.unmanaged,
          migrations: plan.migrations.map((m) => m.record.name),
          diagnostics: plan.diagnostics.map((d) => `${d.code}: ${d.message}`),
        }),
      },
    ],
  };
}
