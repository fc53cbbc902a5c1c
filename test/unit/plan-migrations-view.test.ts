import { describe, expect, it } from 'vitest';
import { knownMigrationLines } from '../../src/cli/views/plan-migrations.js';

const m = (name: string, phase: string) => ({ name, bucket: `b-${name}`, from: 'old', to: 'new', phase });

describe('the plan lines of Migration documents an earlier apply started', () => {
  it('one line for each migration under way, one for all finished ones (at most five named)', () => {
    const lines = knownMigrationLines(
      [
        m('a', 'copying'),
        m('b', 'done'),
        m('c', 'error'),
        ...['d', 'e', 'f', 'g', 'h', 'i'].map((n) => m(n, n === 'e' ? 'cancelled' : 'done')),
      ],
      (x) => x,
    );
    expect(lines).toEqual([
      'a: already started, phase copying (bucket b-a, old -> new); apply leaves it to the migration driver',
      'c: already started, phase error (bucket b-c, old -> new); apply leaves it to the migration driver',
      '7 already finished, not started again: b (done), d (done), e (cancelled), f (done), g (done) and 2 more',
    ]);
  });

  it('nothing when there is none; values go through the view’s escaping', () => {
    expect(knownMigrationLines([], (x) => x)).toEqual([]);
    expect(knownMigrationLines([m('x_y', 'pending')], (x) => x.replace(/_/g, '\\_'), '→')[0]).toBe(
      'x\\_y: already started, phase pending (bucket b-x\\_y, old → new); apply leaves it to the migration driver',
    );
  });
});
