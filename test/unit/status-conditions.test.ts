import { describe, expect, it } from 'vitest';
import {
  resourceConditions,
  type AppliedResource,
  type GatewayFacts,
  type MigrationFacts,
  type ResourceConditions,
} from '../../src/domain/status/conditions.js';

const applied: AppliedResource[] = [
  {
    kind: 'Route',
    name: 's3-photos',
    files: ['vhosts/s3.conf', 'vhosts/s3.meta.json'],
    pools: ['archive'],
    since: '2026-05-01T10:00:00.000Z',
  },
  {
    kind: 'VirtualHost',
    name: 's3',
    files: ['vhosts/s3.conf', 'vhosts/s3.meta.json'],
    pools: ['hot', 'archive'],
    since: '2026-05-01T10:00:00.000Z',
  },
  { kind: 'Pool', name: 'hot', files: ['pools/hot.conf', 'pools/hot.meta.json'], pools: ['hot'], since: '2026-05-01T09:00:00.000Z' },
  { kind: 'Pool', name: 'archive', files: ['pools/archive.conf', 'pools/archive.meta.json'], pools: ['archive'], since: null },
];

const healthy: GatewayFacts = {
  generation: { number: 3, createdAt: '2026-05-01T10:00:00.000Z' },
  serving: { state: 'current', detail: 'generation 3 is served' },
  writer: null,
  interrupted: null,
  drift: [],
  reconcileFailure: null,
  pools: [{ pool: 'hot', status: 'ok', message: null }],
};

/** The condition that holds (status True) of one resource, as [reason, last_transition_time]. */
function holding(list: ResourceConditions[], kind: string, name: string): [string, string, string | null] {
  const r = list.find((x) => x.kind === kind && x.name === name);
  if (!r) throw new Error(`no ${kind}/${name}`);
  expect(r.conditions.map((c) => c.type)).toEqual(['Ready', 'Reconciling', 'Stalled']);
  const t = r.conditions.filter((c) => c.status === 'True');
  expect(t, `${kind}/${name}: exactly one condition holds`).toHaveLength(1);
  // The others are False, with the same reason; only the one that holds carries a time.
  for (const c of r.conditions.filter((x) => x.status !== 'True')) {
    expect(c.status).toBe('False');
    expect(c.reason).toBe(t[0]!.reason);
    expect(c.lastTransitionTime).toBeNull();
  }
  return [t[0]!.type, t[0]!.reason, t[0]!.lastTransitionTime];
}

