import type { Hook } from '@oclif/core';
import { shellWord } from './hint-commands.js';

/**
 * oclif's `command_not_found` hook (package.json `oclif.hooks`): an unknown command is a usage
 * error (exit 1, not 2, which means "changes present"), with the closest commands as hints that
 * work when pasted, e.g. `orch plna -m x` -> "Did you mean: orch plan -m x".
 */
export const commandNotFound: Hook<'command_not_found'> = async function (options) {
  const typed = options.id.split(':').join(' ');
  const ids = options.config.commandIDs.map((id) => id.split(':').join(' '));
  const suggestions = closest(typed, ids);
  const rest = (options.argv ?? []).map(shellWord).join(' ');
  const lines = [`Error: '${printable(typed)}' is not an orch command.`];
  if (suggestions.length > 0) {
    lines.push('Did you mean:');
    for (const s of suggestions) lines.push(`  ${options.config.bin} ${s}${rest ? ` ${rest}` : ''}`);
  }
  lines.push(`See the commands with: ${options.config.bin} help`);
  process.stderr.write(`${lines.join('\n')}\n`);
  this.exit(1);
};

/** The commands within a small edit distance of `typed` (or starting with it), best first, at most 3. */
export function closest(typed: string, ids: readonly string[]): string[] {
  const limit = Math.max(2, Math.floor(typed.length / 3));
  return ids
    .map((id) => ({ id, d: id.startsWith(typed) && typed.length >= 2 ? 0.5 : distance(typed, id) }))
    .filter((c) => c.d <= limit)
    .sort((a, b) => a.d - b.d || (a.id < b.id ? -1 : 1))
    .slice(0, 3)
    .map((c) => c.id);
}

/** Optimal string alignment distance (Levenshtein with transpositions: `plna` is one edit from `plan`). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/** What the operator typed, with control characters shown escaped and the length bounded. */
export function printable(s: string): string {
  const shown = JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s).slice(1, -1);
  return shown.replace(/'/g, "\\'");
}
