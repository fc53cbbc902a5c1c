import { unifiedDiff } from '../../domain/plan/file-diff.js';
import type { FileAction, Plan } from '../../domain/plan/plan-types.js';
import type { Style } from '../style.js';
import { formatDiagnostics } from './diagnostics-text.js';
import { knownMigrationLines } from './plan-migrations.js';

const SYMBOL: Record<FileAction, string> = { create: '+', update: '~', delete: '-' };

export interface PlanTextOptions {
  diffs: boolean;
  /** Why buckets were not checked when the plan did not refresh (default: `orch plan --no-refresh`). */
  offlineNote?: string;
}

/** The human form of a plan: what a reviewer reads in a pull request. */
export function formatPlanText(plan: Plan, style: Style, opts: PlanTextOptions = { diffs: true }): string {
  const out: string[] = [];
  const color = (a: FileAction) => (a === 'create' ? style.green : a === 'delete' ? style.red : style.yellow);

  if (plan.diagnostics.length > 0) out.push(formatDiagnostics(plan.diagnostics, style), '');

  for (const change of plan.changes) {
    const c = color(change.action);
    const origin = change.origin ? style.dim(`  (${change.origin.file})`) : '';
    out.push(c(`${SYMBOL[change.action]} ${change.resource.kind}/${change.resource.name} will be ${verb(change.action)}`) + origin);
    for (const f of change.files) {
      const notes = [f.drift ? 'edited outside orch' : '', f.adopt ? 'not written by orch: apply takes it over' : '']
        .filter(Boolean)
        .join('; ');
      out.push(`    ${color(f.action)(`${SYMBOL[f.action]} ${f.path}`)}${notes ? style.yellow(`  (${notes})`) : ''}`);
      if (opts.diffs) out.push(indent(colorDiff(unifiedDiff(f), style), 8));
    }
  }

  if (plan.migrations.length > 0 || plan.knownMigrations.length > 0) {
    out.push('', style.bold('Migrations:'));
    for (const { migration: m } of plan.migrations) {
      out.push(style.green(`    + start ${m.name}: bucket ${m.bucket} on ${m.virtualHost}, ${m.from} -> ${m.to} (${m.mode})`));
    }
    for (const line of knownMigrationLines(plan.knownMigrations, (x) => x)) out.push(style.dim(`    = ${line}`));
  }
  if (plan.buckets.length > 0) {
    out.push('', style.bold('Buckets:'));
    for (const b of plan.buckets) {
      out.push(
        style.green(`    + create bucket ${b.bucket} on pool ${b.pool}`) +
          style.dim(`  (route ${b.route} of ${b.virtualHost}; created before the route goes live)`),
      );
    }
  }
  const unlisted = plan.refresh.pools.filter((p) => p.status === 'no-credentials');
  if (!plan.refresh.performed) {
    out.push('', style.dim(opts.offlineNote ?? 'Buckets not checked: offline plan (--no-refresh).'));
  } else if (unlisted.length > 0) {
    const names =
      unlisted
        .slice(0, 10)
        .map((p) => p.pool)
        .join(', ') + (unlisted.length > 10 ? ` and ${unlisted.length - 10} more` : '');
    out.push('', style.dim(`Buckets not checked on pool${unlisted.length === 1 ? '' : 's'} without usable credentials: ${names}.`));
  }
  if (plan.drift.length > 0) {
    out.push('', style.yellow(`Drift: ${plan.drift.length} managed file${plan.drift.length === 1 ? '' : 's'} changed outside orch:`));
    for (const d of plan.drift) out.push(style.yellow(`    ! ${d.path} ${d.kind === 'deleted' ? 'was deleted' : 'was edited'}`));
  }
  if (plan.unmanaged.length > 0) {
    out.push('', style.dim(`Not managed by orch (left alone): ${plan.unmanaged.join(', ')}`));
  }
  if (plan.notInInventory.length > 0) {
    out.push(
      '',
      style.yellow(
        `Carry orch's marker but are not in its inventory (never deleted; run 'orch rebuild-db' if the database was lost): ${plan.notInInventory.join(', ')}`,
      ),
    );
  }

  const s = plan.summary;
  if (plan.unchanged.resources > 0) {
    out.push('', style.dim(`${plan.unchanged.resources} resource${plan.unchanged.resources === 1 ? '' : 's'} unchanged.`));
  }
  if (s.add + s.change + s.destroy + s.migrationsToStart + s.bucketsToCreate === 0) {
    out.push(style.green('No changes. The nginx files match the manifests.'));
  } else {
    const mig = s.migrationsToStart > 0 ? ` ${s.migrationsToStart} migration${s.migrationsToStart === 1 ? '' : 's'} to start.` : '';
    const bkt = s.bucketsToCreate > 0 ? ` ${s.bucketsToCreate} bucket${s.bucketsToCreate === 1 ? '' : 's'} to create.` : '';
    out.push(style.bold(`Plan: ${s.add} to add, ${s.change} to change, ${s.destroy} to destroy.${mig}${bkt}`));
  }
  return out.join('\n').replace(/^\n+/, '');
}

function verb(a: FileAction): string {
  return a === 'create' ? 'created' : a === 'delete' ? 'destroyed' : 'updated';
}

export function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
}

export function colorDiff(diff: string, style: Style): string {
  if (!style.enabled) return diff;
  return diff
    .split('\n')
    .map((l) =>
      l.startsWith('+++') || l.startsWith('---')
        ? style.bold(l)
        : l.startsWith('+')
          ? style.green(l)
          : l.startsWith('-')
            ? style.red(l)
            : l.startsWith('@@')
              ? style.cyan(l)
              : l,
    )
    .join('\n');
}
