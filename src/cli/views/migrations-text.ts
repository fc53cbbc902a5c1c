import type { MigrationRecord } from '../../domain/migrations/migration-record.js';
import type { MigrationView } from '../../use-cases/migrations/migration-commands.js';
import type { Style } from '../style.js';
import { formatBytes } from './buckets-text.js';
import { table } from './table.js';

export const MIGRATIONS_FORMAT_VERSION = '1.0';

export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** `1,234/2,000 obj (61%)` from the record's progress. */
export function progressText(record: MigrationRecord): string {
  const p = record.progress;
  if (record.phase === 'done') return `${p.objectsTotal ?? '?'} obj, ${formatBytes(p.bytesTotal)}`;
  if (p.objectsTotal === null) return '-';
  const pct = p.bytesTotal
    ? Math.floor((100 * p.bytesInSync) / p.bytesTotal)
    : p.objectsTotal === 0
      ? 100
      : Math.floor((100 * p.objectsInSync) / p.objectsTotal);
  return `${p.objectsInSync}/${p.objectsTotal} obj, ${formatBytes(p.bytesInSync)}/${formatBytes(p.bytesTotal)} (${pct}%)`;
}

export function rateText(record: MigrationRecord): string {
  const r = record.progress.rateBytesPerSecond;
  return r === null ? '-' : `${formatBytes(r)}/s`;
}

function phaseCell(record: MigrationRecord, style: Style): string {
  if (record.phase === 'done') return style.green(record.phase);
  if (record.phase === 'error') return style.red(record.phase);
  if (record.phase === 'cancelled') return style.dim(record.phase);
  return style.yellow(record.phase);
}

export function formatMigrations(views: readonly MigrationView[], style: Style): string {
  if (views.length === 0) return "No migrations. A Migration manifest becomes one when 'orch apply' starts it.";
  const lines = table(
    ['NAME', 'BUCKET', 'FROM -> TO', 'MODE', 'PHASE', 'PROGRESS', 'RATE', 'ETA', 'DRIVER'],
    views.map((v) => [
      v.record.name,
      `${v.record.virtualHost}/${v.record.bucket}`,
      `${v.record.from} -> ${v.record.to}`,
      v.record.mode,
      phaseCell(v.record, style),
      progressText(v.record),
      rateText(v.record),
      formatDuration(v.record.progress.etaSeconds),
      v.driver ? `pid ${v.driver.pid}` : '-',
    ]),
  );
  const out = [...lines];
  for (const v of views) {
    const freeze = v.record.freezes.filter((f) => f.windowMs !== null);
    const notes: string[] = [];
    if (v.record.lastError) notes.push(style.red(`last error (${v.record.errorAt ?? '?'}): ${v.record.lastError}`));
    if (freeze.length > 0)
      notes.push(
        `freezes: ${freeze.map((f) => `${((f.windowMs ?? 0) / 1000).toFixed(1)}s ${f.outcome}${f.reason ? ` (${f.reason})` : ''}`).join(', ')}`,
      );
    if (v.record.phase === 'done' && v.record.orphanedSource)
      notes.push(
        `source data left on ${v.record.orphanedSource.pool} (${v.record.orphanedSource.prefix}) since ${v.record.orphanedSource.at}`,
      );
    if (notes.length > 0) out.push('', `${v.record.name}:`, ...notes.map((n) => `  ${n}`));
  }
  return out.join('\n');
}

/** The fields every JSON form of a migration starts with: what it moves where, and where it stands. */
export function migrationFieldsToJson(d: MigrationRecord) {
  return {
    name: d.name,
    virtual_host: d.virtualHost,
    bucket: d.bucket,
    from: d.from,
    to: d.to,
    mode: d.mode,
    phase: d.phase,
    routing: d.routing,
  };
}

export function migrationToJson(v: MigrationView) {
  const d = v.record;
  return {
    ...migrationFieldsToJson(d),
    started_at: d.startedAt,
    updated_at: d.updatedAt,
    finished_at: d.finishedAt,
    progress: {
      pass: d.progress.pass,
      objects_total: d.progress.objectsTotal,
      bytes_total: d.progress.bytesTotal,
      objects_in_sync: d.progress.objectsInSync,
      bytes_in_sync: d.progress.bytesInSync,
      objects_copied: d.progress.objectsCopied,
      bytes_copied: d.progress.bytesCopied,
      objects_deleted: d.progress.objectsDeleted,
      rate_bytes_per_second: d.progress.rateBytesPerSecond,
      eta_seconds: d.progress.etaSeconds,
    },
    freezes: d.freezes.map((f) => ({
      started_at: f.startedAt,
      ended_at: f.endedAt,
      window_ms: f.windowMs,
      outcome: f.outcome,
      reason: f.reason,
    })),
    last_error: d.lastError,
    error_at: d.errorAt,
    orphaned_source: d.orphanedSource,
    driver: v.driver,
    log: v.log,
  };
}
