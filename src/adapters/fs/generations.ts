import {
  closeSync,
  copyFileSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fsyncDir, withPath } from './atomic-write.js';
import { exchangePaths } from './exchange.js';
import type { TreeLayout } from '../../ports/managed-tree.js';

/**
 * The managed directory as generations (see docs/apply.md, "Why a crash never leaves a mix"):
 *
 *   <nginxDir>/pools   -> current/pools        fixed symlinks: the include lines operators have
 *   <nginxDir>/vhosts  -> current/vhosts       (`include <nginxDir>/vhosts/*.conf;`) keep working
 *   <nginxDir>/current -> generations/<N>      the ONE name a switch changes, by rename(2)
 *   <nginxDir>/generations/<N>/{pools,vhosts}/ a complete tree; files a generation did not change
 *                                              are hard links to the previous generation's
 *
 * A generation is built under `generations/.<N>.partial`, made durable, then renamed to
 * `generations/<N>`: a complete name is a complete tree. Nothing under a generation that `current`
 * names is ever changed by orch; switching is one rename of a symlink over `current`, so any
 * process resolving `<nginxDir>/pools/...` sees the previous or the new generation, never a part.
 */
export const GENERATIONS_DIR = 'generations';
export const CURRENT_LINK = 'current';
const NEXT_LINK = '.current.next';
const PREV_LINK = '.current.prev';
export const MANAGED_SUBDIRS = ['pools', 'vhosts'] as const;

const genName = (n: number) => `${GENERATIONS_DIR}/${n}`;
const partialName = (n: number) => `.${n}.partial`;

function lstatOrNull(p: string) {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw e;
  }
}

function linkTarget(p: string): string | null {
  const st = lstatOrNull(p);
  return st?.isSymbolicLink() ? readlinkSync(p) : null;
}

/** The generation a `current`-style link names (`generations/12` -> 12), or null. */
function generationOfTarget(target: string | null): number | null {
  const m = target === null ? null : /^generations\/(\d+)$/.exec(target);
  return m ? Number(m[1]) : null;
}

export function treeLayout(nginxDir: string): TreeLayout {
  const currentPath = join(nginxDir, CURRENT_LINK);
  const currentSt = lstatOrNull(currentPath);
  let current: number | null = null;
  if (currentSt) {
    current = currentSt.isSymbolicLink() ? generationOfTarget(readlinkSync(currentPath)) : null;
    if (current === null) return { kind: 'unexpected', detail: `${currentPath} is not a symlink to generations/<N>` };
    if (!statSync(join(nginxDir, genName(current)), { throwIfNoEntry: false })?.isDirectory())
      return { kind: 'unexpected', detail: `${currentPath} names ${genName(current)}, which is not a directory` };
  }
  const subs = MANAGED_SUBDIRS.map((sub) => {
    const p = join(nginxDir, sub);
    const st = lstatOrNull(p);
    if (!st) return 'missing' as const;
    if (st.isSymbolicLink()) return readlinkSync(p) === `${CURRENT_LINK}/${sub}` ? ('link' as const) : ('other' as const);
    return st.isDirectory() ? ('dir' as const) : ('other' as const);
  });
  const other = MANAGED_SUBDIRS.find((_, i) => subs[i] === 'other');
  if (other)
    return { kind: 'unexpected', detail: `${join(nginxDir, other)} is neither a directory nor the symlink ${CURRENT_LINK}/${other}` };
  if (current !== null) return subs.every((s) => s === 'link') ? { kind: 'generations', current } : { kind: 'converting', current };
  if (subs.some((s) => s === 'link'))
    return {
      kind: 'unexpected',
      detail: `${join(nginxDir, 'pools')} or vhosts is a symlink to ${CURRENT_LINK}/, but ${currentPath} is missing`,
    };
  return subs.every((s) => s === 'missing') ? { kind: 'empty' } : { kind: 'legacy' };
}

