import type { Style } from '../style.js';
import { knownMigrationLines } from './plan-migrations.js';
import type { PlanJson } from './plan-json.js';

/**
 * A saved plan's JSON as text for `orch show FILE`: what each resource's files become, with the
 * diffs the plan was saved with, then the summary line `orch plan` prints.
 */
export function planJsonToText(plan: PlanJson, style: Style): string {
  const out: string[] = [];
  const sign = { create: style.green('+'), update: style.yellow('~'), delete: style.red('-') } as const;
  for (const c of plan.changes) {
    out.push(
      `${sign[c.action]} ${c.resource.kind}/${printable(c.resource.name)}${c.origin ? style.dim(` (${printable(c.origin.file)})`) : ''}`,
    );
    for (const f of c.files) {
      out.push(`    ${sign[f.action]} ${printable(f.path)}${f.drift ? style.yellow(' (edited outside orch)') : ''}`);
      if (f.diff)
        for (const line of f.diff.replace(/\n$/, '').split('\n'))
          out.push(
            `        ${line.startsWith('+') ? style.green(printable(line)) : line.startsWith('-') ? style.red(printable(line)) : printable(line)}`,
          );
    }
  }
  const known = plan.known_migrations ?? [];
  if (plan.migrations.length > 0 || known.length > 0) {
    out.push('', 'Migrations:');
    for (const m of plan.migrations)
      out.push(
        `    + start ${printable(m.name)}: bucket ${printable(m.bucket)} on ${printable(m.virtual_host)}, ${printable(m.from)} -> ${printable(m.to)} (${m.mode})`,
      );
    for (const line of knownMigrationLines(known, printable)) out.push(`    = ${line}`);
  }
  if (plan.buckets.length > 0) {
    out.push('', 'Buckets to create:');
    for (const b of plan.buckets) out.push(`    + ${printable(b.bucket)} on pool ${printable(b.pool)}`);
  }
  const s = plan.summary;
  out.push(
    '',
    `Plan: ${s.add} to add, ${s.change} to change, ${s.destroy} to destroy.` +
      (s.migrations_to_start > 0 ? ` ${s.migrations_to_start} migration${s.migrations_to_start === 1 ? '' : 's'} to start.` : '') +
      (s.buckets_to_create > 0 ? ` ${s.buckets_to_create} bucket${s.buckets_to_create === 1 ? '' : 's'} to create.` : ''),
  );
  return out.join('\n');
}

/** Control characters (ANSI escapes, carriage returns) shown escaped, never sent to the terminal. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f\u009b]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
