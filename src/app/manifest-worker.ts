import { existsSync, readFileSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { listManifestTarget } from '../adapters/fs/read-manifest-sources.js';
import {
  CONFIG_CANDIDATES,
  CTL_STATE,
  STATE_DECLINED,
  STATE_LISTED,
  STATE_STARTING,
  STATE_WORKER_LISTING,
  manifestFlagsFromArgv,
  type ListingMessage,
  type WorkerInput,
} from './manifest-preload.js';
import { claimChunks } from './parallel-manifests.js';
import { resolveSettings } from './settings.js';

/**
 * The worker thread of the parallel manifest load (parallel-manifests.ts): guesses the manifest
 * path, lists it and shares the listing, or waits for the main thread's; then claims chunks of
 * files, parses and checks them and posts the results, until none is left.
 */
const { argv, cwd, ctl, port } = workerData as WorkerInput;

function guessTarget(): string | null {
  try {
    const flags = manifestFlagsFromArgv(argv);
    const settings = resolveSettings({
      flags: { manifests: flags.manifests },
      env: process.env,
      configPath: flags.config ?? null,
      candidates: CONFIG_CANDIDATES,
      readFile: (p) => (existsSync(p) ? readFileSync(p, 'utf8') : null),
    });
    return settings.manifests;
  } catch {
    return null;
  }
}

function work(files: string[]): void {
  claimChunks({ ctl, files, cwd, onChunk: (message) => port.postMessage(message) });
  port.close();
}

function waitForMainListing(): void {
  port.once('message', (m: ListingMessage) => {
    if (m.type === 'listing') work(m.files);
    else port.close();
  });
}

const target = guessTarget();
if (target !== null && Atomics.compareExchange(ctl, CTL_STATE, STATE_STARTING, STATE_WORKER_LISTING) === STATE_STARTING) {
  let listing: ListingMessage | null = null;
  try {
    const l = listManifestTarget(target, cwd);
    listing = { type: 'listing', target: l.target, files: l.files };
  } catch {
    listing = null;
  }
  if (listing) port.postMessage(listing);
  // The main thread may have given up waiting meanwhile (then the state is no longer ours).
  const next = listing ? STATE_LISTED : STATE_DECLINED;
  const won = Atomics.compareExchange(ctl, CTL_STATE, STATE_WORKER_LISTING, next) === STATE_WORKER_LISTING;
  Atomics.notify(ctl, CTL_STATE);
  if (won && listing) work(listing.files);
  else if (won) waitForMainListing();
  else port.close();
} else {
  // No guess, or the main thread is already listing: it shares its listing (or abandons, and
  // this thread just waits until the process ends; it is unref'd).
  if (target === null) Atomics.compareExchange(ctl, CTL_STATE, STATE_STARTING, STATE_DECLINED);
  Atomics.notify(ctl, CTL_STATE);
  waitForMainListing();
}
