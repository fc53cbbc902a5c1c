import { UserError } from '../../domain/errors.js';
import type { Clock } from '../../ports/clock.js';
import type { WatchSuspension, WatchSuspensionStore } from '../../ports/watch-suspension.js';

export interface SuspensionPorts {
  suspension: WatchSuspensionStore;
  clock: Clock;
}

const MAX_REASON = 500;

/**
 * `orch suspend`: the watch daemon of this state directory stops reconciling (no apply, no drift
 * revert, no bucket sync) until `orch resume`; it keeps serving /healthz, /status and /metrics,
 * which say it is suspended. Migrations already running go on (stopping one in its write freeze
 * would lengthen the freeze; cancel one with `orch migrate cancel`).
 */
export function suspendWatch(
  ports: SuspensionPorts,
  opts: { by: string; reason: string | null },
): { suspension: WatchSuspension; already: boolean } {
  const reason = opts.reason?.trim() || null;
  if (reason !== null && (reason.length > MAX_REASON || /[\u0000-\u001f\u007f]/.test(reason)))
    throw new UserError('suspend.reason', `The reason must be one line of at most ${MAX_REASON} characters.`, {
      hint: "Shorten it, e.g. `orch suspend --reason 'maintenance of pool-b'`",
    });
  const already = ports.suspension.read() !== null;
  const suspension = { since: new Date(ports.clock.now()).toISOString(), by: opts.by, reason };
  ports.suspension.suspend(suspension);
  return { suspension, already };
}

/** `orch resume`: ends the suspension; the daemon reconciles at its next trigger (within its interval). */
export function resumeWatch(ports: Pick<SuspensionPorts, 'suspension'>): { resumed: boolean; was: WatchSuspension | null } {
  const was = ports.suspension.read();
  return { resumed: ports.suspension.resume(), was };
}
