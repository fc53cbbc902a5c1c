import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';

/**
 * Start-up side of the parallel manifest load (see parallel-manifests.ts for the whole protocol).
 * bin/run.js calls preloadManifests() first thing for the commands that read every manifest
 * (plan, validate), before oclif and the command's modules load: a worker thread boots, guesses
 * the manifest path from the same flags, environment and config file the command will use, lists
 * the files and starts parsing and checking them. When the command asks for its manifests
 * (loadManifests), it joins in and takes the worker's results, but only for exactly the path it
 * asked for; otherwise it reads them itself. Nothing the worker does is visible: it writes
 * nothing and prints nothing, and the command's results never depend on the guess.
 *
 * This module stays small (node built-ins only): it is loaded before everything else.
 */

/** Indexes of the control words shared with the worker (an Int32Array over a SharedArrayBuffer). */
export const CTL_STATE = 0;
/** Next chunk to claim (Atomics.add by both threads). */
export const CTL_NEXT = 1;
/** Chunks the worker has posted (results or failures), for the main thread to wait on. */
export const CTL_DELIVERED = 2;
const CTL_WORDS = 3;

/** Values of the state word. */
export const STATE_STARTING = 0;
/** The worker is listing and reading the files of the path it guessed. */
export const STATE_WORKER_LISTING = 1;
/** The sources are shared (the worker's are on the port; the main thread's are posted): chunks may be claimed. */
export const STATE_LISTED = 2;
/** The worker could not guess the path (the main thread may still list and share). */
export const STATE_DECLINED = 3;
/** The main thread will not use the worker: it stops at the next chunk boundary. */
export const STATE_ABANDONED = 4;
/** The main thread is reading the files itself (the worker waits for its sources, if they are needed). */
export const STATE_MAIN_LISTING = 5;

/** Files per chunk: small enough to balance two threads, large enough to make messages cheap. */
export const CHUNK_FILES = 64;

/** Config files the commands read when no --config / ORCH_CONFIG is given (OrchCommand.settingsFrom). */
export const CONFIG_CANDIDATES = ['orch.yaml', '/etc/orch/config.yaml'];

export interface WorkerInput {
  argv: string[];
  cwd: string;
  ctl: Int32Array;
  port: MessagePort;
}

/** Messages on the channel between the two threads. */
export interface SourcesMessage {
  type: 'sources';
  /** The manifest path read, absolute (manifestTargetPath). */
  target: string;
  /** Display paths and texts of the files, as readManifestSources returns them. */
  paths: string[];
  texts: string[];
  /** What the worker found in the cache it guessed: 'hit' (it does not parse then), 'miss', or 'none'. */
  cacheHint: 'hit' | 'miss' | 'none';
  /**
   * The validation cache key of these texts (manifest-cache-key.ts: the same function and code as
   * the main thread's), so the main thread does not hash them again; null when not computed.
   */
  cacheKey?: string | null;
}
export function sourcesOf(message: SourcesMessage): Array<{ path: string; text: string }> {
  return message.paths.map((path, i) => ({ path, text: message.texts[i]! }));
}

export type ChunkMessage = { type: 'chunk'; chunk: number; files: unknown } | { type: 'chunk-failed'; chunk: number };

export interface PreloadSession {
  worker: Worker;
  /** The main thread's end of the channel: read only with receiveMessageOnPort. */
  port: MessagePort;
  ctl: Int32Array;
  cwd: string;
}

/**
 * The pending session, kept on the global object: bin/run.js loads this module as a small bundle of
 * its own (dist/bundle/manifest-preload.js) to start the worker before the CLI's bundle is even
 * compiled, and the copy of this module inside the CLI's bundle takes the session from there.
 */
const SESSION = Symbol.for('orch.manifest-preload.session');
const slot = globalThis as { [SESSION]?: PreloadSession | null };

/** Commands whose first step is loadManifests of the whole manifest tree. */
const PRELOADING_COMMANDS = new Set(['plan', 'validate']);

