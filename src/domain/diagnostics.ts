/**
 * A diagnostic is one problem found in the operator's input: a manifest, a file on disk, a
 * nginx test. It always says where (file:line:column when known), in which document and field,
 * what is wrong and what to do.
 */
export type Severity = 'error' | 'warning';

export interface SourcePosition {
  /** Path of the source file as the operator named it (relative to the working directory when possible). */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
}

export interface DocumentRef {
  kind: string;
  name: string;
}

export interface Diagnostic {
  severity: Severity;
  /** Stable machine-readable code, e.g. `schema.unknown-field`, `ref.unknown-pool`. */
  code: string;
  /** What is wrong, in the operator's words. */
  message: string;
  /** What to do about it. */
  hint?: string;
  source?: SourcePosition;
  document?: DocumentRef;
  /** Field path inside the document, e.g. `spec.members[0].address`. */
  field?: string;
}

export function formatFieldPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

export function formatPosition(pos: SourcePosition | undefined): string {
  if (!pos) return '';
  return `${pos.file}:${pos.line}:${pos.column}`;
}

/** Sorts diagnostics by file, line, column, then code, so output is stable. */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) => {
    const fa = a.source?.file ?? '';
    const fb = b.source?.file ?? '';
    if (fa !== fb) return fa < fb ? -1 : 1;
    const la = a.source?.line ?? 0;
    const lb = b.source?.line ?? 0;
    if (la !== lb) return la - lb;
    const ca = a.source?.column ?? 0;
    const cb = b.source?.column ?? 0;
    if (ca !== cb) return ca - cb;
    return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
  });
}

export function hasErrors(list: readonly Diagnostic[]): boolean {
  return list.some((d) => d.severity === 'error');
}
