import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { listManifestTarget, manifestTargetPath, readManifestFile } from '../adapters/fs/read-manifest-sources.js';
import { checkManifestFile, type CheckedDocument, type CheckedFile } from '../core/manifests/check-file.js';
import type { Diagnostic } from '../core/diagnostics.js';
import type { Kind } from '../core/model/manifest-types.js';
import type { SourceText } from '../core/manifests/parse-manifests.js';
import {
  CHUNK_FILES,
  CTL_DELIVERED,
  CTL_NEXT,
  CTL_STATE,
  STATE_ABANDONED,
  STATE_DECLINED,
  STATE_LISTED,
  STATE_MAIN_LISTING,
  STATE_STARTING,
  STATE_WORKER_LISTING,
  takePreloadSession,
  type ChunkMessage,
  type ListingMessage,
  type PreloadSession,
} from './manifest-preload.js';

/**
 * The parallel manifest load: the main thread and one worker thread (started early by
 * manifest-preload.ts) read, parse and check the manifest files, a chunk of files at a time,
 * each claiming the next chunk from a shared counter, so neither waits for the other and a
 * worker that started late (or never) only does less. The main thread stays synchronous:
 * it waits with Atomics.wait and takes the worker's results with receiveMessageOnPort, so
 * loadManifests keeps its signature.
 *
 * Correct by construction:
 * - both threads run the same function on a chunk (runChunk: read the files, then
 *   checkManifestFile on each), and the results are assembled in file order, whoever made them;
 *   validateCheckedFiles then replays them exactly as validateManifests would have produced them;
 * - only one listing exists (the worker's for the path it guessed, or the main thread's), and the
 *   main thread uses the worker's only when it is for exactly the path it was asked to read;
 * - anything unexpected (no worker, a wrong guess, a chunk the worker could not do or post, a
 *   worker that stops answering) makes the main thread do that part itself; read errors are
 *   thrown as readManifestSources throws them (the first file in order that cannot be read).
 */

/** How long the main thread waits for the worker to finish listing before listing itself. */
const LISTING_WAIT_MS = 2_000;
/** How long the main thread waits for the worker's next chunk before doing the rest itself. */
const STALL_MS = 1_000;

/** What the last parallel load did, for benchmarks (test/bench/core.mjs) and tests. */
export interface ParallelLoadStats {
  files: number;
  chunks: number;
  /** Who listed the files. */
  listedBy: 'worker' | 'main';
  chunksByMain: number;
  chunksByWorker: number;
  /** Chunks the main thread did because the worker could not (failed, or stopped answering). */
  chunksRedone: number;
  /** Time spent waiting for the worker's listing and for its last chunks. */
  waitMs: number;
}

export let lastParallelLoadStats: ParallelLoadStats | null = null;

export function chunkCount(files: number): number {
  return Math.ceil(files / CHUNK_FILES);
}

type ChunkOutcome = { files: CheckedFile[] } | { readError: unknown } | { checkError: unknown };

/** Reads the files of one chunk (every file first, as readManifestSources does), then checks each. */
export function runChunk(files: readonly string[], chunk: number, cwd: string): ChunkOutcome {
  const paths = files.slice(chunk * CHUNK_FILES, (chunk + 1) * CHUNK_FILES);
  let sources: SourceText[];
  try {
    sources = paths.map((file) => readManifestFile(file, cwd));
  } catch (readError) {
    return { readError };
  }
  try {
    return { files: sources.map(checkManifestFile) };
  } catch (checkError) {
    return { checkError };
  }
}

/**
 * A chunk's checked files as they cross threads: one flat list per field instead of an object per
 * file and per document (a structured clone of the objects costs about twice as much to read on
 * the main thread, which is the one that waits). Diagnostics are sparse: most documents have none.
 */
interface PackedFiles {
  paths: string[];
  texts: string[];
  /** Documents per file. */
  counts: number[];
  indexes: number[];
  values: unknown[];
  /** Envelope per document: kind and name, or null and null when there is none. */
  kinds: Array<Kind | null>;
  names: Array<string | null>;
  hasEnvelope: boolean[];
  /** [document ordinal, diagnostics] pairs, flattened. */
  diagnostics: Array<number | Diagnostic[]>;
  /** [file ordinal, diagnostics] pairs, flattened. */
  parseDiagnostics: Array<number | Diagnostic[]>;
}

