import { knownMigrationLines } from './plan-migrations.js';
import type { PlanJson } from './plan-json.js';

/**
 * A plan as Markdown for a pull-request comment (GitHub, GitLab): a headline, a summary table of
 * the resources that change, then one collapsible section per resource whose unified diff sits in
 * a ```diff block, each line starting with +, - or a space so that both sites colour it.
 * Made from the plan's JSON, so a saved plan (`orch show FILE --format markdown`) reads the same.
 *
 * Everything that comes from the manifests or the disk is escaped for Markdown (table cells,
 * summaries), and a fence is always longer than any run of backticks inside it. Comments have a
 * size limit (65,536 characters on GitHub): past `maxChars`, the remaining diffs are left out
 * with a line saying how many and how to see them.
 */
export function planJsonToMarkdown(plan: PlanJson, opts: { maxChars?: number; command?: string } = {}): string {
  const maxChars = opts.maxChars ?? 60_000;
  const command = opts.command ?? 'orch plan';
  const s = plan.summary;
  const out: string[] = [];
  const headline = [
    `${s.add} to add`,
    `${s.change} to change`,
    `${s.destroy} to destroy`,
    ...(s.migrations_to_start > 0 ? [count(s.migrations_to_start, 'migration', 'migrations') + ' to start'] : []),
    ...(s.buckets_to_create > 0 ? [count(s.buckets_to_create, 'bucket', 'buckets') + ' to create'] : []),
  ].join(', ');
  out.push(`### orch plan: ${plan.has_changes ? headline : 'no changes'}`, '');
  const errors = plan.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = plan.diagnostics.length - errors;
  if (plan.diagnostics.length > 0) {
    out.push(`**${count(errors, 'error', 'errors')}, ${count(warnings, 'warning', 'warnings')}**`, '');
    for (const d of plan.diagnostics.slice(0, 20))
      out.push(`- ${d.severity === 'error' ? '❌' : '⚠️'} ${cell(d.file ? `${d.file}:${d.line ?? 1}` : '')} ${cell(d.message)}`);
    if (plan.diagnostics.length > 20) out.push(`- … and ${plan.diagnostics.length - 20} more (run \`${command}\`)`);
    out.push('');
  }
  if (plan.changes.length > 0) {
    out.push('| action | resource | files | manifest |', '|---|---|---|---|');
    for (const c of plan.changes)
      out.push(
        `| ${SIGN[c.action]} ${c.action} | ${cell(`${c.resource.kind} ${c.resource.name}`)} | ${cell(c.files.map((f) => f.path).join(', '))} | ${c.origin ? cell(`${c.origin.file}#${c.origin.index}`) : '—'} |`,
      );
    out.push('');
  }
  if (plan.migrations.length > 0) {
    out.push('**Migrations to start**', '');
    for (const m of plan.migrations)
      out.push(`- ${cell(m.name)}: bucket ${cell(m.bucket)} on ${cell(m.virtual_host)}, ${cell(m.from)} → ${cell(m.to)} (${cell(m.mode)})`);
    out.push('');
  }
  const known = knownMigrationLines(plan.known_migrations ?? [], cell, '→');
  if (known.length > 0) {
    out.push('**Migrations already started** (not started again)', '');
    for (const line of known) out.push(`- ${line}`);
    out.push('');
  }
  if (plan.buckets.length > 0) {
    out.push('**Buckets to create**', '');
    for (const b of plan.buckets) out.push(`- ${cell(b.bucket)} on pool ${cell(b.pool)} (virtual host ${cell(b.virtual_host)})`);
    out.push('');
  }
  if (plan.drift.length > 0) {
    out.push(
      `**Drift**: ${count(plan.drift.length, 'file', 'files')} edited outside orch: ${cell(plan.drift.map((d) => d.path).join(', '))}`,
      '',
    );
  }
  let left = 0;
  for (const c of plan.changes) {
    const diffs = c.files.filter((f) => f.diff !== null).map((f) => f.diff!);
    if (diffs.length === 0) continue;
    const section = [
      `<details><summary>${SIGN[c.action]} ${c.action} ${html(`${c.resource.kind} ${c.resource.name}`)} (${count(c.files.length, 'file', 'files')})</summary>`,
      '',
      fenced('diff', diffs.join('')),
      '',
      '</details>',
      '',
    ].join('\n');
    if (out.join('\n').length + section.length > maxChars) {
      left++;
      continue;
    }
    out.push(section);
  }
  if (left > 0) out.push(`_${count(left, 'diff', 'diffs')} left out to keep this comment short: run \`${command}\` to see them._`, '');
  out.push(
    `<sub>${plan.unchanged.resources} resources unchanged · plan format ${plan.format_version} · orch ${html(plan.orch_version)}</sub>`,
  );
  return `${out.join('\n')}\n`;
}

const SIGN = { create: '➕', update: '✏️', delete: '➖' } as const;

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Text inside a table cell or a list item: no line breaks, Markdown and HTML characters escaped. */
function cell(s: string): string {
  return s
    .replace(/[\u0000-\u001f\u007f]/g, ' ')
    .replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, (c) => `\\${c}`)
    .slice(0, 2000);
}

/** Text inside HTML (a <summary>). */
function html(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A fenced code block whose fence is longer than any backtick run in `body`. */
function fenced(lang: string, body: string): string {
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${body.endsWith('\n') ? body : `${body}\n`}${fence}`;
}
