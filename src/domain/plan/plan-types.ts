import type { Diagnostic } from '../diagnostics.js';
import type { DesiredMigration, Origin } from '../model/desired-state.js';
import type { FileRole, RenderedTree, ResourceRef } from '../render/rendered-tree.js';

/** A plan is a plain value: a closed set of actions over files, resources and migrations. */
export type FileAction = 'create' | 'update' | 'delete';
export type ResourceAction = 'create' | 'update' | 'delete';

export interface FileChange {
  /** Relative to the managed nginx directory. */
  path: string;
  role: FileRole;
  action: FileAction;
  before: string | null;
  after: string | null;
  beforeSha256: string | null;
  afterSha256: string | null;
  /** The file on disk differs from what orch last wrote (edited outside orch). */
  drift: boolean;
  /** The file exists on disk without orch's marker: applying takes ownership of it. */
  adopt: boolean;
}

export interface ResourceChange {
  resource: ResourceRef;
  action: ResourceAction;
  origin: Origin | null;
  files: FileChange[];
}

export type DriftKind = 'modified' | 'deleted';
export interface DriftEntry {
  path: string;
  kind: DriftKind;
  /** What orch last wrote (from the inventory). */
  expectedSha256: string;
  actualSha256: string | null;
}

export interface MigrationChange {
  action: 'start';
  migration: DesiredMigration;
}

/** A Migration document the state already knows (an earlier apply started it): apply does not start it again. */
export interface KnownMigration {
  name: string;
  virtualHost: string;
  bucket: string;
  from: string;
  to: string;
  /** Its phase now (pending, copying, ..., done, error, cancelled). */
  phase: string;
}

/** A bucket apply creates on a pool before the route that needs it goes live. */
export interface BucketChange {
  action: 'create';
  bucket: string;
  pool: string;
  virtualHost: string;
  /** The route that points at the pool. */
  route: string;
  origin: Origin;
}

/** How a pool's buckets were seen when the plan refreshed from S3. */
export interface PoolRefresh {
  pool: string;
  status: 'ok' | 'unreachable' | 'access-denied' | 'error' | 'no-credentials';
  message: string | null;
}

export interface RefreshReport {
  /** False for an offline plan (`--no-refresh`): no bucket was checked. */
  performed: boolean;
  pools: PoolRefresh[];
}

export interface PlanSummary {
  add: number;
  change: number;
  destroy: number;
  migrationsToStart: number;
  bucketsToCreate: number;
}

export interface Plan {
  changes: ResourceChange[];
  unchanged: { resources: number; files: number };
  /** Files in pools/ or vhosts/ without orch's marker that orch leaves alone. */
  unmanaged: string[];
  /** Files with orch's marker that orch would not delete because its inventory does not list them. */
  notInInventory: string[];
  drift: DriftEntry[];
  migrations: MigrationChange[];
  /** The manifests' Migration documents already started by an earlier apply, with their phase (shown, not acted on). */
  knownMigrations: KnownMigration[];
  /** Buckets to create on pools (from a refresh; empty offline). */
  buckets: BucketChange[];
  refresh: RefreshReport;
  diagnostics: Diagnostic[];
  summary: PlanSummary;
  /** The complete tree the plan was computed for; apply stages exactly this. */
  desired: RenderedTree;
}

export function planHasChanges(plan: Plan): boolean {
  const s = plan.summary;
  return s.add + s.change + s.destroy + s.migrationsToStart + s.bucketsToCreate > 0;
}