describe('per-resource conditions', () => {
  it('a served generation without drift: every resource Ready (Current), pools, virtual hosts, routes in that order', () => {
    const list = resourceConditions(applied, [], healthy);
    expect(list.map((r) => `${r.kind}/${r.name}`)).toEqual(['Pool/archive', 'Pool/hot', 'VirtualHost/s3', 'Route/s3-photos']);
    expect(holding(list, 'Pool', 'hot')).toEqual(['Ready', 'Current', '2026-05-01T09:00:00.000Z']);
    expect(holding(list, 'Route', 's3-photos')).toEqual(['Ready', 'Current', '2026-05-01T10:00:00.000Z']);
    expect(list[0]!.conditions[0]!.message).toBe('generation 3 is served by nginx');
  });

  it('drift stalls exactly the resources whose files were edited', () => {
    const list = resourceConditions(applied, [], { ...healthy, drift: [{ path: 'vhosts/s3.conf', kind: 'modified' }] });
    expect(holding(list, 'VirtualHost', 's3').slice(0, 2)).toEqual(['Stalled', 'Drifted']);
    expect(holding(list, 'Route', 's3-photos').slice(0, 2)).toEqual(['Stalled', 'Drifted']);
    expect(holding(list, 'Pool', 'hot').slice(0, 2)).toEqual(['Ready', 'Current']);
    expect(list.find((r) => r.name === 's3')!.conditions[2]!.message).toBe('vhosts/s3.conf was edited outside orch (orch drift)');
  });

  it('nginx not answering, or serving another generation: every resource Stalled', () => {
    const none = resourceConditions(applied, [], { ...healthy, serving: { state: 'none', detail: 'nothing answers on 127.0.0.1:1' } });
    for (const r of none)
      expect(r.conditions[2]).toMatchObject({ status: 'True', reason: 'NginxNotAnswering', message: 'nothing answers on 127.0.0.1:1' });
    const other = resourceConditions(applied, [], { ...healthy, serving: { state: 'other', detail: 'nginx serves "2 abc"' } });
    for (const r of other) expect(holding(other, r.kind, r.name).slice(0, 2)).toEqual(['Stalled', 'NotServed']);
  });

  it('not checked (the daemon): Ready, "is applied"', () => {
    const list = resourceConditions(applied, [], { ...healthy, serving: { state: 'unchecked', detail: '' } });
    expect(list[0]!.conditions[0]).toMatchObject({ status: 'True', message: 'generation 3 is applied' });
  });

  it('a writer at work, an interrupted apply: Reconciling, before anything else', () => {
    const facts = {
      ...healthy,
      drift: [{ path: 'pools/hot.conf', kind: 'deleted' as const }],
      serving: { state: 'none' as const, detail: 'x' },
    };
    const w = resourceConditions(applied, [], { ...facts, writer: { command: 'apply', since: '2026-05-01T11:00:00.000Z' } });
    expect(holding(w, 'Pool', 'hot')).toEqual(['Reconciling', 'Applying', '2026-05-01T11:00:00.000Z']);
    const i = resourceConditions(applied, [], { ...facts, interrupted: { notice: 'An apply of generation 4 was interrupted' } });
    expect(holding(i, 'Route', 's3-photos')).toEqual(['Reconciling', 'ApplyInterrupted', null]);
  });

  it("the daemon's failed reconcile stalls everything with its reason", () => {
    const list = resourceConditions(applied, [], {
      ...healthy,
      reconcileFailure: { reason: 'ManifestsInvalid', message: 'the last reconcile was invalid', at: '2026-05-01T12:00:00.000Z' },
    });
    for (const r of list) expect(holding(list, r.kind, r.name)).toEqual(['Stalled', 'ManifestsInvalid', '2026-05-01T12:00:00.000Z']);
  });

  it('refused credentials stall the pool and whatever routes to it', () => {
    const list = resourceConditions(applied, [], {
      ...healthy,
      pools: [
        { pool: 'hot', status: 'ok', message: null },
        { pool: 'archive', status: 'access-denied', message: 'AccessDenied' },
      ],
    });
    expect(holding(list, 'Pool', 'archive').slice(0, 2)).toEqual(['Stalled', 'CredentialsRefused']);
    expect(holding(list, 'Route', 's3-photos').slice(0, 2)).toEqual(['Stalled', 'CredentialsRefused']);
    expect(holding(list, 'VirtualHost', 's3').slice(0, 2)).toEqual(['Stalled', 'CredentialsRefused']);
    expect(holding(list, 'Pool', 'hot').slice(0, 2)).toEqual(['Ready', 'Current']);
    expect(list[0]!.conditions[2]!.message).toBe('pool archive refused the credentials at the last bucket sync: AccessDenied');
    const unreachable = resourceConditions(applied, [], { ...healthy, pools: [{ pool: 'hot', status: 'unreachable', message: null }] });
    expect(holding(unreachable, 'Pool', 'hot').slice(0, 2)).toEqual(['Stalled', 'PoolUnreachable']);
  });

  it('migrations: from their phase and error', () => {
    const m = (name: string, phase: string, extra: Partial<MigrationFacts> = {}): MigrationFacts => ({
      name,
      phase,
      lastError: null,
      errorAt: null,
      updatedAt: '2026-05-01T10:05:00.000Z',
      finishedAt: null,
      ...extra,
    });
    const list = resourceConditions(
      [],
      [
        m('a-pending', 'pending'),
        m('b-copying', 'copying'),
        m('c-verify', 'write_routing'),
        m('d-retry', 'copying', { lastError: 'pool-2026 unreachable', errorAt: '2026-05-01T10:06:00.000Z' }),
        m('e-error', 'error', { lastError: 'source listing failed', errorAt: '2026-05-01T10:07:00.000Z' }),
        m('f-done', 'done', { finishedAt: '2026-05-01T10:08:00.000Z' }),
        m('g-cancelled', 'cancelled', { finishedAt: '2026-05-01T10:09:00.000Z' }),
      ],
      healthy,
    );
    expect(holding(list, 'Migration', 'a-pending')).toEqual(['Reconciling', 'Pending', '2026-05-01T10:05:00.000Z']);
    expect(holding(list, 'Migration', 'b-copying')).toEqual(['Reconciling', 'Copying', '2026-05-01T10:05:00.000Z']);
    expect(holding(list, 'Migration', 'c-verify')).toEqual(['Reconciling', 'WriteRouting', '2026-05-01T10:05:00.000Z']);
    expect(holding(list, 'Migration', 'd-retry')).toEqual(['Reconciling', 'Retrying', '2026-05-01T10:06:00.000Z']);
    expect(holding(list, 'Migration', 'e-error')).toEqual(['Stalled', 'MigrationFailed', '2026-05-01T10:07:00.000Z']);
    expect(list.find((r) => r.name === 'e-error')!.conditions[2]!.message).toBe('source listing failed');
    expect(holding(list, 'Migration', 'f-done')).toEqual(['Ready', 'Done', '2026-05-01T10:08:00.000Z']);
    expect(holding(list, 'Migration', 'g-cancelled')).toEqual(['Stalled', 'Cancelled', '2026-05-01T10:09:00.000Z']);
  });

  it('a phase orch does not know: all three Unknown', () => {
    const [r] = resourceConditions(
      [],
      [{ name: 'x', phase: 'teleporting', lastError: null, errorAt: null, updatedAt: null, finishedAt: null }],
      healthy,
    );
    expect(r!.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'Unknown', 'UnknownPhase'],
      ['Reconciling', 'Unknown', 'UnknownPhase'],
      ['Stalled', 'Unknown', 'UnknownPhase'],
    ]);
  });

  it('every reason is one CamelCase word', () => {
    const all = [
      ...resourceConditions(applied, [], { ...healthy, pools: [{ pool: 'hot', status: 'no-credentials', message: null }] }),
      ...resourceConditions(applied, [], { ...healthy, pools: [{ pool: 'hot', status: 'error', message: null }] }),
    ];
    for (const r of all) for (const c of r.conditions) expect(c.reason).toMatch(/^[A-Z][A-Za-z0-9]*$/);
  });
});
