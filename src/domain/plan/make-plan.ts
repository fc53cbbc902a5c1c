import { createHash } from 'node:crypto';
import type { Diagnostic } from '../diagnostics.js';
import type { DesiredMigration, Origin } from '../model/desired-state.js';
import type { RenderedFile, RenderedTree, ResourceKind, ResourceRef } from '../render/rendered-tree.js';
import type {
  BucketChange,
  DriftEntry,
  FileChange,
  KnownMigration,
  MigrationChange,
  Plan,
  ResourceAction,
  RefreshReport,
  ResourceChange,
} from './plan-types.js';

/** A file found in the managed directory (pools/ and vhosts/ only). */
export interface ObservedFile {
  path: string;
  content: string;
  /** Carries orch's marker. */
  managed: boolean;
}

export interface ObservedTree {
  files: ObservedFile[];
}

/** What orch last wrote, per file (from the state database). Null when there is no state yet. */
export type Inventory = ReadonlyMap<string, { sha256: string }> | null;

export interface PlanInput {
  desired: RenderedTree;
  observed: ObservedTree;
  inventory: Inventory;
  migrations: DesiredMigration[];
  /** Names of migrations already known to the state (not started again). */
  knownMigrations?: ReadonlySet<string>;
  /** The state's record of those the manifests name, for display (see Plan.knownMigrations). */
  knownMigrationRecords?: readonly KnownMigration[];
  diagnostics?: Diagnostic[];
  /** Origins of desired resources, for display. */
  origins?: ReadonlyMap<string, Origin>;
  /** Buckets to create (see plan-buckets.ts); none by default. */
  buckets?: BucketChange[];
  /** What the refresh from S3 saw; by default none was performed. */
  refresh?: RefreshReport;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function resourceKey(ref: ResourceRef): string {
  return `${ref.kind}/${ref.name}`;
}

/**
 * Compares the desired tree with what is on disk. Invariant: makePlan of a tree against itself
 * (observed = desired, inventory matching) has no changes.
 */
export function makePlan(input: PlanInput): Plan {
  const observedByPath = new Map(input.observed.files.map((f) => [f.path, f]));
  const desiredPaths = new Set(input.desired.files.map((f) => f.path));
  const byResource = new Map<string, { ref: ResourceRef; files: FileChange[]; total: number }>();
  const entryFor = (ref: ResourceRef) => {
    const key = resourceKey(ref);
    let entry = byResource.get(key);
    if (!entry) {
      entry = { ref, files: [], total: 0 };
      byResource.set(key, entry);
    }
    return entry;
  };

  const drift: DriftEntry[] = [];
  let unchangedFiles = 0;
  for (const file of input.desired.files) {
    const entry = entryFor(file.resource);
    entry.total++;
    const seen = observedByPath.get(file.path);
    const change = compareDesiredFile(file, seen, input.inventory, drift);
    if (change) entry.files.push(change);
    else unchangedFiles++;
  }

  // Deletions: only files carrying orch's marker, and, once there is an inventory, listed in it.
  const unmanaged: string[] = [];
  const notInInventory: string[] = [];
  for (const file of input.observed.files) {
    if (desiredPaths.has(file.path)) continue;
    if (!file.managed) {
      unmanaged.push(file.path);
      continue;
    }
    const recorded = input.inventory?.get(file.path);
    if (input.inventory && !recorded) {
      notInInventory.push(file.path);
      continue;
    }
    const beforeSha = sha256(file.content);
    if (recorded && recorded.sha256 !== beforeSha) {
      drift.push({ path: file.path, kind: 'modified', expectedSha256: recorded.sha256, actualSha256: beforeSha });
    }
    const ref = resourceOfPath(file.path);
    const entry = entryFor(ref);
    entry.total++;
    entry.files.push({
      path: file.path,
      role: file.path.endsWith('.meta.json') ? 'sidecar' : 'config',
      action: 'delete',
      before: file.content,
      after: null,
      beforeSha256: beforeSha,
      afterSha256: null,
      drift: recorded !== undefined && recorded.sha256 !== beforeSha,
      adopt: false,
    });
  }
  // Inventory entries whose file vanished and that are no longer desired: nothing to do but report.
  if (input.inventory) {
    for (const [path, rec] of input.inventory) {
      if (!observedByPath.has(path) && !desiredPaths.has(path)) {
        drift.push({ path, kind: 'deleted', expectedSha256: rec.sha256, actualSha256: null });
      }
    }
  }

  const changes: ResourceChange[] = [];
  let unchangedResources = 0;
  let add = 0;
  let change = 0;
  let destroy = 0;
  for (const entry of [...byResource.values()].sort((a, b) => compareRefs(a.ref, b.ref))) {
    if (entry.files.length === 0) {
      unchangedResources++;
      continue;
    }
    const action = resourceAction(entry.files, entry.total);
    if (action === 'create') add++;
    else if (action === 'delete') destroy++;
    else change++;
    entry.files.sort((a, b) => (a.path < b.path ? -1 : 1));
    changes.push({
      resource: entry.ref,
      action,
      origin: input.origins?.get(resourceKey(entry.ref)) ?? null,
      files: entry.files,
    });
  }

  const migrations: MigrationChange[] = input.migrations
    .filter((m) => !input.knownMigrations?.has(m.name))
    .map((migration) => ({ action: 'start' as const, migration }));

  drift.sort((a, b) => (a.path < b.path ? -1 : 1));
  return {
    changes,
    unchanged: { resources: unchangedResources, files: unchangedFiles },
    unmanaged: unmanaged.sort(),
    notInInventory: notInInventory.sort(),
    drift,
    migrations,
    knownMigrations: [...(input.knownMigrationRecords ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    buckets: input.buckets ?? [],
    refresh: input.refresh ?? { performed: false, pools: [] },
    diagnostics: input.diagnostics ?? [],
    summary: { add, change, destroy, migrationsToStart: migrations.length, bucketsToCreate: input.buckets?.length ?? 0 },
    desired: input.desired,
  };
}

function compareDesiredFile(
  file: RenderedFile,
  seen: ObservedFile | undefined,
  inventory: Inventory,
  drift: DriftEntry[],
): FileChange | null {
  const recorded = inventory?.get(file.path);
  if (!seen) {
    const afterSha = sha256(file.content);
    if (recorded) drift.push({ path: file.path, kind: 'deleted', expectedSha256: recorded.sha256, actualSha256: null });
    return {
      path: file.path,
      role: file.role,
      action: 'create',
      before: null,
      after: file.content,
      beforeSha256: null,
      afterSha256: afterSha,
      drift: recorded !== undefined,
      adopt: false,
    };
  }
  if (sameContent(seen, file)) return null;
  const afterSha = sha256(file.content);
  const beforeSha = sha256(seen.content);
  const drifted = recorded !== undefined && recorded.sha256 !== beforeSha;
  if (drifted) drift.push({ path: file.path, kind: 'modified', expectedSha256: recorded.sha256, actualSha256: beforeSha });
  return {
    path: file.path,
    role: file.role,
    action: 'update',
    before: seen.content,
    after: file.content,
    beforeSha256: beforeSha,
    afterSha256: afterSha,
    drift: drifted,
    adopt: !seen.managed,
  };
}

/**
 * Whether the file on disk holds the desired content. Equal strings need no hash (the common case
 * of a no-op plan over thousands of files).
 */
function sameContent(seen: ObservedFile, file: RenderedFile): boolean {
  return seen.content === file.content;
}

function resourceAction(files: FileChange[], total: number): ResourceAction {
  if (files.length === total && files.every((f) => f.action === 'create')) return 'create';
  if (files.length === total && files.every((f) => f.action === 'delete')) return 'delete';
  return 'update';
}

const KIND_ORDER: Record<ResourceKind, number> = { Pool: 0, VirtualHost: 1 };
function compareRefs(a: ResourceRef, b: ResourceRef): number {
  if (a.kind !== b.kind) return KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** `pools/a.conf` -> Pool/a, `vhosts/b.meta.json` -> VirtualHost/b. */
export function resourceOfPath(path: string): ResourceRef {
  const slash = path.indexOf('/');
  const dir = path.slice(0, slash);
  const base = path.slice(slash + 1).replace(/\.meta\.json$|\.conf$/, '');
  return { kind: dir === 'pools' ? 'Pool' : 'VirtualHost', name: base };
}
