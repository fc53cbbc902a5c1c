import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../adapters/fs/atomic-write.js';
import { BugError } from '../../domain/errors.js';
import { sha256 } from '../../domain/plan/make-plan.js';
import type { EncryptedCredentials } from '../../domain/secrets/credential-cipher.js';
import type { FileRole, NginxFeatures, RenderedFile, RenderedTree, ResourceKind } from '../../domain/render/rendered-tree.js';
import { pruneCacheEntries } from './manifest-cache.js';

/**
 * The render memo: what the last renderings of the manifests produced, as a list of files with the
 * SHA-256 and length of their contents (not the contents), kept beside the validation cache
 * (`<stateDir>/cache/render-<key>.json`). A plan whose inputs are those of a memo does not render:
 * it compares the files on disk with the digests, and renders (the whole tree, once) only when
 * something needs a content: a file that differs, a diff to show, an apply to write.
 *
 * Content-addressed like the validation cache, so a memo cannot describe another rendering: the
 * key is a SHA-256 of the validation cache key (every manifest text and name, and the code that
 * validates and renders them: the core, this module and the modules that shape the rendered tree,
 * see manifest-cache-key.ts), the nginx features the files are rendered for, where the manifests
 * are read from (the origins written into the files are relative to it) and the sealed credentials
 * the pool sidecars carry. Only a plan that renders the manifests as they are uses it: while a
 * migration changes how a route is served, the tree is rendered each time.
 *
 * When the tree is rendered after a memo was used, its files are checked against the memo; a
 * difference (which would be a bug: rendering is deterministic) removes the memo and fails.
 *
 * On when the validation cache is (ORCH_MANIFEST_CACHE=0 turns both off); best effort, atomic,
 * and only in an existing state directory, like the validation cache.
 */

const FORMAT = 'orch-render-memo-1';

export interface RenderMemoInputs {
  /** The cache directory (`<stateDir>/cache`), or null when the cache is off. */
  dir: string | null;
  /** The validation cache key of the manifests rendered, or null (no cache: no memo). */
  manifestKey: string | null;
  features: NginxFeatures;
  /** The manifests path and the working directory it is read from. */
  manifests: string;
  cwd: string;
  sealed: ReadonlyMap<string, EncryptedCredentials>;
}

/** One file of a memo: path, resource, role, SHA-256 and length (UTF-16 units) of its content. */
type MemoEntry = [path: string, kind: ResourceKind, name: string, role: FileRole, sha256: string, length: number];

export function renderMemoKey(inputs: RenderMemoInputs): string | null {
  if (!inputs.manifestKey) return null;
  const sealed = [...inputs.sealed].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return sha256(JSON.stringify([FORMAT, inputs.manifestKey, inputs.features, inputs.manifests, inputs.cwd, sealed]));
}

/**
 * The rendered tree, from the memo when it has these inputs (contents rendered on first use),
 * else rendered now (and remembered).
 */
export function renderWithMemo(inputs: RenderMemoInputs, render: () => RenderedTree): RenderedTree {
  // TEMPORARY measurement switch (npm run bench, issue 16): the memo off, the validation cache on.
  if (process.env.ORCH_RENDER_MEMO === '0') return render();
  const key = inputs.dir ? renderMemoKey(inputs) : null;
  if (!inputs.dir || !key) return render();
  const file = join(inputs.dir, `render-${key}.json`);
  const entries = readMemo(file, key);
  if (entries) return memoTree(entries, render, file);
  const tree = render();
  writeMemo(inputs.dir, file, key, tree);
  return tree;
}

function readMemo(file: string, key: string): MemoEntry[] | null {
  try {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { format?: unknown; key?: unknown; files?: unknown };
    if (stored.format !== FORMAT || stored.key !== key || !Array.isArray(stored.files)) return null;
    for (const e of stored.files as unknown[]) {
      if (
        !Array.isArray(e) ||
        e.length !== 6 ||
        typeof e[0] !== 'string' ||
        (e[1] !== 'Pool' && e[1] !== 'VirtualHost') ||
        typeof e[2] !== 'string' ||
        (e[3] !== 'config' && e[3] !== 'sidecar') ||
        typeof e[4] !== 'string' ||
        !/^[0-9a-f]{64}$/.test(e[4]) ||
        !Number.isSafeInteger(e[5])
      ) {
        return null;
      }
    }
    return stored.files as MemoEntry[];
  } catch {
    return null;
  }
}

function writeMemo(dir: string, file: string, key: string, tree: RenderedTree): void {
  try {
    if (!existsSync(dirname(dir))) return; // no state directory yet: a plan creates none
    const files: MemoEntry[] = tree.files.map((f) => [f.path, f.resource.kind, f.resource.name, f.role, sha256(f.content), f.content.length]);
    writeFileAtomic(file, JSON.stringify({ format: FORMAT, key, files }), { durable: false });
    pruneCacheEntries(dir, 'render-', '.json');
  } catch {
    // A memo that cannot be written is only a slower next plan.
  }
}

/**
 * A tree whose files carry their digests; contents and line maps are rendered on first access, and
 * the rendering must give exactly the memo's files.
 */
function memoTree(entries: readonly MemoEntry[], render: () => RenderedTree, file: string): RenderedTree {
  let rendered: Map<string, RenderedFile> | null = null;
  const full = (): Map<string, RenderedFile> => {
    if (rendered) return rendered;
    const tree = render();
    const mismatch =
      tree.files.length !== entries.length
        ? `${tree.files.length} files rendered, ${entries.length} remembered`
        : tree.files.findIndex((f, i) => {
            const e = entries[i]!;
            return f.path !== e[0] || f.resource.kind !== e[1] || f.resource.name !== e[2] || f.role !== e[3] || f.content.length !== e[5] || sha256(f.content) !== e[4];
          });
    if (mismatch !== -1) {
      rmSync(file, { force: true });
      const what = typeof mismatch === 'string' ? mismatch : `${tree.files[mismatch]!.path} differs`;
      throw new BugError(`render memo ${file} does not match the rendering (${what}); it was removed: run the command again`);
    }
    rendered = new Map(tree.files.map((f) => [f.path, f]));
    return rendered;
  };
  return {
    files: entries.map(([path, kind, name, role, sha256, length]): RenderedFile => ({
      path,
      resource: { kind, name },
      role,
      contentSha256: sha256,
      contentLength: length,
      get content() {
        return full().get(path)!.content;
      },
      get lineMap() {
        return full().get(path)!.lineMap;
      },
    })),
  };
}
