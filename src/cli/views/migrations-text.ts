import type { MigrationDoc } from '../../domain/migrations/migration-doc.js';
import type { MigrationView } from '../../use-cases/migrations/migration-commands.js';
import type { Style } from '../style.js';
import { formatBytes } from './buckets-text.js';

export const MIGRATIONS_FORMAT_VERSION = '1.0';

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** `1,234/2,000 obj (61%)` from the record's progress. */
export function progressText(doc: MigrationDoc): string {
  const p = doc.progress;
  if (doc.phase === 'done') return `${p.objectsTotal ?? '?'} obj, ${formatBytes(p.bytesTotal)}`;
  if (p.objectsTotal === null) return '-';
  const pct = p.bytesTotal ? Math.floor((100 * p.bytesInSync) / p.bytesTotal) : p.objectsTotal === 0 ? 100 : Math.floor((100 * p.objectsInSync) / p.objectsTotal);
  return `${p.objectsInSync}/${p.objectsTotal} obj, ${formatBytes(p.bytesInSync)}/${formatBytes(p.bytesTotal)} (${pct}%)`;
}

export function rateText(doc: MigrationDoc): string {
  const r = doc.progress.rateBytesPerSecond;
  return r === null ? '-' : `${formatBytes(r)}/s`;
}

function phaseCell(doc: MigrationDoc, style: Style): string {
  if (doc.phase === 'done') return style.green(doc.phase);
  if (doc.phase === 'error') return style.red(doc.phase);
  if (doc.phase === 'cancelled') return style.dim(doc.phase);
  return style.yellow(doc.phase);
}

export function formatMigrations(views: readonly MigrationView[], style: Style): string {
  if (views.length === 0) return "No migrations. A Migration manifest becomes one when 'orch apply' starts it.";
  const lines = table(
    ['NAME', 'BUCKET', 'FROM -> TO', 'MODE', 'PHASE', 'PROGRESS', 'RATE', 'ETA', 'DRIVER'],
    views.map((v) => [
      v.doc.name,
      `${v.doc.virtualHost}/${v.doc.bucket}`,
      `${v.doc.from} -> ${v.doc.to}`,
      v.doc.mode,
      phaseCell(v.doc, style),
      progressText(v.doc),
      rateText(v.doc),
      formatDuration(v.doc.progress.etaSeconds),
      v.driver ? `pid ${v.driver.pid}` : '-',
    ]),
  );
  const out = [...lines];
  for (const v of views) {
    const freeze = v.doc.freezes.filter((f) => f.windowMs !== null);
    const notes: string[] = [];
    if (v.doc.lastError) notes.push(style.red(`last error (${v.doc.errorAt ?? '?'}): ${v.doc.lastError}`));
    if (freeze.length > 0) notes.push(`freezes: ${freeze.map((f) => `${((f.windowMs ?? 0) / 1000).toFixed(1)}s ${f.outcome}${f.reason ? ` (${f.reason})` : ''}`).join(', ')}`);
    if (v.doc.phase === 'done' && v.doc.orphanedSource) notes.push(`source data left on ${v.doc.orphanedSource.pool} (${v.doc.orphanedSource.prefix}) since ${v.doc.orphanedSource.at}`);
    if (notes.length > 0) out.push('', `${v.doc.name}:`, ...notes.map((n) => `  ${n}`));
  }
  return out.join('\n');
}

export function migrationToJson(v: MigrationView) {
  const d = v.doc;
  return {
    name: d.name,
    virtual_host: d.virtualHost,
    bucket: d.bucket,
    from: d.from,
    to: d.to,
    mode: d.mode,
    phase: d.phase,
    routing: d.routing,
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
    freezes: d.freezes.map((f) => ({ started_at: f.startedAt, ended_at: f.endedAt, window_ms: f.windowMs, outcome: f.outcome, reason: f.reason })),
    last_error: d.lastError,
    error_at: d.errorAt,
    orphaned_source: d.orphanedSource,
    driver: v.driver,
    log: v.log,
  };
}
