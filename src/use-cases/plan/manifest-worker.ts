import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { workerData } from 'node:worker_threads';
import type { SourceText } from '../../domain/manifests/parse-manifests.js';
import { listManifestTarget, readManifestFiles } from '../../adapters/fs/read-manifest-sources.js';
import { cacheKey, hasCachedEntry } from './manifest-cache-key.js';
import { manifestCacheDir } from './manifest-cache-config.js';
import {
  CONFIG_CANDIDATES,
  CTL_STATE,
  STATE_DECLINED,
  STATE_LISTED,
  STATE_STARTING,
  STATE_WORKER_LISTING,
  manifestFlagsFromArgv,
  sourcesOf,
  type ChunkMessage,
  type SourcesMessage,
  type WorkerInput,
} from './manifest-preload.js';

/**
 * The worker thread of the parallel manifest load (parallel-manifests.ts): guesses the manifest
 * path (and the state directory, for the cache) from the command line, the environment and the
 * config file, as the command will; reads every file and shares the texts; then, unless the cache
 * already holds their validation, claims chunks of files, parses and checks them and posts the
 * results, until none is left. If it cannot guess, it waits for the main thread's texts.
 *
 * It loads only what the step at hand needs: the parsers and checks only when it has to parse,
 * the settings module (and the YAML library it uses) only when the flags and the environment do
 * not already name both directories.
 */
const { argv, cwd, ctl, port } = workerData as WorkerInput;

async function guess(): Promise<{ manifests: string; cacheDir: string | null } | null> {
  try {
    const flags = manifestFlagsFromArgv(argv);
    const env = process.env;
    const given = (flag: string | undefined, name: string): string | undefined => flag ?? (env[name] ? env[name] : undefined);
    let manifests = given(flags.manifests, 'ORCH_MANIFESTS');
    let stateDir = given(flags.stateDir, 'ORCH_STATE_DIR');
    if (manifests === undefined || stateDir === undefined) {
      // Flags > environment > config file > defaults: the config file and the defaults decide.
      const { resolveSettings } = await import('../../config/settings.js');
      const settings = resolveSettings({
        flags: { manifests: flags.manifests, stateDir: flags.stateDir },
        env,
        configPath: flags.config ?? null,
        candidates: CONFIG_CANDIDATES,
        readFile: (p) => (existsSync(p) ? readFileSync(p, 'utf8') : null),
      });
      manifests = settings.manifests;
      stateDir = settings.stateDir;
    }
    // On unless ORCH_MANIFEST_CACHE=0, as in manifest-cache-config.ts.
    return { manifests, cacheDir: env.ORCH_MANIFEST_CACHE !== '0' ? manifestCacheDir(resolve(cwd, stateDir)) : null };
  } catch {
    return null;
  }
}

async function work(sources: SourceText[]): Promise<void> {
  try {
    const { claimChunks } = await import('./parallel-manifests.js');
    claimChunks(ctl, sources, (message: ChunkMessage) => port.postMessage(message));
  } finally {
    port.close();
  }
}

function waitForMainSources(): void {
  port.once('message', (m: SourcesMessage) => {
    if (m.type === 'sources') void work(sourcesOf(m));
    else port.close();
  });
}

const guessed = await guess();
if (guessed !== null && Atomics.compareExchange(ctl, CTL_STATE, STATE_STARTING, STATE_WORKER_LISTING) === STATE_STARTING) {
  let message: SourcesMessage | null = null;
  let sources: SourceText[] = [];
  try {
    const listing = listManifestTarget(guessed.manifests, cwd);
    sources = readManifestFiles(listing.files, cwd);
    const key = guessed.cacheDir ? cacheKey(sources) : null;
    const cacheHint = key === null ? 'none' : hasCachedEntry(guessed.cacheDir!, key) ? 'hit' : 'miss';
    message = { type: 'sources', target: listing.target, paths: sources.map((s) => s.path), texts: sources.map((s) => s.text), cacheHint, cacheKey: key };
  } catch {
    message = null; // the main thread reads them itself, and meets the same error
  }
  if (message) port.postMessage(message);
  // The main thread may have given up waiting meanwhile (then the state is no longer ours).
  const won = Atomics.compareExchange(ctl, CTL_STATE, STATE_WORKER_LISTING, message ? STATE_LISTED : STATE_DECLINED) === STATE_WORKER_LISTING;
  Atomics.notify(ctl, CTL_STATE);
  if (won && message && message.cacheHint !== 'hit') await work(sources);
  else if (won && !message) waitForMainSources();
  else port.close();
} else {
  // No guess, or the main thread is already reading: it shares its texts if it needs help (or
  // not, and this thread just waits until the process ends; it is unref'd).
  if (guessed === null) Atomics.compareExchange(ctl, CTL_STATE, STATE_STARTING, STATE_DECLINED);
  Atomics.notify(ctl, CTL_STATE);
  waitForMainSources();
}
