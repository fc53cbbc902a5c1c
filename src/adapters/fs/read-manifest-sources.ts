import { closeSync, fstatSync, openSync, readdirSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { constants } from 'node:fs';
import { dirname, join, normalize, isAbsolute, sep } from 'node:path';
import { packagePath } from '../../config/package-root.js';
import type { Diagnostic } from '../../domain/diagnostics.js';
import { UserError, ValidationError } from '../../domain/errors.js';
import { decodeManifestBytes, MANIFEST_LIMITS, unreadableManifest } from '../../domain/manifests/decode-source.js';
import type { SourceText } from '../../domain/manifests/parse-manifests.js';
import { displayPath, stableOriginFile } from '../../domain/manifests/origin-names.js';
import { runBoundedRead } from './bounded-child.js';
import { isLocalRealPath, isOnLocalFileSystem } from './local-file-system.js';

const MANIFEST_EXT = /\.ya?ml$/;

/** How long a whole manifest tree on a network or FUSE file system may take to be read. */
export const MANIFEST_TREE_TIMEOUT_MS = 10_000;

/** The manifest files of a target as read: their texts, and the files that could not be read. */
export interface ManifestTree {
  sources: SourceText[];
  /** One positioned diagnostic per file (or directory) refused: unreadable, too large, not UTF-8... */
  problems: Diagnostic[];
}

/**
 * Reads one manifest file, or every `*.yaml`/`*.yml` below a directory (recursively, in a stable
 * order; hidden entries skipped; symbolic links followed, a link back to a directory above it
 * refused). Paths are shown relative to `cwd` when below it. Every file is bounded
 * (MANIFEST_LIMITS), must be a regular file, strict UTF-8 and free of control characters; a file
 * that is not is a problem of the result, never skipped in silence.
 *
 * A tree on local file systems is read in process. When the target, or any directory, file or
 * symbolic link met on the way, lies on a network or FUSE file system (where a stat or a read can
 * wait forever), the whole tree is read again by the same code in a child process bounded by one
 * deadline (MANIFEST_TREE_TIMEOUT_MS, see bounded-child.ts, shared with secret files): a tree that
 * does not answer in time is a UserError naming the path being read. While that child is stuck (a
 * FUSE read cannot be killed), the same target is refused at once with the same UserError, not
 * read again (`orch watch` asks on every reconcile); once it has ended, it is read again.
 */
export function readManifestTree(target: string, cwd: string = process.cwd()): ManifestTree {
  if (isOnLocalFileSystem(manifestTargetPath(target, cwd))) {
    try {
      return readManifestTreeHere(target, cwd, { localOnly: true });
    } catch (e) {
      if (!(e instanceof RemoteEntry)) throw e;
    }
  }
  return readManifestTreeInChild(target, cwd, MANIFEST_TREE_TIMEOUT_MS);
}

/** How readManifestTreeHere walks: `localOnly` stops at the first remote entry (RemoteEntry); `onEnter` hears each path before it is touched. */
export interface ReadHereOptions {
  localOnly: boolean;
  onEnter?: (shown: string) => void;
}

/** Thrown by a localOnly walk at an entry on a network or FUSE file system. */
class RemoteEntry extends Error {}

/** readManifestTree's work, in this process, whatever the file systems (the child's entry runs it). */
export function readManifestTreeHere(target: string, cwd: string, options: ReadHereOptions): ManifestTree {
  const listing = listManifestTarget(target, cwd, options);
  const problems = [...listing.problems];
  const sources: SourceText[] = [];
  let total = 0;
  for (const file of listing.files) {
    options.onEnter?.(displayPath(file, cwd));
    const read = readManifestBytes(file, cwd);
    if ('problem' in read) {
      problems.push(read.problem);
      continue;
    }
    total += read.bytes.length;
    if (total > MANIFEST_LIMITS.treeBytes) {
      problems.push(
        unreadableManifest(
          displayPath(file, cwd),
          'tree-too-large',
          `the manifest files read up to this one hold more than ${MANIFEST_LIMITS.treeBytes} bytes`,
        ),
      );
      break;
    }
    const decoded = decodeManifestBytes(displayPath(file, cwd), read.bytes);
    if (decoded.ok) sources.push(decoded.source);
    else problems.push(decoded.diagnostic);
  }
  return { sources, problems };
}

/** What the child (manifest-tree-child.ts) prints on its standard output, as JSON. */
export type ChildTreeAnswer = { tree: ManifestTree } | { userError: { code: string; message: string; hint?: string } };

/**
 * The tree read by `node manifest-tree-child.js TARGET CWD`, which prints each path on its
 * standard error before it touches it (so a read that does not answer is named) and the tree as
 * JSON on its standard output. Exported for the tests: the same answers as in process.
 */
export function readManifestTreeInChild(target: string, cwd: string, timeoutMs: number = MANIFEST_TREE_TIMEOUT_MS): ManifestTree {
  // The compiled module, also from the bundle (one file) and from the sources (tests).
  const script = packagePath('dist', 'adapters', 'fs', 'manifest-tree-child.js');
  // JSON escapes at most double the text (quotes, backslashes, line breaks); the rest is small.
  const maxBytes = 2 * MANIFEST_LIMITS.treeBytes + 1024 * 1024;
  const abs = manifestTargetPath(target, cwd);
  const answer = runBoundedRead(`manifest-tree:${abs}`, process.execPath, [script, target, cwd], timeoutMs, maxBytes);
  const noAnswer = (detail: string): UserError =>
    new UserError('manifests.unreadable', `Manifest path ${displayPath(abs, cwd)} ${detail}`, {
      hint: 'Copy the manifests to a local directory and point --manifests (or ORCH_MANIFESTS, or `manifests:` in the config file) at it.',
    });
  if (answer.status === 'timeout' || answer.status === 'hanging') {
    const last = answer.stderr.trimEnd().split('\n').pop();
    const reading = last ? ` (reading ${last})` : '';
    const question = 'is it on a network or FUSE file system that does not respond?';
    throw noAnswer(
      answer.status === 'timeout'
        ? `did not answer within ${timeoutMs / 1000} s${reading}; ${question}`
        : `is not read again: an earlier read of it did not answer within ${timeoutMs / 1000} s and is still hanging${reading}; ${question}`,
    );
  }
  if (answer.status === 'spawn') throw noAnswer(`cannot be read: the reader could not be started (${answer.detail}).`);
  if (answer.stdout.length > maxBytes) throw noAnswer(`holds more than ${MANIFEST_LIMITS.treeBytes} bytes of manifests.`);
  let parsed: ChildTreeAnswer;
  try {
    parsed = JSON.parse(answer.stdout.toString('utf8')) as ChildTreeAnswer;
  } catch {
    throw noAnswer(
      `cannot be read: the reader ended with code ${answer.code ?? 'none'} (${answer.stderr.trim().split('\n').pop() ?? ''}).`,
    );
  }
  if ('userError' in parsed) throw new UserError(parsed.userError.code, parsed.userError.message, { hint: parsed.userError.hint });
  return parsed.tree;
}

/** readManifestTree's texts; a file that cannot be read is thrown as a ValidationError. */
export function readManifestSources(target: string, cwd: string = process.cwd()): SourceText[] {
  const tree = readManifestTree(target, cwd);
  if (tree.problems.length > 0) throw new ValidationError(tree.problems);
  return tree.sources;
}

export interface ManifestListing {
  /** The target as an absolute path. */
  target: string;
  /** Absolute paths of the manifest files, in reading order. */
  files: string[];
  /** Directories that could not be listed, links that loop or dangle. */
  problems: Diagnostic[];
}

/** The files readManifestSources reads, in its order; a UserError when the target does not exist. */
export function listManifestTarget(target: string, cwd: string, options: ReadHereOptions = { localOnly: false }): ManifestListing {
  const abs = manifestTargetPath(target, cwd);
  options.onEnter?.(displayPath(abs, cwd));
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new UserError('manifests.not-found', `Manifest path ${target} does not exist.`, {
      hint: 'Point --manifests (or ORCH_MANIFESTS, or `manifests:` in the config file) at a directory of *.yaml files or at one file.',
    });
  }
  if (!st.isDirectory()) return { target: abs, files: [abs], problems: [] };
  const problems: Diagnostic[] = [];
  const files = listManifestFiles(
    abs,
    (file, why, detail) => problems.push(unreadableManifest(displayPath(file, cwd), why, detail)),
    options,
    cwd,
  );
  return { target: abs, files, problems };
}

