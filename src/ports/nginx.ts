// The operator's nginx as the apply engine sees it: its version, `nginx -t` of a staged tree or of
// the live configuration, the reload, and the generation its status location serves. Implemented by
// running the nginx binary (src/adapters/nginx/nginx-control.ts).
import type { StagedTree } from './managed-tree.js';

export interface NginxTestResult {
  ok: boolean;
  output: string;
  durationMs: number;
}

export interface ReloadResult {
  ok: boolean;
  output: string;
  durationMs: number;
}

export interface Nginx {
  /** The version of the binary (`nginx -v`), or null when it is not installed. */
  version(): Promise<string | null>;
  /** Whether the main configuration nginx is run with exists (true when nginx's default is used). */
  mainConfigExists(): boolean;
  /** `nginx -t` of a staged tree, as a whole. */
  testStaged(staged: StagedTree): Promise<NginxTestResult>;
  /** `nginx -t` of the live configuration. */
  testLive(): Promise<NginxTestResult>;
  /** Sends the configured reload. Success does NOT mean nginx loaded the config: confirm separately. */
  reload(): Promise<ReloadResult>;
  /** The generation token the status location answers on a fresh connection; null when nothing answers. */
  servedGeneration(): Promise<string | null>;
  /** The last lines of nginx's error log, for explaining a reload that did not take effect. */
  errorLogTail(lines?: number): string | null;
}
