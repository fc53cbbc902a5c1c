// The installation `orch import DIR` reads (never changes): its nginx files and sidecars, and the
// files their `include` directives name. Implemented on the filesystem (src/adapters/fs/read-source-dir.ts).
import type { IncludeResolver } from '../domain/nginx-config/nginx-ast.js';

export interface ImportSources {
  /**
   * Every `*.conf` and `*.meta.json` below `dir` (hidden entries skipped), paths relative to it.
   * Throws a UserError when `dir` does not exist or is not a directory.
   */
  read(dir: string): Array<{ path: string; content: string }>;
  /** Follows `include` for the parser, relative paths against `dir`. */
  includeResolver(dir: string): IncludeResolver;
  /** The version of the nginx binary (`nginx -v`), or null when it is not installed: what orch's own files were rendered for. */
  nginxVersion(bin: string): Promise<string | null>;
}
