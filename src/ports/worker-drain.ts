// nginx's old workers finish the requests they started under the previous configuration: a write
// begun before a migration's freeze may still reach the source after the freeze is served. The
// migration engine waits for them to be gone. Implemented from /proc (src/adapters/nginx/worker-drain.ts).

export interface DrainResult {
  drained: boolean;
  waitedMs: number;
  /** Old workers still running when the wait ended. */
  remaining: number;
  /** Why draining could not be observed (no master found), else null. */
  problem: string | null;
}

export interface WorkerDrain {
  /** Waits until no worker of an older configuration is left, or `deadline` (epoch ms) passes. */
  waitForOldWorkers(deadline: number, signal?: AbortSignal): Promise<DrainResult>;
}
