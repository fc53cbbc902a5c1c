import jsyaml from 'js-yaml';

/**
 * A fast reader for the plain YAML most manifests are written in: one document, a mapping at
 * the top, nested block mappings and block sequences indented with spaces, and single-line
 * values that are plain scalars, simple quoted strings or flow lists of those. It returns what
 * js-yaml's loadAll (CORE schema, duplicate keys refused) returns for such a text, or null for
 * anything else, and the caller then uses js-yaml itself.
 *
 * How it stays exact: it accepts a deliberately small grammar and refuses (null) every text with
 * anything outside it: tabs, carriage returns, non-ASCII or control characters, `#` anywhere but
 * in a comment line, document markers and directives, anchors, aliases, tags, block scalars,
 * flow mappings, multi-line values, escapes in quoted strings, compact or nested sequences,
 * trailing spaces, duplicate keys, `__proto__` keys, indentation it does not expect. Plain
 * scalars (values and keys) are resolved by js-yaml's own implicit types of the CORE schema, in
 * js-yaml's order, so `012`, `0x1F`, `~`, `True`, `.inf` or `1e3` become what js-yaml makes of
 * them; keys are String() of the resolved key, as js-yaml stores them. Differential tests
 * (test/unit/plain-yaml.test.ts) compare it with js-yaml on every fixture, a generated fleet and
 * many generated and mutated texts.
 *
 * Measured on 11,200 small manifests (CPU time): about half of js-yaml's once warm (~110 ms
 * against ~220 ms), 10-20% less on the first pass of a process, where both are dominated by JIT
 * warm-up and garbage collection.
 */
interface ImplicitType {
  resolve(data: string): boolean;
  construct(data: string): unknown;
}

const IMPLICIT: ImplicitType[] | null = (() => {
  const list = (jsyaml.CORE_SCHEMA as unknown as { compiledImplicit?: unknown }).compiledImplicit;
  if (!Array.isArray(list) || list.length === 0) return null;
  for (const t of list as Array<Partial<ImplicitType>>) if (typeof t.resolve !== 'function' || typeof t.construct !== 'function') return null;
  return list as ImplicitType[];
})();

/** What js-yaml makes of a plain scalar: the first implicit type that resolves it, else the text. */
function resolvePlain(text: string): unknown {
  let value = resolved.get(text);
  if (value === undefined && !resolved.has(text)) {
    value = text;
    for (const type of IMPLICIT!) {
      if (type.resolve(text)) {
        value = type.construct(text);
        break;
      }
    }
    if (resolved.size >= RESOLVED_MAX) resolved.clear();
    resolved.set(text, value);
  }
  return value;
}

/**
 * Resolutions already made (keys and many values repeat across thousands of files). Only
 * primitives are cached: the implicit types of the CORE schema construct null, booleans, numbers.
 */
const resolved = new Map<string, unknown>();
const RESOLVED_MAX = 50_000;

/** Thrown inside the reader for "not in the grammar"; never escapes parsePlainYaml. */
const REFUSE = Symbol('refuse');

interface Line {
  indent: number;
  text: string;
}

/** A character the reader does not accept anywhere: anything but printable ASCII and line feeds. */
const NOT_PRINTABLE_ASCII = /[^\x20-\x7e\n]/;
/** `key:` or `key: value`; the key a conservative plain word. */
const ENTRY = /^([A-Za-z0-9_][A-Za-z0-9_./-]{0,127}):(?: (.*))?$/;
/** A plain scalar in block context, single line: a safe first character, no `: `, no trailing space or `:`. */
const PLAIN_BLOCK = /^(?:[A-Za-z0-9_./~$(]|[-+][0-9.])[A-Za-z0-9_./~$()@+=%^:, -]*$/;
/** A plain scalar inside a flow list: no spaces, commas, brackets or colons. */
const PLAIN_FLOW = /^(?:[A-Za-z0-9_./~$(]|[-+][0-9.])[A-Za-z0-9_./~$()@+=%^-]*$/;
const DOUBLE_QUOTED = /^"[^"\\]*"$/;
const SINGLE_QUOTED = /^'[^']*'$/;

/**
 * The documents of `text` as js-yaml's loadAll returns them (always one here), or null when the
 * text is not in the grammar this reader knows.
 */
export function parsePlainYaml(text: string): unknown[] | null {
  if (IMPLICIT === null || NOT_PRINTABLE_ASCII.test(text)) return null;
  if (text.includes('#') && !onlyCommentHashes(text)) return null;
  const lines = contentLines(text);
  if (lines === null || lines.length === 0 || lines[0]!.indent !== 0) return null;
  try {
    const reader = new Reader(lines);
    const value = reader.mapping(0, 0);
    if (reader.next !== lines.length) return null;
    return [value];
  } catch (e) {
    if (e === REFUSE) return null;
    throw e;
  }
}

