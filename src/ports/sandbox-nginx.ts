// The sandbox's private nginx (`orch sandbox up/down`): a process of its own under a prefix
// directory, on loopback ports. Implemented by running the nginx binary
// (src/adapters/nginx/sandbox-nginx.ts).

/** Where the sandbox nginx lives. */
export interface SandboxLocation {
  /** Its main configuration file (-c). */
  conf: string;
  /** Its prefix directory (-p): pid file, logs, temp files. */
  prefix: string;
  /** The managed directory its main configuration includes. */
  nginxDir: string;
}

export interface SandboxNginx {
  /** Throws the UserError `nginx.not-found` when the nginx binary cannot be run. */
  requireBinary(): Promise<void>;
  /**
   * Writes the main configuration, creates the prefix's logs/ and temp/ and the managed
   * directory's pools/ and vhosts/, then starts nginx (or reloads it when it runs). Throws a
   * UserError `sandbox.nginx-failed` when it does not come up.
   */
  start(at: SandboxLocation, mainConf: string): Promise<{ pid: number; started: boolean }>;
  /** Stops it; false when it was not running. */
  stop(at: SandboxLocation): Promise<boolean>;
  /** GET through the gateway: status and body (trimmed), or null when nothing answers. */
  probe(host: string, port: number, hostHeader: string, path: string): Promise<{ status: number; body: string } | null>;
}
