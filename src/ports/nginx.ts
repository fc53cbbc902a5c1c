// The operator's nginx as the apply engine sees it: its version, `nginx -t` of a new generation
// with the main configuration, the reload, and the generation its status location serves.
// Implemented by running the nginx binary (src/adapters/nginx/nginx-control.ts).

export interface NginxTestResult {
  ok: boolean;
  /** nginx's output, with the test's own paths named as the operator knows them. */
  output: string;
  durationMs: number;
}

export interface GenerationTestResult extends NginxTestResult {
  /**
   * `main`: nginx's main configuration with its includes of the managed directory pointed at the
   * new generation; `wrapper`: the main configuration includes nothing of the managed directory, so
   * the new generation was tested alone under a wrapper.
   */
  scope: 'main' | 'wrapper';
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
  /** One `nginx -t`: the main configuration as it will be once `generationDir` is live. Nothing live is touched. */
  testGeneration(generationDir: string): Promise<GenerationTestResult>;
  /**
   * `orch validate --nginx-test`: one `nginx -t` of `files` written to a private temporary directory
   * (removed afterwards), with the main configuration when it includes the managed directory, else
   * under a wrapper. Nothing of the managed directory or the state directory is touched.
   */
  testTree(files: ReadonlyArray<{ path: string; content: string }>): Promise<GenerationTestResult & { treeRoot: string }>;
  /** Sends the configured reload. Success does NOT mean nginx loaded the config: confirm separately. */
  reload(): Promise<ReloadResult>;
  /** The generation token the status location answers on a fresh connection; null when nothing answers. */
  servedGeneration(): Promise<string | null>;
  /** The last lines of nginx's error log, for explaining a reload that did not take effect. */
  errorLogTail(lines?: number): string | null;
}
