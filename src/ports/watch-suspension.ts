// Whether `orch watch` is suspended for a state directory (`orch suspend` / `orch resume`): a
// record every orch process of that state directory can read, written by the CLI, read by the
// daemon before each job. Implemented as a file in the state directory
// (src/adapters/fs/watch-suspension-file.ts).

export interface WatchSuspension {
  /** When it was suspended (ISO 8601). */
  since: string;
  /** Who suspended it: the operating-system user and host. */
  by: string;
  /** Why, as the operator wrote it, or null. */
  reason: string | null;
}

export interface WatchSuspensionStore {
  /**
   * The suspension in force, or null when the daemon may reconcile. A record that cannot be read
   * or understood counts as a suspension (reason says why): a daemon never reverts an operator's
   * change because a file was damaged.
   */
  read(): WatchSuspension | null;
  /** Records a suspension (replacing one in force). */
  suspend(s: WatchSuspension): void;
  /** Ends the suspension; false when there was none. */
  resume(): boolean;
}
