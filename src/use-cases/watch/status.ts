import type { WatchSuspension } from '../../ports/watch-suspension.js';
import { conditionToJson, type ResourceConditions } from '../../domain/status/conditions.js';
import type { MigrationStatus } from './migration-supervisor.js';
import type { ChangeCounts, DriftPolicy, ErrorInfo, ReconcileOutcome, WatchMode } from './reconcile.js';
import type { Job, Trigger } from './scheduler.js';

/**
 * The version of the /status JSON shape (schemas/watch-status.schema.json, docs/json.md).
 * 2.0: every field in snake_case (1.x was camelCase), `format_version`, diagnostics with `kind` and
 * `name` (1.x: `document`), and `resources` with their conditions.
 */
export const STATUS_FORMAT_VERSION = '2.0';

export interface LastReconcile {
  /** What scheduled it (every trigger folded into this run). */
  triggers: Trigger[];
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  outcome: ReconcileOutcome;
  /** The generation it applied, or null. */
  generation: number | null;
  changes: ChangeCounts | null;
  error: ErrorInfo | null;
}

export type ErrorSource = 'reconcile' | 'bucket-sync' | 'backup' | 'settings' | 'watcher' | 'migrations';

export interface LastError extends ErrorInfo {
  at: string;
  source: ErrorSource;
}

export interface BucketSummary {
  syncedAt: string | null;
  /** Buckets per status (routed, via-default, ignored, migrating, orphaned, missing). */
  byStatus: Record<string, number>;
  pools: Array<{ pool: string; status: string; message: string | null }>;
  error: string | null;
}

/** What the daemon knows for /status (camelCase inside orch; watchStatusJson writes the contract). */
export interface WatchStatusFacts {
  orchVersion: string;
  pid: number;
  /** Since 1.1: the state directory the daemon works on (orch status reads only its own daemon's). */
  stateDir: string;
  startedAt: string;
  mode: WatchMode;
  driftPolicy: DriftPolicy;
  manifests: string;
  ready: boolean;
  /** Why not ready, or null. */
  readyReason: string | null;
  /** Since 1.1: orch suspend in force (nothing is reconciled), or null. */
  suspended: WatchSuspension | null;
  /** The job running now, or null. */
  running: Job | null;
  reconciles: number;
  lastReconcile: LastReconcile | null;
  /** The latest generation in the state database (any writer), or null before the first apply. */
  generation: number | null;
  lastSuccessfulApply: { generation: number; at: string; command: string } | null;
  drift: { files: Array<{ path: string; kind: 'modified' | 'deleted' }>; checkedAt: string | null };
  buckets: BucketSummary | null;
  migrations: MigrationStatus[];
  lastError: LastError | null;
  pendingTriggers: Trigger[];
  consecutiveFailures: number;
  nextRetryAt: string | null;
  /** Since 2.0: every pool, virtual host, route and migration with its conditions. */
  resources: ResourceConditions[];
}

const changesJson = (c: ChangeCounts | null) =>
  c
    ? {
        add: c.add,
        change: c.change,
        destroy: c.destroy,
        buckets_to_create: c.bucketsToCreate,
        migrations_to_start: c.migrationsToStart,
        files: c.files,
      }
    : null;

const errorJson = (e: ErrorInfo) => ({
  code: e.code,
  message: e.message,
  hint: e.hint,
  diagnostics: e.diagnostics.map((d) => {
    const slash = d.document === null ? -1 : d.document.indexOf('/');
    return {
      severity: d.severity,
      code: d.code,
      message: d.message,
      hint: d.hint,
      file: d.file,
      line: d.line,
      column: d.column,
      kind: d.document === null ? null : slash < 0 ? d.document : d.document.slice(0, slash),
      name: d.document === null || slash < 0 ? null : d.document.slice(slash + 1),
      field: d.field,
    };
  }),
});

/** /status as served (format 2.0, snake_case: docs/json.md, schemas/watch-status.schema.json). */
export function watchStatusJson(s: WatchStatusFacts) {
  const last = s.lastReconcile;
  return {
    format_version: STATUS_FORMAT_VERSION,
    orch_version: s.orchVersion,
    pid: s.pid,
    state_dir: s.stateDir,
    started_at: s.startedAt,
    mode: s.mode,
    drift_policy: s.driftPolicy,
    manifests: s.manifests,
    ready: s.ready,
    ready_reason: s.readyReason,
    suspended: s.suspended ? { since: s.suspended.since, by: s.suspended.by, reason: s.suspended.reason } : null,
    running: s.running,
    reconciles: s.reconciles,
    last_reconcile: last
      ? {
          triggers: last.triggers,
          started_at: last.startedAt,
          finished_at: last.finishedAt,
          duration_ms: last.durationMs,
          outcome: last.outcome,
          generation: last.generation,
          changes: changesJson(last.changes),
          error: last.error ? errorJson(last.error) : null,
        }
      : null,
    generation: s.generation,
    last_successful_apply: s.lastSuccessfulApply,
    drift: { files: s.drift.files.map((f) => ({ path: f.path, kind: f.kind })), checked_at: s.drift.checkedAt },
    buckets: s.buckets
      ? {
          synced_at: s.buckets.syncedAt,
          by_status: s.buckets.byStatus,
          pools: s.buckets.pools.map((p) => ({ pool: p.pool, status: p.status, message: p.message })),
          error: s.buckets.error,
        }
      : null,
    migrations: s.migrations.map((m) => ({
      name: m.name,
      phase: m.phase,
      objects_copied: m.objectsCopied,
      bytes_copied: m.bytesCopied,
      objects_total: m.objectsTotal,
      bytes_total: m.bytesTotal,
      eta_seconds: m.etaSeconds,
      last_error: m.lastError,
      updated_at: m.updatedAt,
    })),
    last_error: s.lastError ? { at: s.lastError.at, source: s.lastError.source, ...errorJson(s.lastError) } : null,
    pending_triggers: s.pendingTriggers,
    consecutive_failures: s.consecutiveFailures,
    next_retry_at: s.nextRetryAt,
    resources: s.resources.map((r) => ({ kind: r.kind, name: r.name, conditions: r.conditions.map(conditionToJson) })),
  };
}

export type WatchStatus = ReturnType<typeof watchStatusJson>;

/** /readyz: ready once a reconcile finished and the last one succeeded (applied, no changes, planned). */
export function readiness(last: LastReconcile | null): { ready: boolean; reason: string | null } {
  if (!last) return { ready: false, reason: 'no reconcile has finished yet' };
  if (last.outcome === 'applied' || last.outcome === 'no_changes' || last.outcome === 'planned') return { ready: true, reason: null };
  const why = last.error ? `${last.error.code}: ${firstLine(last.error.message)}` : 'no detail';
  return { ready: false, reason: `last reconcile ${last.outcome} (${why})` };
}

export function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
