import { stringify } from 'yaml';
import {
  MEMBER_DEFAULTS,
  MIGRATION_DEFAULTS,
  type DesiredMigration,
  type DesiredPool,
  type DesiredRoute,
  type DesiredState,
  type DesiredVirtualHost,
  type Origin,
} from '../model/desired-state.js';
import { API_VERSION, type Kind } from '../model/manifest-types.js';

/**
 * Writes a desired state as manifest files that validate and describe exactly it, with every
 * default left out (what an operator would have written). Two layouts:
 *
 * - `split`: one file per Pool (`pools/<name>.yaml`) and VirtualHost (`vhosts/<name>.yaml`), one
 *   per Route under `routes/<virtual host>/<route>.yaml`;
 * - `origin`: every document back in the file and at the index its origin names (orch's own tree
 *   remembers them in its sidecars), below the directory common to all origins, so that planning
 *   from the same place renders byte-identical files. Usable only when every origin is known and
 *   no two documents claim the same place.
 *
 * Every file opens with a `# yaml-language-server: $schema=` line. Pure.
 */
export type ManifestLayout = 'split' | 'origin';

export interface ManifestFileOut {
  /** Relative to the output directory, `/`-separated. */
  path: string;
  text: string;
}

export interface WriteManifestsOptions {
  layout: ManifestLayout;
  /** The `$schema` reference for a document of `kind` written in the file at `path`. */
  schemaRef: (kind: Kind, path: string) => string;
  /** Comment lines written under the schema line of each file (without `#`). */
  header?: string[];
}

export interface WrittenManifests {
  files: ManifestFileOut[];
  layout: ManifestLayout;
  /** Why the origin layout was not usable, when it was asked for. */
  layoutProblem: string | null;
  /** For the origin layout: the directory the origins were relative to (the common prefix removed). */
  originRoot: string | null;
}

interface Doc {
  kind: Kind;
  name: string;
  /** For a Route: its virtual host. */
  virtualHost?: string;
  origin: Origin;
  body: Record<string, unknown>;
}

export function poolDocument(p: DesiredPool): Record<string, unknown> {
  const spec: Record<string, unknown> = { type: p.type };
  if (p.description !== null) spec['description'] = p.description;
  if (p.loadBalancing !== 'round_robin') spec['loadBalancing'] = p.loadBalancing;
  if (p.keepalive !== null) spec['keepalive'] = p.keepalive;
  spec['members'] = p.members.map((m) => {
    const out: Record<string, unknown> = { address: m.address };
    if (m.weight !== MEMBER_DEFAULTS.weight) out['weight'] = m.weight;
    if (m.maxFails !== MEMBER_DEFAULTS.maxFails) out['maxFails'] = m.maxFails;
    if (m.failTimeout !== MEMBER_DEFAULTS.failTimeout) out['failTimeout'] = m.failTimeout;
    if (m.enabled !== MEMBER_DEFAULTS.enabled) out['enabled'] = m.enabled;
    if (m.role !== 'primary') out['role'] = m.role;
    return out;
  });
  if (p.credentials !== null)
    spec['credentials'] = { accessKeyId: { ...p.credentials.accessKeyId }, secretAccessKey: { ...p.credentials.secretAccessKey } };
  return { apiVersion: API_VERSION, kind: 'Pool', metadata: { name: p.name }, spec };
}

export function virtualHostDocument(v: DesiredVirtualHost): Record<string, unknown> {
  const spec: Record<string, unknown> = { serverNames: [...v.serverNames] };
  if (v.port !== (v.tls ? 443 : 80)) spec['port'] = v.port;
  if (v.address !== null) spec['address'] = v.address;
  if (v.tls !== null) spec['tls'] = { certificate: v.tls.certificate, key: v.tls.key, ...(v.tls.http2 ? { http2: true } : {}) };
  if (v.defaultPool !== null) spec['defaultPool'] = v.defaultPool;
  if (v.ipRules !== null) spec['ipRules'] = { mode: v.ipRules.mode, addresses: [...v.ipRules.addresses] };
  if (v.extraBlocks.length > 0) spec['extraBlocks'] = v.extraBlocks.map((b) => ({ zone: b.zone, content: b.content }));
  if (v.ignoreBuckets.length > 0) spec['ignoreBuckets'] = [...v.ignoreBuckets];
  return { apiVersion: API_VERSION, kind: 'VirtualHost', metadata: { name: v.name }, spec };
}

export function routeDocument(r: DesiredRoute): Record<string, unknown> {
  const spec: Record<string, unknown> = { virtualHost: r.virtualHost, path: r.path, pool: r.pool };
  if (r.keyPrefix !== null) spec['keyPrefix'] = r.keyPrefix;
  if (!r.enabled) spec['enabled'] = false;
  if (r.allowOrphan) spec['allowOrphan'] = true;
  return { apiVersion: API_VERSION, kind: 'Route', metadata: { name: r.name }, spec };
}

export function migrationDocument(m: DesiredMigration): Record<string, unknown> {
  const spec: Record<string, unknown> = { virtualHost: m.virtualHost, bucket: m.bucket, from: m.from, to: m.to };
  if (m.mode !== MIGRATION_DEFAULTS.mode) spec['mode'] = m.mode;
  if (m.concurrency !== MIGRATION_DEFAULTS.concurrency) spec['concurrency'] = m.concurrency;
  if (m.bandwidthLimit !== null) spec['bandwidthLimit'] = String(m.bandwidthLimit);
  if (m.freezeBudgetSeconds !== MIGRATION_DEFAULTS.freezeBudgetSeconds) spec['freezeBudget'] = `${m.freezeBudgetSeconds}s`;
  return { apiVersion: API_VERSION, kind: 'Migration', metadata: { name: m.name }, spec };
}