/** Where the live pools/ and vhosts/ are, resolved once (a reader then sees one generation even across a switch). */
export function liveRoot(nginxDir: string): string {
  const n = generationOfTarget(linkTarget(join(nginxDir, CURRENT_LINK)));
  if (n === null) return nginxDir;
  // While a conversion is under way, pools/ may still be the real directory (same content).
  const pools = linkTarget(join(nginxDir, 'pools'));
  const vhosts = linkTarget(join(nginxDir, 'vhosts'));
  return pools === `${CURRENT_LINK}/pools` && vhosts === `${CURRENT_LINK}/vhosts` ? join(nginxDir, genName(n)) : nginxDir;
}

export function generationDir(nginxDir: string, n: number): string {
  return join(nginxDir, GENERATIONS_DIR, String(n));
}

/** The generation `current` names, or null (legacy or empty layout). */
export function currentGeneration(nginxDir: string): number | null {
  return generationOfTarget(linkTarget(join(nginxDir, CURRENT_LINK)));
}

/** Every complete generation directory, ascending. */
export function generationNumbers(nginxDir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(join(nginxDir, GENERATIONS_DIR));
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}

export interface GenerationBuild {
  n: number;
  dir: string;
  /** Files written (the others were linked from the live tree). */
  written: number;
  linked: number;
}

/**
 * Builds generation `n` (not live): every entry of the live pools/ and vhosts/ (files orch did not
 * write included) hard-linked, except the paths in `deletes` and those in `writes`, which are
 * written. Made durable (files, directories), then renamed to `generations/<n>`. A failure
 * removes the partial directory and throws.
 */
export function buildGeneration(
  nginxDir: string,
  n: number,
  writes: ReadonlyMap<string, string>,
  deletes: ReadonlySet<string>,
): GenerationBuild {
  const gens = join(nginxDir, GENERATIONS_DIR);
  if (currentGeneration(nginxDir) === n) throw new Error(`generation ${n} is the live one: it cannot be built again`);
  const partial = join(gens, partialName(n));
  const final = generationDir(nginxDir, n);
  const from = liveRoot(nginxDir);
  let written = 0;
  let linked = 0;
  try {
    mkdirSync(gens, { recursive: true });
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial);
    const dirs: string[] = [partial];
    const walk = (rel: string) => {
      const src = join(from, rel);
      const dst = join(partial, rel);
      mkdirSync(dst, { recursive: true });
      dirs.push(dst);
      let entries;
      try {
        entries = readdirSync(src, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const ent of entries) {
        const r = `${rel}/${ent.name}`;
        if (deletes.has(r) || writes.has(r)) continue;
        if (ent.isDirectory()) walk(r);
        else if (ent.isSymbolicLink()) symlinkSync(readlinkSync(join(src, ent.name)), join(dst, ent.name));
        else if (ent.isFile()) {
          linkOrCopy(join(src, ent.name), join(dst, ent.name));
          linked++;
        }
      }
    };
    for (const sub of MANAGED_SUBDIRS) walk(sub);
    const known = new Set(dirs);
    const targets: Array<[string, string]> = [];
    for (const [rel, content] of writes) {
      const p = join(partial, rel);
      if (!known.has(dirname(p))) {
        mkdirSync(dirname(p), { recursive: true });
        known.add(dirname(p));
        dirs.push(dirname(p));
      }
      targets.push([p, content]);
    }
    written = writeAllDurable(targets);
    for (const d of dirs.reverse()) withPath(d, () => fsyncDir(d));
    rmSync(final, { recursive: true, force: true });
    renameSync(partial, final);
    fsyncDir(gens);
  } catch (e) {
    rmSync(partial, { recursive: true, force: true });
    throw e;
  }
  return { n, dir: final, written, linked };
}

