import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { expect } from 'vitest';
import { REPO_ROOT } from './cli.js';

export const CLI_SCHEMAS_DIR = join(REPO_ROOT, 'schemas', 'cli');

let ajv: Ajv2020 | null = null;
const compiled = new Map<string, ValidateFunction>();

/** One strict ajv holding every schema of schemas/cli/ (they refer to common.schema.json and to each other). */
export function contractAjv(): Ajv2020 {
  if (ajv) return ajv;
  const a = new Ajv2020({ allErrors: true, strict: true });
  a.addFormat('date-time', {
    type: 'string',
    validate: (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)),
  });
  for (const f of readdirSync(CLI_SCHEMAS_DIR).filter((n) => n.endsWith('.schema.json')))
    a.addSchema(JSON.parse(readFileSync(join(CLI_SCHEMAS_DIR, f), 'utf8')) as object);
  ajv = a;
  return a;
}

export function contractValidator(name: string): ValidateFunction {
  let v = compiled.get(name);
  if (!v) {
    const found = contractAjv().getSchema(`https://orch.dev/schemas/cli/${name}.schema.json`);
    if (!found) throw new Error(`no schema schemas/cli/${name}.schema.json`);
    v = found;
    compiled.set(name, v);
  }
  return v;
}

/**
 * Parses a command's standard output and checks it against schemas/cli/<name>.schema.json (the
 * contract documented in docs/json.md); returns the document.
 */
export function expectContract<T = Record<string, unknown>>(name: string, stdout: string): T {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch (e) {
    throw new Error(`${name}: standard output is not one JSON document (${(e as Error).message}):\n${stdout.slice(0, 2000)}`, { cause: e });
  }
  const validate = contractValidator(name);
  expect(validate(doc), `${name}: ${JSON.stringify(validate.errors, null, 2)}\n${stdout.slice(0, 3000)}`).toBe(true);
  return doc as T;
}
