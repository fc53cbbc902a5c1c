import { describe, expect, it } from 'vitest';
import { coreIsFree, manifestFlagsFromArgv } from '../../src/use-cases/plan/manifest-preload.js';

describe('manifest worker start-up decision', () => {
  it('starts the worker only when a core is free right now (runnable tasks, this process included)', () => {
    expect(coreIsFree('3.52 3.40 3.10 1/140 15163', 2)).toBe(true); // only this process runs
    expect(coreIsFree('0.10 0.05 0.01 2/140 15163', 2)).toBe(true); // one other task: one core left
    expect(coreIsFree('0.10 0.05 0.01 3/140 15163', 2)).toBe(false); // two others: both cores busy
    expect(coreIsFree('0.10 0.05 0.01 3/140 15163', 4)).toBe(true);
  });

  it('falls back to the one-minute load average without /proc/loadavg', () => {
    // The fallback reads os.loadavg(): true or false, never a throw.
    expect(typeof coreIsFree(null, 2)).toBe('boolean');
    expect(typeof coreIsFree('garbage', 2)).toBe('boolean');
  });

  it('reads --manifests, --state-dir and --config as oclif would', () => {
    expect(manifestFlagsFromArgv(['plan', '-m', 'a', '--state-dir=s', '--config', 'c.yaml'])).toEqual({ manifests: 'a', stateDir: 's', config: 'c.yaml' });
    expect(manifestFlagsFromArgv(['plan', '-mx', '--manifests', 'y'])).toEqual({ manifests: 'y' });
    expect(manifestFlagsFromArgv(['plan', '--', '--manifests', 'y'])).toEqual({});
  });
});
