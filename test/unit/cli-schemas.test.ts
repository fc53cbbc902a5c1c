import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { CLI_SCHEMAS_DIR, contractAjv, contractValidator } from '../helpers/json-contract.js';

const files = readdirSync(CLI_SCHEMAS_DIR).filter((f) => f.endsWith('.schema.json'));
const outputs = files.filter((f) => f !== 'common.schema.json').map((f) => f.replace('.schema.json', ''));

type Node = Record<string, unknown>;

/** Every object schema in a schema, with its path. */
function objects(node: unknown, path: string, out: Array<[string, Node]>): Array<[string, Node]> {
  if (Array.isArray(node)) node.forEach((n, i) => objects(n, `${path}/${i}`, out));
  else if (node && typeof node === 'object') {
    const n = node as Node;
    if (n['type'] === 'object') out.push([path, n]);
    for (const [k, v] of Object.entries(n)) objects(v, `${path}/${k}`, out);
  }
  return out;
}

describe('schemas/cli: the JSON contracts (docs/json.md)', () => {
  it('every schema compiles with ajv in strict mode, with an $id named after its file', () => {
    contractAjv();
    for (const f of files) {
      const s = JSON.parse(readFileSync(join(CLI_SCHEMAS_DIR, f), 'utf8')) as Node;
      expect(s['$id']).toBe(`https://orch.dev/schemas/cli/${f}`);
    }
    for (const name of outputs) expect(typeof contractValidator(name)).toBe('function');
  });

  it('no schema accepts anything: objects closed, every field required (buckets identities excepted), format_version first', () => {
    for (const f of files) {
      const s = JSON.parse(readFileSync(join(CLI_SCHEMAS_DIR, f), 'utf8')) as Node;
      for (const [path, o] of objects(s, f, [])) {
        const props = o['properties'] as Node | undefined;
        if (!props) {
          // A map (keys are data): its values are typed.
          expect(o['additionalProperties'], `${path}: a map with typed values`).toBeTypeOf('object');
          continue;
        }
        expect(o['additionalProperties'], `${path}: closed`).toBe(false);
        const optional = path === 'buckets.schema.json' ? ['identities'] : [];
        expect([...(o['required'] as string[])].sort(), `${path}: every field required`).toEqual(
          Object.keys(props)
            .filter((k) => !optional.includes(k))
            .sort(),
        );
        for (const k of Object.keys(props)) expect(k, `${path}: snake_case field names`).toMatch(/^[a-z][a-z0-9_]*$/);
      }
      if (f !== 'common.schema.json') {
        expect(Object.keys(s['properties'] as Node)[0], `${f}: format_version first`).toBe('format_version');
        expect((s['required'] as string[]).includes('format_version')).toBe(true);
      }
    }
  });

  it('a document that breaks the contract is refused', () => {
    const v = contractValidator('suspend');
    const ok = { format_version: '1.0', suspended: { since: 'x', by: 'me@host', reason: null }, already_suspended: false };
    expect(v(ok)).toBe(true);
    expect(v({ ...ok, extra: 1 })).toBe(false);
    expect(v({ ...ok, format_version: '2.0' })).toBe(false);
    const { already_suspended: _a, ...missing } = ok;
    expect(v(missing)).toBe(false);
    expect(v({ ...ok, suspended: { ...ok.suspended, reason: undefined } })).toBe(false);
  });

  it('docs/json.md has one section per output, naming its schema', () => {
    const md = readFileSync(join(REPO_ROOT, 'docs', 'json.md'), 'utf8');
    for (const name of outputs)
      expect(md, `docs/json.md names schemas/cli/${name}.schema.json`).toContain(`schemas/cli/${name}.schema.json`);
  });
});
