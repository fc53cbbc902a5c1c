import type { MigrationRecord } from './migration-record.js';
import { CUTOVER_MARGIN_SECONDS } from './route-overlay.js';

// When a migration may freeze writes, and how long its final delta may take: the timing rules of
// the phase machine (phase-machine.ts), kept apart so they can be read (and tested) on their own.

/** A migration is small enough to freeze for when the last pass had at most this many objects to fix... */
export const FREEZE_MAX_DELTA_OBJECTS = 1000;
/** ...and its bytes would take at most this share of the freeze budget at the measured rate. */
export const FREEZE_DELTA_BUDGET_SHARE = 0.25;
/** Without a measured rate, a delta of at most this many bytes is small. */
export const FREEZE_UNMEASURED_MAX_BYTES = 8 * 1024 * 1024;
/** Time kept back at the end of a freeze for the two routing generations. */
export const SWITCH_RESERVE_FLOOR_MS = 1500;
/** What a copy pass measured, as the freeze decision needs it. */
export interface PassEstimate {
  /** Objects copied, compared or deleted by the pass, and their bytes. */
  delta: number;
  deltaBytes: number;
  /** The pass's duration, and of it the time spent listing both sides. */
  ms: number;
  listMs: number;
}

/** When the final delta must be verified by: the freeze end, less the time for the cutover. */
export function verifyDeadline(record: Pick<MigrationRecord, 'freezeUntil'>, memory: { applyMs: number }): number {
  const end = (record.freezeUntil ?? 0) * 1000;
  return end - CUTOVER_MARGIN_SECONDS * 1000 - Math.max(SWITCH_RESERVE_FLOOR_MS, memory.applyMs);
}

/**
 * Whether to freeze after this pass: the final delta repeats this pass's work (list both sides,
 * copy, delete) plus one more listing to verify, and must fit in the freeze budget after the
 * freeze generation and with the cutover's reserve. The pass's own measured time is the estimate,
 * so a slow machine or a busy bucket waits for a quieter pass instead of freezing in vain.
 */
export function freezeFits(
  record: MigrationRecord,
  memory: { applyMs: number },
  pass: PassEstimate,
): { fits: boolean; estimateMs: number; availableMs: number; reason: string | null } {
  const applyMs = Math.max(1000, memory.applyMs);
  const availableMs =
    record.freezeBudgetSeconds * 1000 - applyMs - CUTOVER_MARGIN_SECONDS * 1000 - Math.max(SWITCH_RESERVE_FLOOR_MS, memory.applyMs);
  const estimateMs = pass.ms + pass.listMs;
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const budget = `a ${record.freezeBudgetSeconds} s freeze`;
  if (pass.delta > FREEZE_MAX_DELTA_OBJECTS)
    return { fits: false, estimateMs, availableMs, reason: `${pass.delta} objects to fix, more than ${FREEZE_MAX_DELTA_OBJECTS}` };
  const rate = record.progress.rateBytesPerSecond;
  let reason: string | null = null;
  if (estimateMs > availableMs)
    reason = `the final delta would take about ${secs(estimateMs)} (this pass plus a verifying listing), more than the ${secs(availableMs)} ${budget} leaves`;
  else if (pass.deltaBytes > 0 && rate && pass.deltaBytes / rate > record.freezeBudgetSeconds * FREEZE_DELTA_BUDGET_SHARE)
    reason = `its ${pass.deltaBytes} bytes would take about ${secs((1000 * pass.deltaBytes) / rate)} at the measured ${Math.round(rate)} bytes/s, more than a quarter of ${budget}`;
  else if (pass.deltaBytes > 0 && !rate && pass.deltaBytes > FREEZE_UNMEASURED_MAX_BYTES)
    reason = `its ${pass.deltaBytes} bytes are more than ${FREEZE_UNMEASURED_MAX_BYTES} with no copy rate measured yet`;
  return { fits: reason === null, estimateMs, availableMs, reason };
}
