import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, Scalar, type Document, type Node } from 'yaml';
import type { Diagnostic, SourcePosition } from '../diagnostics.js';

/** One manifest file's text, as read by the filesystem adapter. */
export interface SourceText {
  /** Display path (relative to the working directory when possible). */
  path: string;
  text: string;
}

export type FieldPath = ReadonlyArray<string | number>;

/**
 * Finds where a field of a document is written. `target: 'key'` points at the key of a mapping
 * entry (used for unknown fields), `'value'` at its value. A path that does not exist resolves to
 * its nearest existing ancestor, so every diagnostic gets a position.
 *
 * `target: 'content'` points at the first character of a string value's content: for a block
 * scalar (`|`, `>`) that is the line after the header, at the block's indentation; for a quoted
 * scalar the character after the opening quote. For a literal block scalar (`|`), line N of the
 * value is then exactly `line + N` of the file, which lets errors inside verbatim text (extra
 * blocks) point at the right manifest line.
 *
 * With `contentOffset` (and `target: 'content'`), the position of that character of the string's
 * value, whatever the scalar's style: quoted (escapes such as `\"` or `\n`, `''`), plain or folded
 * (line folding) and literal scalars all map back to the file's line and column (see
 * contentCharPosition).
 */
export type PositionLookup = (path: FieldPath, target?: 'key' | 'value' | 'content', contentOffset?: number) => SourcePosition;

export interface ParsedDocument {
  file: string;
  /** 0-based index of the document in its file. */
  index: number;
  /** Plain JS value of the document. */
  value: unknown;
  at: PositionLookup;
}

export interface ParseResult {
  documents: ParsedDocument[];
  diagnostics: Diagnostic[];
}

/**
 * Hard limits of the YAML parse, enforced on what the `yaml` parser built (never by scanning the
 * text): an alias bomb, a deep nesting or a flood of documents is refused with a position instead
 * of eating memory and time.
 */
export const YAML_LIMITS = {
  /** Alias expansions per document (the parser's own maxAliasCount). */
  aliases: 50,
  /** Nesting of mappings and sequences. */
  depth: 64,
  /** Documents in one file. */
  documents: 50_000,
  /** YAML errors reported per file: the rest are counted, not listed. */
  errorsPerFile: 10,
} as const;

/** The options of every parse of a manifest text (the lazy position parse uses the same). */
const PARSE_OPTIONS = { prettyErrors: false, uniqueKeys: true, version: '1.2', schema: 'core', merge: false, strict: true } as const;

/**
 * Parses every YAML document of every source with the `yaml` document API, which keeps source
 * positions; YAML syntax errors become positioned diagnostics. Duplicate keys are errors; tags
 * other than the core schema's (`!include`, `!!binary`...) are refused; aliases, nesting and documents are bounded (YAML_LIMITS).
 */
export function parseManifestSources(sources: readonly SourceText[]): ParseResult {
  const documents: ParsedDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const source of sources) parseSource(source, documents, diagnostics);
  return { documents, diagnostics };
}

/**
 * The parsed documents of a source from their values, as parseManifestSources made them in an
 * earlier run (the validation cache keeps values, not position lookups): positions come from a
 * `yaml` parse of the text made on first use, which gives the same positions as the eager one.
 */
export function documentsFromValues(source: SourceText, values: ReadonlyArray<{ index: number; value: unknown }>): ParsedDocument[] {
  const out: ParsedDocument[] = [];
  const lookupFor = lazyLookups(source);
  for (const { index, value } of values)
    out.push({ file: source.path, index, value, at: (path, target, offset) => lookupFor(index)(path, target, offset) });
  return out;
}

/** Position lookups of a source's documents by index, from one `yaml` parse made on first use. */
function lazyLookups(source: SourceText): (index: number) => PositionLookup {
  let docs: Document[] | null = null;
  let lineCounter: LineCounter | null = null;
  const lookups = new Map<number, PositionLookup>();
  const lookupFor = (index: number): PositionLookup => {
    let lookup = lookups.get(index);
    if (!lookup) {
      if (!docs) {
        lineCounter = new LineCounter();
        docs = parseAllDocuments(source.text, { ...PARSE_OPTIONS, lineCounter }) as unknown as Document[];
        if (!Array.isArray(docs)) docs = [];
      }
      const lc = lineCounter!;
      const toPos = (offset: number): SourcePosition => {
        const lp = lc.linePos(offset);
        return { file: source.path, line: lp.line, column: lp.col };
      };
      const doc = docs[index];
      lookup = doc ? makeLookup(doc, toPos, source.text) : () => ({ file: source.path, line: 1, column: 1 });
      lookups.set(index, lookup);
    }
    return lookup;
  };
  return lookupFor;
}

