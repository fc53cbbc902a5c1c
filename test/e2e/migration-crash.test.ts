import { describe, expect, it } from 'vitest';
import { runWithWorkload } from '../helpers/migration-run.js';
import { skipWithoutNanio } from '../helpers/nanio.js';

/**
 * The migration contract (on real nanio pools) when the process driving the migration is killed
 * with SIGKILL in each phase and run again. One migration per mode is killed several times in a
 * row, each run resuming what the previous one left and dying at the next fault point, then the
 * last run finishes it: every kill point is reached by a resumed run, in the state an earlier crash
 * left, and the contract is checked over the whole client history (a violation caused by any of
 * the crashes shows). Five kills in two environments instead of five environments.
 */
describe.skipIf(skipWithoutNanio()).sequential('live bucket migration killed with SIGKILL in each phase, then resumed (nanio)', () => {
  it('copy mode, killed in copying, in the served freeze, in switching before the cutover is served: every point of the contract holds', async () => {
    const { migration } = await runWithWorkload({ mode: 'copy', kill: ['copy:pass', 'freeze:served', 'phase:switching'] });
    // The freeze the killed driver left was abandoned (nginx ended it, the resumed driver served the source); a later one switched.
    const outcomes = migration.freezes.map((f) => f.outcome);
    expect(outcomes[0]).toBe('aborted');
    expect(migration.freezes[0]!.reason).toMatch(/previous driver stopped during the freeze/);
    expect(outcomes.at(-1)).toBe('switched');
    expect(outcomes.filter((o) => o === 'switched')).toHaveLength(1);
    // Killed in switching, before the cutover was served: the resumed run switched, it did not copy again.
    const log = migration.log.map((l) => l.message).join('\n');
    expect(log).toMatch(/switching -> done/);
  }, 360_000);

  it('sync mode, killed in verifying (final delta copied), then after the cutover is served: every point of the contract holds', async () => {
    const { migration } = await runWithWorkload({ mode: 'sync', kill: ['verify:copied', 'switch:cutover'] });
    const outcomes = migration.freezes.map((f) => f.outcome);
    expect(outcomes[0]).toBe('aborted');
    expect(migration.freezes[0]!.reason).toMatch(/previous driver stopped during the freeze/);
    expect(outcomes.at(-1)).toBe('switched');
    expect(outcomes.filter((o) => o === 'switched')).toHaveLength(1);
  }, 360_000);
});
