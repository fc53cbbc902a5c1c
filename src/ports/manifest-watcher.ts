// Changes to the manifests as the watch daemon sees them: one event per file or directory added,
// changed or removed (the daemon debounces them). Implemented with chokidar
// (src/adapters/watch/manifest-watcher.ts).

export interface ManifestEvent {
  kind: 'add' | 'change' | 'unlink' | 'addDir' | 'unlinkDir';
  path: string;
}

/** A watch in progress. */
export interface ManifestWatcher {
  /** Resolves once the initial scan is done: changes after this are reported. */
  ready: Promise<void>;
  close(): Promise<void>;
}

export interface ManifestWatchers {
  /** Watches what `orch` reads as manifests: a directory (recursively) or one file. */
  watch(target: string, onEvent: (e: ManifestEvent) => void, onError: (e: Error) => void): ManifestWatcher;
}
