// The composition root: the one place where orch's adapters are chosen and built from the
// settings. Commands resolve the settings, call composeOrch, and hand the ports it returns to a use
// case; use cases and the domain never import an adapter or read the environment. Optional
// speed-ups (caches, native paths) are wrappers around a port, chosen here and nowhere else.
import { join } from 'node:path';
import { localImportSources } from './adapters/fs/read-source-dir.js';
import { localTextFiles } from './adapters/fs/text-files.js';
import { fileWriterLocks } from './adapters/fs/writer-lock.js';
import { sandboxNginx } from './adapters/nginx/sandbox-nginx.js';
import { s3PoolStorage } from './adapters/s3/pool-s3-client.js';
import { environmentSecrets, fileSecretKeys } from './adapters/secrets/environment-secrets.js';
import { sqliteStateDatabase } from './adapters/sqlite/state-store.js';
import { localHost } from './adapters/system/local-host.js';
import { systemClock } from './adapters/system/system-clock.js';
import type { Settings } from './config/settings.js';
import type { Clock } from './ports/clock.js';
import type { HealthServers } from './ports/health-server.js';
import type { HostSystem } from './ports/host-system.js';
import type { ImportSources } from './ports/import-sources.js';
import type { ManifestWatchers } from './ports/manifest-watcher.js';
import type { PoolStorageFactory } from './ports/pool-storage.js';
import type { SandboxNginx } from './ports/sandbox-nginx.js';
import type { SecretKeyFiles, Secrets } from './ports/secrets.js';
import type { StateDatabase } from './ports/state-store.js';
import type { TextFiles } from './ports/text-files.js';
import type { WriterLocks } from './ports/writer-lock.js';

/** Everything a use case may need from the outside world, for one command. */
export interface Orch {
  settings: Settings;
  /** The state database of settings.stateDir. */
  state: StateDatabase;
  /** The writer lock of settings.stateDir. */
  locks: WriterLocks;
  clock: Clock;
  /** Clients on the nanio pools (S3). */
  poolStorage: PoolStorageFactory;
  /** The secret key and the credential references, read from this process's environment and files. */
  secrets: Secrets;
  /** Whole files outside the managed tree (generated manifests, node configuration, plan files). */
  files: TextFiles;
  /** The private nginx of `orch sandbox` (settings.nginxBin). */
  sandbox: SandboxNginx;
  /** What `orch import` reads. */
  importSources: ImportSources;
}

export function composeOrch(settings: Settings): Orch {
  return {
    settings,
    state: sqliteStateDatabase(join(settings.stateDir, 'orch.db')),
    locks: fileWriterLocks(settings.stateDir),
    clock: systemClock,
    poolStorage: s3PoolStorage,
    secrets: environmentSecrets(process.env),
    files: localTextFiles,
    sandbox: sandboxNginx(settings.nginxBin),
    importSources: localImportSources,
  };
}

/** The watch daemon's own adapters (loaded only by `orch watch`: chokidar and the HTTP listener). */
export async function composeWatchAdapters(): Promise<{ healthServers: HealthServers; manifestWatchers: ManifestWatchers }> {
  const [{ httpHealthServers }, { chokidarManifestWatchers }] = await Promise.all([import('./adapters/http/health-server.js'), import('./adapters/watch/manifest-watcher.js')]);
  return { healthServers: httpHealthServers, manifestWatchers: chokidarManifestWatchers };
}

/** Key files for `orch secret-key generate` (which needs no settings). */
export function composeSecretKeyFiles(): SecretKeyFiles {
  return fileSecretKeys;
}

/** What `orch install` works on (it reads no orch settings: the daemon reads only the config file). */
export function composeInstall(): { host: HostSystem } {
  return { host: localHost };
}
