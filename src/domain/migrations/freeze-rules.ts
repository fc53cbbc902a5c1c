import type { MigrationRecord } from './migration-record.js';
import { CUTOVER_MARGIN_SECONDS } from './route-overlay.js';

// When a migration may freeze writes, and how long its final delta may take: the timing rules of
// the phase machine (phase-machine.ts), kept apart so they can be read (and tested) on their own.

/** A migration is small enough to freeze for when its final delta has at most this many objects to fix... */
export const FREEZE_MAX_DELTA_OBJECTS = 1000;
/** ...and its bytes would take at most this share of the freeze budget at the measured rate. */
export const FREEZE_DELTA_BUDGET_SHARE = 0.25;
/** Without a measured rate, a delta of at most this many bytes is small. */
export const FREEZE_UNMEASURED_MAX_BYTES = 8 * 1024 * 1024;
/** Time kept back at the end of a freeze for the two routing generations. */
export const SWITCH_RESERVE_FLOOR_MS = 1500;
/** A routing generation is counted as taking at least this long (before one was measured, and after). */
export const APPLY_FLOOR_MS = 1000;
/** A projected final delta with objects to fix counts at least this long for fixing them (one slow round of requests). */
export const FINAL_DELTA_FIX_FLOOR_MS = 1000;
/** A projected final delta counts at least this long in all (its listings on a quiet bucket included). */
export const FINAL_DELTA_FLOOR_MS = 1000;

/** What a copy pass measured, as the freeze decision needs it. */
export interface PassEstimate {
  /** Objects copied, compared or deleted by the pass, and their bytes. */
  delta: number;
  deltaBytes: number;
  /** The pass's duration, and of it the time spent listing both sides. */
  ms: number;
  listMs: number;
  /** When the pass began listing the source (epoch ms). */
  startedAt: number;
}

/** What the frozen final delta is expected to do, and how long it would take. */
export interface FinalDeltaProjection {
  /** Objects it would fix, and their bytes. */
  objects: number;
  bytes: number;
  estimateMs: number;
  /** How the estimate was made, for the log line ("the final delta would take about 3.1 s (<basis>)"). */
  basis: string;
}

