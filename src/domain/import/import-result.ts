import type { Diagnostic, SourcePosition } from '../diagnostics.js';
import type { DesiredState } from '../model/desired-state.js';
import type { NginxDirective } from '../nginx-config/nginx-ast.js';
import type { ManifestLayout } from './write-manifests.js';

export const IMPORT_SOURCES = ['orch', 'nanio-orchestrator', 'nginx'] as const;
export type ImportSource = (typeof IMPORT_SOURCES)[number];

/** A file of the directory being imported: path relative to it (`/`-separated) and content. */
export interface SourceFile {
  path: string;
  content: string;
}

/** A credential value recovered from the reference tool, for the env file (never printed). */
export interface ImportSecret {
  env: string;
  value: string;
  pool: string;
}

export interface ImportResult {
  source: ImportSource;
  /** What the manifests will describe. */
  desired: DesiredState;
  layout: ManifestLayout;
  /** One per construct that was carried verbatim, dropped, renamed or guessed; positioned in DIR. */
  warnings: Diagnostic[];
  secrets: ImportSecret[];
  /**
   * `.conf` files of the directory that the first apply will not replace (their blocks now live in
   * other files): they must leave nginx's include path before that apply, or nginx would load
   * every upstream and server twice.
   */
  filesToMove: string[];
  /**
   * Why these manifests must not be used (a migration orch cannot take over, ...): errors, each
   * positioned and with what to do. Import writes nothing when there is one.
   */
  refusals: Diagnostic[];
  /**
   * The server blocks nginx serves today and the pool each upstream name became: what the routing
   * equivalence check compares orch's rendering with. Null when the import has no such view (orch's own tree).
   */
  routing: SourceRouting | null;
}

export interface SourceRouting {
  servers: NginxDirective[];
  /** http-level `map` blocks the servers may read (evaluated by the check as nginx would). */
  maps?: NginxDirective[];
  /** Upstream name (as `proxy_pass` names it) -> imported pool name. */
  poolOf: ReadonlyMap<string, string>;
}

/** Collects import warnings, each positioned at the construct in the imported directory. */
export class ImportWarnings {
  readonly list: Diagnostic[] = [];
  warn(code: string, message: string, at: Partial<SourcePosition> & { file: string }, hint?: string): void {
    this.list.push({
      severity: 'warning',
      code,
      message,
      ...(hint ? { hint } : {}),
      source: { file: at.file, line: at.line ?? 1, column: at.column ?? 1 },
    });
  }
}
