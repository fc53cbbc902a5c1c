import { describe, expect, it } from 'vitest';
import { makePlan, sha256, type ObservedFile } from '../../src/domain/plan/make-plan.js';
import { planHasChanges, type Plan } from '../../src/domain/plan/plan-types.js';
import { nginxFeaturesFor } from '../../src/domain/render/rendered-tree.js';
import { renderTree } from '../../src/domain/render/render-tree.js';
import { Gen, prng, randomDesiredState } from '../helpers/random-desired.js';
import { GOLDEN_TLS } from '../helpers/render-scenarios.js';

/**
 * A plan is a plain value (issue 16): objects, arrays, strings, finite numbers, booleans and null
 * only: no Map or Set, no class instance, no getter, no function, no undefined. So it survives
 * structuredClone and a JSON round trip unchanged, and what a saved plan or a worker receives is
 * the plan itself. And plan(x, x) is empty.
 */
const RUNS = 100;
const BASE_SEED = 0x91a7;
const FEATURES = nginxFeaturesFor('1.25.1');

/** The path of the first value in `value` that is not plain data, or null. */
function notPlain(value: unknown, path = 'plan'): string | null {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? null : `${path}: ${value}`;
  if (typeof value !== 'object') return `${path}: a ${typeof value}`;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (Array.isArray(value)) {
    if (proto !== Array.prototype) return `${path}: an array subclass`;
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return `${path}[${i}]: a hole`;
      const bad = notPlain(value[i], `${path}[${i}]`);
      if (bad) return bad;
    }
    return null;
  }
  if (proto !== Object.prototype && proto !== null) return `${path}: a ${(value as object).constructor?.name ?? 'class instance'}`;
  if (Object.getOwnPropertySymbols(value).length > 0) return `${path}: symbol keys`;
  for (const [key, d] of Object.entries(Object.getOwnPropertyDescriptors(value))) {
    if (d.get || d.set) return `${path}.${key}: a getter or setter`;
    if (!d.enumerable) return `${path}.${key}: not enumerable`;
    const bad = notPlain(d.value, `${path}.${key}`);
    if (bad) return bad;
  }
  return null;
}

function expectPlainValue(plan: Plan): void {
  expect(notPlain(plan)).toBeNull();
  expect(structuredClone(plan)).toStrictEqual(plan);
  expect(JSON.parse(JSON.stringify(plan))).toStrictEqual(plan);
}

function asObserved(files: readonly { path: string; content: string }[]): ObservedFile[] {
  return files.map((f) => ({ path: f.path, content: f.content, managed: true }));
}

describe('plan properties over random desired states', () => {
  it('notPlain finds what is not plain data', () => {
    expect(notPlain({ a: [1, 'x', null, true, { b: {} }] })).toBeNull();
    expect(notPlain({ a: new Map() })).toBe('plan.a: a Map');
    expect(notPlain({ a: [new Set()] })).toBe('plan.a[0]: a Set');
    expect(notPlain({ a: undefined })).toBe('plan.a: a undefined');
    expect(notPlain({ a: () => 1 })).toBe('plan.a: a function');
    expect(notPlain({ a: Number.NaN })).toBe('plan.a: NaN');
    expect(notPlain({ a: new Date(0) })).toBe('plan.a: a Date');
    expect(notPlain(Object.defineProperty({}, 'a', { get: () => 1, enumerable: true }))).toBe('plan.a: a getter or setter');
  });

  for (let run = 0; run < RUNS; run++) {
    const seed = BASE_SEED + run;
    it(`seed ${seed}`, () => {
      const gen = new Gen(prng(seed));
      const desired = randomDesiredState(seed, GOLDEN_TLS);
      const tree = renderTree(desired, FEATURES);
      const inventory = new Map(tree.files.map((f) => [f.path, { sha256: sha256(f.content) }]));

      // plan(x, x) is empty: the tree against itself, orch's inventory matching.
      const same = makePlan({ desired: tree, observed: { files: asObserved(tree.files) }, inventory, migrations: desired.migrations });
      expect(planHasChanges(same)).toBe(false);
      expect(same.changes).toEqual([]);
      expect(same.drift).toEqual([]);
      expect(same.unchanged.files).toBe(tree.files.length);
      expectPlainValue(same);
      // Without an inventory (no state yet) too.
      expect(
        planHasChanges(makePlan({ desired: tree, observed: { files: asObserved(tree.files) }, inventory: null, migrations: [] })),
      ).toBe(false);

      // From an empty directory: everything created.
      const fresh = makePlan({ desired: tree, observed: { files: [] }, inventory: null, migrations: desired.migrations });
      expect(fresh.summary.add).toBe(desired.pools.length + desired.virtualHosts.length);
      expectPlainValue(fresh);

      // A disk that moved on: files edited by hand, deleted, left over, not orch's: every kind of
      // change and drift entry, still plain data.
      const observed: ObservedFile[] = [];
      for (const f of asObserved(tree.files)) {
        const roll = gen.int(0, 5);
        if (roll === 0) continue;
        observed.push(roll === 1 ? { ...f, content: `${f.content}# edited\n` } : roll === 2 ? { ...f, managed: false } : f);
      }
      observed.push({ path: 'vhosts/left-over.conf', content: '# managed-by: orch\n', managed: true });
      observed.push({ path: 'vhosts/by-hand.conf', content: 'server {}\n', managed: false });
      const moved = makePlan({
        desired: tree,
        observed: { files: observed },
        inventory: gen.bool() ? inventory : null,
        migrations: desired.migrations,
      });
      expectPlainValue(moved);
    });
  }
});
