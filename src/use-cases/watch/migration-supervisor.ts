import type { Settings } from '../../config/settings.js';
import type { MigrationPhase, MigrationRecord } from '../../domain/migrations/migration-record.js';
import { driveMigration } from '../migrations/driver.js';
import type { MigrationPorts } from '../migrations/migration-ports.js';
import { loadMigrationRecords } from '../migrations/migration-records.js';
import type { Logger } from './log.js';

/** One migration as the daemon reports it in /status and /metrics. */
export interface MigrationStatus {
  name: string;
  phase: string;
  objectsCopied: number;
  bytesCopied: number;
  objectsTotal: number | null;
  bytesTotal: number | null;
  etaSeconds: number | null;
  lastError: string | null;
  updatedAt: string | null;
}

/**
 * How `orch watch` drives migrations: an injected component, so the daemon does not depend on the
 * migration engine's internals (src/use-cases/migrations/).
 */
export interface MigrationSupervisor {
  /** Called on every migration tick and after each reconcile: starts drivers for active migrations that have none (they run concurrently with reconciles and take the writer lock only to apply a generation). Never throws. */
  tick(): void;
  snapshot(): MigrationStatus[];
  /** Stop drivers at a safe point (abort their AbortSignal); resolves when they stopped. */
  stop(): Promise<void>;
  /** Settings re-read on SIGHUP: used by the drivers started from now on. */
  updateSettings(settings: Settings): void;
}

/** The migration ports for a set of settings (the composition root's migrationPorts). */
export type MigrationPortsFor = (settings: Settings) => MigrationPorts;

/** The daemon's migration supervisor: the migration engine's drivers, on the ports `portsFor` builds. */
export function createMigrationSupervisor(settings: Settings, log: Logger, portsFor: MigrationPortsFor): MigrationSupervisor {
  return new EngineSupervisor(portsFor(settings), log, portsFor);
}

/** Drives nothing and reports nothing. */
export class NoMigrations implements MigrationSupervisor {
  tick(): void {}
  snapshot(): MigrationStatus[] {
    return [];
  }
  async stop(): Promise<void> {}
  updateSettings(): void {}
}

/** Phases a daemon drives by itself (error waits for an operator's `orch migrate run`). */
const DRIVEN: ReadonlySet<MigrationPhase> = new Set(['pending', 'copying', 'write_routing', 'verifying', 'switching']);

export function statusOf(record: MigrationRecord): MigrationStatus {
  return {
    name: record.name,
    phase: record.phase,
    objectsCopied: record.progress.objectsCopied,
    bytesCopied: record.progress.bytesCopied,
    objectsTotal: record.progress.objectsTotal,
    bytesTotal: record.progress.bytesTotal,
    etaSeconds: record.progress.etaSeconds,
    lastError: record.lastError,
    updatedAt: record.updatedAt,
  };
}

/**
 * The daemon's migration drivers: one per active migration (at most maxParallelMigrations copy at
 * once; the engine keeps the others pending), each running concurrently with reconciles and taking
 * the writer lock only for its routing generations. A migration another process drives (an
 * operator's `orch migrate run`) is left to it.
 */
class EngineSupervisor implements MigrationSupervisor {
  private readonly drivers = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private readonly live = new Map<string, MigrationStatus>();
  private stopping = false;

  constructor(
    private ports: MigrationPorts,
    private readonly log: Logger,
    private readonly portsFor: MigrationPortsFor,
  ) {}

  /**
   * New settings (SIGHUP): drivers started from now on use them (maxParallelMigrations, the
   * migration defaults, the state directory); a driver already running keeps the ports it started
   * with until it stops, so a migration never changes its rules halfway through a phase.
   */
  updateSettings(settings: Settings): void {
    this.ports = this.portsFor(settings);
  }

  private records(): MigrationRecord[] {
    const store = this.ports.state.openIfExists();
    if (!store) return [];
    try {
      return loadMigrationRecords(store);
    } finally {
      store.close();
    }
  }

  tick(): void {
    if (this.stopping) return;
    let records: MigrationRecord[];
    try {
      records = this.records();
    } catch (e) {
      this.log.warn('migration.tick-failed', { error: e instanceof Error ? e.message : String(e) });
      return;
    }
    for (const record of records) {
      if (!DRIVEN.has(record.phase) || this.drivers.has(record.name)) continue;
      if (this.ports.locks.of(record.name).holder()) continue;
      this.start(record.name);
    }
  }

  private start(name: string): void {
    const controller = new AbortController();
    this.log.info('migration.driver-start', { migration: name });
    const done = driveMigration(this.ports, name, {
      signal: controller.signal,
      command: 'watch',
      log: (level, message) =>
        this.log[level === 'info' ? 'info' : level === 'warn' ? 'warn' : 'error']('migration.event', { migration: name, message }),
      onUpdate: (record) => this.live.set(record.name, statusOf(record)),
    })
      .then((r) => {
        this.live.set(name, statusOf(r.record));
        if (r.outcome !== 'waiting') this.log.info('migration.driver-end', { migration: name, outcome: r.outcome, phase: r.record.phase });
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
    let records: MigrationRecord[] = [];
    try {
      records = this.records();
    } catch {
      /* the last statuses seen */
    }
    const out = new Map(records.map((d) => [d.name, statusOf(d)]));
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
