import { describe, expect, it } from 'vitest';
import { newMigrationRecord, type MigrationRecord } from '../../src/domain/migrations/migration-record.js';
import { effectiveRouting, overlayMigrations } from '../../src/domain/migrations/route-overlay.js';
import { epochBeforeRegex } from '../../src/domain/migrations/routing.js';
import type { DesiredMigration, DesiredState } from '../../src/domain/model/desired-state.js';
import { desiredMigration, origin, route as routeOf, virtualHost } from '../helpers/desired-builders.js';

describe('epochBeforeRegex: the freeze written into nginx', () => {
  it('matches a write ($orch_write = 1) exactly while the epoch second is before the end, for random ends and times', () => {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 300; i++) {
      const until = 1_000_000_000 + Math.floor(rnd() * 8_999_999_999);
      const re = new RegExp(epochBeforeRegex(until));
      for (const t of [until - 1, until, until + 1, until - 10, until - 1000, until + 1000, Math.floor(rnd() * 9_999_999_999)]) {
        if (t < 1_000_000_000 || t > 9_999_999_999) continue;
        expect(re.test(`1:${t}.123`), `until ${until}, t ${t}`).toBe(t < until);
        expect(re.test(`0:${t}.123`), 'a read is never refused').toBe(false);
      }
    }
  });

  it('handles ends with zeros and nines, and refuses what is not a 10-digit epoch', () => {
    for (const until of [2_000_000_000, 1_999_999_999, 1_800_000_009, 9_999_999_999]) {
      const re = new RegExp(epochBeforeRegex(until));
      expect(re.test(`1:${until - 1}.000`)).toBe(true);
      expect(re.test(`1:${until}.000`)).toBe(false);
    }
    expect(() => epochBeforeRegex(12345)).toThrow(RangeError);
    expect(() => epochBeforeRegex(1.5e9 + 0.5)).toThrow(RangeError);
  });
});

function desired(routePool: string): DesiredState {
  return {
    pools: [],
    migrations: [],
    virtualHosts: [virtualHost('s3', { routes: [routeOf('s3', '/photos/', routePool, { name: 'photos' })] })],
  };
}
const migration: DesiredMigration = desiredMigration({
  virtualHost: 's3',
  concurrency: 16,
  origin: origin('Migration', 'm', 'manifests/migrations.yaml'),
});
function doc(patch: Partial<MigrationRecord>): MigrationRecord {
  return { ...newMigrationRecord(migration, new Date('2026-01-01T00:00:00Z')), ...patch };
}
const route = (r: ReturnType<typeof overlayMigrations>) => r.desired.virtualHosts[0]!.routes[0]!;

describe('overlayMigrations: who owns a bucket route', () => {
  it('copying: the route stays on the source, unannotated (no file changes while copying)', () => {
    const r = overlayMigrations({
      desired: desired('old'),
      migrations: [doc({ phase: 'copying' })],
      deployed: new Map(),
      now: 1_800_000_000,
    });
    expect(route(r)).toMatchObject({ pool: 'old' });
    expect(route(r).migration).toBeUndefined();
    expect(r.diagnostics).toEqual([]);
  });

  it('an active migration holds the route on its serving pool when the manifest names another, with a warning', () => {
    const r = overlayMigrations({
      desired: desired('elsewhere'),
      migrations: [doc({ phase: 'copying' })],
      deployed: new Map(),
      now: 1_800_000_000,
    });
    expect(route(r).pool).toBe('old');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['migration.route-owned']);
  });

  it('freeze and cutover render their routing with the freeze end; a cutover never served is not rendered once its freeze is (nearly) over', () => {
    const frozen = overlayMigrations({
      desired: desired('old'),
      migrations: [doc({ phase: 'write_routing', routing: 'freeze', freezeUntil: 1_800_000_010 })],
      deployed: new Map(),
      now: 1_800_000_000,
    });
    expect(route(frozen)).toMatchObject({ pool: 'old', migration: { routing: 'freeze', freezeUntil: 1_800_000_010, manifestPool: 'old' } });
    const cut = doc({ phase: 'switching', routing: 'cutover', routingLive: 'freeze', freezeUntil: 1_800_000_010 });
    expect(route(overlayMigrations({ desired: desired('old'), migrations: [cut], deployed: new Map(), now: 1_800_000_005 }))).toMatchObject(
      { pool: 'new', migration: { routing: 'cutover' } },
    );
    expect(effectiveRouting(cut, undefined, 1_800_000_009)).toBe('freeze');
    expect(effectiveRouting(cut, 'cutover', 1_800_000_099)).toBe('cutover');
    expect(effectiveRouting({ ...cut, routingLive: 'cutover' }, undefined, 1_800_000_099)).toBe('cutover');
  });

  it('done: the destination keeps serving while the Route still names the source (a warning says what to change); a Route on any other pool is followed', () => {
    const done = doc({ phase: 'done', routing: 'destination', routingLive: 'destination', finishedAt: '2026-01-02T00:00:00Z' });
    const stale = overlayMigrations({ desired: desired('old'), migrations: [done], deployed: new Map(), now: 1_800_000_000 });
    expect(route(stale)).toMatchObject({ pool: 'new', migration: { routing: 'destination', manifestPool: 'old' } });
    expect(stale.diagnostics.map((d) => [d.severity, d.code])).toEqual([['warning', 'migration.route-stale']]);
    expect(stale.diagnostics[0]!.hint).toMatch(/Change spec\.pool of route photos to new; the Migration document m can then be removed/);
    const updated = overlayMigrations({ desired: desired('new'), migrations: [done], deployed: new Map(), now: 1_800_000_000 });
    expect(route(updated)).toMatchObject({ pool: 'new' });
    expect(updated.diagnostics).toEqual([]);
    expect(route(overlayMigrations({ desired: desired('third'), migrations: [done], deployed: new Map(), now: 1 })).pool).toBe('third');
  });

  it('cancelled migrations own nothing; an active one whose route disappeared is an error', () => {
    expect(
      route(
        overlayMigrations({
          desired: desired('old'),
          migrations: [doc({ phase: 'cancelled', routing: 'source' })],
          deployed: new Map(),
          now: 1,
        }),
      ).migration,
    ).toBeUndefined();
    const noRoute = desired('old');
    noRoute.virtualHosts[0]!.routes = [];
    const r = overlayMigrations({ desired: noRoute, migrations: [doc({ phase: 'copying' })], deployed: new Map(), now: 1 });
    expect(r.diagnostics.map((d) => [d.severity, d.code])).toEqual([['error', 'migration.route-missing']]);
  });
});
