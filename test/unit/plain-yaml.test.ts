import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsyaml from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePlainYaml } from '../../src/domain/manifests/plain-yaml.js';
import { REPO_ROOT } from '../helpers/cli.js';
// @ts-expect-error plain ESM helper of the benchmark, without types
import { generateFleet, prng } from '../bench/fleet.mjs';

/**
 * parsePlainYaml must return exactly what js-yaml returns (CORE schema, duplicate keys refused)
 * for every text it accepts, and may refuse anything (the caller then uses js-yaml). Compared on
 * every manifest of the repository, on a generated fleet, on generated texts full of YAML's
 * traps, and on random mutations of real files. "Exactly": the same shapes, the same keys in the
 * same order, and leaves equal by Object.is (so -0, NaN and 1 vs "1" differ).
 */
function reference(text: string): unknown[] | 'throws' {
  try {
    return jsyaml.loadAll(text, undefined, { schema: jsyaml.CORE_SCHEMA, json: false });
  } catch {
    return 'throws';
  }
}

function same(a: unknown, b: unknown, path = '$'): string | null {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return `${path}: array vs not`;
    if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = same(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (a !== null && typeof a === 'object' && b !== null && typeof b === 'object') {
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return `${path}: prototypes differ`;
    const ka = Reflect.ownKeys(a);
    const kb = Reflect.ownKeys(b);
    if (ka.join('\u0000') !== kb.join('\u0000')) return `${path}: keys ${ka.map(String).join(',')} vs ${kb.map(String).join(',')}`;
    for (const k of ka) {
      const d = same((a as Record<string | symbol, unknown>)[k], (b as Record<string | symbol, unknown>)[k], `${path}.${String(k)}`);
      if (d) return d;
    }
    return null;
  }
  return Object.is(a, b) ? null : `${path}: ${String(a)} (${typeof a}) vs ${String(b)} (${typeof b})`;
}

/** Compares one text; returns whether the fast reader accepted it. */
function check(text: string): boolean {
  const got = parsePlainYaml(text);
  if (got === null) return false;
  const want = reference(text);
  if (want === 'throws') throw new Error(`accepted a text js-yaml refuses:\n${text}`);
  const d = same(got, want);
  if (d) throw new Error(`differs from js-yaml at ${d}:\n${text}`);
  return true;
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

const KEYS = ['a', 'b', 'name', 'spec', 'x.y', 'a-b', 'a_b', '1', '012', '0x10', '1.0', '.5', 'true', 'True', 'null', 'NULL', '~', 'constructor', 'toString', '__proto__', '-a', '"q"', "'q'", 'a b', 'k:', 'é'];
const SCALARS = [
  'v', 'hello world', 'a, b', 'a:b', 'a: b', 'a :b', 'a #b', 'a#b', '#x', '/b00/', '127.0.0.1:9000', '10.0.0.0/8', '::1', '"::1"', '*.example.com', '~', 'null', 'Null', 'nULL',
  'true', 'TRUE', 'tRUE', 'yes', 'no', 'on', '0', '-0', '+0', '-0.0', '012', '0o17', '0x1F', '0b101', '1_000', '+12', '-12', '-.5', '.5', '5.', '1e3', '1.5e-3', '.inf', '-.Inf', '.NaN',
  '12345678901234567890', '3.14159', '10s', '2m', '-', '--', '---', '...', '- x', '-x', '?x', '? x', ':x', '@x', '`x`', '%x', '!x', '!!str 1', '&a x', '*a', '|', '>', '|-', '[a, b]', '[]', '[ ]',
  '[a,,b]', '[a, b,]', '["x", \'y\']', '[1, true, null, 0x10]', '[a b]', '[a:b]', '[[a]]', '{a: 1}', '{}', '""', "''", '"a b"', "'it''s'", '"a\\"b"', '"a\\nb"', "'a\"b'", '"a', "'a", 'a ', ' a', 'a\tb',
  '(x)', '$VAR', 'x=y', 'a%b', '^x', 'é', 'a\u00a0b', 'a\rb',
];

function generate(r: { next(): number; int(lo: number, hi: number): number; pick<T>(a: T[]): T; chance(p: number): boolean }): string {
  const lines: string[] = [];
  const block = (indent: number, depth: number): void => {
    const pad = ' '.repeat(indent);
    const seq = depth > 0 && r.chance(0.3);
    const n = r.int(1, 4);
    for (let i = 0; i < n; i++) {
      if (r.chance(0.1)) lines.push(`${' '.repeat(r.int(0, 6))}# comment ${r.pick(SCALARS)}`);
      if (r.chance(0.05)) lines.push(r.chance(0.5) ? '' : '   ');
      const jitter = r.chance(0.05) ? ' '.repeat(r.int(0, 3)) : '';
      if (seq) {
        if (r.chance(0.5)) lines.push(`${pad}${jitter}- ${r.pick(SCALARS)}`);
        else {
          lines.push(`${pad}${jitter}- ${r.pick(KEYS)}: ${r.pick(SCALARS)}`);
          if (r.chance(0.5)) lines.push(`${pad}  ${r.pick(KEYS)}: ${r.pick(SCALARS)}`);
          if (r.chance(0.2) && depth < 4) {
            lines.push(`${pad}  ${r.pick(KEYS)}:`);
            block(indent + r.int(3, 5), depth + 1);
          }
        }
      } else if (r.chance(0.3) && depth < 4) {
        lines.push(`${pad}${jitter}${r.pick(KEYS)}:${r.chance(0.05) ? ' ' : ''}`);
        if (r.chance(0.9)) block(indent + r.pick([1, 2, 2, 2, 4]), depth + 1);
      } else {
        lines.push(`${pad}${jitter}${r.pick(KEYS)}: ${r.pick(SCALARS)}`);
      }
    }
  };
  if (r.chance(0.3)) lines.push('# yaml-language-server: $schema=../schemas/x.json');
  if (r.chance(0.05)) lines.push(r.pick(['---', '--- ', '%YAML 1.2', '...']));
  block(0, 0);
  if (r.chance(0.05)) lines.push(r.pick(['---', '...', 'a: 1']));
  const text = lines.join(r.chance(0.03) ? '\r\n' : '\n');
  return r.chance(0.8) ? `${text}\n` : text;
}

describe('plain YAML reader', () => {
  const work = mkdtempSync(join(tmpdir(), 'orch-plain-yaml-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('agrees with js-yaml on every manifest of the repository, and reads most of them', () => {
    const files = [...yamlFiles(join(REPO_ROOT, 'examples')), ...yamlFiles(join(REPO_ROOT, 'test/fixtures'))];
    expect(files.length).toBeGreaterThan(200);
    const accepted = files.filter((f) => check(readFileSync(f, 'utf8'))).length;
    expect(accepted).toBeGreaterThan(files.length * 0.4);
  });

  it('agrees with js-yaml on a generated fleet, and reads nearly all of it', () => {
    const dir = join(work, 'fleet');
    generateFleet({ dir, virtualHosts: 60, routesPerHost: 10, pools: 30, basePort: 20000 });
    const files = yamlFiles(dir);
    expect(files.length).toBeGreaterThan(600);
    const accepted = files.filter((f) => check(readFileSync(f, 'utf8'))).length;
    expect(accepted).toBeGreaterThan(files.length * 0.95);
  });

  it('agrees with js-yaml on generated texts full of traps', () => {
    const r = prng(20260101);
    let accepted = 0;
    const total = 30_000;
    for (let i = 0; i < total; i++) if (check(generate(r))) accepted++;
    // Enough accepted texts for the comparison to mean something, and enough refused.
    expect(accepted).toBeGreaterThan(total * 0.05);
    expect(accepted).toBeLessThan(total * 0.95);
  });

  it('agrees with js-yaml on random mutations of real files', () => {
    const r = prng(7);
    const files = [...yamlFiles(join(REPO_ROOT, 'examples')), ...yamlFiles(join(REPO_ROOT, 'test/fixtures/good'))].map((f) => readFileSync(f, 'utf8'));
    const inserts = [' ', '  ', '\n', '-', '- ', ':', ': ', '#', ' #', '"', "'", '[', ']', ',', '{', '*', '&', '!', '|', '>', '?', '~', '0', '1', '.', 'x', '\t', '\r', '---\n', '__proto__: 1\n'];
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      let text = r.pick(files);
      for (let k = r.int(1, 3); k > 0; k--) {
        const at = r.int(0, text.length);
        const cut = r.chance(0.5) ? r.int(0, 3) : 0;
        text = text.slice(0, at) + (r.chance(0.7) ? r.pick(inserts) : '') + text.slice(at + cut);
      }
      if (check(text)) accepted++;
    }
    expect(accepted).toBeGreaterThan(1000);
  });

  it('refuses what it does not know instead of guessing', () => {
    for (const text of ['a: 1\na: 2\n', 'a: &x 1\nb: *x\n', 'a: |\n  x\n', 'a:\n- 1\n', '---\na: 1\n', 'a: 1 # c\n', '  a: 1\n', 'a:\tb\n', 'a: b\r\n', '__proto__: 1\n', 'a: {b: 1}\n', 'a: "x\\ny"\n', '- a\n', 'just text\n', '', '# only a comment\n']) {
      expect(parsePlainYaml(text), JSON.stringify(text)).toBeNull();
    }
    expect(parsePlainYaml('a: 012\nb: [1, "2", x]\nc:\n  - d: ~\n    e: .inf\n')).toEqual([{ a: 12, b: [1, '2', 'x'], c: [{ d: null, e: Infinity }] }]);
  });
});