/**
 * Starts the worker for `orch <argv>` when the command reads the manifests and a CPU core is
 * free; never throws (the command then reads them itself). A second thread only pays on an idle
 * core: on a busy machine it costs more CPU time (its own start, its own JIT warm-up) than it
 * saves. ORCH_MANIFEST_WORKER=0 turns it off, =1 starts it whatever the load.
 */
export function preloadManifests(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  if (slot[SESSION] || env.ORCH_MANIFEST_WORKER === '0' || !PRELOADING_COMMANDS.has(argv[0] ?? '')) return;
  if (argv.includes('--help') || argv.includes('-h')) return;
  if (env.ORCH_MANIFEST_WORKER !== '1' && !coreIsFree()) return;
  try {
    const ctl = new Int32Array(new SharedArrayBuffer(CTL_WORDS * Int32Array.BYTES_PER_ELEMENT));
    const { port1, port2 } = new MessageChannel();
    const cwd = process.cwd();
    const workerData: WorkerInput = { argv: [...argv], cwd, ctl, port: port2 };
    // stdout/stderr: true keeps anything the worker might print away from the command's output.
    const worker = new Worker(new URL('./manifest-worker.js', import.meta.url), { workerData, transferList: [port2], stdout: true, stderr: true });
    worker.on('error', () => {
      // A worker that fails simply delivers nothing: the command reads the manifests itself.
    });
    worker.unref();
    port1.unref();
    slot[SESSION] = { worker, port: port1, ctl, cwd };
  } catch {
    slot[SESSION] = null;
  }
}

/**
 * Whether another CPU core is free now. On Linux, /proc/loadavg's fourth field counts the tasks
 * runnable at this instant (this process included): a better guide than a one-minute average,
 * which still counts the work that just ended (a benchmark's previous run, a finished build).
 * Elsewhere, the one-minute load average.
 */
export function coreIsFree(procLoadavg: string | null = readProcLoadavg(), cores = availableParallelism()): boolean {
  const m = /^\S+ \S+ \S+ (\d+)\/\d+/.exec(procLoadavg ?? '');
  if (m) return Number(m[1]) - 1 < cores;
  return loadavg()[0]! <= cores - 0.25;
}

function readProcLoadavg(): string | null {
  try {
    return readFileSync('/proc/loadavg', 'latin1');
  } catch {
    return null;
  }
}

/** The state word of the pending session (STATE_*), or null when there is none; for tests. */
export function preloadState(): number | null {
  const session = slot[SESSION];
  return session ? Atomics.load(session.ctl, CTL_STATE) : null;
}

/** The session started by preloadManifests, once (the first loadManifests takes it). */
export function takePreloadSession(): PreloadSession | null {
  const s = slot[SESSION] ?? null;
  slot[SESSION] = null;
  return s;
}

/**
 * The --manifests, --state-dir and --config values of a command line, as oclif reads them for
 * OrchCommand's flags (`--manifests X`, `--manifests=X`, `-m X`, `-mX`; the last one wins; nothing
 * after `--`). Only a guess: the command compares what it finally uses with the worker's.
 */
export function manifestFlagsFromArgv(argv: readonly string[]): { manifests?: string; stateDir?: string; config?: string } {
  const out: { manifests?: string; stateDir?: string; config?: string } = {};
  const long = { '--manifests': 'manifests', '--state-dir': 'stateDir', '--config': 'config' } as const;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    const take = (key: 'manifests' | 'stateDir' | 'config', inline: string | undefined): void => {
      if (inline !== undefined) out[key] = inline;
      else if (i + 1 < argv.length) out[key] = argv[++i]!;
    };
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (name in long) take(long[name as keyof typeof long], eq > 0 ? a.slice(eq + 1) : undefined);
    else if (a === '-m') take('manifests', undefined);
    else if (a.startsWith('-m') && !a.startsWith('--')) take('manifests', a.slice(2));
  }
  return out;
}
