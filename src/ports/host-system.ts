// The machine `orch install` sets up: files with their mode and owner, system users, executables,
// and the commands it runs (nginx -V / -T). Implemented on the local system
// (src/adapters/system/local-host.ts).

export interface FileInfo {
  isFile: boolean;
  isDirectory: boolean;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
}

export interface CommandOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface HostSystem {
  /** Whether this process runs as root; null where that cannot be told (no getuid). */
  readonly runsAsRoot: boolean | null;
  /** The node binary running this process. */
  readonly nodePath: string;
  /** The first executable `name` on PATH (or the path itself when it has a slash), absolute; null when none. */
  findExecutable(name: string): string | null;
  /** null when nothing is at `path`. */
  stat(path: string): FileInfo | null;
  /** The file's text, or null when it does not exist. */
  readText(path: string): string | null;
  /** Writes atomically (temp file, fsync, rename) with this mode. */
  writeText(path: string, text: string, mode: number): void;
  /** Creates the directory and its parents (existing ones are fine). */
  makeDir(path: string): void;
  setMode(path: string, mode: number): void;
  setOwner(path: string, uid: number, gid: number): void;
  copy(from: string, to: string): void;
  /** uid and gid of a user, or null when it does not exist. */
  lookupUser(user: string): { uid: number; gid: number } | null;
  /** useradd --system --user-group --home-dir HOME --no-create-home --shell /usr/sbin/nologin USER */
  createSystemUser(user: string, home: string): void;
  /** Runs a command (no shell) and collects its output; killed after `timeoutMs`. */
  run(cmd: string, args: string[], timeoutMs: number): Promise<CommandOutput>;
}
