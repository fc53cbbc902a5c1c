// The composition root: the one place where orch's adapters are chosen and built from the
// settings. Commands resolve the settings, call composeOrch, and hand the ports it returns to a use
// case; use cases and the domain never import an adapter or read the environment. Optional
// speed-ups (caches, native paths) are wrappers around a port, chosen here and nowhere else.
import { join } from 'node:path';
import { fileWriterLocks } from './adapters/fs/writer-lock.js';
import { buildIdentity } from './adapters/manifests/build-identity.js';
import { fileManifestLoader, validateSources } from './adapters/manifests/file-manifest-loader.js';
import { cachedValidation } from './adapters/manifests/validation-cache.js';
import { sqliteStateDatabase } from './adapters/sqlite/state-store.js';
import { systemClock } from './adapters/system/system-clock.js';
import type { Settings } from './config/settings.js';
import type { Clock } from './ports/clock.js';
import type { ManifestLoader } from './ports/manifest-loader.js';
import type { StateDatabase } from './ports/state-store.js';
import type { WriterLocks } from './ports/writer-lock.js';

/** Everything a use case may need from the outside world, for one command. */
export interface Orch {
  settings: Settings;
  /** The state database of settings.stateDir. */
  state: StateDatabase;
  /** The writer lock of settings.stateDir. */
  locks: WriterLocks;
  clock: Clock;
  /** The manifests, read and validated (through the validation cache of settings.stateDir unless ORCH_MANIFEST_CACHE=0). */
  manifests: ManifestLoader;
}

export function composeOrch(settings: Settings): Orch {
  return {
    settings,
    state: sqliteStateDatabase(join(settings.stateDir, 'orch.db')),
    locks: fileWriterLocks(settings.stateDir),
    clock: systemClock,
    manifests: manifestLoader(settings),
  };
}

/**
 * The manifest loader, with the validation cache in `<stateDir>/cache` (on unless
 * ORCH_MANIFEST_CACHE=0), the one speed-up of the manifest path that pays for itself (`npm run bench`, docs/plan.md).
 */
export function manifestLoader(settings: Settings, env: NodeJS.ProcessEnv = process.env): ManifestLoader {
  if (env.ORCH_MANIFEST_CACHE === '0') return fileManifestLoader();
  return fileManifestLoader({ validate: cachedValidation(validateSources, { dir: join(settings.stateDir, 'cache'), build: buildIdentity }) });
}
