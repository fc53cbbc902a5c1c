import { describe, expect, it } from 'vitest';
import { PoolAccessError } from '../../src/domain/buckets/pool-access-error.js';
import { defaultSettings, type Settings } from '../../src/config/settings.js';
import type { PoolEndpoint, PoolStorage, PoolStorageFactory } from '../../src/ports/pool-storage.js';
import { checkClientIdentities, identityPools } from '../../src/use-cases/buckets/client-identities.js';
import { desiredState, pool, route, virtualHost } from '../helpers/desired-builders.js';
import type { DesiredMigration } from '../../src/domain/model/desired-state.js';
import { memberUpdateSteps } from '../../src/domain/node-config/member-update-steps.js';

const CLIENT = { accessKeyId: 'AKIACLIENT0001', secretAccessKey: 'client-secret-value' };
const IDENTITY = { accessKeyId: { env: 'CLIENT_KEY' }, secretAccessKey: { env: 'CLIENT_SECRET' } };

/** Pools that know which access keys (a fake of the port: ListBuckets answers or refuses). */
function storage(known: Record<string, string[]>, requests: string[]): PoolStorageFactory {
  return {
    async open(endpoint: PoolEndpoint) {
      return {
        pool: endpoint.pool,
        async listBuckets() {
          requests.push(`${endpoint.pool} ${endpoint.credentials.accessKeyId}`);
          if (!(known[endpoint.pool] ?? []).includes(endpoint.credentials.accessKeyId)) {
            throw new PoolAccessError(
              endpoint.pool,
              'access-denied',
              `pool ${endpoint.pool} refused (ListBuckets: HTTP 403 InvalidAccessKeyId from member ${endpoint.members[0]})`,
            );
          }
          return [];
        },
        close() {},
      } as unknown as PoolStorage;
    },
  };
}

const migration = (to: string): DesiredMigration => ({
  name: 'docs-move',
  virtualHost: 's3',
  bucket: 'docs',
  from: 'a',
  to,
  mode: 'copy',
  concurrency: 16,
  bandwidthLimit: null,
  freezeBudgetSeconds: 10,
  origin: { kind: 'Migration', name: 'docs-move', file: 'm.yaml', index: 0 },
});

function ports(known: Record<string, string[]>, requests: string[]) {
  const settings = { ...defaultSettings(), configFile: null } as Settings;
  return {
    settings,
    poolStorage: storage(known, requests),
    secrets: {
      keyring: () => null,
      keyMaterial: () => [],
      resolvePoolCredentials: () => ({
        accessKeyId: { ok: true as const, value: CLIENT.accessKeyId },
        secretAccessKey: { ok: true as const, value: CLIENT.secretAccessKey },
      }),
    },
  };
}

describe('client identity check on the pools', () => {
  const gateway = (extra: { migrations?: DesiredMigration[]; allowRefusingPools?: string[] } = {}) =>
    desiredState({
      pools: [pool('a'), pool('b'), pool('c'), pool('files', { type: 'http' })],
      virtualHosts: [
        virtualHost('s3', {
          defaultPool: 'a',
          routes: [route('s3', '/photos/', 'c'), route('s3', '/off/', 'b', { enabled: false }), route('s3', '/assets/', 'files')],
          clientIdentities: [IDENTITY],
          ...(extra.allowRefusingPools ? { allowRefusingPools: extra.allowRefusingPools } : {}),
        }),
      ],
      migrations: extra.migrations ?? [],
    });

  it('checks the default pool, the enabled routes and the migration targets (nanio pools only)', () => {
    expect(identityPools(gateway(), 's3')).toEqual(['a', 'c']);
    expect(identityPools(gateway({ migrations: [migration('b')] }), 's3')).toEqual(['a', 'b', 'c']);
  });

  it('a Migration to a pool that refuses an identity fails the plan, naming the pool and the access key id, never the secret', async () => {
    const requests: string[] = [];
    const known = { a: [CLIENT.accessKeyId], c: [CLIENT.accessKeyId], b: [] };
    const without = await checkClientIdentities(ports(known, requests), gateway());
    expect(without.diagnostics).toEqual([]);
    expect(without.checks.map((c) => `${c.pool} ${c.status}`)).toEqual(['a ok', 'c ok']);

    const r = await checkClientIdentities(ports(known, requests), gateway({ migrations: [migration('b')] }));
    expect(r.checks.map((c) => `${c.pool} ${c.status}`)).toEqual(['a ok', 'b refused', 'c ok']);
    expect(r.diagnostics).toHaveLength(1);
    const [d] = r.diagnostics;
    expect(d).toMatchObject({ severity: 'error', code: 'identity.refused', field: 'spec.clientIdentities.0.accessKeyId' });
    expect(d!.message).toContain(`pool b refuses client identity ${CLIENT.accessKeyId} of virtual host s3`);
    expect(d!.message).toContain('from member');
    expect(JSON.stringify(r)).not.toContain(CLIENT.secretAccessKey);
    // One request per pool and identity, never to the http pool.
    expect(requests.filter((x) => x.startsWith('files'))).toEqual([]);

    // The hint is what to paste: per member of the refusing pool, the node-config command and the restart.
    expect(d!.hint).toContain(
      `'orch node-config b ${pool('b').members[0]!.address} --out ./node-config/b/${pool('b').members[0]!.address}', then install ./node-config/b/${pool('b').members[0]!.address}/nanio-options.toml as /etc/nanio/options.toml on member ${pool('b').members[0]!.address} and restart nanio there`,
    );
    expect(d!.hint).not.toMatch(/MEMBER|DIR/);

    // Acknowledged: a warning.
    const ack = await checkClientIdentities(ports(known, []), gateway({ migrations: [migration('b')], allowRefusingPools: ['b'] }));
    expect(ack.diagnostics.map((x) => `${x.severity} ${x.code}`)).toEqual(['warning identity.refused']);
  });
});

describe("the steps that give a pool's members their users", () => {
  it('name each member by its address when it is one shell word, else by its index', () => {
    const steps = memberUpdateSteps({
      name: 'cold',
      members: [
        { ...pool('cold').members[0]!, address: '10.0.0.7:9000' },
        { ...pool('cold').members[0]!, address: '[fd00::7]:9000' },
      ],
    });
    expect(steps).toContain("'orch node-config cold 10.0.0.7:9000 --out ./node-config/cold/10.0.0.7:9000'");
    expect(steps).toContain("'orch node-config cold 1 --out ./node-config/cold/1', then install ./node-config/cold/1/nanio-options.toml");
    expect(steps).toContain("on member [fd00::7]:9000 and restart nanio there ('systemctl restart nanio')");
  });
});
