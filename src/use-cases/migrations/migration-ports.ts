import type { Settings } from '../../config/settings.js';
import type { MigrationRecord } from '../../domain/migrations/migration-record.js';
import type { MigrationRouting } from '../../domain/migrations/routing.js';
import type { Clock } from '../../ports/clock.js';
import type { DeployedSidecars } from '../../ports/deployed-sidecars.js';
import type { MigrationFiles } from '../../ports/migration-files.js';
import type { MigrationLocks } from '../../ports/migration-locks.js';
import type { ObjectTransfer } from '../../ports/object-transfer.js';
import type { StateDatabase } from '../../ports/state-store.js';
import type { WorkerDrain } from '../../ports/worker-drain.js';
import type { PoolAccess } from '../buckets/pool-access.js';

/**
 * One routing generation for a migration's route, through the normal apply path (lock, plan,
 * staged `nginx -t`, journaled promote, confirmed reload). Only the migration's virtual host's
 * files may change; resolves with the generation served (null: no file changed).
 */
export type RoutingApplier = (
  record: MigrationRecord,
  routing: MigrationRouting,
  command: string,
) => Promise<{ generation: number | null }>;

/** What the migration use cases need from the outside world; built by the composition root (migrationPorts). */
export interface MigrationPorts {
  settings: Settings;
  state: StateDatabase;
  clock: Clock;
  /** One driver per migration. */
  locks: MigrationLocks;
  files: MigrationFiles;
  /** The copy engine (the splice relay or not is its own business). */
  transfer: ObjectTransfer;
  drain: WorkerDrain;
  /** What nginx serves for a route (the virtual host's deployed sidecar). */
  sidecars: DeployedSidecars;
  /** The pools as deployed, with their credentials (deployedPoolAccess); asked again after a failure. */
  poolAccess(): PoolAccess;
  applyRouting: RoutingApplier;
}
