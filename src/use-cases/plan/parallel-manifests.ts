import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { listManifestTarget, manifestTargetPath, readManifestFiles } from '../../adapters/fs/read-manifest-sources.js';
import type { Diagnostic } from '../../domain/diagnostics.js';
import { checkManifestFile, type CheckedDocument, type CheckedFile } from '../../domain/manifests/check-file.js';
import type { Kind } from '../../domain/model/manifest-types.js';
import type { SourceText } from '../../domain/manifests/parse-manifests.js';
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
  sourcesOf,
  type PreloadSession,
  type SourcesMessage,
} from './manifest-preload.js';

/**
 * The parallel manifest load. One worker thread, started early by manifest-preload.ts, reads
 * every manifest file while the CLI loads (reading cannot be split: on the machines measured,
 * two threads reading files take as long as one), shares the texts, and then parses and checks
 * them together with the main thread, a chunk of files at a time, each claiming the next chunk
 * from a shared counter, so neither waits for the other and a worker that started late (or
 * never) only does less. The main thread stays synchronous: it waits with Atomics.wait and takes
 * the worker's messages with receiveMessageOnPort, so loadManifests keeps its signature.
 *
 * Correct by construction:
 * - there is one reading of the files (the worker's, for the manifest path it guessed, or the
 *   main thread's), and the main thread uses the worker's only for exactly the path and working
 *   directory it was asked for; the worker reads exactly as readManifestSources does;
 * - both threads run the same function on a chunk (checkManifestFile on each file), and the
 *   results are assembled in file order, whoever made them; validateCheckedFiles then replays them
 *   exactly as validateManifests would have produced them (test/unit/check-file.test.ts);
 * - anything unexpected (no worker, a wrong guess, a chunk the worker could not do or post, a
 *   worker that stops answering) makes the main thread do that part itself.
 */

/** How long the main thread waits for the worker to finish reading before reading itself. */
const READING_WAIT_MS = 5_000;
/** How long the main thread waits for the worker's next chunk before doing the rest itself. */
const STALL_MS = 1_000;

/** What the last parallel load did, for benchmarks (test/bench/core.mjs) and tests. */
export interface ParallelLoadStats {
  files: number;
  chunks: number;
  /** Who read the files. */
  readBy: 'worker' | 'main';
  /** The worker's guess about the cache (it does not parse when it expects a hit). */
  cacheHint: SourcesMessage['cacheHint'] | null;
  chunksByMain: number;
  chunksByWorker: number;
  /** Chunks the main thread did because the worker could not (failed, or stopped answering). */
  chunksRedone: number;
  /** Time spent waiting for the worker's reading and for its last chunks. */
  waitMs: number;
}

export let lastParallelLoadStats: ParallelLoadStats | null = null;

export function chunkCount(files: number): number {
  return Math.ceil(files / CHUNK_FILES);
}

type ChunkOutcome = { files: CheckedFile[] } | { checkError: unknown };

/** Parses and checks the files of one chunk. */
export function runChunk(sources: readonly SourceText[], chunk: number): ChunkOutcome {
  try {
    return { files: sources.slice(chunk * CHUNK_FILES, (chunk + 1) * CHUNK_FILES).map(checkManifestFile) };
  } catch (checkError) {
    return { checkError };
  }
}


/**
 * A chunk's checked files as they cross threads: one flat list per field instead of an object per
 * file and per document (a structured clone of the objects costs about twice as much to read on
 * the main thread, which is the one that waits). Texts are not sent back: both threads have them.
 * Diagnostics are sparse: most documents have none.
 */
interface PackedFiles {
  /** Documents per file. */
  counts: number[];
  indexes: number[];
  values: unknown[];
  hasEnvelope: boolean[];
  kinds: Array<Kind | null>;
  names: Array<string | null>;
  /** [document ordinal, diagnostics] pairs, flattened. */
  diagnostics: Array<number | Diagnostic[]>;
  /** [file ordinal, diagnostics] pairs, flattened. */
  parseDiagnostics: Array<number | Diagnostic[]>;
}

