import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

/**
 * Every orch command that orch's own text names in quotes ('orch apply --dry-run', `orch plan
 * --out FILE`: hints, messages, help) must be one an operator can paste: its command exists, and
 * every flag it shows is a flag of that command (`--no-X` for a negatable X). Checked against the
 * command manifest the CLI is built with (oclif.manifest.json), for every quoted command in
 * src/. The hints that matter most are also run as printed (test/integration/safe-cli.test.ts).
 *
 * Text whose first word after `orch` is no command or topic (prose: "orch keeps...") is not a
 * command; a topic named alone (`orch sandbox`) stands for its commands. Comments are not printed.
 */
interface ManifestFlag {
  char?: string;
  allowNo?: boolean;
  type: 'boolean' | 'option';
}
const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as {
  commands: Record<string, { flags: Record<string, ManifestFlag> }>;
};
const commands = new Map(Object.entries(manifest.commands).map(([id, c]) => [id.replace(/:/g, ' '), c]));
const topics = new Set([...commands.keys()].map((id) => id.split(' ')[0]!));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

interface Quoted {
  file: string;
  text: string;
}

/** Every quoted `orch ...` text of src/ outside comments, template substitutions written as X. */
function quotedCommands(): Quoted[] {
  const out: Quoted[] = [];
  for (const file of sources(join(REPO_ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => !/^\s*(\/\/|\/\*|\*)/.test(l))
      .join('\n')
      .replace(/\$\{[^}]*\}/g, 'X');
    for (const m of text.matchAll(/(['`])(orch [^'`\n]*?)\1/g)) out.push({ file: relative(REPO_ROOT, file), text: m[2]! });
  }
  return out;
}

/** Why a quoted command would not work when pasted, or null. */
function problemOf(text: string): string | null {
  const words = text.split(/\s+/).slice(1);
  if (!topics.has(words[0] ?? '')) return null; // prose
  let id: string | null = null;
  for (let n = words.length; n > 0 && id === null; n--) if (commands.has(words.slice(0, n).join(' '))) id = words.slice(0, n).join(' ');
  if (id === null) {
    const topic = words[0]!;
    return [...commands.keys()].some((c) => c.startsWith(`${topic} `)) && words.length === 1 ? null : 'no such command';
  }
  const flags = commands.get(id)!.flags;
  for (const w of words.slice(id.split(' ').length)) {
    const long = /^--([a-z0-9-]+)(=.*)?$/.exec(w);
    if (long) {
      const name = long[1]!;
      const negated = name.startsWith('no-') && flags[name.slice(3)]?.allowNo === true;
      if (!(name in flags) && !negated && name !== 'help') return `orch ${id} has no flag --${name}`;
      if (long[2] !== undefined && flags[name]?.type === 'boolean') return `--${name} of orch ${id} takes no value`;
      continue;
    }
    const short = /^-([a-zA-Z])$/.exec(w);
    if (short && !Object.values(flags).some((f) => f.char === short[1])) return `orch ${id} has no flag -${short[1]}`;
  }
  return null;
}

describe('every orch command quoted in orch text can be pasted', () => {
  const quoted = quotedCommands();

  it('finds the quoted commands', () => {
    expect(quoted.filter((q) => problemOf(q.text) === null && topics.has(q.text.split(/\s+/)[1] ?? '')).length).toBeGreaterThan(100);
  });

  it('names existing commands and their flags', () => {
    const problems = quoted.flatMap((q) => {
      const p = problemOf(q.text);
      return p === null ? [] : [`${q.file}: '${q.text}': ${p}`];
    });
    expect(problems).toEqual([]);
  });

  it('would have caught the flags hints used to get wrong', () => {
    expect(problemOf('orch apply --overwrite-drift=PATH')).toBe('--overwrite-drift of orch apply takes no value');
    expect(problemOf('orch apply --overwrite-drift-paths PATH')).toBe('orch apply has no flag --overwrite-drift-paths');
    expect(problemOf('orch plan --no-refresh')).toBeNull();
    expect(problemOf('orch plan --no-out')).toBe('orch plan has no flag --no-out');
    expect(problemOf('orch rebuild-db -x')).toBe('orch rebuild-db has no flag -x');
    expect(problemOf('orch frobnicate --now')).toBeNull(); // not a command word: prose
    expect(problemOf('orch migrate frobnicate')).toBe('no such command');
  });
});