function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Another file system (cannot happen inside one directory, but a bind mount can), too many
    // links, or protected_hardlinks refusing a file another user owns: a copy has the same content.
    if (code !== 'EXDEV' && code !== 'EMLINK' && code !== 'EPERM') throw e;
    copyFileSync(from, to);
    const fd = openSync(to, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

const CHUNK = 128;

/**
 * Writes new files and makes them durable, a chunk at a time: every file of the chunk written,
 * then each fsynced (the file system commits them in a few journal transactions instead of one per
 * file: 600 files take a fraction of a second instead of several seconds on a busy disk).
 */
function writeAllDurable(files: ReadonlyArray<[string, string]>): number {
  for (let start = 0; start < files.length; start += CHUNK) {
    const fds: number[] = [];
    try {
      for (const [path, content] of files.slice(start, start + CHUNK)) {
        const fd = openSync(path, 'wx', 0o644);
        fds.push(fd);
        const buf = Buffer.from(content, 'utf8');
        withPath(path, () => {
          for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off);
        });
      }
      fds.forEach((fd, i) => withPath(files[start + i]![0], () => fsyncSync(fd)));
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  }
  return files.length;
}

/** Creates (or replaces) the symlink `name` -> `target` in `nginxDir`, atomically. */
function placeLink(nginxDir: string, name: string, target: string): void {
  const p = join(nginxDir, name);
  if (linkTarget(p) === target) return;
  const tmp = join(nginxDir, `${name}.tmp`);
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp);
  renameSync(tmp, p);
}

/**
 * Creates the two links a switch needs before anything live changes (so that switching, and
 * switching back, are each one rename that needs no new space): `.current.next` -> the new
 * generation, `.current.prev` -> the live one.
 */
export function prepareSwitch(nginxDir: string, next: number, previous: number): void {
  placeLink(nginxDir, NEXT_LINK, genName(next));
  placeLink(nginxDir, PREV_LINK, genName(previous));
  fsyncDir(nginxDir);
}

/** `current` names generation `n` from now on: one rename(2), then made durable. */
export function switchCurrent(nginxDir: string, n: number): void {
  if (!statSync(generationDir(nginxDir, n), { throwIfNoEntry: false })?.isDirectory())
    throw new Error(`generation directory ${generationDir(nginxDir, n)} does not exist`);
  // Prefer the links prepared before the switch: renaming them needs no space.
  const via = [NEXT_LINK, PREV_LINK].find((name) => linkTarget(join(nginxDir, name)) === genName(n));
  if (via) renameSync(join(nginxDir, via), join(nginxDir, CURRENT_LINK));
  else placeLink(nginxDir, CURRENT_LINK, genName(n));
  try {
    fsyncDir(nginxDir);
  } catch {
    // The rename is done (what every process sees); only its durability across a power cut is
    // not confirmed. Reporting the switch as failed would be worse: it did happen.
  }
}

/** Removes the links a switch prepared (best effort). */
export function removeSwitchLinks(nginxDir: string): void {
  for (const name of [NEXT_LINK, PREV_LINK, `${NEXT_LINK}.tmp`, `${PREV_LINK}.tmp`, `${CURRENT_LINK}.tmp`]) {
    try {
      unlinkSync(join(nginxDir, name));
    } catch {
      /* not there */
    }
  }
}

/** Removes a generation that is not live (and its partial build). Never the one `current` names. */
export function discardGeneration(nginxDir: string, n: number): void {
  if (currentGeneration(nginxDir) === n) return;
  rmSync(join(nginxDir, GENERATIONS_DIR, partialName(n)), { recursive: true, force: true });
  rmSync(generationDir(nginxDir, n), { recursive: true, force: true });
  if (linkTarget(join(nginxDir, NEXT_LINK)) === genName(n)) rmSync(join(nginxDir, NEXT_LINK), { force: true });
  // Before the first switch (a dry run, a refused first apply), the generations directory was new: leave none.
  if (currentGeneration(nginxDir) === null) {
    try {
      rmdirSync(join(nginxDir, GENERATIONS_DIR));
    } catch {
      /* not empty, or not there */
    }
  }
}

/** Removes every generation directory not in `keep` (never the live one) and every partial build; returns the numbers removed. */
export function pruneGenerations(nginxDir: string, keep: ReadonlySet<number>): number[] {
  const live = currentGeneration(nginxDir);
  const removed: number[] = [];
  let names: string[];
  try {
    names = readdirSync(join(nginxDir, GENERATIONS_DIR));
  } catch {
    return removed;
  }
  for (const name of names) {
    const p = join(nginxDir, GENERATIONS_DIR, name);
    if (/^\.\d+\.partial$/.test(name)) {
      rmSync(p, { recursive: true, force: true });
      continue;
    }
    if (!/^\d+$/.test(name)) continue;
    const n = Number(name);
    if (n === live || keep.has(n)) continue;
    rmSync(p, { recursive: true, force: true });
    removed.push(n);
  }
  return removed;
}