function parseSource(source: SourceText, documents: ParsedDocument[], diagnostics: Diagnostic[]): void {
  const lineCounter = new LineCounter();
  const toPos = (offset: number): SourcePosition => {
    const lp = lineCounter.linePos(offset);
    return { file: source.path, line: lp.line, column: lp.col };
  };
  const fileDiagnostics: Diagnostic[] = [];
  const limit = (message: string, hint: string, offset: number, code = 'yaml.limit'): void => {
    fileDiagnostics.push({ severity: 'error', code, message, hint, source: toPos(offset) });
  };
  try {
    const docs = parseAllDocuments(source.text, { ...PARSE_OPTIONS, lineCounter });
    if (!Array.isArray(docs)) return; // an EmptyStream: a file with no documents at all
    if (docs.length > YAML_LIMITS.documents) {
      const extra = docs[YAML_LIMITS.documents];
      limit(
        `the file holds ${docs.length} YAML documents; at most ${YAML_LIMITS.documents} are read from one file`,
        'Split the manifests into several files.',
        extra?.range[0] ?? 0,
      );
      diagnostics.push(...fileDiagnostics);
      return;
    }
    let index = 0;
    for (const doc of docs) {
      const docIndex = index++;
      if (doc.errors.length > 0) {
        for (const err of doc.errors) {
          fileDiagnostics.push({
            severity: 'error',
            code: 'yaml.syntax',
            message: `YAML syntax error: ${firstLine(err.message)}`,
            hint: 'Fix the YAML syntax at this position (indentation, quoting, a missing colon).',
            source: toPos(err.pos[0]),
          });
        }
        continue;
      }
      if (doc.contents === null) continue;
      const shape = checkShape(doc);
      if (shape) {
        if (shape.kind === 'tag')
          limit(
            `the tag ${shape.tag} is not allowed in a manifest`,
            'Manifests are plain YAML: remove the tag and write the value itself (orch reads no other file through a tag such as !include).',
            shape.offset,
            'yaml.tag',
          );
        else
          limit(
            `mappings and lists are nested more than ${YAML_LIMITS.depth} levels deep`,
            'No manifest field nests that deep; check the indentation or the brackets here.',
            shape.offset,
          );
        continue;
      }
      let value: unknown;
      try {
        value = doc.toJS({ maxAliasCount: YAML_LIMITS.aliases }) as unknown;
      } catch (e) {
        limit(
          `YAML aliases expand too much: ${firstLine((e as Error).message)}`,
          `Aliases (*name) may expand to at most ${YAML_LIMITS.aliases} copies per document; write the values out.`,
          doc.range[0],
        );
        continue;
      }
      if (value === null || value === undefined) continue; // a document holding only comments
      documents.push({ file: source.path, index: docIndex, value, at: makeLookup(doc, toPos, source.text) });
    }
  } catch (e) {
    // The parser itself gave up (a RangeError on a pathological text): still the file's fault.
    limit(
      `the YAML parser could not read this file (${firstLine((e as Error).message)})`,
      'Check that the file is a YAML manifest; simplify the nesting or split the file.',
      0,
    );
  }
  const errors = fileDiagnostics.length;
  if (errors > YAML_LIMITS.errorsPerFile) {
    const shown = fileDiagnostics.slice(0, YAML_LIMITS.errorsPerFile);
    const last = shown[shown.length - 1];
    if (last) last.message += ` (and ${errors - YAML_LIMITS.errorsPerFile} more YAML errors in this file, not listed)`;
    diagnostics.push(...shown);
  } else diagnostics.push(...fileDiagnostics);
}

/** The YAML 1.2 core schema's own tags (`!!str 123` is plain YAML); every other tag is refused. */
const CORE_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

type ShapeProblem = { kind: 'tag'; tag: string; offset: number } | { kind: 'depth'; offset: number };