/** True when every `#` of the text starts a comment line (only spaces before it). */
function onlyCommentHashes(text: string): boolean {
  for (let i = text.indexOf('#'); i >= 0; i = text.indexOf('#', i + 1)) {
    for (let j = i - 1; j >= 0 && text[j] !== '\n'; j--) if (text[j] !== ' ') return false;
  }
  return true;
}

/** The lines that hold content (not blank, not comments), or null for document markers and directives. */
function contentLines(text: string): Line[] | null {
  const out: Line[] = [];
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    let indent = 0;
    while (indent < line.length && line.charCodeAt(indent) === 32) indent++;
    if (indent === line.length || line.charCodeAt(indent) === 35 /* # */) continue;
    if (indent === 0 && (line.startsWith('---') || line.startsWith('...') || line.startsWith('%'))) return null;
    out.push({ indent, text: indent === 0 ? line : line.slice(indent) });
  }
  return out;
}

class Reader {
  next = 0;

  constructor(private readonly lines: Line[]) {}

  /** The block mapping whose keys are at `indent`, starting at line `this.next`. */
  mapping(indent: number, depth: number): Record<string, unknown> {
    if (depth > 50) throw REFUSE;
    const out: Record<string, unknown> = {};
    const lines = this.lines;
    while (this.next < lines.length) {
      const line = lines[this.next]!;
      if (line.indent < indent) break;
      if (line.indent > indent) throw REFUSE;
      const m = ENTRY.exec(line.text);
      if (!m) throw REFUSE;
      const key = String(resolvePlain(m[1]!));
      if (key === '__proto__' || Object.prototype.hasOwnProperty.call(out, key)) throw REFUSE;
      this.next++;
      out[key] = m[2] === undefined ? this.nested(indent, depth) : this.inline(m[2], indent);
    }
    return out;
  }

  /** The value of `key:` (nothing after the colon): a more indented block, or null. */
  private nested(indent: number, depth: number): unknown {
    const line = this.lines[this.next];
    if (!line || line.indent < indent) return null;
    if (line.indent === indent) {
      if (line.text.startsWith('-')) throw REFUSE; // a sequence at the key's indentation
      return null;
    }
    return line.text.startsWith('- ') ? this.sequence(line.indent, depth + 1) : this.mapping(line.indent, depth + 1);
  }

  /** The block sequence whose `- ` are at `indent`. */
  private sequence(indent: number, depth: number): unknown[] {
    if (depth > 50) throw REFUSE;
    const out: unknown[] = [];
    const lines = this.lines;
    while (this.next < lines.length) {
      const line = lines[this.next]!;
      if (line.indent < indent) break;
      if (line.indent > indent || !line.text.startsWith('- ')) throw REFUSE;
      const item = line.text.slice(2);
      if (ENTRY.test(item)) {
        // `- key: value`: a mapping whose keys are two columns further in.
        lines[this.next] = { indent: indent + 2, text: item };
        out.push(this.mapping(indent + 2, depth + 1));
      } else {
        this.next++;
        out.push(this.inline(item, indent));
      }
    }
    return out;
  }

  /** A value written on its own line after `key: ` or `- `; nothing more indented may follow it. */
  private inline(text: string, indent: number): unknown {
    const following = this.lines[this.next];
    if (following && following.indent > indent) throw REFUSE;
    if (text.startsWith('[')) {
      if (!text.endsWith(']')) throw REFUSE;
      const inner = text.slice(1, -1);
      if (inner === '') return [];
      return inner.split(',').map((raw) => flowItem(raw.trim()));
    }
    return scalar(text, PLAIN_BLOCK);
  }
}

function flowItem(text: string): unknown {
  return scalar(text, PLAIN_FLOW);
}

function scalar(text: string, plain: RegExp): unknown {
  const first = text.charCodeAt(0);
  if (first === 34 /* " */) {
    if (!DOUBLE_QUOTED.test(text)) throw REFUSE;
    return text.slice(1, -1);
  }
  if (first === 39 /* ' */) {
    if (!SINGLE_QUOTED.test(text)) throw REFUSE;
    return text.slice(1, -1);
  }
  if (!plain.test(text) || text.endsWith(' ') || text.endsWith(':') || text.includes(': ')) throw REFUSE;
  return resolvePlain(text);
}
