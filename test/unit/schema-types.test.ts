import { describe, expect, it } from 'vitest';
import type {
  ExtraBlock,
  IpRules,
  ManifestOf,
  Metadata,
  MigrationSpec,
  PoolCredentials,
  ClientIdentity,
  PoolMember,
  PoolSpec,
  RouteSpec,
  SecretRef,
  Tls,
  VirtualHostSpec,
} from '../../src/domain/model/manifest-types.js';
import { SCHEMAS_BY_KIND } from '../../src/domain/model/schemas.generated.js';

/**
 * The TS manifest types and the JSON Schemas must name the same fields at every level. The key
 * lists below are checked against the TS types by `satisfies` (the build fails when a TS field
 * is missing here or a listed key is not a TS field), and against the schemas by this test.
 */
type KeysOfUnion<T> = T extends unknown ? keyof T : never;
type KeyList<T> = Record<KeysOfUnion<T>, true>;

const envelopeKeys = { apiVersion: true, kind: true, metadata: true, spec: true } satisfies KeyList<ManifestOf<'Pool', PoolSpec>>;
const metadataKeys = { name: true, labels: true } satisfies KeyList<Metadata>;
const secretRefKeys = { env: true, file: true } satisfies KeyList<SecretRef>;
const poolSpecKeys = {
  type: true,
  description: true,
  loadBalancing: true,
  keepalive: true,
  members: true,
  credentials: true,
  allowOrphan: true,
} satisfies KeyList<PoolSpec>;
const memberKeys = {
  address: true,
  weight: true,
  maxFails: true,
  failTimeout: true,
  enabled: true,
  role: true,
} satisfies KeyList<PoolMember>;
const credentialsKeys = { accessKeyId: true, secretAccessKey: true } satisfies KeyList<PoolCredentials>;
const clientIdentityKeys = { accessKeyId: true, secretAccessKey: true } satisfies KeyList<ClientIdentity>;
const vhostSpecKeys = {
  serverNames: true,
  port: true,
  address: true,
  tls: true,
  defaultPool: true,
  ipRules: true,
  extraBlocks: true,
  ignoreBuckets: true,
  allowOrphan: true,
  clientIdentities: true,
  allowRefusingPools: true,
  proxyReadTimeout: true,
  proxySendTimeout: true,
} satisfies KeyList<VirtualHostSpec>;
const tlsKeys = { certificate: true, key: true, http2: true } satisfies KeyList<Tls>;
const ipRulesKeys = { mode: true, addresses: true } satisfies KeyList<IpRules>;
const extraBlockKeys = { zone: true, content: true } satisfies KeyList<ExtraBlock>;
const routeSpecKeys = {
  virtualHost: true,
  path: true,
  pool: true,
  keyPrefix: true,
  enabled: true,
  allowOrphan: true,
} satisfies KeyList<RouteSpec>;
const migrationSpecKeys = {
  virtualHost: true,
  bucket: true,
  from: true,
  to: true,
  mode: true,
  concurrency: true,
  bandwidthLimit: true,
  freezeBudget: true,
} satisfies KeyList<MigrationSpec>;

const k = (o: object): string[] => Object.keys(o).sort();
const common = { '': k(envelopeKeys), 'metadata': k(metadataKeys) };

const EXPECTED: Record<keyof typeof SCHEMAS_BY_KIND, Record<string, string[]>> = {
  Pool: {
    ...common,
    'spec': k(poolSpecKeys),
    'spec.members[]': k(memberKeys),
    'spec.credentials': k(credentialsKeys),
    'spec.credentials.accessKeyId': k(secretRefKeys),
    'spec.credentials.secretAccessKey': k(secretRefKeys),
  },
  VirtualHost: {
    ...common,
    'spec': k(vhostSpecKeys),
    'spec.tls': k(tlsKeys),
    'spec.ipRules': k(ipRulesKeys),
    'spec.extraBlocks[]': k(extraBlockKeys),
    'spec.clientIdentities[]': k(clientIdentityKeys),
    'spec.clientIdentities[].accessKeyId': k(secretRefKeys),
    'spec.clientIdentities[].secretAccessKey': k(secretRefKeys),
  },
  Route: { ...common, spec: k(routeSpecKeys) },
  Migration: { ...common, spec: k(migrationSpecKeys) },
};

type Json = Record<string, unknown>;

function resolveRef(root: Json, schema: Json): Json {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return schema;
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are expected, got ${ref}`);
  let cur: unknown = root;
  for (const part of ref.slice(2).split('/')) cur = (cur as Json)[part];
  return resolveRef(root, cur as Json);
}

/** Property names of every object level of a schema, keyed by field path (`spec.members[]`). */
function objectLevels(root: Json, schema: Json = root, path = '', out: Record<string, string[]> = {}): Record<string, string[]> {
  const s = resolveRef(root, schema);
  const props = s.properties as Record<string, Json> | undefined;
  if (props) {
    out[path] = Object.keys(props).sort();
    for (const [key, sub] of Object.entries(props)) objectLevels(root, sub, path === '' ? key : `${path}.${key}`, out);
  }
  if (s.items && typeof s.items === 'object') objectLevels(root, s.items as Json, `${path}[]`, out);
  return out;
}

/** Every object schema with properties must forbid other properties (unknown fields are errors). */
function objectsAllowingExtras(root: Json, schema: Json = root, path = ''): string[] {
  const s = resolveRef(root, schema);
  const found: string[] = [];
  if (s.properties && s.additionalProperties !== false) found.push(path);
  for (const [key, sub] of Object.entries((s.properties ?? {}) as Record<string, Json>)) {
    found.push(...objectsAllowingExtras(root, sub, path === '' ? key : `${path}.${key}`));
  }
  if (s.items && typeof s.items === 'object') found.push(...objectsAllowingExtras(root, s.items as Json, `${path}[]`));
  return found;
}

describe('JSON Schemas match the TS manifest types', () => {
  for (const [kind, schema] of Object.entries(SCHEMAS_BY_KIND)) {
    it(`${kind}: same field names at every level`, () => {
      expect(objectLevels(schema as unknown as Json)).toEqual(EXPECTED[kind as keyof typeof EXPECTED]);
    });

    it(`${kind}: additionalProperties is false on every object`, () => {
      expect(objectsAllowingExtras(schema as unknown as Json)).toEqual([]);
    });

    it(`${kind}: apiVersion and kind are constants`, () => {
      const props = (schema as unknown as { properties: Record<string, Json> }).properties;
      expect(props.apiVersion?.const).toBe('orch/v1');
      expect(props.kind?.const).toBe(kind);
      expect((schema as unknown as Json).$id).toBe(`https://orch.dev/schemas/v1/${kind.toLowerCase()}.schema.json`);
    });
  }

  it('labels are a map of strings', () => {
    const metadata = (SCHEMAS_BY_KIND.Pool.properties.metadata as unknown as { properties: { labels: Json } }).properties;
    expect(metadata.labels.additionalProperties).toEqual({ type: 'string' });
  });
});
