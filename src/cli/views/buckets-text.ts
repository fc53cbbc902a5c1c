import type { BucketReport } from '../../use-cases/buckets/bucket-sync.js';
import { identityCheckLines, identityChecksToJson } from './identity-checks.js';
import type { PurgeListing, PurgeResult } from '../../use-cases/buckets/purge-orphans.js';
import { orphanCopies, type BucketRow } from '../../domain/buckets/derive-bucket-status.js';
import type { Style } from '../style.js';
import { plural } from './plural.js';
import { table } from './table.js';

export const BUCKETS_JSON_FORMAT_VERSION = '1.0';

/** 1536 -> "1.5 KiB". */
export function formatBytes(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

function poolsCell(row: BucketRow, counts: boolean): string {
  if (row.pools.length === 0) return '-';
  return row.pools.map((p) => (counts && p.objects !== null ? `${p.pool} (${p.objects} obj, ${formatBytes(p.bytes)})` : p.pool)).join(', ');
}

function statusCell(row: BucketRow, style: Style): string {
  const text = row.checked ? row.status : `${row.status}?`;
  if (row.status === 'orphaned' || row.status === 'missing') return style.yellow(text);
  if (row.status === 'migrating') return style.cyan(text);
  return text;
}

export function formatBucketReport(report: BucketReport, style: Style, opts: { counts: boolean }): string {
  const out: string[] = [];
  if (report.virtualHosts.length === 0) {
    out.push(style.dim('No deployed virtual host has a nanio default pool: nothing to sync.'));
  } else if (report.rows.length === 0) {
    out.push(style.dim(`No bucket found for ${report.virtualHosts.join(', ')}.`));
  } else {
    out.push(
      ...table(
        ['VIRTUAL HOST', 'BUCKET', 'STATUS', 'ROUTE', 'ON POOLS', 'DETAIL'],
        report.rows.map((r) => [
          r.virtualHost,
          r.bucket,
          statusCell(r, style),
          r.route ? `${r.route.path} -> ${r.route.pool}` : `(default ${r.defaultPool})`,
          poolsCell(r, opts.counts),
          r.detail,
        ]),
      ),
    );
  }
  out.push(...poolProblems(report, style));
  out.push(...identityLines(report, style));
  if (report.rows.some((r) => !r.checked)) out.push(style.dim('A status ending in "?" depends on a pool that could not be listed.'));
  return out.join('\n');
}

function poolProblems(report: BucketReport, style: Style): string[] {
  const bad = report.pools.filter((p) => p.status !== 'ok');
  if (bad.length === 0) return [];
  return ['', ...bad.map((p) => style.yellow(`! pool ${p.pool}: ${p.status}${p.message ? ` — ${p.message}` : ''}`))];
}

/** The client identity check (see identityCheckLines). */
function identityLines(report: BucketReport, style: Style): string[] {
  const lines = identityCheckLines(report.identities ?? [], style);
  return lines.length === 0 ? [] : ['', ...lines];
}

export function bucketReportToJson(report: BucketReport) {
  return {
    format_version: BUCKETS_JSON_FORMAT_VERSION,
    synced_at: report.syncedAt,
    virtual_hosts: report.virtualHosts,
    buckets: report.rows.map((r) => ({
      virtual_host: r.virtualHost,
      bucket: r.bucket,
      status: r.status,
      checked: r.checked,
      detail: r.detail,
      route: r.route,
      default_pool: r.defaultPool,
      pools: r.pools,
      migration: r.migration,
    })),
    pools: report.pools,
    ...(report.identities
      ? {
          identities: identityChecksToJson(report.identities),
        }
      : {}),
  };
}

export function formatOrphans(report: BucketReport, orphans: readonly BucketRow[], style: Style): string {
  const out: string[] = [];
  const unlisted = report.pools.filter((p) => p.status !== 'ok');
  const listed = report.pools.length - unlisted.length;
  if (orphans.length === 0 && unlisted.length > 0 && listed === 0)
    out.push(style.yellow(`Orphans unknown: no pool could be listed, so nothing can be said about the objects on them.`));
  else if (orphans.length === 0 && unlisted.length > 0)
    out.push(
      style.yellow(`No orphans on the ${plural(listed, 'pool')} listed; ${plural(unlisted.length, 'pool')} could not be listed (below).`),
    );
  else if (orphans.length === 0) out.push(style.green('No orphans: no bucket has objects left on a pool that does not serve it.'));
  else {
    out.push(
      ...table(
        ['VIRTUAL HOST', 'BUCKET', 'OBJECTS ON POOL', 'SERVED BY', 'OBJECTS', 'SIZE'],
        orphans.flatMap((r) =>
          orphanCopies(r).map((c) => [
            r.virtualHost,
            r.bucket,
            c.pool === r.defaultPool ? `${c.pool} (default)` : c.pool,
            r.route ? r.route.pool : `${r.defaultPool} (default)`,
            String(c.objects ?? '-'),
            formatBytes(c.bytes),
          ]),
        ),
      ),
      '',
      style.dim(
        'Delete default pool copies with: orch buckets purge-orphans VHOST BUCKET (lists first, asks, deletes only on the default pool). Copies on other pools: move them with a Migration, or delete them on that pool yourself.',
      ),
    );
  }
  out.push(...poolProblems(report, style));
  return out.join('\n');
}

export function formatPurgeListing(l: PurgeListing, style: Style): string {
  const lines = [
    l.kind === 'stranded'
      ? `${style.bold(`${l.objects} object${l.objects === 1 ? '' : 's'} (${formatBytes(l.bytes)})`)} of bucket ${l.bucket} on pool ${l.pool}, which no longer serves it; ${l.virtualHost} serves ${l.bucket} from ${l.routePool}, which is not touched.`
      : `${style.bold(`${l.objects} object${l.objects === 1 ? '' : 's'} (${formatBytes(l.bytes)})`)} of bucket ${l.bucket} on the default pool ${l.pool} of ${l.virtualHost}; the route sends ${l.bucket} to ${l.routePool}, which is not touched.`,
  ];
  for (const k of l.sample) lines.push(`    ${k}`);
  if (l.objects > l.sample.length) lines.push(style.dim(`    ... and ${l.objects - l.sample.length} more`));
  return lines.join('\n');
}

export function formatPurgeResult(r: PurgeResult, style: Style): string {
  if (r.listing.objects === 0) return style.green(`Nothing to purge: bucket ${r.listing.bucket} has no object on ${r.listing.pool}.`);
  if (r.dryRun) return style.dim('Dry run: nothing was deleted.');
  const lines = [
    style.green(
      `Deleted ${r.deleted} object${r.deleted === 1 ? '' : 's'} of ${r.listing.bucket} on ${r.listing.pool}; ${r.remaining?.objects ?? '?'} left there.`,
    ),
  ];
  if (r.failed.length > 0)
    lines.push(
      style.yellow(
        `${r.failed.length} could not be deleted: ${r.failed
          .slice(0, 10)
          .map((f) => `${f.key} (${f.code})`)
          .join(', ')}`,
      ),
    );
  return lines.join('\n');
}
