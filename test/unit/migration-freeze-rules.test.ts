import { describe, expect, it } from 'vitest';
import {
  FINAL_DELTA_FIX_FLOOR_MS,
  FINAL_DELTA_FLOOR_MS,
  FREEZE_MAX_DELTA_OBJECTS,
  finalDeltaAvailableMs,
  freezeFits,
  projectFinalDelta,
  type PassEstimate,
} from '../../src/domain/migrations/freeze-rules.js';
import { newMigrationRecord, type MigrationRecord } from '../../src/domain/migrations/migration-record.js';
import { desiredMigration } from '../helpers/desired-builders.js';

/**
 * The freeze decision's rules (issue 18): the final delta is projected from what the last pass
 * measured (its listing time, its time per fixed object, the writes since it listed), never
 * optimistically, and a freeze that would not fit is not started.
 */

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const NO_APPLY = { applyMs: 0 };

function record(over: Partial<MigrationRecord> = {}): MigrationRecord {
  const r = newMigrationRecord(desiredMigration({ concurrency: 16 }), new Date(T0 - 60_000));
  return { ...r, ...over, progress: { ...r.progress, ...(over.progress ?? {}) } };
}

/** A pass that ended at T0: started `ms` before it. */
const pass = (over: Partial<PassEstimate> & { ms: number }): PassEstimate => ({
  delta: 0,
  deltaBytes: 0,
  listMs: 500,
  startedAt: T0 - over.ms,
  ...over,
});

describe('projectFinalDelta', () => {
  it('first pass (no previous listing): the whole pass again plus a verifying listing', () => {
    const p = projectFinalDelta(pass({ delta: 2000, deltaBytes: 8_000_000, ms: 40_000, listMs: 800 }), null, T0, NO_APPLY);
    expect(p).toEqual({
      objects: 2000,
      bytes: 8_000_000,
      estimateMs: 40_800,
      basis: 'this whole pass plus a verifying listing: no write rate measured yet',
    });
  });

  it('a previous listing at or after this one (a clock step) counts as none: no rate from a non-positive interval', () => {
    const p = pass({ delta: 50, ms: 3000, listMs: 400 });
    expect(projectFinalDelta(p, p.startedAt, T0, NO_APPLY).estimateMs).toBe(3400);
    expect(projectFinalDelta(p, p.startedAt + 5, T0, NO_APPLY).basis).toMatch(/no write rate measured yet/);
  });

  it('no writes since the previous pass listed: two listings, nothing to fix, at least the floor', () => {
    const quiet = projectFinalDelta(pass({ delta: 0, ms: 2000, listMs: 700 }), T0 - 10_000, T0, NO_APPLY);
    expect(quiet).toMatchObject({ objects: 0, bytes: 0, estimateMs: 1400 });
    expect(quiet.basis).toBe('two listings of 0.7 s, no object written since the previous pass listed');
    // Listings faster than the floor: the floor counts.
    const fast = projectFinalDelta(pass({ delta: 0, ms: 300, listMs: 100 }), T0 - 5000, T0, NO_APPLY);
    expect(fast.estimateMs).toBe(FINAL_DELTA_FLOOR_MS);
    expect(fast.basis).toBe('two listings of 0.1 s, no object written since the previous pass listed; at least 1.0 s in all');
  });

  it('writes since this pass listed: its rate over the time until the freeze is served, at its time per object', () => {
    // 200 objects fixed, written during the 20 s between the two listings: 10 a second. Until the
    // freeze is served: the 10 s since this pass listed and a 2 s generation (the measured one,
    // above the 1 s floor): 120 objects. This pass took 9.5 s to fix 200: 47.5 ms each.
    const p = projectFinalDelta(pass({ delta: 200, deltaBytes: 200 * 4096, ms: 10_000, listMs: 500 }), T0 - 10_000 - 20_000, T0, {
      applyMs: 2000,
    });
    expect(p.objects).toBe(120);
    expect(p.bytes).toBe(120 * 4096);
    expect(p.estimateMs).toBeCloseTo(2 * 500 + 120 * 47.5, 6);
    expect(p.basis).toBe('two listings of 0.5 s, about 120 objects written since this pass listed (10.0 a second measured) at 48 ms each');
  });

  it('the generation counts at least 1 s of writes, and a partial object counts as one', () => {
    // 1 object in 100 s: 0.01 a second; 1 s pass + 1 s generation floor = 0.02 objects, rounded up to 1.
    const p = projectFinalDelta(pass({ delta: 1, ms: 1000, listMs: 200 }), T0 - 1000 - 100_000, T0, NO_APPLY);
    expect(p.objects).toBe(1);
  });

  it('the fixing floor: a few objects at a large pass shared time per object count at least 1 s', () => {
    // 500 objects in 5 s of fixing (10 ms each, shared by parallel requests): 3 objects projected
    // would be 30 ms, but one round of slow requests is not that fast.
    const p = projectFinalDelta(pass({ delta: 500, ms: 5500, listMs: 500 }), T0 - 5500 - 1_000_000, T0, NO_APPLY);
    expect(p.objects).toBe(4);
    expect(p.estimateMs).toBe(2 * 500 + FINAL_DELTA_FIX_FLOOR_MS);
    expect(p.basis).toBe(
      'two listings of 0.5 s, about 4 objects written since this pass listed (0.5 a second measured) at 10 ms each, counted as at least 1.0 s',
    );
  });

  it('never below what the whole pass would take when the writes come faster than the pass fixes them', () => {
    // A huge backlog: 3000 objects fixed in this 30 s pass, written in the 31 s since the previous
    // listing; as many again are being written: the projection is no shorter than the pass.
    const p = projectFinalDelta(pass({ delta: 3000, ms: 30_000, listMs: 1000 }), T0 - 30_000 - 31_000, T0, NO_APPLY);
    expect(p.objects).toBe(Math.ceil((3000 * 31_000) / 31_000));
    expect(p.estimateMs).toBeGreaterThanOrEqual(30_000);
  });
});

