import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type AnySchemaObject } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { SCHEMAS_BY_KIND } from '../../src/domain/model/schemas.generated.js';

const ROOT = join(import.meta.dirname, '..', '..');
const FILES = {
  Pool: 'schemas/pool.schema.json',
  VirtualHost: 'schemas/virtualhost.schema.json',
  Route: 'schemas/route.schema.json',
  Migration: 'schemas/migration.schema.json',
} as const;

type Json = Record<string, unknown>;
const readSchema = (file: string): Json => JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as Json;

/** Every sub-schema with its JSON pointer; does not descend into data (examples, enum, const, default). */
function subSchemas(schema: Json, pointer = ''): { pointer: string; schema: Json }[] {
  const out = [{ pointer, schema }];
  const child = (key: string, value: unknown, p: string): void => {
    if (value && typeof value === 'object' && !Array.isArray(value)) out.push(...subSchemas(value as Json, p));
    void key;
  };
  for (const key of ['properties', '$defs'] as const) {
    for (const [name, sub] of Object.entries((schema[key] ?? {}) as Json)) child(name, sub, `${pointer}/${key}/${name}`);
  }
  for (const key of ['items', 'additionalProperties'] as const) child(key, schema[key], `${pointer}/${key}`);
  return out;
}

/** Field schemas (every property and every list item) must explain themselves to editors. */
function fieldSchemas(schema: Json): { pointer: string; schema: Json }[] {
  return subSchemas(schema).filter(({ pointer }) => /\/(properties\/[^/]+|items)$/.test(pointer));
}

const ajv = new Ajv2020({ allErrors: true, strict: true });
for (const file of Object.values(FILES)) ajv.addSchema(readSchema(file) as AnySchemaObject);

describe('schema examples', () => {
  for (const [kind, file] of Object.entries(FILES)) {
    const schema = readSchema(file);
    const id = schema.$id as string;

    it(`${kind}: every examples value validates against its own sub-schema`, () => {
      const withExamples = subSchemas(schema).filter((s) => Array.isArray(s.schema.examples));
      expect(withExamples.length).toBeGreaterThan(10);
      for (const { pointer, schema: sub } of withExamples) {
        const validate = ajv.getSchema(`${id}#${pointer}`);
        expect(validate, `no validator for ${pointer}`).toBeDefined();
        for (const example of sub.examples as unknown[]) {
          const ok = validate?.(example);
          expect(ok, `${file}#${pointer} example ${JSON.stringify(example)}: ${JSON.stringify(validate?.errors)}`).toBe(true);
        }
      }
    });

    it(`${kind}: every field has a description and examples`, () => {
      const missing = fieldSchemas(schema)
        .filter(({ schema: s }) => typeof s.description !== 'string' || !Array.isArray(s.examples) || s.examples.length === 0)
        .map(({ pointer }) => pointer);
      expect(missing).toEqual([]);
    });
  }
});

describe('src/domain/model/schemas.generated.ts', () => {
  it('holds the same schemas as the JSON files', () => {
    for (const [kind, file] of Object.entries(FILES)) {
      expect(SCHEMAS_BY_KIND[kind as keyof typeof FILES], file).toEqual(readSchema(file));
    }
  });

  it('is byte for byte what scripts/gen-schema-types.mjs writes', () => {
    // Exits non-zero (and execFileSync throws) when the file is out of date.
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'gen-schema-types.mjs'), '--check'], { stdio: 'pipe' });
  });
});
