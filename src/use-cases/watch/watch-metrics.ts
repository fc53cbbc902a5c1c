import { BUCKET_STATUSES } from '../../domain/buckets/derive-bucket-status.js';
import { MetricsRegistry } from './metrics.js';
import { RECONCILE_OUTCOMES } from './reconcile.js';

/** Outcomes of an apply attempt (a reconcile that reached the staging step). */
export const APPLY_OUTCOMES = ['applied', 'nginx_rejected', 'reload_not_confirmed', 'failed'] as const;
export type ApplyMetricOutcome = (typeof APPLY_OUTCOMES)[number];

const NGINX_TEST_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const RELOAD_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const RECONCILE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** Every metric `orch watch` exposes on /metrics (documented in docs/watch.md). */
export function createWatchMetrics() {
  const r = new MetricsRegistry();
  const m = {
    registry: r,
    up: r.gauge('orch_up', 'Always 1 while orch watch runs.'),
    info: r.gauge('orch_info', 'Always 1; labels: orch version, mode (apply or plan) and drift policy (warn or correct).', [
      'version',
      'mode',
      'drift_policy',
    ]),
    ready: r.gauge('orch_ready', '1 when /readyz answers 200: a reconcile finished and the last one succeeded.'),
    suspended: r.gauge('orch_suspended', '1 while orch suspend is in force: nothing is reconciled until orch resume.'),
    reconcile: r.counter('orch_reconcile_total', 'Reconciles by outcome: applied, no_changes, planned, invalid, blocked, failed.', [
      'outcome',
    ]),
    deferred: r.counter('orch_reconcile_deferred_total', 'Reconciles put off because another orch writer held the lock.', ['reason']),
    reconcileDuration: r.histogram(
      'orch_reconcile_duration_seconds',
      'Wall time of a reconcile (plan, and apply when there are changes).',
      [],
      RECONCILE_BUCKETS,
    ),
    lastReconcile: r.gauge('orch_last_reconcile_timestamp_seconds', 'When the last reconcile finished (Unix time).'),
    consecutiveFailures: r.gauge(
      'orch_reconcile_consecutive_failures',
      'Failed reconciles in a row (reset by one that succeeds); retries back off up to 60 s.',
    ),
    apply: r.counter(
      'orch_apply_total',
      'Applies attempted (reconciles that staged a new tree), by outcome: applied, nginx_rejected, reload_not_confirmed, failed.',
      ['outcome'],
    ),
    nginxTest: r.histogram(
      'orch_nginx_test_duration_seconds',
      'Duration of nginx -t during applies: stage="staged" (the new tree alone), stage="live" (the main configuration with the new files).',
      ['stage'],
      NGINX_TEST_BUCKETS,
    ),
    reload: r.histogram(
      'orch_reload_duration_seconds',
      'Duration of an nginx reload during applies, from the reload command until the new generation was confirmed served.',
      [],
      RELOAD_BUCKETS,
    ),
    lastApply: r.gauge(
      'orch_last_successful_apply_timestamp_seconds',
      'When the latest generation in the state database was applied (Unix time), by any orch writer.',
    ),
    generation: r.gauge('orch_generation', 'The latest generation in the state database (0 before the first apply).'),
    drifted: r.gauge('orch_drifted_files', 'Managed files edited or deleted outside orch, as of the last reconcile.'),
    manifestEvents: r.counter('orch_manifest_events_total', 'File events seen in the manifest directory (before debouncing).'),
    buckets: r.gauge(
      'orch_buckets',
      'Buckets by status at the last bucket sync: routed, via-default, ignored, migrating, orphaned, missing.',
      ['status'],
    ),
    bucketSync: r.counter('orch_bucket_sync_total', 'Bucket syncs by outcome: ok, failed.', ['outcome']),
    lastBucketSync: r.gauge('orch_last_bucket_sync_timestamp_seconds', 'When the last successful bucket sync finished (Unix time).'),
    backup: r.counter('orch_backup_total', 'Periodic state database backups by outcome: ok, failed.', ['outcome']),
    lastBackup: r.gauge('orch_last_backup_timestamp_seconds', 'When the last periodic state database backup finished (Unix time).'),
    migrationPhase: r.gauge('orch_migration_phase', '1 for the current phase of each migration.', ['migration', 'phase']),
    migrationObjects: r.counter('orch_migration_objects_copied_total', 'Objects copied by each migration so far.', ['migration']),
    migrationBytes: r.counter('orch_migration_bytes_copied_total', 'Bytes copied by each migration so far.', ['migration']),
  };
  m.up.set({}, 1);
  for (const outcome of RECONCILE_OUTCOMES) m.reconcile.init({ outcome });
  for (const outcome of APPLY_OUTCOMES) m.apply.init({ outcome });
  m.deferred.init({ reason: 'lock_busy' });
  for (const outcome of ['ok', 'failed']) {
    m.bucketSync.init({ outcome });
    m.backup.init({ outcome });
  }
  m.consecutiveFailures.set({}, 0);
  m.drifted.set({}, 0);
  m.generation.set({}, 0);
  return m;
}

export type WatchMetrics = ReturnType<typeof createWatchMetrics>;

export function bucketStatusesZero(): Record<string, number> {
  return Object.fromEntries(BUCKET_STATUSES.map((s) => [s, 0]));
}