export function packFiles(files: readonly CheckedFile[]): PackedFiles {
  const out: PackedFiles = { counts: [], indexes: [], values: [], hasEnvelope: [], kinds: [], names: [], diagnostics: [], parseDiagnostics: [] };
  let ordinal = 0;
  files.forEach((file, i) => {
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

/** The checked files of a chunk from its packed form and the chunk's sources. */
export function unpackFiles(packed: PackedFiles, sources: readonly SourceText[]): CheckedFile[] {
  const parseDiagnostics = new Map<number, Diagnostic[]>();
  for (let i = 0; i < packed.parseDiagnostics.length; i += 2) parseDiagnostics.set(packed.parseDiagnostics[i] as number, packed.parseDiagnostics[i + 1] as Diagnostic[]);
  const diagnostics = new Map<number, Diagnostic[]>();
  for (let i = 0; i < packed.diagnostics.length; i += 2) diagnostics.set(packed.diagnostics[i] as number, packed.diagnostics[i + 1] as Diagnostic[]);
  const out: CheckedFile[] = [];
  let ordinal = 0;
  sources.forEach((source, i) => {
    const documents: CheckedDocument[] = [];
    for (let j = 0; j < packed.counts[i]!; j++, ordinal++) {
      documents.push({
        index: packed.indexes[ordinal]!,
        value: packed.values[ordinal],
        envelope: packed.hasEnvelope[ordinal] ? { kind: packed.kinds[ordinal]!, name: packed.names[ordinal]! } : null,
        diagnostics: diagnostics.get(ordinal) ?? [],
      });
    }
    out.push({ path: source.path, text: source.text, parseDiagnostics: parseDiagnostics.get(i) ?? [], documents });
  });
  return out;
}

/** The worker's loop: claims chunks while the sources are shared, posts each result (or its failure). */
export function claimChunks(ctl: Int32Array, sources: readonly SourceText[], onChunk: (message: ChunkMessage) => void): void {
  const chunks = chunkCount(sources.length);
  while (Atomics.load(ctl, CTL_STATE) === STATE_LISTED) {
    const chunk = Atomics.add(ctl, CTL_NEXT, 1);
    if (chunk >= chunks) break;
    const outcome = runChunk(sources, chunk);
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


/** The main thread's side of a preloaded worker, for one loadManifests. */
export interface WorkerJoin {
  /** The manifest texts, as readManifestSources returns them. */
  sources: SourceText[];
  /** Their validation cache key when the worker read them and computed it (else null: compute it). */
  cacheKey: string | null;
  /** Parses and checks every source, with the worker's help. */
  checkAll(): CheckedFile[];
  /** Lets the worker go (always call it). */
  release(): void;
}

/**
 * Joins the worker preloaded for this process when there is one: the manifest texts (the
 * worker's reading, when it is of `target` in `cwd`, or this thread's), and then the checks
 * shared with it. Null when there is no worker to join (the caller reads the manifests itself).
 * Throws what readManifestSources would throw.
 */
export function joinPreloadedWorker(target: string, cwd: string): WorkerJoin | null {
  const session = takePreloadSession();
  lastParallelLoadStats = null;
  if (!session) return null;
  const release = (): void => {
    Atomics.store(session.ctl, CTL_STATE, STATE_ABANDONED);
    Atomics.notify(session.ctl, CTL_STATE);
    session.port.close();
    session.worker.terminate().catch(() => undefined);
  };
  if (session.cwd !== cwd) {
    release();
    return null;
  }
  const t0 = performance.now();
  let shared: SharedSources | null;
  try {
    shared = sharedSources(session, target, cwd);
  } catch (e) {
    release();
    throw e;
  }
  if (!shared) {
    release();
    return null;
  }
  const { sources } = shared;
  const stats: ParallelLoadStats = {
    files: sources.length,
    chunks: chunkCount(sources.length),
    readBy: shared.by,
    cacheHint: shared.cacheHint,
    chunksByMain: 0,
    chunksByWorker: 0,
    chunksRedone: 0,
    waitMs: performance.now() - t0,
  };
  lastParallelLoadStats = stats;
  return {
    sources,
    cacheKey: shared.cacheKey,
    release,
    checkAll: () => {
      if (shared.by === 'main') {
        // Now the worker may help: LISTED before it can see the sources (it claims only while LISTED).
        Atomics.store(session.ctl, CTL_STATE, STATE_LISTED);
        const message: SourcesMessage = { type: 'sources', target: manifestTargetPath(target, cwd), paths: sources.map((s) => s.path), texts: sources.map((s) => s.text), cacheHint: 'none' };
        session.port.postMessage(message);
      }
      return checkTogether(session, sources, stats);
    },
  };
}

interface SharedSources {
  sources: SourceText[];
  by: 'worker' | 'main';
  cacheHint: SourcesMessage['cacheHint'] | null;
  /** The worker's cache key of `sources` (null when this thread read them: compute it). */
  cacheKey: string | null;
}

/** The sources both threads work on: the worker's reading (for this target only) or this thread's. */
function sharedSources(session: PreloadSession, target: string, cwd: string): SharedSources | null {
  const { ctl, port } = session;
  const deadline = performance.now() + READING_WAIT_MS;
  for (;;) {
    const state = Atomics.load(ctl, CTL_STATE);
    if (state === STATE_STARTING || state === STATE_DECLINED) {
      if (Atomics.compareExchange(ctl, CTL_STATE, state, STATE_MAIN_LISTING) !== state) continue;
      // Exactly readManifestSources (and its errors); shared with the worker only if it is needed.
      const sources = readManifestFiles(listManifestTarget(target, cwd).files, cwd);
      return { sources, by: 'main', cacheHint: null, cacheKey: null };
    }
    if (state === STATE_WORKER_LISTING) {
      const left = deadline - performance.now();
      if (left <= 0 || Atomics.wait(ctl, CTL_STATE, STATE_WORKER_LISTING, left) === 'timed-out') {
        if (Atomics.compareExchange(ctl, CTL_STATE, STATE_WORKER_LISTING, STATE_ABANDONED) === STATE_WORKER_LISTING) return null;
      }
      continue;
    }
    if (state === STATE_LISTED) {
      const message = receiveMessageOnPort(port)?.message as SourcesMessage | undefined;
      if (message?.type !== 'sources' || message.target !== manifestTargetPath(target, cwd)) return null;
      return { sources: sourcesOf(message), by: 'worker', cacheHint: message.cacheHint, cacheKey: typeof message.cacheKey === 'string' ? message.cacheKey : null };
    }
    return null;
  }
}

function checkTogether(session: PreloadSession, sources: readonly SourceText[], stats: ParallelLoadStats): CheckedFile[] {
  const { ctl, port } = session;
  const outcomes: Array<ChunkOutcome | undefined> = new Array<ChunkOutcome | undefined>(stats.chunks);
  for (;;) {
    const chunk = Atomics.add(ctl, CTL_NEXT, 1);
    if (chunk >= stats.chunks) break;
    outcomes[chunk] = runChunk(sources, chunk);
    stats.chunksByMain++;
  }
  collectWorkerChunks(ctl, port, sources, outcomes, stats);

  const out: CheckedFile[] = [];
  for (const outcome of outcomes) {
    if (!outcome) throw new Error('parallel manifest load: a chunk has no result'); // unreachable
    // The first failure in file order, as the reference path (one file after the other) meets it.
    if ('checkError' in outcome) throw outcome.checkError;
    for (const f of outcome.files) out.push(f);
  }
  return out;
}

function collectWorkerChunks(ctl: Int32Array, port: MessagePort, sources: readonly SourceText[], outcomes: Array<ChunkOutcome | undefined>, stats: ParallelLoadStats): void {
  let missing = 0;
  for (const o of outcomes) if (!o) missing++;
  while (missing > 0) {
    const delivered = Atomics.load(ctl, CTL_DELIVERED);
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
      const message = m.message as ChunkMessage;
      if (message.type !== 'chunk' && message.type !== 'chunk-failed') continue;
      if (outcomes[message.chunk]) continue;
      if (message.type === 'chunk') {
        const start = message.chunk * CHUNK_FILES;
        outcomes[message.chunk] = { files: unpackFiles(message.files as PackedFiles, sources.slice(start, start + CHUNK_FILES)) };
        stats.chunksByWorker++;
      } else {
        outcomes[message.chunk] = runChunk(sources, message.chunk);
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
        outcomes[chunk] = runChunk(sources, chunk);
        stats.chunksRedone++;
      });
      return;
    }
  }
}
