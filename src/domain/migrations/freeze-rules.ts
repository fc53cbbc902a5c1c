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
): { fits: boolean; estimateMs: number; availableMs: number } {
  const applyMs = Math.max(1000, memory.applyMs);
  const availableMs =
    record.freezeBudgetSeconds * 1000 - applyMs - CUTOVER_MARGIN_SECONDS * 1000 - Math.max(SWITCH_RESERVE_FLOOR_MS, memory.applyMs);
  const estimateMs = pass.ms + pass.listMs;
  if (pass.delta > FREEZE_MAX_DELTA_OBJECTS) return { fits: false, estimateMs, availableMs };
  const rate = record.progress.rateBytesPerSecond;
  const bytesOk =
    pass.deltaBytes === 0 ||
    (rate
      ? pass.deltaBytes / rate <= record.freezeBudgetSeconds * FREEZE_DELTA_BUDGET_SHARE
      : pass.deltaBytes <= FREEZE_UNMEASURED_MAX_BYTES);
  return { fits: estimateMs <= availableMs && bytesOk, estimateMs, availableMs };
}
