// What a running `orch watch` answers on its loopback listener (GET /status), read by `orch status`
// and by commands that warn before the daemon would undo what they do. Implemented over HTTP
// (src/adapters/http/daemon-status.ts): bounded in size and time.

export interface DaemonStatusReader {
  /** The parsed /status document at `listen` (host:port), or null when nothing answers it in time. */
  read(listen: string): Promise<Record<string, unknown> | null>;
}
