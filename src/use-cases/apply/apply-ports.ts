import type { Settings } from '../../config/settings.js';
import type { ApplyJournal } from '../../ports/apply-journal.js';
import type { Clock } from '../../ports/clock.js';
import type { ContentStore } from '../../ports/content-store.js';
import type { FaultHook } from '../../ports/fault-hook.js';
import type { ManagedTree } from '../../ports/managed-tree.js';
import type { ManifestLoader } from '../../ports/manifest-loader.js';
import type { TextFiles } from '../../ports/text-files.js';
import type { MigrationFiles } from '../../ports/migration-files.js';
import type { Nginx } from '../../ports/nginx.js';
import type { ProvenanceSource } from '../../ports/provenance.js';
import type { RemovedPoolsFile } from '../../ports/removed-pools-file.js';
import type { StateDatabase } from '../../ports/state-store.js';
import type { WriterLocks } from '../../ports/writer-lock.js';
import type { PoolAccessPorts } from '../buckets/pool-access.js';

/**
 * What the apply engine and the writers (apply, rollback, watch, migrations) need from the outside
 * world: built by the composition root (composeOrch returns them as part of `Orch`), faked in the
 * engine's unit tests.
 */
export interface ApplyPorts extends PoolAccessPorts {
  settings: Settings;
  state: StateDatabase;
  locks: WriterLocks;
  tree: ManagedTree;
  journal: ApplyJournal;
  contents: ContentStore;
  nginx: Nginx;
  clock: Clock;
  fault: FaultHook;
  /** Files outside the managed tree (a saved plan). */
  files: TextFiles;
  /** The manifests, read and validated. */
  manifests: ManifestLoader;
  /** Where apply records the migrations a plan starts (their state files). */
  migrationFiles: MigrationFiles;
  /** The copy of the removed-pool records beside the database (what rebuild-db recovers them from). */
  removedPoolsFile: RemovedPoolsFile;
  /** Who applies, from which revision of the manifests: recorded with each generation. */
  provenance: ProvenanceSource;
}

/** Builds the ports for settings (the daemon re-reads its settings on SIGHUP): composeOrch. */
export type ComposeApplyPorts = (settings: Settings) => ApplyPorts;
