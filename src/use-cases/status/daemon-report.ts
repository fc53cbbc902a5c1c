import type { DaemonStatusReader } from '../../ports/daemon-status.js';
import type { WatchSuspension, WatchSuspensionStore } from '../../ports/watch-suspension.js';

/** What `orch status` says about `orch watch` for this state directory. */
export interface DaemonReport {
  /** The daemon answering on watchListen for this state directory, or null (none, off, or another state directory's). */
  running: null | {
    pid: number;
    mode: string;
    /** The manifests it reconciles (a path, as it was given to it). */
    manifests: string | null;
    ready: boolean;
    readyReason: string | null;
    lastReconcile: { finishedAt: string; outcome: string } | null;
    lastError: { at: string; source: string; message: string } | null;
  };
  /** Something answered on watchListen, but for another state directory (never reported as ours). */
  otherStateDir: string | null;
  /** orch suspend in force for this state directory, whether a daemon runs or not. */
  suspended: WatchSuspension | null;
}

export interface DaemonReportPorts {
  daemonStatus: DaemonStatusReader;
  suspension: WatchSuspensionStore;
}

export async function daemonReport(ports: DaemonReportPorts, opts: { watchListen: string; stateDir: string }): Promise<DaemonReport> {
  const suspended = ports.suspension.read();
  if (opts.watchListen === 'off') return { running: null, otherStateDir: null, suspended };
  const doc = await ports.daemonStatus.read(opts.watchListen);
  if (!doc) return { running: null, otherStateDir: null, suspended };
  if (doc['stateDir'] !== opts.stateDir)
    return { running: null, otherStateDir: typeof doc['stateDir'] === 'string' ? doc['stateDir'] : '(unknown: an older orch)', suspended };
  const last = doc['lastReconcile'] as { finishedAt?: unknown; outcome?: unknown } | null;
  const err = doc['lastError'] as { at?: unknown; source?: unknown; message?: unknown } | null;
  return {
    running: {
      pid: Number(doc['pid']),
      mode: String(doc['mode']),
      manifests: typeof doc['manifests'] === 'string' ? doc['manifests'] : null,
      ready: doc['ready'] === true,
      readyReason: typeof doc['readyReason'] === 'string' ? doc['readyReason'] : null,
      lastReconcile: last ? { finishedAt: String(last.finishedAt), outcome: String(last.outcome) } : null,
      lastError: err ? { at: String(err.at), source: String(err.source), message: String(err.message).split('\n')[0]! } : null,
    },
    otherStateDir: null,
    suspended,
  };
}