/**
 * What a writer that died left and nobody uses (call only when there is no journal): partial
 * builds, generations newer than the live one (built, never switched to), switch links, and the
 * leftovers of a conversion. Returns what was removed (relative to nginxDir).
 */
export function removeLeftovers(nginxDir: string): string[] {
  const live = currentGeneration(nginxDir);
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(join(nginxDir, GENERATIONS_DIR));
  } catch {
    /* none */
  }
  for (const name of names) {
    const orphan = /^\.\d+\.partial$/.test(name) || (/^\d+$/.test(name) && live !== null && Number(name) > live);
    if (!orphan) continue;
    rmSync(join(nginxDir, GENERATIONS_DIR, name), { recursive: true, force: true });
    removed.push(`${GENERATIONS_DIR}/${name}`);
  }
  for (const name of [NEXT_LINK, PREV_LINK, `${NEXT_LINK}.tmp`, `${PREV_LINK}.tmp`, `${CURRENT_LINK}.tmp`]) {
    if (lstatOrNull(join(nginxDir, name))) {
      rmSync(join(nginxDir, name), { force: true });
      removed.push(name);
    }
  }
  if (live !== null && treeLayout(nginxDir).kind === 'generations') removed.push(...removeConversionLeftovers(nginxDir));
  return removed;
}

/** The symlink or old directory a conversion left beside pools/ and vhosts/ (once both are symlinks). */
function removeConversionLeftovers(nginxDir: string): string[] {
  const removed: string[] = [];
  for (const sub of MANAGED_SUBDIRS)
    for (const name of [`.${sub}.link`, `.${sub}.old`]) {
      if (lstatOrNull(join(nginxDir, name))) {
        rmSync(join(nginxDir, name), { recursive: true, force: true });
        removed.push(name);
      }
    }
  return removed;
}

/**
 * Turns real pools/ and vhosts/ directories (or none) into the generation layout with the same
 * content, as generation `g0`, without nginx ever seeing anything else than that content: the
 * generation is built (hard links), `current` names it, then each real directory is exchanged
 * with its symlink in one renameat2(RENAME_EXCHANGE) (both show the same files). Without
 * RENAME_EXCHANGE (no perl, an old kernel) each directory is replaced by two renames, and nginx
 * would find that directory missing for the microseconds between them (reported as `atomic:
 * false`). Idempotent: an interrupted conversion is finished by the next call.
 */
export function convertToGenerations(nginxDir: string, g0: number): { atomic: boolean } {
  mkdirSync(nginxDir, { recursive: true });
  let atomic = true;
  if (currentGeneration(nginxDir) === null) {
    buildGeneration(nginxDir, g0, new Map(), new Set());
    placeLink(nginxDir, CURRENT_LINK, genName(g0));
    fsyncDir(nginxDir);
  }
  for (const sub of MANAGED_SUBDIRS) {
    const p = join(nginxDir, sub);
    const target = `${CURRENT_LINK}/${sub}`;
    const st = lstatOrNull(p);
    if (st?.isSymbolicLink() && readlinkSync(p) === target) continue;
    if (!st) {
      placeLink(nginxDir, sub, target);
      fsyncDir(nginxDir);
      continue;
    }
    if (!st.isDirectory()) throw new Error(`${p} is neither a directory nor the symlink ${target}`);
    const staged = join(nginxDir, `.${sub}.link`);
    rmSync(staged, { recursive: true, force: true });
    symlinkSync(target, staged);
    if (exchangePaths(staged, p)) {
      fsyncDir(nginxDir);
      rmSync(staged, { recursive: true, force: true });
    } else {
      atomic = false;
      const old = join(nginxDir, `.${sub}.old`);
      rmSync(old, { recursive: true, force: true });
      renameSync(p, old);
      renameSync(staged, p);
      fsyncDir(nginxDir);
      rmSync(old, { recursive: true, force: true });
    }
  }
  removeConversionLeftovers(nginxDir);
  return { atomic };
}
