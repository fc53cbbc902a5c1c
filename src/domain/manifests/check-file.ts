import type { Diagnostic } from '../diagnostics.js';
import type { Kind } from '../model/manifest-types.js';
import { manifestDoc } from './check-envelope.js';
import { documentsFromValues, parseSource, type ParsedDocument, type SourceText } from './parse-manifests.js';
import { DiagnosticSink, type ManifestDoc } from './report.js';
import { checkParsedDocument, crossCheckManifests, type ValidationResult } from './validate-manifests.js';

/**
 * Manifest validation split in two, so that the work per file can run in several threads:
 *
 * 1. checkManifestFile: parses one file and runs the per-document checks (envelope, schema, typed
 *    values, extra blocks) on each of its documents. These read and write the diagnostics of that
 *    document only, so files can be checked in any order and any thread. The result is plain data
 *    (structured-clonable): texts, values, diagnostics with their positions already resolved.
 * 2. validateCheckedFiles: in one thread, rebuilds the parsed documents, replays every per-document
 *    diagnostic into one sink in the order validateManifests produces them (all syntax errors,
 *    then document by document), and runs the checks across documents.
 *
 * validateCheckedFiles(sources.map(checkManifestFile)) equals
 * validateManifests(parseManifestSources(sources)) (test/unit/check-file.test.ts): same desired
 * state, same diagnostics in the same order, same documents and positions.
 */
export interface CheckedDocument {
  /** 0-based index of the document in its file. */
  index: number;
  value: unknown;
  /** Kind and metadata.name when the envelope could be read (null: the document is not checked further). */
  envelope: { kind: Kind; name: string | null } | null;
  /** What the per-document checks reported about this document, in order. */
  diagnostics: Diagnostic[];
}

export interface CheckedFile {
  path: string;
  text: string;
  /** YAML syntax errors of the file. */
  parseDiagnostics: Diagnostic[];
  documents: CheckedDocument[];
}

export function checkManifestFile(source: SourceText): CheckedFile {
  const parsed: ParsedDocument[] = [];
  const parseDiagnostics: Diagnostic[] = [];
  parseSource(source, parsed, parseDiagnostics);
  const sink = new DiagnosticSink();
  const documents: CheckedDocument[] = parsed.map((doc) => {
    const start = sink.diagnostics.length;
    const md = checkParsedDocument(doc, sink);
    return {
      index: doc.index,
      value: doc.value,
      envelope: md ? { kind: md.kind, name: md.name === '' ? null : md.name } : null,
      diagnostics: sink.diagnostics.slice(start),
    };
  });
  return { path: source.path, text: source.text, parseDiagnostics, documents };
}

export function validateCheckedFiles(files: readonly CheckedFile[]): { sources: SourceText[]; validation: ValidationResult } {
  const sink = new DiagnosticSink();
  const sources: SourceText[] = [];
  for (const file of files) {
    sources.push({ path: file.path, text: file.text });
    for (const d of file.parseDiagnostics) sink.diagnostics.push(d);
  }
  const documents: ParsedDocument[] = [];
  const docs: ManifestDoc[] = [];
  files.forEach((file, i) => {
    const parsed = documentsFromValues(sources[i]!, file.documents);
    file.documents.forEach((checked, j) => {
      const doc = parsed[j]!;
      documents.push(doc);
      for (const d of checked.diagnostics) sink.push(doc, d);
      if (checked.envelope) docs.push(manifestDoc(doc, checked.envelope.kind, checked.envelope.name));
    });
  });
  return { sources, validation: crossCheckManifests(docs, sink, documents) };
}
