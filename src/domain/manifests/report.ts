import { formatFieldPath, formatPosition, type Diagnostic, type DocumentRef, type Severity } from '../diagnostics.js';
import type { Kind } from '../model/manifest-types.js';
import type { FieldPath, ParsedDocument } from './parse-manifests.js';

/** A parsed document whose envelope (apiVersion, kind, metadata.name) has been read. */
export interface ManifestDoc {
  doc: ParsedDocument;
  kind: Kind;
  /** metadata.name when it is a string, else ''. */
  name: string;
  value: Record<string, unknown>;
  /** `spec` when it is a mapping, else an empty object (the schema check reports it). */
  spec: Record<string, unknown>;
  ref: DocumentRef;
}

export interface Finding {
  code: string;
  path: FieldPath;
  message: string;
  hint: string;
  /** Point at the key of the field rather than its value (unknown fields). */
  target?: 'key' | 'value';
}

/**
 * Collects diagnostics and remembers which documents had errors: a document with an error is
 * left out of the desired state and of the rules that need a well-typed document.
 */
export class DiagnosticSink {
  readonly diagnostics: Diagnostic[] = [];
  private readonly failed = new Set<ParsedDocument>();
  /** Field paths that already carry a diagnostic, per document (to avoid double reports). */
  private readonly reported = new Map<ParsedDocument, Set<string>>();

  error(where: ManifestDoc | ParsedDocument, finding: Finding): void {
    this.add('error', where, finding);
  }

  warning(where: ManifestDoc | ParsedDocument, finding: Finding): void {
    this.add('warning', where, finding);
  }

  /** Adds an already-built diagnostic (e.g. for a position inside a field's text). */
  push(where: ManifestDoc | ParsedDocument, diagnostic: Diagnostic): void {
    this.diagnostics.push(diagnostic);
    const doc = 'doc' in where ? where.doc : where;
    if (diagnostic.severity === 'error') this.failed.add(doc);
    if (diagnostic.field !== undefined) this.markReported(doc, diagnostic.field);
  }

  hasFailed(where: ManifestDoc | ParsedDocument): boolean {
    return this.failed.has('doc' in where ? where.doc : where);
  }

  /** True when some diagnostic was already reported at this field or inside it. */
  hasReportedAt(doc: ParsedDocument, path: FieldPath): boolean {
    const field = formatFieldPath(path);
    const set = this.reported.get(doc);
    if (!set) return false;
    for (const f of set) if (f === field || f.startsWith(`${field}.`) || f.startsWith(`${field}[`)) return true;
    return false;
  }

  private add(severity: Severity, where: ManifestDoc | ParsedDocument, f: Finding): void {
    const doc = 'doc' in where ? where.doc : where;
    const diagnostic: Diagnostic = {
      severity,
      code: f.code,
      message: f.message,
      hint: f.hint,
      source: doc.at(f.path, f.target ?? defaultTarget(doc, f.path)),
      field: formatFieldPath(f.path),
    };
    if ('ref' in where) diagnostic.document = where.ref;
    this.push(where, diagnostic);
  }

  private markReported(doc: ParsedDocument, field: string): void {
    let set = this.reported.get(doc);
    if (!set) this.reported.set(doc, (set = new Set()));
    set.add(field);
  }
}

/**
 * A diagnostic about a whole mapping or list (`tls`, `members`) points at its key: in block style
 * the value starts on the next line, which reads as if the first entry were at fault.
 */
function defaultTarget(doc: ParsedDocument, path: FieldPath): 'key' | 'value' {
  const value = getAt(doc.value, path);
  return path.length > 0 && value !== null && typeof value === 'object' ? 'key' : 'value';
}

/** `file:line` of a field, for messages that mention another document. */
export function whereIs(md: ManifestDoc, path: FieldPath): string {
  const pos = md.doc.at(path);
  return formatPosition(pos).replace(/:\d+$/, '');
}

/** Reads a nested field of a plain value; undefined when any step is missing. */
export function getAt(value: unknown, path: FieldPath): unknown {
  let cur: unknown = value;
  for (const part of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[part];
  }
  return cur;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
