import { STATUS_FILE_PATH } from '../../domain/render/render-status.js';
import type { GenerationDetail, HistoryEntry } from '../../use-cases/status/generation-history.js';
import type { Style } from '../style.js';
import { colorDiff, indent } from './plan-text.js';
import { safeLine } from './safe-text.js';

/** `orch history --json` and `orch history show N --json` (docs/json.md; schemas/cli/history*.schema.json). */
export const HISTORY_JSON_FORMAT_VERSION = '1.0';

function entryJson(g: HistoryEntry) {
  const { note, ...counts } = g.summary;
  return {
    number: g.number,
    created_at: g.createdAt,
    outcome: g.outcome,
    command: g.command,
    note: typeof note === 'string' ? note : null,
    summary: counts,
    restorable: g.restorable,
    actor: g.actor,
    git_commit: g.gitCommit,
    git_dirty: g.gitDirty,
    fingerprint: g.fingerprint,
  };
}

export function historyJson(entries: readonly HistoryEntry[]) {
  return { format_version: HISTORY_JSON_FORMAT_VERSION, generations: entries.map(entryJson) };
}

export function generationJson(g: GenerationDetail) {
  return {
    format_version: HISTORY_JSON_FORMAT_VERSION,
    generation: {
      ...entryJson(g),
      changes: visibleChanges(g).map((c) => ({
        path: c.path,
        action: c.action,
        resource: c.resource,
        before_sha256: c.beforeSha256,
        after_sha256: c.afterSha256,
        diff: c.diff,
      })),
    },
  };
}

/** The status file changes with every generation (its token): not a change anyone reviews. */
function visibleChanges(g: GenerationDetail) {
  return g.changes.filter((c) => c.path !== STATUS_FILE_PATH);
}

function counts(s: Record<string, unknown>): string {
  return `+${String(s['add'] ?? 0)} ~${String(s['change'] ?? 0)} -${String(s['destroy'] ?? 0)}`;
}

/** `git 1a2b3c4d` (`+ uncommitted changes`), or nothing when the manifests were not in git. */
function source(g: HistoryEntry): string {
  if (!g.gitCommit) return '';
  return `git ${g.gitCommit.slice(0, 12)}${g.gitDirty ? '+dirty' : ''}`;
}

export function formatHistoryLine(g: HistoryEntry, style: Style): string {
  const note = g.summary['note'] ? `  ${safeLine(String(g.summary['note']))}` : '';
  const who = [g.actor ? safeLine(g.actor, 60) : '', source(g)].filter(Boolean).join(' ');
  return (
    `${String(g.number).padStart(5)}  ${g.createdAt}  ${g.outcome.padEnd(11)} ${safeLine(g.command, 40).padEnd(12)} ${counts(g.summary).padEnd(12)}` +
    `${who ? ` ${style.dim(who)}` : ''}${g.restorable ? '' : style.dim('  (files not kept)')}${note}`
  );
}

const SYMBOL = { create: '+', update: '~', delete: '-' } as const;

export function formatGenerationText(g: GenerationDetail, style: Style, diffs: boolean): string {
  const out: string[] = [];
  out.push(style.bold(`Generation ${g.number}`) + `  ${g.outcome}${g.summary['note'] ? ` (${safeLine(String(g.summary['note']))})` : ''}`);
  out.push(`  applied   ${g.createdAt} by ${g.actor ? safeLine(g.actor, 120) : 'unknown (recorded before orch kept it)'}`);
  out.push(`  command   ${safeLine(g.command, 200)}`);
  out.push(
    `  manifests ${g.gitCommit ? `git commit ${g.gitCommit}${g.gitDirty ? ' with uncommitted changes' : ''}` : g.actor ? 'not in a git work tree' : 'unknown'}`,
  );
  out.push(
    `  changes   ${counts(g.summary)} resources${g.restorable ? '' : style.dim('  (files no longer kept: rollback cannot restore it)')}`,
  );
  const changes = visibleChanges(g);
  out.push('');
  if (changes.length === 0) {
    out.push(g.outcome === 'rebuilt' ? 'Rebuilt from the files on disk (orch rebuild-db): no file changed.' : 'No file changed.');
    return out.join('\n');
  }
  let unkept = 0;
  for (const c of changes) {
    const color = c.action === 'create' ? style.green : c.action === 'delete' ? style.red : style.yellow;
    out.push(color(`${SYMBOL[c.action]} ${c.path}`) + (c.resource ? style.dim(`  (${safeLine(c.resource, 200)})`) : ''));
    if (!diffs) continue;
    if (c.diff === null) unkept++;
    else out.push(indent(colorDiff(c.diff, style), 4));
  }
  if (diffs && unkept > 0)
    out.push(
      '',
      style.dim(
        `${unkept} file ${unkept === 1 ? 'diff is' : 'diffs are'} not shown: the contents are older than the generations orch keeps (keepGenerations).`,
      ),
    );
  return out.join('\n');
}
