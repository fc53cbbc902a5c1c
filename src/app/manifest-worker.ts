import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { workerData } from 'node:worker_threads';
import type { SourceText } from '../core/manifests/parse-manifests.js';
import { listManifestTarget } from '../adapters/fs/read-manifest-sources.js';
import { cacheKey, hasCachedEntry } from './manifest-cache.js';
import { manifestCacheDir } from './manifest-cache-config.js';
import {
  CONFIG_CANDIDATES,
  CTL_STATE,
  STATE_DECLINED,
  STATE_LISTED,
  STATE_STARTING,
  STATE_WORKER_LISTING,
  manifestFlagsFromArgv,
  type SourcesMessage,
  type WorkerInput,
} from './manifest-preload.js';
import { claimChunks, readListedSources, sourcesOf } from './parallel-manifests.js';
import { resolveSettings } from './settings.js';

/**
 * The worker thread of the parallel manifest load (parallel-manifests.ts): guesses the manifest
 * path (and the state directory, for the cache) from the command line, the environment and the
 * config file, as the command will; reads every file and shares the texts; then, unless the cache
 * already holds their validation, claims chunks of files, parses and checks them and posts the
 * results, until none is left. If it cannot guess, it waits for the main thread's texts.
 */
const { argv, cwd, ctl, port } = workerData as WorkerInput;

function guess(): { manifests: string; cacheDir: string | null } | null {
  try {
    const flags = manifestFlagsFromArgv(argv);
    const settings = resolveSettings({
      flags: { manifests: flags.manifests, stateDir: flags.stateDir },
      env: process.env,
      configPath: flags.config ?? null,
      candidates: CONFIG_CANDIDATES,
      readFile: (p) => (existsSync(p) ? readFileSync(p, 'utf8') : null),
    });
    const cacheDir = process.env.ORCH_MANIFEST_CACHE === '0' ? null : manifestCacheDir(resolve(cwd, settings.stateDir));
    return { manifests: settings.manifests, cacheDir };
  } catch {
    return null;
  }
}

function work(sources: SourceText[]): void {
  claimChunks(ctl, sources, (message) => port.postMessage(message));
  port.close();
}

function waitForMainSources(): void {
  port.once('message', (m: SourcesMessage) => {
    if (m.type === 'sources') work(sourcesOf(m));
    else port.close();
  });
}

const guessed = guess();
if (guessed !== null && Atomics.compareExchange(ctl, CTL_STATE, STATE_STARTING, STATE_WORKER_LISTING) === STATE_STARTING) {
  let message: SourcesMessage | null = null;
  let sources: SourceText[] = [];
  try {
    const listing = listManifestTarget(guessed.manifests, cwd);
    sources = readListedSources(listing.files, cwd);
    const key = guessed.cacheDir ? cacheKey(sources) : null;
    const cacheHint = key === null ? 'none' : hasCachedEntry(guessed.cacheDir!, key) ? 'hit' : 'miss';
    message = { type: 'sources', target: listing.target, paths: sources.map((s) => s.path), texts: sources.map((s) => s.text), cacheHint };
  } catch {
    message = null; // the main thread reads them itself, and meets the same error
  }
  if (message) port.postMessage(message);
  // The main thread may have given up waiting meanwhile (then the state is no longer ours).
  const won = Atomics.compareExchange(ctl, CTL_STATE, STATE_WORKER_LISTING, message ? STATE_LISTED : STATE_DECLINED) === STATE_WORKER_LISTING;
  Atomics.notify(ctl, CTL_STATE);
  if (won && message && message.cacheHint !== 'hit') work(sources);
  else if (won && !message) waitForMainSources();
  else port.close();
} else {
  // No guess, or the main thread is already reading: it shares its texts if it needs help (or
  // not, and this thread just waits until the process ends; it is unref'd).
  if (guessed === null) Atomics.compareExchange(ctl, CTL_STATE, STATE_STARTING, STATE_DECLINED);
  Atomics.notify(ctl, CTL_STATE);
  waitForMainSources();
}
