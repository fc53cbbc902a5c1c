import { relative, isAbsolute } from 'node:path';
import type { Diagnostic } from '../../domain/diagnostics.js';
import { formatFieldPath } from '../../domain/diagnostics.js';
import type { ParsedDocument } from '../../domain/manifests/parse-manifests.js';
import type { RenderedFile } from '../../domain/render/rendered-tree.js';

/**
 * Turns `nginx -t` output into diagnostics that point at the manifest: nginx names a file and a line
 * ("... in /x/vhosts/a.conf:12"); the line map of the rendered file names the document and field
 * that produced that line; the parsed document gives its file:line:column. Lines of a multi-line
 * field (an extra block) are offset inside the field.
 */
export function mapNginxOutput(
  output: string,
  treeRoot: string,
  files: readonly RenderedFile[],
  documents: readonly ParsedDocument[],
): Diagnostic[] {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const docs = new Map(documents.map((d) => [`${d.file}#${d.index}`, d]));
  const diagnostics: Diagnostic[] = [];
  for (const line of output.split('\n')) {
    // `s`: a message may hold a character JavaScript counts as a line end (U+2028 from a manifest).
    const m = /^nginx: \[(emerg|alert|crit|error|warn)\] (.*?)(?: in (\S+):(\d+))?$/s.exec(line.trim());
    if (!m) continue;
    const [, level, message, file, lineNo] = m;
    const severity = level === 'warn' ? 'warning' : 'error';
    const base: Diagnostic = {
      severity,
      code: 'nginx.test',
      message: `nginx: ${message}`,
      hint: 'Fix the manifest field that produced this line, then plan again.',
    };
    if (!file || !lineNo) {
      // Errors found after parsing (a certificate that cannot be loaded) name no line, only the
      // value: the manifest field holding that value is the one to fix.
      const byValue = fieldHoldingQuotedValue(message ?? '', documents);
      if (byValue) {
        diagnostics.push({
          ...base,
          ...byValue,
          hint: 'Fix the file this field names (it must exist and be readable by nginx), or the field.',
        });
        continue;
      }
      diagnostics.push({ ...base, hint: "nginx names no file orch wrote: check nginx's main configuration and the files it includes." });
      continue;
    }
    const rel = isAbsolute(file) ? relative(treeRoot, file) : file;
    const rendered = byPath.get(rel);
    const n = Number(lineNo);
    const origin = rendered?.lineMap[n - 1] ?? null;
    if (!rendered || !origin) {
      diagnostics.push({
        ...base,
        message: `nginx: ${message} (in ${rel}:${n})`,
        hint: rendered
          ? "This line is one orch writes itself; if it conflicts with another file, check the files nginx includes beside orch's."
          : 'This file is not one orch writes: fix it, or the main nginx configuration that includes it.',
      });
      continue;
    }
    const doc = docs.get(`${origin.origin.file}#${origin.origin.index}`);
    // Offset inside a multi-line field: how many lines above carry the same origin and field.
    let offset = 0;
    for (let i = n - 2; i >= 0; i--) {
      const o = rendered.lineMap[i];
      if (!o || o.origin !== origin.origin || formatFieldPath(o.field) !== formatFieldPath(origin.field)) break;
      offset++;
    }
    let source = doc?.at(origin.field, 'value');
    if (source && isBlockScalarStart(doc, origin.field)) source = { ...source, line: source.line + 1 + offset, column: source.column + 2 };
    diagnostics.push({
      ...base,
      message: `nginx: ${message} (rendered ${rel}:${n})`,
      ...(source ? { source } : {}),
      document: { kind: origin.origin.kind, name: origin.origin.name },
      field: formatFieldPath(origin.field),
    });
  }
  return diagnostics;
}

/** The TLS file fields nginx loads after parsing, and names by value when it cannot. */
const FILE_FIELDS: ReadonlyArray<ReadonlyArray<string>> = [
  ['spec', 'tls', 'certificate'],
  ['spec', 'tls', 'key'],
];

/** The document field whose value is a string quoted in an nginx message (`cannot load certificate "/x.crt"`). */
function fieldHoldingQuotedValue(
  message: string,
  documents: readonly ParsedDocument[],
): Pick<Diagnostic, 'source' | 'document' | 'field'> | null {
  const quoted = [...message.matchAll(/"([^"]+)"/g)].map((q) => q[1]);
  if (quoted.length === 0) return null;
  for (const doc of documents) {
    for (const field of FILE_FIELDS) {
      let v: unknown = doc.value;
      for (const p of field) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
      if (typeof v !== 'string' || !quoted.includes(v)) continue;
      const meta = (doc.value as { kind?: unknown; metadata?: { name?: unknown } }) ?? {};
      return {
        source: doc.at(field, 'value'),
        document: { kind: String(meta.kind ?? ''), name: String(meta.metadata?.name ?? '') },
        field: formatFieldPath(field),
      };
    }
  }
  return null;
}

/** A `|` or `>` block scalar starts its content on the line after the indicator. */
function isBlockScalarStart(doc: ParsedDocument | undefined, field: ReadonlyArray<string | number>): boolean {
  if (!doc) return false;
  let v: unknown = doc.value;
  for (const p of field) v = v && typeof v === 'object' ? (v as Record<string | number, unknown>)[p] : undefined;
  return typeof v === 'string' && v.includes('\n');
}
