import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
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
 */
export type PositionLookup = (path: FieldPath, target?: 'key' | 'value') => SourcePosition;

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

/** Parses every YAML document of every source; YAML syntax errors become positioned diagnostics. */
export function parseManifestSources(sources: readonly SourceText[]): ParseResult {
  const documents: ParsedDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const source of sources) {
    const lineCounter = new LineCounter();
    const docs = parseAllDocuments(source.text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    const list = Array.isArray(docs) ? docs : [];
    if (!Array.isArray(docs)) {
      // An EmptyStream: a file with no documents at all.
      continue;
    }
    let index = 0;
    for (const doc of list) {
      const docIndex = index++;
      const toPos = (offset: number): SourcePosition => {
        const lp = lineCounter.linePos(offset);
        return { file: source.path, line: lp.line, column: lp.col };
      };
      if (doc.errors.length > 0) {
        for (const err of doc.errors) {
          diagnostics.push({
            severity: 'error',
            code: 'yaml.syntax',
            message: `YAML syntax error: ${firstLine(err.message)}`,
            hint: 'Fix the YAML syntax at this position (indentation, quoting, a missing colon).',
            source: toPos(err.pos[0]),
          });
        }
        continue;
      }
      if (doc.contents === null) continue; // a document holding only comments
      const value = doc.toJS({ maxAliasCount: 50 }) as unknown;
      documents.push({ file: source.path, index: docIndex, value, at: makeLookup(doc, toPos) });
    }
  }
  return { documents, diagnostics };
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return (i < 0 ? s : s.slice(0, i)).trim();
}

function makeLookup(doc: Document, toPos: (offset: number) => SourcePosition): PositionLookup {
  return (path, target = 'value') => {
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
    return toPos(range ? range[0] : 0);
  };
}
