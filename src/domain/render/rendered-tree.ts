import type { Origin } from '../model/desired-state.js';

/** First line of every nginx file orch writes. A file without it is never treated as orch's. */
export const CONF_MARKER = '# managed-by: orch';
/** Value of the `managedBy` field that opens every sidecar orch writes. */
export const SIDECAR_MARKER = 'orch';

export type ResourceKind = 'Pool' | 'VirtualHost';
export type FileRole = 'config' | 'sidecar';

export interface ResourceRef {
  kind: ResourceKind;
  name: string;
}

/**
 * Which manifest field produced a rendered line: the document (file + index) and the field path
 * inside it, e.g. `['spec', 'extraBlocks', 0, 'content']`. The app layer resolves it to a
 * file:line:column through the parsed document when it needs to (an `nginx -t` error).
 */
export interface LineOrigin {
  origin: Origin;
  field: Array<string | number>;
}

export interface RenderedFile {
  /** Path relative to the managed nginx directory, `/`-separated: `pools/a.conf`, `vhosts/b.meta.json`. */
  path: string;
  content: string;
  resource: ResourceRef;
  role: FileRole;
  /**
   * For config files: `lineMap[i]` is the origin of line `i + 1` of `content`, or null for lines
   * orch adds on its own (the marker, fixed proxy settings).
   */
  lineMap: Array<LineOrigin | null>;
}

export interface RenderedTree {
  /** Sorted by path. */
  files: RenderedFile[];
}

export interface NginxFeatures {
  /** Version string as printed by `nginx -v`, e.g. `1.22.1`; null when nginx is not installed. */
  version: string | null;
  /** `http2 on;` exists from 1.25.1; before that, `listen ... ssl http2`. */
  http2Directive: boolean;
}

export function nginxFeaturesFor(version: string | null): NginxFeatures {
  if (!version) return { version: null, http2Directive: false };
  const [maj = 0, min = 0, patch = 0] = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  const atLeast = maj > 1 || (maj === 1 && (min > 25 || (min === 25 && patch >= 1)));
  return { version, http2Directive: atLeast };
}