export function packFiles(files: readonly CheckedFile[]): PackedFiles {
  const out: PackedFiles = { paths: [], texts: [], counts: [], indexes: [], values: [], kinds: [], names: [], hasEnvelope: [], diagnostics: [], parseDiagnostics: [] };
  let ordinal = 0;
  files.forEach((file, i) => {
    out.paths.push(file.path);
    out.texts.push(file.text);
    out.counts.push(file.documents.length);
    if (file.parseDiagnostics.length > 0) out.parseDiagnostics.push(i, file.parseDiagnostics);
    for (const doc of file.documents) {
      out.indexes.push(doc.index);
      out.values.push(doc.value);
      out.hasEnvelope.push(doc.envelope !== null);
      out.kinds.push(doc.envelope?.kind ?? null);
      out.names.push(doc.envelope?.name ?? null);
      if (doc.diagnostics.length > 0) out.diagnostics.push(ordinal, doc.diagnostics);
      ordinal++;
    }
  });
  return out;
}

export function unpackFiles(packed: PackedFiles): CheckedFile[] {
  const parseDiagnostics = new Map<number, Diagnostic[]>();
  for (let i = 0; i < packed.parseDiagnostics.length; i += 2) parseDiagnostics.set(packed.parseDiagnostics[i] as number, packed.parseDiagnostics[i + 1] as Diagnostic[]);
  const diagnostics = new Map<number, Diagnostic[]>();
  for (let i = 0; i < packed.diagnostics.length; i += 2) diagnostics.set(packed.diagnostics[i] as number, packed.diagnostics[i + 1] as Diagnostic[]);
  const out: CheckedFile[] = [];
  let ordinal = 0;
  packed.paths.forEach((path, i) => {
    const documents: CheckedDocument[] = [];
    for (let j = 0; j < packed.counts[i]!; j++, ordinal++) {
      documents.push({
        index: packed.indexes[ordinal]!,
        value: packed.values[ordinal],
        envelope: packed.hasEnvelope[ordinal] ? { kind: packed.kinds[ordinal]!, name: packed.names[ordinal]! } : null,
        diagnostics: diagnostics.get(ordinal) ?? [],
      });
    }
    out.push({ path, text: packed.texts[i]!, parseDiagnostics: parseDiagnostics.get(i) ?? [], documents });
  });
  return out;
}

/** The worker's loop: claims chunks while the listing is in use, posts each result (or its failure). */
export function claimChunks(opts: { ctl: Int32Array; files: readonly string[]; cwd: string; onChunk: (message: ChunkMessage) => void }): void {
  const { ctl, files, cwd, onChunk } = opts;
  const chunks = chunkCount(files.length);
  while (Atomics.load(ctl, CTL_STATE) === STATE_LISTED) {
    const chunk = Atomics.add(ctl, CTL_NEXT, 1);
    if (chunk >= chunks) break;
    const outcome = runChunk(files, chunk, cwd);
    try {
      if (!('files' in outcome)) throw new Error('chunk failed');
      onChunk({ type: 'chunk', chunk, files: packFiles(outcome.files) });
    } catch {
      // Not posted (it failed here, or could not be cloned): the main thread does it itself.
      onChunk({ type: 'chunk-failed', chunk });
    }
    Atomics.add(ctl, CTL_DELIVERED, 1);
    Atomics.notify(ctl, CTL_DELIVERED);
  }
}

/**
 * The checked manifest files of `target`, made with the preloaded worker; null when there is no
 * worker to join (the caller then reads the manifests itself). Throws what readManifestSources
 * would throw.
 */
export function loadWithPreloadedWorker(target: string, cwd: string): CheckedFile[] | null {
  const session = takePreloadSession();
  lastParallelLoadStats = null;
  if (!session) return null;
  try {
    return join(session, target, cwd);
  } finally {
    Atomics.store(session.ctl, CTL_STATE, STATE_ABANDONED);
    Atomics.notify(session.ctl, CTL_STATE);
    session.port.close();
    session.worker.terminate().catch(() => undefined);
  }
}

