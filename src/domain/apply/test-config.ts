import { posix } from 'node:path';
import type { NginxDirective } from '../nginx-config/nginx-ast.js';
import { parseNginxConfig } from '../nginx-config/parse-nginx-config.js';

/**
 * The configuration `nginx -t` validates a new generation with, before the switch: the operator's
 * own main configuration, with every include of the managed directory (`<nginxDir>/pools/*.conf`,
 * `<nginxDir>/vhosts/*.conf`, wherever it is written: nginx.conf, conf.d/..., sites-enabled/...)
 * pointed at the new generation's directory instead. Everything else is read where it is.
 *
 * - the main file is always copied (nginx is run with `-c <copy>`); a file it includes is copied
 *   only when it leads to an include of the managed directory, and the include naming it is then
 *   replaced by one `include` per file its pattern matches (in nginx's order), the rewritten copy
 *   in place of the original;
 * - relative paths keep their meaning: nginx reads them from the main file's directory, and the
 *   copy's directory mirrors it (every other entry is a symlink to the original: the adapter's job).
 *
 * Pure: files are read through `read` and patterns expanded through `glob` (nginx's glob order:
 * sorted by bytes, no dotfiles for `*`).
 */
export interface TestConfigInput {
  /** The operator's main configuration (absolute). */
  mainConf: string;
  /** The managed directory, as include lines may spell it (the configured path and its real path). */
  nginxDirs: readonly string[];
  /** The new generation's directory (holding pools/ and vhosts/). */
  generationDir: string;
  read(file: string): string | null;
  glob(pattern: string): string[];
  /** The real path of a directory (symlinks resolved), or null when it does not exist. */
  realpath(dir: string): string | null;
  /** Where the rewritten copy of an included file goes (absolute). */
  copyPath(original: string, index: number): string;
}

export interface TestConfigFile {
  /** The file this is a rewritten copy of. */
  original: string;
  /** Where the copy goes (the main one: the caller's choice, `path` is null). */
  path: string | null;
  text: string;
}

export interface TestConfig {
  /** Whether any include reached the managed directory (else the main configuration does not load orch's files). */
  reachesManaged: boolean;
  /** The rewritten main file first, then the rewritten included files. */
  files: TestConfigFile[];
  /** Includes that could not be followed (unreadable, unparsable), for the record. */
  unfollowed: string[];
}

const MAX_DEPTH = 16;

export function buildTestConfig(input: TestConfigInput): TestConfig {
  const confDir = posix.dirname(input.mainConf);
  const copies = new Map<string, TestConfigFile | null>(); // original -> copy (null: does not reach the managed dir)
  const unfollowed: string[] = [];
  let reachesManaged = false;
  let index = 0;

  const real = (p: string) => input.realpath(p);
  const managedReal = new Map<string, string>();
  for (const sub of ['pools', 'vhosts']) {
    const r = real(posix.join(input.nginxDirs[0]!, sub));
    if (r) managedReal.set(r, sub);
  }
  const managedTarget = (abs: string): string | null => {
    // Spelled through another path to the same directories (a symlink to the managed directory):
    // the directory part before the first wildcard resolves to the live pools/ or vhosts/.
    const parts = abs.split('/');
    const firstGlob = parts.findIndex((p) => /[*?[]/.test(p));
    const staticDir = parts.slice(0, firstGlob === -1 ? parts.length - 1 : firstGlob).join('/') || '/';
    const viaLink = managedReal.get(real(staticDir) ?? '');
    if (viaLink && !input.nginxDirs.some((d) => abs.startsWith(`${posix.normalize(d).replace(/\/+$/, '')}/`)))
      return posix.join(input.generationDir, viaLink, parts.slice(firstGlob === -1 ? parts.length - 1 : firstGlob).join('/'));
    for (const dir of input.nginxDirs) {
      const base = posix.normalize(dir).replace(/\/+$/, '');
      if (!abs.startsWith(`${base}/`)) continue;
      const rest = abs.slice(base.length + 1);
      const first = rest.split('/')[0]!;
      if (first === 'pools' || first === 'vhosts' || /[*?[]/.test(first)) return posix.join(input.generationDir, rest);
      if (first === 'current') return posix.join(input.generationDir, rest.slice('current/'.length));
    }
    return null;
  };

  /** Rewrites `file` (text) and returns the copy, or null when nothing in it reaches the managed directory. */
  const visit = (file: string, text: string, depth: number, stack: readonly string[]): TestConfigFile | null => {
    let directives: NginxDirective[];
    try {
      directives = parseNginxConfig(text, { file }).directives;
    } catch {
      unfollowed.push(file);
      return null;
    }
    const edits: Array<{ range: [number, number]; text: string }> = [];
    const walk = (list: NginxDirective[]) => {
      for (const d of list) {
        if (d.block) walk(d.block);
        if (d.name !== 'include' || d.args.length !== 1) continue;
        const abs = absolute(confDir, d.args[0]!);
        const managed = managedTarget(abs);
        if (managed !== null) {
          reachesManaged = true;
          edits.push({ range: d.range, text: `include ${quote(managed)};` });
          continue;
        }
        if (depth >= MAX_DEPTH) continue;
        const matches = /[*?[]/.test(abs) ? input.glob(abs) : [abs];
        let rewritten = false;
        const parts: string[] = [];
        for (const m of matches) {
          if (stack.includes(m)) {
            parts.push(`include ${quote(m)};`);
            continue;
          }
          let copy = copies.get(m);
          if (copy === undefined) {
            const t = input.read(m);
            if (t === null) {
              unfollowed.push(m);
              copy = null;
            } else copy = visit(m, t, depth + 1, [...stack, m]);
            copies.set(m, copy);
          }
          if (copy) rewritten = true;
          parts.push(`include ${quote(copy?.path ?? m)};`);
        }
        if (rewritten) edits.push({ range: d.range, text: parts.join(' ') });
      }
    };
    walk(directives);
    if (edits.length === 0 && depth > 0) return null;
    let out = text;
    for (const e of edits.sort((a, b) => b.range[0] - a.range[0])) out = out.slice(0, e.range[0]) + e.text + out.slice(e.range[1]);
    return { original: file, path: depth === 0 ? null : input.copyPath(file, index++), text: out };
  };

  const mainText = input.read(input.mainConf);
  if (mainText === null) throw new Error(`cannot read ${input.mainConf}`);
  const main = visit(input.mainConf, mainText, 0, [input.mainConf])!;
  const included = [...copies.values()].filter((c): c is TestConfigFile => c !== null);
  return { reachesManaged, files: [main, ...included], unfollowed };
}

function absolute(base: string, p: string): string {
  return posix.isAbsolute(p) ? posix.normalize(p) : posix.normalize(posix.join(base, p));
}

/** An nginx word: bare when it can be, else double-quoted with nginx's escapes. */
function quote(word: string): string {
  if (/^[^\s;{}"'\\#$]+$/.test(word)) return word;
  return `"${word.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * nginx's messages name the files it read: map the test's paths back to what the operator knows
 * (the copies to their originals, the new generation's directory to the managed directory).
 */
export function mapTestPaths(output: string, replacements: ReadonlyArray<readonly [string, string]>): string {
  let out = output;
  for (const [from, to] of [...replacements].sort((a, b) => b[0].length - a[0].length)) out = out.split(from).join(to);
  return out;
}
