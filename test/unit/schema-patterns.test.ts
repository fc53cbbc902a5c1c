import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type AnySchemaObject } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { INJECTION_SAMPLES, TABLES } from './helpers/value-samples.js';

/**
 * The schemas carry `pattern`s so editors flag bad values early; the typed checks in
 * value-types.ts are authoritative. They must agree where it matters: a schema must accept every
 * value the code accepts (or editors would flag valid manifests, and validation would report a
 * `schema.pattern` error the code does not explain), and both must reject every injection sample.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const FILES = ['pool', 'virtualhost', 'route', 'migration'];
type Json = Record<string, unknown>;
const schemas = FILES.map((f) => JSON.parse(readFileSync(join(ROOT, 'schemas', `${f}.schema.json`), 'utf8')) as Json);
const ajv = new Ajv2020({ strict: true });
for (const s of schemas) ajv.addSchema(s as AnySchemaObject);

/** Which typed check stands behind each patterned sub-schema. */
const PATTERNED: Record<string, keyof typeof TABLES> = {
  'pool#/$defs/resourceName': 'resourceName',
  'pool#/$defs/duration': 'duration',
  'pool#/$defs/bucketName': 'bucketName',
  'pool#/properties/spec/properties/description': 'description',
  'pool#/properties/spec/properties/members/items/properties/address': 'memberAddress',
  'pool#/properties/spec/properties/credentials/properties/accessKeyId/properties/env': 'envName',
  'pool#/properties/spec/properties/credentials/properties/accessKeyId/properties/file': 'filePath',
  'pool#/properties/spec/properties/credentials/properties/secretAccessKey/properties/env': 'envName',
  'pool#/properties/spec/properties/credentials/properties/secretAccessKey/properties/file': 'filePath',
  'virtualhost#/$defs/resourceName': 'resourceName',
  'virtualhost#/$defs/filePath': 'filePath',
  'virtualhost#/$defs/bucketName': 'bucketName',
  'virtualhost#/properties/spec/properties/serverNames/items': 'serverName',
  'virtualhost#/properties/spec/properties/address': 'bindAddress',
  'virtualhost#/properties/spec/properties/ipRules/properties/addresses/items': 'ipRule',
  'virtualhost#/$defs/duration': 'duration',
  'virtualhost#/properties/spec/properties/clientIdentities/items/properties/accessKeyId/properties/env': 'envName',
  'virtualhost#/properties/spec/properties/clientIdentities/items/properties/accessKeyId/properties/file': 'filePath',
  'virtualhost#/properties/spec/properties/clientIdentities/items/properties/secretAccessKey/properties/env': 'envName',
  'virtualhost#/properties/spec/properties/clientIdentities/items/properties/secretAccessKey/properties/file': 'filePath',
  'route#/$defs/resourceName': 'resourceName',
  'route#/properties/spec/properties/path': 'routePath',
  'route#/properties/spec/properties/keyPrefix': 'keyPrefix',
  'migration#/$defs/resourceName': 'resourceName',
  'migration#/properties/spec/properties/bucket': 'bucketName',
  'migration#/properties/spec/properties/bandwidthLimit': 'bandwidth',
  'migration#/properties/spec/properties/freezeBudget': 'duration',
};

function patternedPointers(schema: Json, pointer = ''): string[] {
  const out = typeof schema.pattern === 'string' ? [pointer] : [];
  for (const key of ['properties', '$defs']) {
    for (const [name, sub] of Object.entries((schema[key] ?? {}) as Record<string, Json>))
      out.push(...patternedPointers(sub, `${pointer}/${key}/${name}`));
  }
  if (schema.items && typeof schema.items === 'object') out.push(...patternedPointers(schema.items as Json, `${pointer}/items`));
  return out;
}

describe('schema patterns and typed checks agree', () => {
  it('every pattern in the schemas has a typed check behind it', () => {
    const found = schemas.flatMap((s, i) => patternedPointers(s).map((p) => `${FILES[i]}#${p}`)).sort();
    expect(found).toEqual(Object.keys(PATTERNED).sort());
  });

  for (const [where, table] of Object.entries(PATTERNED)) {
    const [file, pointer] = where.split('#') as [string, string];
    const validate = ajv.getSchema(`https://orch.dev/schemas/v1/${file}.schema.json#${pointer}`);
    const samples = TABLES[table];
    if (!samples) throw new Error(`no samples for ${table}`);

    it(`${where} accepts every value ${table} accepts`, () => {
      // "/" passes the path check only to be reported as rule.route-root-path.
      for (const v of samples.valid.filter((x) => !(table === 'routePath' && x === '/'))) {
        expect(validate?.(v), `${JSON.stringify(v)}`).toBe(true);
      }
    });

    if (samples.rejectsInjection !== false) {
      it(`${where} rejects every injection sample`, () => {
        for (const v of INJECTION_SAMPLES) expect(validate?.(v), JSON.stringify(v)).toBe(false);
      });
    }
  }
});
