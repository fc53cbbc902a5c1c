// The composition root: the one place where orch's adapters are chosen and built from the
// settings. Commands resolve the settings, call composeOrch, and hand the ports it returns to a use
// case; use cases and the domain never import an adapter or read the environment. Optional
// speed-ups (caches, native paths) are wrappers around a port, chosen here and nowhere else.
import { join } from 'node:path';
import { FileContentStore } from './adapters/fs/content-store.js';
import { fileApplyJournal } from './adapters/fs/journal.js';
import { fileManagedTree } from './adapters/fs/managed-tree.js';
import { fileWriterLocks } from './adapters/fs/writer-lock.js';
import { nginxControl } from './adapters/nginx/nginx-control.js';
import { fsDeployedSidecars } from './adapters/fs/deployed-sidecars.js';
import { fileMigrationLocks, fsMigrationFiles } from './adapters/fs/migration-files.js';
import { fsRemovedPoolsFile } from './adapters/fs/removed-pools-file.js';
import type { RemovedPoolsFile } from './ports/removed-pools-file.js';
import { procWorkerDrain } from './adapters/nginx/worker-drain.js';
import { s3ObjectTransfer } from './adapters/s3/object-copier.js';
import { s3PoolStorage } from './adapters/s3/pool-s3-client.js';
import { localImportSources } from './adapters/fs/read-source-dir.js';
import { localTextFiles } from './adapters/fs/text-files.js';
import { sandboxNginx } from './adapters/nginx/sandbox-nginx.js';
import { environmentSecrets, fileSecretKeys } from './adapters/secrets/environment-secrets.js';
import { buildIdentity } from './adapters/manifests/build-identity.js';
import { fileManifestLoader, validateParsed } from './adapters/manifests/file-manifest-loader.js';
import { cachedParsing } from './adapters/manifests/parse-cache.js';
import { fileWatchSuspension } from './adapters/fs/watch-suspension-file.js';
import type { WatchSuspensionStore } from './ports/watch-suspension.js';
import { httpDaemonStatus } from './adapters/http/daemon-status.js';
import type { DaemonStatusReader } from './ports/daemon-status.js';
import { parseManifestSources } from './domain/manifests/parse-manifests.js';
import { cachedValidation } from './adapters/manifests/validation-cache.js';
import { sqliteStateDatabase } from './adapters/sqlite/state-store.js';
import { localHost } from './adapters/system/local-host.js';
import { systemClock } from './adapters/system/system-clock.js';
import type { Settings } from './config/settings.js';
import type { ApplyJournal } from './ports/apply-journal.js';
import type { Clock } from './ports/clock.js';
import type { ContentStore } from './ports/content-store.js';
import type { FaultHook } from './ports/fault-hook.js';
import type { ManagedTree } from './ports/managed-tree.js';
import type { Nginx } from './ports/nginx.js';
import type { MigrationFiles } from './ports/migration-files.js';
import type { PoolStorageFactory } from './ports/pool-storage.js';
import type { HealthServers } from './ports/health-server.js';
import type { HostSystem } from './ports/host-system.js';
import type { ImportSources } from './ports/import-sources.js';
import type { ManifestWatchers } from './ports/manifest-watcher.js';
import type { SandboxNginx } from './ports/sandbox-nginx.js';
import type { SecretKeyFiles, Secrets } from './ports/secrets.js';
import type { ManifestLoader } from './ports/manifest-loader.js';
import type { StateDatabase } from './ports/state-store.js';
import type { TextFiles } from './ports/text-files.js';
import type { WriterLocks } from './ports/writer-lock.js';
import type { Env } from './use-cases/buckets/pool-access.js';
import { gatewayRoutingApplier } from './use-cases/migrations/apply-routing.js';
import { deployedPoolAccess } from './use-cases/migrations/deployed-pools.js';
import type { MigrationPorts } from './use-cases/migrations/migration-ports.js';
import { provenanceSource } from './adapters/git/provenance.js';
import type { ProvenanceSource } from './ports/provenance.js';

/** Everything a use case may need from the outside world, for one command. */
export interface Orch {
  settings: Settings;
  /** The state database of settings.stateDir. */
  state: StateDatabase;
  /** The writer lock of settings.stateDir. */
  locks: WriterLocks;
  clock: Clock;
  /** The managed nginx directory (settings.nginxDir): generations, switched by one rename. */
  tree: ManagedTree;
  /** The promotion journal of settings.stateDir. */
  journal: ApplyJournal;
  /** The content store of settings.stateDir (objects/). */
  contents: ContentStore;
  /** The operator's nginx: binary, -c, -p, reload method, status location. */
  nginx: Nginx;
  /** Fault points: a no-op in the shipped CLI (see installFaultHook). */
  fault: FaultHook;
  /** Migration state files, baselines and cancel flags in settings.stateDir/migrations. */
  migrationFiles: MigrationFiles;
  /** The removed-pool records' copy in settings.stateDir/removed-pools.json (rebuild-db recovers them from it). */
  removedPoolsFile: RemovedPoolsFile;
  provenance: ProvenanceSource;
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
  /** The manifests, read and validated (through the validation cache of settings.stateDir unless ORCH_MANIFEST_CACHE=0). */
  manifests: ManifestLoader;
  /** Whether the watch daemon of settings.stateDir is suspended (orch suspend / resume). */
  suspension: WatchSuspensionStore;
  /** What a running orch watch answers on its listener (GET /status). */
  daemonStatus: DaemonStatusReader;
}