export function manifestTargetPath(target: string, cwd: string): string {
  return isAbsolute(target) ? target : join(cwd, target);
}

/**
 * The directory manifest paths are named relative to in generated files: the manifests directory,
 * or the directory of the one manifest file; null when the target cannot be read. A target on a
 * network or FUSE file system is not touched (a stat may not answer): it is the one manifest file
 * when its name ends in .yaml or .yml.
 */
export function manifestBaseDir(target: string, cwd: string): string | null {
  const abs = manifestTargetPath(target, cwd);
  if (!isOnLocalFileSystem(abs)) return MANIFEST_EXT.test(abs) ? dirname(abs) : abs;
  try {
    return statSync(abs).isDirectory() ? abs : dirname(abs);
  } catch {
    return null;
  }
}

/** One manifest file as readManifestSources reads it (a ValidationError when it cannot be read). */
export function readManifestFile(file: string, cwd: string): SourceText {
  const read = readManifestBytes(file, cwd);
  if ('problem' in read) throw new ValidationError([read.problem]);
  const decoded = decodeManifestBytes(displayPath(file, cwd), read.bytes);
  if (!decoded.ok) throw new ValidationError([decoded.diagnostic]);
  return decoded.source;
}

/**
 * The bytes of one manifest file: a regular file (a FIFO or a device is refused before it is
 * opened, and the open does not block), at most MANIFEST_LIMITS.fileBytes, read whole.
 */
