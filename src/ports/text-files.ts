// Files outside the managed tree that commands read and write as a whole: generated manifests
// (orch import), node configuration (orch node-config --out), key and plan files. Implemented on
// the local filesystem (src/adapters/fs/text-files.ts).

export interface TextFiles {
  /** The file's text, or null when it does not exist; other errors (permissions, a directory) are thrown. */
  read(path: string): string | null;
  /**
   * Writes through a temporary file renamed into place, durably (fsync of file and directory),
   * creating the directory; with `mode`, the file ends with exactly that mode.
   */
  write(path: string, content: string, opts?: { mode?: number }): void;
  /** The names in a directory, or null when it does not exist. */
  entries(dir: string): string[] | null;
}
