import { API_VERSION, KINDS, type Kind } from '../model/manifest-types.js';
import type { ParsedDocument } from './parse-manifests.js';
import { isRecord, type DiagnosticSink, type ManifestDoc } from './report.js';
import { didYouMean, listWords, show } from './text.js';

/**
 * Reads what every manifest must have before its kind's schema can apply: a mapping with
 * `apiVersion: orch/v1`, a known `kind` and `metadata.name`. Returns null when the document
 * cannot be checked any further (not a mapping, unknown kind, another apiVersion).
 */
export function readEnvelope(doc: ParsedDocument, sink: DiagnosticSink): ManifestDoc | null {
  const value = doc.value;
  if (!isRecord(value)) {
    sink.error(doc, {
      code: 'manifest.not-a-mapping',
      path: [],
      message: `this document is ${describeShape(value)}, not a manifest`,
      hint: 'A manifest is a mapping with apiVersion, kind, metadata and spec. Check the indentation and the "---" separators.',
    });
    return null;
  }
  const apiOk = checkApiVersion(doc, value, sink);
  const kind = readKind(doc, value, sink);
  const name = readName(doc, value, sink);
  if (!apiOk || kind === null) return null;
  return manifestDoc(doc, kind, name);
}

/**
 * The ManifestDoc of a document whose envelope was read: `name` is metadata.name when it is a
 * non-empty string, else null.
 */
function manifestDoc(doc: ParsedDocument, kind: Kind, name: string | null): ManifestDoc {
  const value = doc.value as Record<string, unknown>;
  const spec = isRecord(value.spec) ? value.spec : {};
  return { doc, kind, name: name ?? '', value, spec, ref: { kind, name: name ?? '<unnamed>' } };
}

function describeShape(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'empty';
  return `a ${typeof value} (${show(value)})`;
}

/** False only for an apiVersion of another format: a missing one is reported but checking goes on. */
function checkApiVersion(doc: ParsedDocument, value: Record<string, unknown>, sink: DiagnosticSink): boolean {
  const api = value.apiVersion;
  if (api === undefined || api === null) {
    sink.error(doc, {
      code: 'manifest.missing-api-version',
      path: [],
      message: 'the document has no apiVersion',
      hint: `Add "apiVersion: ${API_VERSION}" at the top of the document.`,
    });
    return true;
  }
  if (api === API_VERSION) return true;
  sink.error(doc, {
    code: 'manifest.unknown-api-version',
    path: ['apiVersion'],
    message: `apiVersion ${show(api)} is not supported; this orch reads ${API_VERSION}`,
    hint: `Write "apiVersion: ${API_VERSION}", or use the orch release that reads ${show(api)}.`,
  });
  return false;
}

function readKind(doc: ParsedDocument, value: Record<string, unknown>, sink: DiagnosticSink): Kind | null {
  const kind = value.kind;
  if (kind === undefined || kind === null) {
    sink.error(doc, {
      code: 'manifest.missing-kind',
      path: [],
      message: 'the document has no kind',
      hint: `Add "kind:" with one of ${listWords([...KINDS])}.`,
    });
    return null;
  }
  if ((KINDS as readonly unknown[]).includes(kind)) return kind as Kind;
  sink.error(doc, {
    code: 'manifest.unknown-kind',
    path: ['kind'],
    message: `kind ${show(kind)} is not one orch knows; the kinds are ${listWords([...KINDS])}`,
    hint: `${didYouMean(String(kind), KINDS)}Kinds are case-sensitive.`,
  });
  return null;
}

function readName(doc: ParsedDocument, value: Record<string, unknown>, sink: DiagnosticSink): string | null {
  const metadata = value.metadata;
  const name = isRecord(metadata) ? metadata.name : undefined;
  if (typeof name === 'string' && name !== '') return name;
  if (name !== undefined && name !== null && name !== '') return null; // a non-string: the schema check says so
  sink.error(doc, {
    code: 'manifest.missing-name',
    path: isRecord(metadata) ? ['metadata'] : [],
    message: 'the document has no metadata.name',
    hint: 'Add "metadata:" with "name: <name>"; names are unique per kind and become file names.',
  });
  return null;
}
