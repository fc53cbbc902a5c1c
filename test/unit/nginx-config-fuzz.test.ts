import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NginxDirective } from '../../src/domain/nginx-config/nginx-ast.js';
import { NginxParseError } from '../../src/domain/nginx-config/nginx-parse-error.js';
import { parseNginxConfig } from '../../src/domain/nginx-config/parse-nginx-config.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { Gen, prng } from '../helpers/random-desired.js';

/**
 * The parser reads files orch did not write (hand-written trees, the reference tool's files,
 * files damaged on disk). Whatever the input: it returns a tree or throws a positioned
 * NginxParseError, nothing else, and it finishes quickly (it is linear; a hang would show here as
 * a blown time budget). Inputs: the golden rendered files mutated at random, and random token
 * soups. Seeds are fixed so a failure can be replayed.
 */
const GOLDEN = join(REPO_ROOT, 'test/golden/render');
/**
 * CPU time, not wall time (a loaded machine waits, it does not compute more): generous, but a
 * super-linear parser blows it on the large inputs below. A GC pause may land in one parse: 1 s base.
 */
const budgetMs = (length: number) => 1000 + (length / 1000) * 5;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function goldenConfs(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.conf')) out.push(readFileSync(p, 'utf8'));
    }
  };
  walk(GOLDEN);
  return out;
}

const INTERESTING = [
  '{',
  '}',
  ';',
  '"',
  "'",
  '#',
  '$',
  '\\',
  '\n',
  ' ',
  '\t',
  '\r',
  '(',
  ')',
  '${',
  'a',
  'location',
  '\u0000',
  'é',
  '\uFFFF',
];

function mutate(g: Gen, text: string): string {
  let s = text;
  const edits = g.int(1, 8);
  for (let k = 0; k < edits; k++) {
    const at = g.int(0, s.length);
    switch (g.int(0, 4)) {
      case 0: // delete a run of characters
        s = s.slice(0, at) + s.slice(at + g.int(1, 6));
        break;
      case 1: // insert an interesting character
        s = s.slice(0, at) + g.pick(INTERESTING) + s.slice(at);
        break;
      case 2: // insert a random code unit
        s = s.slice(0, at) + String.fromCharCode(g.int(0, 0xffff)) + s.slice(at);
        break;
      case 3: {
        // duplicate a slice somewhere else
        const from = g.int(0, s.length);
        const piece = s.slice(from, from + g.int(1, 40));
        s = s.slice(0, at) + piece + s.slice(at);
        break;
      }
      default: // truncate
        s = s.slice(0, at);
    }
  }
  return s;
}

function tokenSoup(g: Gen): string {
  const parts: string[] = [];
  const words = [
    'server',
    'location',
    'upstream',
    'if',
    '($a',
    '=',
    'b)',
    '"q w"',
    "'s'",
    '\\"',
    '$x',
    '${y}',
    'a}b',
    '#c',
    '~*',
    '^~',
    '@n',
    'return',
    '200',
  ];
  for (let i = g.int(0, 120); i > 0; i--) parts.push(g.bool(0.7) ? g.pick(words) : g.pick(INTERESTING));
  return parts.join(g.pick(['', ' ', '\n']));
}

/** Parses and checks the only outcomes allowed; returns the config or null after a parse error. */
function parseChecked(text: string, file = 'fuzz.conf') {
  const started = cpuMs();
  try {
    return parseNginxConfig(text, { file });
  } catch (e) {
    if (!(e instanceof NginxParseError)) throw new Error(`non-parse error ${String(e)} for input ${JSON.stringify(text)}`, { cause: e });
    const lines = text.split('\n').length;
    expect(e.file).toBe(file);
    expect(e.line).toBeGreaterThanOrEqual(1);
    expect(e.line).toBeLessThanOrEqual(lines);
    expect(e.column).toBeGreaterThanOrEqual(1);
    return null;
  } finally {
    const took = cpuMs() - started;
    // Over budget fails the test whatever the parse did, on purpose.
    if (took > budgetMs(text.length)) {
      // eslint-disable-next-line no-unsafe-finally
      throw new Error(`parsing took ${took.toFixed(0)} ms of CPU for an input of ${text.length} characters`);
    }
  }
}

/** Invariant of successful parses: a directive's source range re-parses to the same directive. */
function checkRanges(text: string, directives: NginxDirective[]): void {
  for (const d of directives) {
    const again = parseNginxConfig(text.slice(...d.range)).directives;
    expect(again).toHaveLength(1);
    expect([again[0]!.name, again[0]!.args, again[0]!.block?.length]).toEqual([d.name, d.args, d.block?.length]);
  }
}

describe('nginx parser fuzz', () => {
  const goldens = goldenConfs();

  it('parses every golden rendered file', () => {
    expect(goldens.length).toBeGreaterThan(10);
    for (const text of goldens) {
      const cfg = parseChecked(text);
      expect(cfg).not.toBeNull();
      checkRanges(text, cfg!.directives);
    }
  });

  it('mutated golden files: a tree or a positioned NginxParseError, always quickly', () => {
    let parsed = 0;
    let failed = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const g = new Gen(prng(seed));
      const text = mutate(g, g.pick(goldens));
      const cfg = parseChecked(text);
      if (cfg === null) failed++;
      else {
        parsed++;
        checkRanges(text, cfg.directives);
      }
    }
    // Both outcomes must be exercised, or the mutations are too weak (or too strong) to mean anything.
    expect(parsed).toBeGreaterThan(100);
    expect(failed).toBeGreaterThan(100);
  });

  it('random token soups', () => {
    for (let seed = 1; seed <= 3000; seed++) parseChecked(tokenSoup(new Gen(prng(seed))));
  });

  it('pathological sizes stay linear: deep nesting, long words, many comments', () => {
    const deep = 'a {'.repeat(50_000) + '}'.repeat(50_000);
    expect(parseChecked(deep)).not.toBeNull();
    expect(parseChecked('a {'.repeat(50_000))).toBeNull();
    expect(parseChecked(`a ${'x'.repeat(1_000_000)};`)!.directives[0]!.args[0]).toHaveLength(1_000_000);
    expect(parseChecked('#\n'.repeat(200_000))!.comments).toHaveLength(200_000);
    expect(parseChecked(`a "${'\\"'.repeat(200_000)}`)).toBeNull();
  });

  it('random include graphs through a resolver terminate', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const g = new Gen(prng(seed));
      const files = Array.from({ length: 5 }, (_, i) => `f${i}.conf`);
      const texts = new Map(
        files.map((f) => [
          f,
          Array.from({ length: g.int(0, 3) }, () => `include ${g.pick(files)};`).join('\n') + (g.bool() ? '\na 1;' : ''),
        ]),
      );
      try {
        parseNginxConfig(texts.get('f0.conf')!, {
          file: 'f0.conf',
          includeResolver: (p) => (texts.has(p) ? [{ file: p, text: texts.get(p)! }] : null),
        });
      } catch (e) {
        expect(e).toBeInstanceOf(NginxParseError);
      }
    }
  });
});