function join(session: PreloadSession, target: string, cwd: string): CheckedFile[] | null {
  if (session.cwd !== cwd) return null;
  const t0 = performance.now();
  const listing = sharedListing(session, target, cwd);
  if (!listing) return null;
  const { files } = listing;
  const stats: ParallelLoadStats = { files: files.length, chunks: chunkCount(files.length), listedBy: listing.by, chunksByMain: 0, chunksByWorker: 0, chunksRedone: 0, waitMs: performance.now() - t0 };
  const { ctl, port } = session;
  const outcomes: Array<ChunkOutcome | undefined> = new Array<ChunkOutcome | undefined>(stats.chunks);
  for (;;) {
    const chunk = Atomics.add(ctl, CTL_NEXT, 1);
    if (chunk >= stats.chunks) break;
    outcomes[chunk] = runChunk(files, chunk, cwd);
    stats.chunksByMain++;
  }
  collectWorkerChunks(ctl, port, files, cwd, outcomes, stats);
  lastParallelLoadStats = stats;

  let checkError: { error: unknown } | null = null;
  const out: CheckedFile[] = [];
  for (const outcome of outcomes) {
    if (!outcome) throw new Error('parallel manifest load: a chunk has no result'); // unreachable
    if ('readError' in outcome) throw outcome.readError;
    if ('checkError' in outcome) checkError ??= { error: outcome.checkError };
    else if (!checkError) for (const f of outcome.files) out.push(f);
  }
  if (checkError) throw checkError.error;
  return out;
}

/** The one listing both threads work on: the worker's (for this target only) or this thread's. */
function sharedListing(session: PreloadSession, target: string, cwd: string): { files: string[]; by: 'worker' | 'main' } | null {
  const { ctl, port } = session;
  const deadline = performance.now() + LISTING_WAIT_MS;
  for (;;) {
    const state = Atomics.load(ctl, CTL_STATE);
    if (state === STATE_STARTING || state === STATE_DECLINED) {
      if (Atomics.compareExchange(ctl, CTL_STATE, state, STATE_MAIN_LISTING) !== state) continue;
      const listing = listManifestTarget(target, cwd); // throws as readManifestSources does (finally: abandoned)
      // LISTED before the worker can see the listing: it claims chunks only while LISTED.
      Atomics.store(ctl, CTL_STATE, STATE_LISTED);
      const message: ListingMessage = { type: 'listing', target: listing.target, files: listing.files };
      port.postMessage(message);
      return { files: listing.files, by: 'main' };
    }
    if (state === STATE_WORKER_LISTING) {
      const left = deadline - performance.now();
      if (left <= 0 || Atomics.wait(ctl, CTL_STATE, STATE_WORKER_LISTING, left) === 'timed-out') {
        if (Atomics.compareExchange(ctl, CTL_STATE, STATE_WORKER_LISTING, STATE_ABANDONED) === STATE_WORKER_LISTING) return null;
      }
      continue;
    }
    if (state === STATE_LISTED) {
      const message = receiveMessageOnPort(port)?.message as ListingMessage | undefined;
      if (message?.type !== 'listing' || message.target !== manifestTargetPath(target, cwd)) return null;
      return { files: message.files, by: 'worker' };
    }
    return null;
  }
}

function collectWorkerChunks(ctl: Int32Array, port: MessagePort, files: readonly string[], cwd: string, outcomes: Array<ChunkOutcome | undefined>, stats: ParallelLoadStats): void {
  let missing = 0;
  for (const o of outcomes) if (!o) missing++;
  while (missing > 0) {
    const delivered = Atomics.load(ctl, CTL_DELIVERED);
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
      const message = m.message as ChunkMessage;
      if (outcomes[message.chunk]) continue;
      if (message.type === 'chunk') {
        outcomes[message.chunk] = { files: unpackFiles(message.files as PackedFiles) };
        stats.chunksByWorker++;
      } else {
        outcomes[message.chunk] = runChunk(files, message.chunk, cwd);
        stats.chunksRedone++;
      }
      missing--;
    }
    if (missing === 0) return;
    const w0 = performance.now();
    const waited = Atomics.wait(ctl, CTL_DELIVERED, delivered, STALL_MS);
    stats.waitMs += performance.now() - w0;
    if (waited === 'timed-out') {
      // The worker stopped answering: stop it and do what it had claimed here.
      Atomics.store(ctl, CTL_STATE, STATE_ABANDONED);
      outcomes.forEach((o, chunk) => {
        if (o) return;
        outcomes[chunk] = runChunk(files, chunk, cwd);
        stats.chunksRedone++;
      });
      return;
    }
  }
}
