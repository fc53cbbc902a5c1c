import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MANIFEST_DIAGNOSTIC_CODES } from '../../src/domain/manifests/diagnostic-codes.js';
import { BAD_CASES } from '../helpers/hostile-cases.js';
import { RULE_CASES } from './helpers/rule-cases.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SRC = join(ROOT, 'src', 'domain', 'manifests');
const CORPUS = join(ROOT, 'test', 'fixtures', 'bad');

/**
 * Safety nets: reported only when a schema rule about the form of a text has no typed check that
 * explains it (schema-patterns.test.ts keeps the two in agreement), or for a schema keyword the
 * error mapping does not know yet.
 */
const UNREACHABLE = new Set(['schema.pattern', 'schema.too-short', 'schema.invalid']);

function codesInSource(): Set<string> {
  const codes = new Set<string>();
  for (const file of readdirSync(SRC).filter((f) => f.endsWith('.ts') && f !== 'diagnostic-codes.ts')) {
    const text = readFileSync(join(SRC, file), 'utf8');
    for (const m of text.matchAll(/'((?:yaml|manifest|schema|value|ref|collision|rule|extra)\.[a-z0-9-]+)'/g)) codes.add(m[1] ?? '');
  }
  return codes;
}

describe('diagnostic codes', () => {
  const registry = Object.keys(MANIFEST_DIAGNOSTIC_CODES).sort();

  it('the registry lists exactly the codes the validation uses', () => {
    expect([...codesInSource()].sort()).toEqual(registry);
  });

  it('every reachable code has a rule test or a corpus case', () => {
    const tested = new Set(RULE_CASES.map((c) => c.code));
    // The hostile-input corpus (test/integration/hostile-corpus.test.ts) covers the file-level codes.
    for (const c of BAD_CASES) if (typeof c.code === 'string') tested.add(c.code);
    for (const dir of readdirSync(CORPUS)) {
      tested.add((JSON.parse(readFileSync(join(CORPUS, dir, 'expect.json'), 'utf8')) as { code: string }).code);
    }
    expect(registry.filter((c) => !UNREACHABLE.has(c) && !tested.has(c))).toEqual([]);
  });

  it('rule tests agree with the registry on severity', () => {
    for (const c of RULE_CASES) {
      const entry = MANIFEST_DIAGNOSTIC_CODES[c.code as keyof typeof MANIFEST_DIAGNOSTIC_CODES];
      expect(entry?.severity, c.code).toBe(c.severity ?? 'error');
    }
  });
});
