import { describe, expect, it } from 'vitest';
import { runWithWorkload } from '../helpers/migration-run.js';
import { skipWithoutNanio } from '../helpers/nanio.js';

/** The migration contract (on real nanio pools) when the process driving the migration is killed with SIGKILL in each phase and run again. */
describe.skipIf(skipWithoutNanio()).sequential('live bucket migration killed with SIGKILL in each phase, then resumed (nanio)', () => {
  // SIGKILL of the driving process in each phase, then `orch migrate run` again: the contract still holds.
  for (const [phase, point] of [
    ['copying', 'copy:pass'],
    ['write_routing (freeze served)', 'freeze:served'],
    ['verifying (final delta copied)', 'verify:copied'],
    ['switching (before the cutover is served)', 'phase:switching'],
    ['switching (cutover served)', 'switch:cutover'],
  ] as const) {
    it(`killed with SIGKILL in ${phase}, then resumed: every point of the contract holds`, async () => {
      const { migration } = await runWithWorkload({ mode: phase.startsWith('verifying') ? 'sync' : 'copy', kill: point });
      if (point === 'freeze:served' || point === 'verify:copied') {
        // The freeze the dead driver left was abandoned (nginx ended it, the resumed driver served the source); a later one switched.
        const outcomes = migration.freezes.map((f) => f.outcome);
        expect(outcomes[0]).toBe('aborted');
        expect(outcomes.at(-1)).toBe('switched');
        expect(migration.freezes[0]!.reason).toMatch(/previous driver stopped during the freeze/);
      }
    }, 360_000);
  }
});