function readManifestBytes(file: string, cwd: string): { bytes: Buffer } | { problem: Diagnostic } {
  const shown = displayPath(file, cwd);
  let fd: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) return { problem: unreadableManifest(shown, 'not-a-file', `${kindOf(st)} is not a regular file`) };
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    return { problem: openProblem(shown, e) };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { problem: unreadableManifest(shown, 'not-a-file', `${kindOf(st)} is not a regular file`) };
    if (st.size > MANIFEST_LIMITS.fileBytes)
      return {
        problem: unreadableManifest(
          shown,
          'too-large',
          `the file holds ${st.size} bytes; a manifest file may hold ${MANIFEST_LIMITS.fileBytes}`,
        ),
      };
    // Read up to one byte past the limit: a file that grows while it is read is still bounded.
    const buffer = Buffer.allocUnsafe(Math.min(st.size, MANIFEST_LIMITS.fileBytes) + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length === buffer.length) break;
    }
    if (length > MANIFEST_LIMITS.fileBytes)
      return { problem: unreadableManifest(shown, 'too-large', `the file grew past ${MANIFEST_LIMITS.fileBytes} bytes while it was read`) };
    return { bytes: buffer.subarray(0, length) };
  } catch (e) {
    return { problem: openProblem(shown, e) };
  } finally {
    closeSync(fd);
  }
}

function openProblem(shown: string, e: unknown): Diagnostic {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return unreadableManifest(shown, 'permission', 'cannot be read: permission denied');
  if (code === 'ENOENT') return unreadableManifest(shown, 'unreadable', 'does not exist (a dangling symbolic link?)');
  if (code === 'ELOOP') return unreadableManifest(shown, 'symlink-loop', 'is a symbolic link that points back at itself');
  if (code === 'EISDIR') return unreadableManifest(shown, 'not-a-file', 'is a directory');
  return unreadableManifest(shown, 'unreadable', `cannot be read (${code ?? 'error'})`);
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isDirectory()) return 'a directory';
  return 'it';
}

type ListingProblem = (
  file: string,
  why: 'permission' | 'symlink-loop' | 'unreadable' | 'not-a-file' | 'too-many-files',
  detail: string,
) => void;

/**
 * The manifest files below `dir`. Symbolic links are followed: a link to a file is read as that
 * file, a link to a directory is walked, unless it points at a directory of the walk's own path
 * (a loop), which is a problem. A `*.yaml` entry that is a dangling link, a FIFO, a socket or a
 * device is listed anyway, so that reading it reports why it cannot be read. With
 * `options.localOnly`, an entry on a network or FUSE file system stops the walk (RemoteEntry)
 * before it is touched.
 */
function listManifestFiles(dir: string, problem: ListingProblem, options: ReadHereOptions, cwd: string): string[] {
  const out: string[] = [];
  const onPath: string[] = [];
  const walk = (d: string): boolean => {
    let real: string;
    let entries;
    options.onEnter?.(displayPath(d, cwd));
    try {
      real = realpathSync(d);
      entries = readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      problem(d, code === 'EACCES' || code === 'EPERM' ? 'permission' : 'unreadable', `directory cannot be listed (${code ?? 'error'})`);
      return true;
    }
    onPath.push(real);
    // `d` is normalized and an entry name has no separator: join(d, name) is d + sep + name,
    // without join's normalization pass for each of thousands of files.
    const prefix = d.endsWith(sep) ? d : d + sep;
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = prefix + e.name;
      let isDir = e.isDirectory();
      if (
        options.localOnly &&
        (e.isSymbolicLink() ? !isOnLocalFileSystem(p) : (isDir || MANIFEST_EXT.test(e.name)) && !isLocalRealPath(`${real}/${e.name}`))
      )
        throw new RemoteEntry(p);
      if (e.isSymbolicLink()) {
        options.onEnter?.(displayPath(p, cwd));
        let target: Stats | null = null;
        try {
          target = statSync(p);
        } catch {
          target = null; // dangling or looping on itself: listed below when it looks like a manifest
        }
        isDir = target?.isDirectory() ?? false;
        if (isDir) {
          let targetReal = '';
          try {
            targetReal = realpathSync(p);
          } catch {
            targetReal = '';
          }
          if (onPath.includes(targetReal)) {
            problem(p, 'symlink-loop', `is a symbolic link to ${targetReal}, a directory that contains it`);
            continue;
          }
        }
      }
      if (isDir) {
        if (!walk(p)) return false;
      } else if (MANIFEST_EXT.test(e.name)) {
        out.push(p);
        if (out.length > MANIFEST_LIMITS.files) {
          problem(p, 'too-many-files', `more than ${MANIFEST_LIMITS.files} manifest files below ${dir}`);
          out.length = MANIFEST_LIMITS.files;
          return false;
        }
      }
    }
    onPath.pop();
    return true;
  };
  walk(normalize(dir));
  return out;
}

/**
 * How generated files name the manifest files read from `target` (see stableOriginFile): relative
 * to the manifests directory, or to the directory of the one manifest file.
 */
export function originNamesFor(target: string, cwd: string): (file: string) => string {
  return stableOriginFile(manifestBaseDir(target, cwd), cwd);
}
