import type { WatchSuspension } from '../../ports/watch-suspension.js';
import type { MigrationStatus } from './migration-supervisor.js';
import type { ChangeCounts, DriftPolicy, ErrorInfo, ReconcileOutcome, WatchMode } from './reconcile.js';
import type { Job, Trigger } from './scheduler.js';

/** The version of the /status JSON shape (schemas/watch-status.schema.json). */
export const STATUS_FORMAT_VERSION = '1.1';

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

export interface WatchStatus {
  formatVersion: string;
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
}

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
