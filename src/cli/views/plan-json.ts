import { sortDiagnostics } from '../../domain/diagnostics.js';
import { unifiedDiff } from '../../domain/plan/file-diff.js';
import type { Plan } from '../../domain/plan/plan-types.js';
import type { PlanIdentity } from '../../use-cases/plan/compute-plan.js';
import { diagnosticToJson, type DiagnosticJson } from './diagnostics-text.js';

/**
 * The machine-readable plan: a versioned contract (docs/plan.md). Add fields freely; renaming or
 * removing one, or changing a meaning, bumps PLAN_JSON_FORMAT_VERSION.
 */
export const PLAN_JSON_FORMAT_VERSION = '1.1';

export interface PlanJson {
  format_version: string;
  orch_version: string;
  fingerprint: string;
  has_changes: boolean;
  summary: { add: number; change: number; destroy: number; migrations_to_start: number; buckets_to_create: number };
  changes: Array<{
    resource: { kind: string; name: string };
    action: 'create' | 'update' | 'delete';
    origin: { file: string; index: number } | null;
    files: Array<{
      path: string;
      role: 'config' | 'sidecar';
      action: 'create' | 'update' | 'delete';
      before_sha256: string | null;
      after_sha256: string | null;
      drift: boolean;
      adopt: boolean;
      diff: string | null;
    }>;
  }>;
  migrations: Array<{
    action: 'start';
    name: string;
    virtual_host: string;
    bucket: string;
    from: string;
    to: string;
    mode: string;
  }>;
  /**
   * Added in 1.1 (a new field, no version change): the manifests' Migration documents an earlier apply already started, with their
   * phase now; apply does not start them again. Absent from plans saved by older versions.
   */
  known_migrations?: Array<{
    name: string;
    virtual_host: string;
    bucket: string;
    from: string;
    to: string;
    phase: string;
  }>;
  /** Since 1.1. */
  buckets: Array<{
    action: 'create';
    bucket: string;
    pool: string;
    virtual_host: string;
    route: string;
    origin: { file: string; index: number };
  }>;
  /** Since 1.1: whether the plan checked the pools (S3), and how each pool answered. */
  refresh: { performed: boolean; pools: Array<{ pool: string; status: string; message: string | null }> };
  drift: Array<{ path: string; kind: string; expected_sha256: string; actual_sha256: string | null }>;
  unmanaged: string[];
  not_in_inventory: string[];
  unchanged: { resources: number; files: number };
  diagnostics: DiagnosticJson[];
}

/** What the JSON form says about a plan besides the plan itself. */
export interface PlanJsonMeta {
  orchVersion: string;
  fingerprint: string;
}

/** The meta of a plan from its identity (the hashed inputs and their fingerprint). */
export function jsonMeta(identity: PlanIdentity): PlanJsonMeta {
  return { orchVersion: identity.inputs.orchVersion, fingerprint: identity.fingerprint };
}

export function planToJson(plan: Plan, meta: PlanJsonMeta, opts: { diffs: boolean } = { diffs: true }): PlanJson {
  const s = plan.summary;
  return {
    format_version: PLAN_JSON_FORMAT_VERSION,
    orch_version: meta.orchVersion,
    fingerprint: meta.fingerprint,
    has_changes: s.add + s.change + s.destroy + s.migrationsToStart + s.bucketsToCreate > 0,
    summary: {
      add: s.add,
      change: s.change,
      destroy: s.destroy,
      migrations_to_start: s.migrationsToStart,
      buckets_to_create: s.bucketsToCreate,
    },
    changes: plan.changes.map((c) => ({
      resource: { kind: c.resource.kind, name: c.resource.name },
      action: c.action,
      origin: c.origin ? { file: c.origin.file, index: c.origin.index } : null,
      files: c.files.map((f) => ({
        path: f.path,
        role: f.role,
        action: f.action,
        before_sha256: f.beforeSha256,
        after_sha256: f.afterSha256,
        drift: f.drift,
        adopt: f.adopt,
        diff: opts.diffs ? unifiedDiff(f) : null,
      })),
    })),
    migrations: plan.migrations.map((m) => ({
      action: m.action,
      name: m.migration.name,
      virtual_host: m.migration.virtualHost,
      bucket: m.migration.bucket,
      from: m.migration.from,
      to: m.migration.to,
      mode: m.migration.mode,
    })),
    known_migrations: plan.knownMigrations.map((m) => ({
      name: m.name,
      virtual_host: m.virtualHost,
      bucket: m.bucket,
      from: m.from,
      to: m.to,
      phase: m.phase,
    })),
    buckets: plan.buckets.map((b) => ({
      action: b.action,
      bucket: b.bucket,
      pool: b.pool,
      virtual_host: b.virtualHost,
      route: b.route,
      origin: { file: b.origin.file, index: b.origin.index },
    })),
    refresh: {
      performed: plan.refresh.performed,
      pools: plan.refresh.pools.map((p) => ({ pool: p.pool, status: p.status, message: p.message })),
    },
    drift: plan.drift.map((d) => ({
      path: d.path,
      kind: d.kind,
      expected_sha256: d.expectedSha256,
      actual_sha256: d.actualSha256,
    })),
    unmanaged: plan.unmanaged,
    not_in_inventory: plan.notInInventory,
    unchanged: plan.unchanged,
    diagnostics: sortDiagnostics(plan.diagnostics).map(diagnosticToJson),
  };
}