/** The first explicit tag or too-deep collection of a document, walked without recursion. */
function checkShape(doc: Document): ShapeProblem | null {
  const stack: Array<{ node: unknown; depth: number }> = [{ node: doc.contents, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (node === null || node === undefined || isAlias(node)) continue;
    if (isPair(node)) {
      stack.push({ node: node.key, depth }, { node: node.value, depth });
      continue;
    }
    const n = node as Node;
    if (typeof n.tag === 'string' && n.tag !== '' && !CORE_TAGS.has(n.tag))
      return { kind: 'tag', tag: shortTag(n.tag), offset: n.range?.[0] ?? 0 };
    if (isMap(n) || isSeq(n)) {
      if (depth > YAML_LIMITS.depth) return { kind: 'depth', offset: n.range?.[0] ?? 0 };
      for (const item of n.items as unknown[]) stack.push({ node: item, depth: depth + 1 });
    }
  }
  return null;
}

function shortTag(tag: string): string {
  return tag.startsWith('tag:yaml.org,2002:') ? `!!${tag.slice('tag:yaml.org,2002:'.length)}` : tag;
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return (i < 0 ? s : s.slice(0, i)).trim();
}

function makeLookup(doc: Document, toPos: (offset: number) => SourcePosition, text: string): PositionLookup {
  return (path, target = 'value', contentOffset) => {
    let node: Node | null = doc.contents as Node | null;
    let best: Node | null = node;
    let keyNode: Node | null = null;
    for (let i = 0; i < path.length && node; i++) {
      const part = path[i];
      keyNode = null;
      let next: Node | null = null;
      if (isMap(node)) {
        for (const pair of node.items) {
          const k = pair.key as Node | null;
          const kv = isScalar(k) ? k.value : k;
          if (kv === part || String(kv) === String(part)) {
            keyNode = k;
            next = (pair.value as Node | null) ?? k;
            break;
          }
        }
      } else if (isSeq(node) && typeof part === 'number') {
        next = (node.items[part] as Node | undefined) ?? null;
      }
      if (!next) break;
      node = next;
      best = target === 'key' && i === path.length - 1 && keyNode ? keyNode : next;
    }
    const range = best?.range;
    if (target === 'content' && best && isScalar(best) && range) {
      if (contentOffset !== undefined) {
        const at = contentCharOffset(best, text, contentOffset);
        if (at !== null) return toPos(at);
      }
      return contentPosition(best, range[0], text, toPos);
    }
    return toPos(range ? range[0] : 0);
  };
}

function contentPosition(node: Scalar, start: number, text: string, toPos: (offset: number) => SourcePosition): SourcePosition {
  if (node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE) return toPos(start + 1);
  if (node.type !== Scalar.BLOCK_LITERAL && node.type !== Scalar.BLOCK_FOLDED) return toPos(start);
  // The header (`|`, `|-`, `>2`...) ends the line; the content starts on the next one. Its
  // indentation is the source indentation minus what the value itself keeps (indicator case).
  const newline = text.indexOf('\n', start);
  if (newline < 0) return toPos(start);
  const firstLine = newline + 1;
  const value = String(node.value);
  const srcLines = text.slice(firstLine, node.range?.[1] ?? text.length).split('\n');
  const valLines = value.split('\n');
  let indent = 0;
  for (let i = 0; i < valLines.length && i < srcLines.length; i++) {
    const valLine = valLines[i] ?? '';
    if (valLine.trim() === '') continue;
    const srcLine = srcLines[i] ?? '';
    indent = leadingSpaces(srcLine) - leadingSpaces(valLine);
    break;
  }
  const pos = toPos(firstLine);
  return { ...pos, column: pos.column + Math.max(0, indent) };
}

function leadingSpaces(s: string): number {
  let n = 0;
  while (n < s.length && s[n] === ' ') n++;
  return n;
}

const YAML_SPACE = new Set([' ', '\t', '\n', '\r']);

/** The characters a double-quoted scalar's escapes stand for (YAML 1.2, 5.7); \x \u \U are decoded apart. */
const DQ_ESCAPES: Record<string, string> = {
  '0': '\0',
  'a': '\x07',
  'b': '\b',
  't': '\t',
  '\t': '\t',
  'n': '\n',
  'v': '\v',
  'f': '\f',
  'r': '\r',
  'e': '\x1b',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
  'N': '\x85',
  '_': '\xa0',
  'L': '\u2028',
  'P': '\u2029',
};

/**
 * The source offset of character `offset` of a string scalar's value, or null when it cannot be
 * told. YAML changes only whitespace between the source and the value (indentation, line
 * folding, chomping) besides quoted scalars' escapes, so the value's non-whitespace characters are
 * the source's (escapes decoded) in the same order: the Nth one of the value is the Nth one of
 * the source. A whitespace character is placed just after the non-whitespace one before it.
 */
function contentCharOffset(node: Scalar, text: string, offset: number): number | null {
  const value = node.value;
  const range = node.range;
  if (typeof value !== 'string' || !range || offset < 0 || offset > value.length) return null;
  const [start, end] = [range[0], range[1]];
  let i = start;
  let stop = end;
  const quoted = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE;
  if (quoted) {
    i = start + 1;
    stop = end - 1;
  } else if (node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED) {
    const newline = text.indexOf('\n', start);
    if (newline < 0 || newline >= end) return null;
    i = newline + 1;
  }
  // The non-whitespace characters of the value before `offset`, and whether `offset` is one.
  let wanted = 0;
  for (let k = 0; k < offset; k++) if (!YAML_SPACE.has(value[k]!)) wanted++;
  const onSpace = offset === value.length || YAML_SPACE.has(value[offset]!);
  let seen = 0;
  let last = i;
  while (i < stop) {
    let ch = text[i]!;
    let width = 1;
    if (node.type === Scalar.QUOTE_DOUBLE && ch === '\\') {
      const e = text[i + 1] ?? '';
      if (e === '\n' || e === '\r') {
        i += 2; // an escaped line break stands for nothing
        continue;
      }
      const hex = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
      if (hex > 0) {
        ch = String.fromCodePoint(parseInt(text.slice(i + 2, i + 2 + hex), 16) || 0);
        width = 2 + hex;
      } else {
        ch = DQ_ESCAPES[e] ?? e;
        width = 2;
      }
    } else if (node.type === Scalar.QUOTE_SINGLE && ch === "'" && text[i + 1] === "'") {
      width = 2;
    }
    for (let u = 0; u < ch.length; u++) {
      const c = ch[u]!;
      if (YAML_SPACE.has(c)) continue;
      if (seen === wanted) {
        if (!onSpace) return value[offset] === c ? i : null;
        return last;
      }
      seen++;
      last = i + width;
    }
    i += width;
  }
  return onSpace && seen === wanted ? last : null;
}