function documentsOf(desired: DesiredState): Doc[] {
  const docs: Doc[] = [];
  for (const p of desired.pools) docs.push({ kind: 'Pool', name: p.name, origin: p.origin, body: poolDocument(p) });
  for (const v of desired.virtualHosts) {
    docs.push({ kind: 'VirtualHost', name: v.name, origin: v.origin, body: virtualHostDocument(v) });
    for (const r of v.routes) docs.push({ kind: 'Route', name: r.name, virtualHost: v.name, origin: r.origin, body: routeDocument(r) });
  }
  for (const m of desired.migrations) docs.push({ kind: 'Migration', name: m.name, origin: m.origin, body: migrationDocument(m) });
  return docs;
}

function splitPath(doc: Doc): string {
  if (doc.kind === 'Pool') return `pools/${doc.name}.yaml`;
  if (doc.kind === 'VirtualHost') return `vhosts/${doc.name}.yaml`;
  if (doc.kind === 'Migration') return `migrations/${doc.name}.yaml`;
  return `routes/${doc.virtualHost}/${doc.name}.yaml`;
}

/** The directory part common to every path (with a trailing `/`), or '' when there is none. */
function commonDirectory(paths: readonly string[]): string {
  if (paths.length === 0) return '';
  const split = paths.map((p) => p.split('/').slice(0, -1));
  const first = split[0]!;
  let n = first.length;
  for (const parts of split) {
    let i = 0;
    while (i < n && i < parts.length && parts[i] === first[i]) i++;
    n = i;
  }
  return n === 0 ? '' : `${first.slice(0, n).join('/')}/`;
}

function originLayout(docs: Doc[]): { placed: Map<Doc, { path: string; index: number }>; root: string } | string {
  const unusable = docs.find(
    (d) => d.origin.file === '' || d.origin.file.split('/').some((part) => part === '..') || !/\.ya?ml$/.test(d.origin.file),
  );
  if (unusable) return `the origin of ${unusable.kind} ${unusable.name} is not known`;
  const abs = docs.some((d) => d.origin.file.startsWith('/'));
  if (abs && !docs.every((d) => d.origin.file.startsWith('/'))) return 'the origins mix absolute and relative paths';
  const root = commonDirectory(docs.map((d) => d.origin.file));
  const placed = new Map<Doc, { path: string; index: number }>();
  const claimed = new Map<string, Doc>();
  for (const d of docs) {
    const path = d.origin.file.slice(root.length);
    const key = `${path}#${d.origin.index}`;
    const other = claimed.get(key);
    if (other) return `${d.kind} ${d.name} and ${other.kind} ${other.name} both come from document ${d.origin.index} of ${d.origin.file}`;
    claimed.set(key, d);
    placed.set(d, { path, index: d.origin.index });
  }
  return { placed, root };
}

function renderFile(entries: Array<{ index: number; doc: Doc }>, path: string, opts: WriteManifestsOptions): string {
  const byIndex = new Map(entries.map((e) => [e.index, e.doc]));
  const last = Math.max(...entries.map((e) => e.index));
  const parts: string[] = [];
  for (let i = 0; i <= last; i++) {
    const doc = byIndex.get(i);
    if (!doc) {
      // Keeps later documents at their index: a document orch does not keep on disk (a Migration) was here.
      parts.push('# (a document that is not part of the managed nginx directory, such as a Migration, was here)\n');
      continue;
    }
    const lines = [`# yaml-language-server: $schema=${opts.schemaRef(doc.kind, path)}`, ...(opts.header ?? []).map((h) => `# ${h}`)];
    parts.push(`${lines.join('\n')}\n${stringify(doc.body, { lineWidth: 0 })}`);
  }
  // A comment before the first `---` belongs to the document after it: a gap at index 0 needs an
  // explicit document start to count as a document (the schema line stays the file's first line).
  const first = entries.reduce((a, b) => (a.index < b.index ? a : b)).doc;
  const lead = byIndex.has(0) ? '' : `# yaml-language-server: $schema=${opts.schemaRef(first.kind, path)}\n---\n`;
  return `${lead}${parts.join('---\n')}`;
}

export function writeManifests(desired: DesiredState, opts: WriteManifestsOptions): WrittenManifests {
  const docs = documentsOf(desired);
  let layout = opts.layout;
  let layoutProblem: string | null = null;
  let originRoot: string | null = null;
  let placement = new Map<Doc, { path: string; index: number }>();
  if (layout === 'origin') {
    const o = originLayout(docs);
    if (typeof o === 'string') {
      layout = 'split';
      layoutProblem = o;
    } else {
      placement = o.placed;
      originRoot = o.root;
    }
  }
  if (layout === 'split') {
    placement = new Map(docs.map((d) => [d, { path: splitPath(d), index: 0 }]));
  }
  const byFile = new Map<string, Array<{ index: number; doc: Doc }>>();
  for (const [doc, at] of placement) {
    const list = byFile.get(at.path) ?? [];
    list.push({ index: at.index, doc });
    byFile.set(at.path, list);
  }
  const files = [...byFile.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, entries]) => ({ path, text: renderFile(entries, path, opts) }));
  return { files, layout, layoutProblem, originRoot };
}