describe('freezeFits', () => {
  it('the time a freeze leaves: budget less the generation (at least 1 s), the cutover margin and its reserve', () => {
    expect(finalDeltaAvailableMs(10, { applyMs: 0 })).toBe(10_000 - 1000 - 2000 - 1500);
    expect(finalDeltaAvailableMs(10, { applyMs: 1800 })).toBe(10_000 - 1800 - 2000 - 1800);
  });

  it('a busy bucket whose whole pass is longer than the freeze still freezes when the writes since its listing fit', () => {
    // The bench's shape (issue 18): a 12 s pass (the old estimate: 12.8 s, never fits 5.5 s) that
    // fixed 40 objects written over 30 s: 1.3 a second, 18 since it listed; 290 ms each: 5.2 s...
    const tooMany = freezeFits(record(), NO_APPLY, pass({ delta: 40, ms: 12_000, listMs: 400 }), T0 - 12_000 - 30_000, T0);
    expect(tooMany.fits).toBe(false);
    expect(tooMany.reason).toBe(
      'the final delta would take about 6.0 s (two listings of 0.4 s, about 18 objects written since this pass listed (1.3 a second measured) at 290 ms each), more than the 5.5 s a 10 s freeze leaves',
    );
    expect(tooMany.budgetBound).toBe(true);
    // ...the next pass fixed 18 objects in 4 s, written over the 16 s between the two listings;
    // 5 s from its listing until the freeze is served: 6 objects, at 200 ms each.
    const next = freezeFits(record(), NO_APPLY, pass({ delta: 18, ms: 4000, listMs: 400 }), T0 - 4000 - 16_000, T0);
    expect(next).toMatchObject({ fits: true, reason: null, budgetBound: false, availableMs: 5500 });
    expect(next.projection.objects).toBe(6);
    expect(next.estimateMs).toBe(2 * 400 + 6 * 200);
  });

  it('first pass: the whole pass must fit, as before any rate is known', () => {
    const fit = freezeFits(record(), NO_APPLY, pass({ delta: 10, ms: 5000, listMs: 2000 }), null, T0);
    expect(fit.fits).toBe(false);
    expect(fit.reason).toBe(
      'the final delta would take about 7.0 s (this whole pass plus a verifying listing: no write rate measured yet), more than the 5.5 s a 10 s freeze leaves',
    );
  });

  it('a huge backlog: too many objects for any budget (no "larger freezeBudget" hint)', () => {
    const fit = freezeFits(
      record({ freezeBudgetSeconds: 600 }),
      NO_APPLY,
      pass({ delta: 900, ms: 9000, listMs: 500 }),
      T0 - 9000 - 5000,
      T0,
    );
    // 900 objects over 5 s, 10 s of exposure: 1800 to fix.
    expect(fit.projection.objects).toBe(1800);
    expect(fit.projection.objects).toBeGreaterThan(FREEZE_MAX_DELTA_OBJECTS);
    expect(fit.fits).toBe(false);
    expect(fit.budgetBound).toBe(false);
    expect(fit.reason).toMatch(/^the final delta would have about 1800 objects to fix \(two listings of 0\.5 s, .*\), more than 1000$/);
  });

  it('the part of the current second is lost (the freeze ends at a whole second): a delta that fits only with it does not', () => {
    const p = pass({ delta: 0, ms: 3000, listMs: 2700 });
    expect(freezeFits(record(), NO_APPLY, p, T0 - 3000 - 10_000, T0).fits).toBe(true); // 5.4 s of 5.5 s
    const late = freezeFits(record(), NO_APPLY, { ...p, startedAt: p.startedAt + 900 }, T0 - 3000 - 10_000, T0 + 900);
    expect(late.availableMs).toBe(4600);
    expect(late.fits).toBe(false);
  });

  it('bytes: the projected ones, against a quarter of the budget at the measured rate', () => {
    const r = record({ progress: { ...record().progress, rateBytesPerSecond: 1_000_000 } });
    // 100 objects of 1 MB in the pass, 100 over 10 s, 6 s of exposure: 60 objects, 3.7 s (fits the
    // time), but 60 MB projected: 60 s at 1 MB/s, more than 2.5 s.
    const fit = freezeFits(r, NO_APPLY, pass({ delta: 100, deltaBytes: 100_000_000, ms: 5000, listMs: 500 }), T0 - 5000 - 10_000, T0);
    expect(fit.projection.bytes).toBe(60_000_000);
    expect(fit.estimateMs).toBe(3700);
    expect(fit.reason).toBe(
      'its 60000000 bytes would take about 60.0 s at the measured 1000000 bytes/s, more than a quarter of a 10 s freeze',
    );
    // Few projected bytes: fits although the pass's own bytes would not have.
    const small = freezeFits(r, NO_APPLY, pass({ delta: 100, deltaBytes: 5_000_000, ms: 1500, listMs: 300 }), T0 - 1500 - 600_000, T0);
    expect(small.projection.objects).toBe(1);
    expect(small.fits).toBe(true);
  });

  it('bytes without a measured copy rate: at most 8 MiB, whatever the budget', () => {
    const fit = freezeFits(record(), NO_APPLY, pass({ delta: 2, deltaBytes: 20 * 1024 * 1024, ms: 800, listMs: 100 }), null, T0);
    expect(fit.reason).toBe(`its ${20 * 1024 * 1024} bytes are more than ${8 * 1024 * 1024} with no copy rate measured yet`);
    expect(fit.budgetBound).toBe(false);
  });
});