export interface FreezeFit {
  fits: boolean;
  estimateMs: number;
  availableMs: number;
  /** Why it does not fit (null when it does), as the log line says it. */
  reason: string | null;
  /** Whether a larger freeze budget would let it fit (false when the object count alone is too large). */
  budgetBound: boolean;
  projection: FinalDeltaProjection;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** When the final delta must be verified by: the freeze end, less the time for the cutover. */
export function verifyDeadline(record: Pick<MigrationRecord, 'freezeUntil'>, memory: { applyMs: number }): number {
  const end = (record.freezeUntil ?? 0) * 1000;
  return end - CUTOVER_MARGIN_SECONDS * 1000 - Math.max(SWITCH_RESERVE_FLOOR_MS, memory.applyMs);
}

/** The time a freeze of `budgetSeconds` leaves for the final delta: after its generation, before the cutover. */
export function finalDeltaAvailableMs(budgetSeconds: number, memory: { applyMs: number }): number {
  return (
    budgetSeconds * 1000 -
    Math.max(APPLY_FLOOR_MS, memory.applyMs) -
    CUTOVER_MARGIN_SECONDS * 1000 -
    Math.max(SWITCH_RESERVE_FLOOR_MS, memory.applyMs)
  );
}

/**
 * What the frozen final delta would do if writes were frozen now, from what this pass measured.
 *
 * The final delta lists both sides, fixes what was written since this pass listed (this pass fixed
 * everything before), and lists once more to verify. So: two of this pass's listings, plus this
 * pass's time per fixed object times the objects written since its listing. Those writes are
 * projected at the rate this pass found them: its fixed objects over the time since the previous
 * pass listed (the objects fixed in a pass are the ones written between the two listings), over
 * the time from this pass's listing until the freeze generation is served. Every guess leans long:
 * the time per object of a large pass is shared by its parallel requests, so fixing counts at least
 * FINAL_DELTA_FIX_FLOOR_MS when anything is to fix, the whole at least FINAL_DELTA_FLOOR_MS, and
 * the count is rounded up. Without a previous pass (the first pass, or the first after a driver
 * started or a freeze was abandoned) there is no write rate: the estimate is the whole pass again
 * plus a verifying listing, as pessimistic as it gets.
 */
export function projectFinalDelta(
  pass: PassEstimate,
  previousPassStartedAt: number | null,
  now: number,
  memory: { applyMs: number },
): FinalDeltaProjection {
  const intervalMs = previousPassStartedAt === null ? 0 : pass.startedAt - previousPassStartedAt;
  if (intervalMs <= 0)
    return {
      objects: pass.delta,
      bytes: pass.deltaBytes,
      estimateMs: pass.ms + pass.listMs,
      basis: 'this whole pass plus a verifying listing: no write rate measured yet',
    };
  const exposureMs = Math.max(0, now - pass.startedAt) + Math.max(APPLY_FLOOR_MS, memory.applyMs);
  const writesPerSecond = (1000 * pass.delta) / intervalMs;
  const objects = Math.ceil((pass.delta * exposureMs) / intervalMs);
  const perObjectMs = pass.delta > 0 ? Math.max(0, pass.ms - pass.listMs) / pass.delta : 0;
  const projectedFixMs = objects * perObjectMs;
  const fixMs = objects > 0 ? Math.max(projectedFixMs, FINAL_DELTA_FIX_FLOOR_MS) : 0;
  const projectedMs = 2 * pass.listMs + fixMs;
  const estimateMs = Math.max(projectedMs, FINAL_DELTA_FLOOR_MS);
  const bytes = pass.delta > 0 ? Math.ceil((pass.deltaBytes * objects) / pass.delta) : 0;
  const fixing =
    objects === 0
      ? 'no object written since the previous pass listed'
      : `about ${objects} objects written since this pass listed (${writesPerSecond.toFixed(1)} a second measured) at ${Math.round(perObjectMs)} ms each` +
        (fixMs > projectedFixMs ? `, counted as at least ${secs(FINAL_DELTA_FIX_FLOOR_MS)}` : '');
  const floor = estimateMs > projectedMs ? `; at least ${secs(FINAL_DELTA_FLOOR_MS)} in all` : '';
  return { objects, bytes, estimateMs, basis: `two listings of ${secs(pass.listMs)}, ${fixing}${floor}` };
}

/**
 * Whether to freeze after this pass: the projected final delta (projectFinalDelta) must fit in
 * the freeze budget after the freeze generation and with the cutover's reserve, have at most
 * FREEZE_MAX_DELTA_OBJECTS objects, and bytes a quarter of the budget can copy at the measured
 * rate. A freeze it cannot finish in time is never started: a busy bucket keeps copying until a
 * pass projects a final delta that fits.
 */
export function freezeFits(
  record: MigrationRecord,
  memory: { applyMs: number },
  pass: PassEstimate,
  previousPassStartedAt: number | null,
  now: number,
): FreezeFit {
  // The freeze ends at a whole second (freezeUntil): the part of this second already gone is lost.
  const availableMs = finalDeltaAvailableMs(record.freezeBudgetSeconds, memory) - (now % 1000);
  const projection = projectFinalDelta(pass, previousPassStartedAt, now, memory);
  const { estimateMs, objects, bytes } = projection;
  const budget = `a ${record.freezeBudgetSeconds} s freeze`;
  const result = (reason: string | null, budgetBound = true): FreezeFit => ({
    fits: reason === null,
    estimateMs,
    availableMs,
    reason,
    budgetBound: reason !== null && budgetBound,
    projection,
  });
  if (objects > FREEZE_MAX_DELTA_OBJECTS)
    return result(
      `the final delta would have about ${objects} objects to fix (${projection.basis}), more than ${FREEZE_MAX_DELTA_OBJECTS}`,
      false,
    );
  if (estimateMs > availableMs)
    return result(
      `the final delta would take about ${secs(estimateMs)} (${projection.basis}), more than the ${secs(availableMs)} ${budget} leaves`,
    );
  const rate = record.progress.rateBytesPerSecond;
  if (bytes > 0 && rate && bytes / rate > record.freezeBudgetSeconds * FREEZE_DELTA_BUDGET_SHARE)
    return result(
      `its ${bytes} bytes would take about ${secs((1000 * bytes) / rate)} at the measured ${Math.round(rate)} bytes/s, more than a quarter of ${budget}`,
    );
  if (bytes > 0 && !rate && bytes > FREEZE_UNMEASURED_MAX_BYTES)
    return result(`its ${bytes} bytes are more than ${FREEZE_UNMEASURED_MAX_BYTES} with no copy rate measured yet`, false);
  return result(null);
}