export function composeOrch(settings: Settings): Orch {
  return {
    settings,
    state: sqliteStateDatabase(join(settings.stateDir, 'orch.db')),
    locks: fileWriterLocks(settings.stateDir),
    clock: systemClock,
    tree: fileManagedTree(settings.nginxDir),
    journal: fileApplyJournal(settings.stateDir),
    contents: new FileContentStore(settings.stateDir),
    nginx: nginxControl({
      bin: settings.nginxBin,
      conf: settings.nginxConf,
      prefix: settings.nginxPrefix,
      reload: settings.reload,
      reloadCommand: settings.reloadCommand,
      statusListen: settings.statusListen,
      nginxDir: settings.nginxDir,
      stagingDir: join(settings.stateDir, 'staging'),
      signalReload: process.env['ORCH_RELOAD_SIGNAL'] !== '0',
    }),
    fault: (point) => faultHook(point),
    migrationFiles: fsMigrationFiles(settings.stateDir),
    removedPoolsFile: fsRemovedPoolsFile(settings.stateDir),
    provenance: provenanceSource(settings.manifests, process.env),
    poolStorage: s3PoolStorage,
    secrets: environmentSecrets(process.env),
    files: localTextFiles,
    sandbox: sandboxNginx(settings.nginxBin),
    importSources: localImportSources,
    manifests: manifestLoader(settings),
    suspension: fileWatchSuspension(settings.stateDir),
    daemonStatus: httpDaemonStatus,
  };
}

/**
 * The copy engine's one switch: `ORCH_SPLICE=0` turns the splice relay off (streamed objects then
 * go through Node's HTTP client); otherwise it is used where it is built.
 */
export function spliceTurnedOff(env: Env): string | null {
  return env['ORCH_SPLICE'] === '0' ? 'turned off (ORCH_SPLICE=0)' : null;
}

/** What the migration use cases (migrate run/cancel, migrations, the watch daemon's supervisor) work on. */
export function migrationPorts(settings: Settings, env: Env = process.env): MigrationPorts {
  const orch = composeOrch(settings);
  const sidecars = fsDeployedSidecars(settings.nginxDir);
  return {
    settings,
    state: orch.state,
    clock: orch.clock,
    locks: fileMigrationLocks(settings.stateDir),
    files: orch.migrationFiles,
    transfer: s3ObjectTransfer({ spliceTurnedOff: spliceTurnedOff(env) }),
    drain: procWorkerDrain(settings.statusListen),
    sidecars,
    poolAccess: () => deployedPoolAccess({ secrets: environmentSecrets(env), poolStorage: orch.poolStorage }, settings, sidecars),
    applyRouting: gatewayRoutingApplier(orch),
  };
}

let faultHook: FaultHook = () => {};

/**
 * Test builds only: test/helpers/faulty-cli.mjs loads the bundle and installs a hook that kills the
 * process at a named fault point, to prove crash safety. bin/run.js never calls this, so the
 * shipped CLI honours no fault point (no environment variable turns one on).
 */
export function installFaultHook(hook: FaultHook): void {
  faultHook = hook;
}

/** The watch daemon's own adapters (loaded only by `orch watch`: chokidar and the HTTP listener). */
export async function composeWatchAdapters(): Promise<{ healthServers: HealthServers; manifestWatchers: ManifestWatchers }> {
  const [{ httpHealthServers }, { chokidarManifestWatchers }] = await Promise.all([
    import('./adapters/http/health-server.js'),
    import('./adapters/watch/manifest-watcher.js'),
  ]);
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

/**
 * The manifest loader, with the manifest caches in `<stateDir>/cache` (on unless
 * ORCH_MANIFEST_CACHE=0), the speed-ups of the manifest path that pay for themselves (`npm run bench`,
 * docs/plan.md): the validation cache (the whole tree unchanged: no parse, no checks) and, under it,
 * the parse cache (one file changed: only that file is parsed again).
 */
export function manifestLoader(settings: Settings, env: NodeJS.ProcessEnv = process.env): ManifestLoader {
  if (env.ORCH_MANIFEST_CACHE === '0') return fileManifestLoader();
  const cache = { dir: join(settings.stateDir, 'cache'), build: buildIdentity };
  // ORCH_PARSE_CACHE=0: the validation cache alone (for `npm run bench`, which measures each cache on and off).
  const parse = env.ORCH_PARSE_CACHE === '0' ? parseManifestSources : cachedParsing(parseManifestSources, cache);
  return fileManifestLoader({ validate: cachedValidation(validateParsed(parse), cache) });
}
