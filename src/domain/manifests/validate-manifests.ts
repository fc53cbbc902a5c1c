import { sortDiagnostics, type Diagnostic } from '../diagnostics.js';
import type { DesiredState } from '../model/desired-state.js';
import { buildDesiredState } from './build-desired-state.js';
import { buildCatalog } from './catalog.js';
import { readEnvelope } from './check-envelope.js';
import { checkExtraBlocks } from './check-extra-blocks.js';
import { checkCollisions } from './check-collisions.js';
import { checkReferences } from './check-references.js';
import { checkRules } from './check-rules.js';
import { checkValues } from './check-values.js';
import type { ParsedDocument, ParseResult } from './parse-manifests.js';
import { DiagnosticSink, type ManifestDoc } from './report.js';
import { checkSchema } from './schema-check.js';

export interface ValidationResult {
  /** Built from the documents without errors; apply it only when `diagnostics` has no error. */
  desired: DesiredState;
  /** Every problem found (YAML, schema, values, references, collisions, rules), sorted by position. */
  diagnostics: Diagnostic[];
  /** Every parsed document, for mapping later errors (nginx -t) back to the manifests. */
  documents: ParsedDocument[];
}

/**
 * Checks every parsed manifest document and reports all problems at once. Per-document checks
 * (envelope, schema, typed values, extra blocks) run on every document; the cross-document checks
 * (collisions, references, rules) run on the documents that passed them, so one mistake is
 * reported once rather than again as each of its consequences.
 */
export function validateManifests(parsed: ParseResult): ValidationResult {
  const sink = new DiagnosticSink();
  for (const d of parsed.diagnostics) sink.diagnostics.push(d);

  const docs: ManifestDoc[] = [];
  for (const doc of parsed.documents) {
    const md = checkParsedDocument(doc, sink);
    if (md) docs.push(md);
  }
  return crossCheckManifests(docs, sink, parsed.documents);
}

/** The per-document checks (envelope, schema, typed values, extra blocks) of one document. */
function checkParsedDocument(doc: ParsedDocument, sink: DiagnosticSink): ManifestDoc | null {
  const md = readEnvelope(doc, sink);
  if (!md) return null;
  checkDocument(md, sink);
  return md;
}

/**
 * The checks across documents (collisions, references, rules) and the desired state, once every
 * document had its per-document checks (`sink` holds their diagnostics). `docs` are the
 * documents whose envelope could be read, `documents` every parsed document, in file order.
 */
function crossCheckManifests(docs: ManifestDoc[], sink: DiagnosticSink, documents: ParsedDocument[]): ValidationResult {
  const catalog = buildCatalog(docs, sink);
  checkCollisions(catalog, sink);
  checkReferences(catalog, sink);
  checkRules(catalog, sink);

  return {
    desired: buildDesiredState(catalog, sink),
    diagnostics: sortDiagnostics(sink.diagnostics),
    documents,
  };
}

function checkDocument(md: ManifestDoc, sink: DiagnosticSink): void {
  const deferredPatterns = checkSchema(md, sink);
  checkValues(md, sink);
  if (md.kind === 'VirtualHost') checkExtraBlocks(md, sink);
  // A schema pattern that no typed check explained still rejects the value.
  for (const finding of deferredPatterns) {
    if (!sink.hasReportedAt(md.doc, finding.path)) sink.error(md, finding);
  }
}
