import type { Logger } from './log.js';
import type { Settings } from '../../config/settings.js';
import type { ManifestLoader } from '../../ports/manifest-loader.js';
import { EngineSupervisor } from '../migrations/supervisor.js';

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

/** The daemon's migration supervisor: the migration engine's drivers (src/use-cases/migrations/supervisor.ts). */
export function createMigrationSupervisor(settings: Settings, log: Logger, manifests: (settings: Settings) => ManifestLoader): MigrationSupervisor {
  return new EngineSupervisor(settings, log, manifests);
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
