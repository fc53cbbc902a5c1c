import { migrationStateDir } from '../../adapters/fs/read-state-files.js';
import { readLockHolder } from '../../adapters/fs/writer-lock.js';
import { SqliteStateStore } from '../../adapters/sqlite/state-store.js';
import type { MigrationDoc } from '../../domain/migrations/migration-doc.js';
import type { Logger } from '../watch/log.js';
import { stateDbPath } from '../state/open-state.js';
import type { Settings } from '../../config/settings.js';
import type { ManifestLoader } from '../../ports/manifest-loader.js';
import type { MigrationStatus, MigrationSupervisor } from '../watch/migration-supervisor.js';
import { driveMigration, migrationLockName } from './driver.js';
import { loadMigrationDocs } from './migration-records.js';

/** Phases a daemon drives by itself (error waits for an operator's `orch migrate run`). */
const DRIVEN = new Set(['pending', 'copying', 'write_routing', 'verifying', 'switching']);

export function statusOf(doc: MigrationDoc): MigrationStatus {
  return {
    name: doc.name,
    phase: doc.phase,
    objectsCopied: doc.progress.objectsCopied,
    bytesCopied: doc.progress.bytesCopied,
    objectsTotal: doc.progress.objectsTotal,
    bytesTotal: doc.progress.bytesTotal,
    etaSeconds: doc.progress.etaSeconds,
    lastError: doc.lastError,
    updatedAt: doc.updatedAt,
  };
}

/**
 * The daemon's migration drivers: one per active migration (at most maxParallelMigrations copy at
 * once; the engine keeps the others pending), each running concurrently with reconciles and taking
 * the writer lock only for its routing generations. A migration another process drives (an
 * operator's `orch migrate run`) is left to it.
 */
export class EngineSupervisor implements MigrationSupervisor {
  private readonly drivers = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private readonly live = new Map<string, MigrationStatus>();
  private stopping = false;

  constructor(
    private settings: Settings,
    private readonly log: Logger,
    private readonly manifests: (settings: Settings) => ManifestLoader,
  ) {}

  /**
   * New settings (SIGHUP): drivers started from now on use them (maxParallelMigrations, the
   * migration defaults, the state directory); a driver already running keeps the settings it
   * started with until it stops, so a migration never changes its rules halfway through a phase.
   */
  updateSettings(settings: Settings): void {
    this.settings = settings;
  }

  private docs(): MigrationDoc[] {
    const store = SqliteStateStore.openIfExists(stateDbPath(this.settings));
    if (!store) return [];
    try {
      return loadMigrationDocs(store);
    } finally {
      store.close();
    }
  }

  tick(): void {
    if (this.stopping) return;
    let docs: MigrationDoc[];
    try {
      docs = this.docs();
    } catch (e) {
      this.log.warn('migration.tick-failed', { error: e instanceof Error ? e.message : String(e) });
      return;
    }
    for (const doc of docs) {
      if (!DRIVEN.has(doc.phase) || this.drivers.has(doc.name)) continue;
      if (readLockHolder(migrationStateDir(this.settings.stateDir), migrationLockName(doc.name))) continue;
      this.start(doc.name);
    }
  }

  private start(name: string): void {
    const controller = new AbortController();
    this.log.info('migration.driver-start', { migration: name });
    const done = driveMigration(this.settings, name, {
      signal: controller.signal,
      command: 'watch',
      manifests: this.manifests(this.settings),
      log: (level, message) => this.log[level === 'info' ? 'info' : level === 'warn' ? 'warn' : 'error']('migration.event', { migration: name, message }),
      onUpdate: (doc) => this.live.set(doc.name, statusOf(doc)),
    })
      .then((r) => {
        this.live.set(name, statusOf(r.doc));
        if (r.outcome !== 'waiting') this.log.info('migration.driver-end', { migration: name, outcome: r.outcome, phase: r.doc.phase });
      })
      .catch((e: unknown) => {
        this.log.warn('migration.driver-failed', { migration: name, error: e instanceof Error ? e.message : String(e) });
      })
      .finally(() => {
        this.drivers.delete(name);
      });
    this.drivers.set(name, { controller, done });
  }

  snapshot(): MigrationStatus[] {
    let docs: MigrationDoc[] = [];
    try {
      docs = this.docs();
    } catch {
      /* the last statuses seen */
    }
    const out = new Map(docs.map((d) => [d.name, statusOf(d)]));
    // A running driver's in-memory progress is fresher than its last save.
    for (const [name, s] of this.live) if (this.drivers.has(name) || !out.has(name)) out.set(name, s);
    return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const d of this.drivers.values()) d.controller.abort();
    await Promise.all([...this.drivers.values()].map((d) => d.done));
  }
}
