import { readdirSync, readFileSync } from 'node:fs';
import type { DrainResult, WorkerDrain } from '../../ports/worker-drain.js';
import { probeStatus } from './nginx-control.js';

/**
 * After a reload, nginx's old workers finish the requests they had started with the old
 * configuration: a write that started before a migration's freeze may still be acknowledged by the
 * source seconds after the freeze generation is served. The migration engine waits until those
 * workers are gone before it takes the final listing. Linux only (/proc); nginx must run in this
 * PID namespace.
 */

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid ...: comm may contain spaces and parentheses; split after the last ')'.
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(after[1]);
    return Number.isSafeInteger(ppid) && ppid > 0 ? ppid : null;
  } catch {
    return null;
  }
}

/** The nginx master serving the status listener, found through one of its workers; null if unknown. */
export async function nginxMasterPid(statusListen: string): Promise<number | null> {
  const answer = await probeStatus(statusListen, 1000, '/orch/worker-pid');
  if (answer === null || !/^\d+$/.test(answer)) return null;
  return parentOf(Number(answer));
}

/** Children of the master whose title says they are finishing requests of an old configuration. */
export function shuttingDownWorkers(masterPid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (parentOf(pid) !== masterPid) continue;
    try {
      const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (title.includes('shutting down')) out.push(pid);
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** Waits until no worker of an older configuration is left, or `deadline` (epoch ms) passes. */
export async function waitForOldWorkers(statusListen: string, deadline: number, signal?: AbortSignal): Promise<DrainResult> {
  const started = Date.now();
  const master = await nginxMasterPid(statusListen);
  if (master === null) {
    return {
      drained: false,
      waitedMs: Date.now() - started,
      remaining: 0,
      problem: `cannot find the nginx master through the status listener ${statusListen} (/orch/worker-pid) and /proc`,
    };
  }
  for (;;) {
    const remaining = shuttingDownWorkers(master).length;
    if (remaining === 0) return { drained: true, waitedMs: Date.now() - started, remaining, problem: null };
    if (Date.now() >= deadline || signal?.aborted) return { drained: false, waitedMs: Date.now() - started, remaining, problem: null };
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The drain of the nginx whose status listener is `statusListen`. */
export function procWorkerDrain(statusListen: string): WorkerDrain {
  return { waitForOldWorkers: (deadline, signal) => waitForOldWorkers(statusListen, deadline, signal) };
}
