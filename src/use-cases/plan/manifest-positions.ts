import type { Diagnostic, SourcePosition } from '../../domain/diagnostics.js';
import type { Origin } from '../../domain/model/desired-state.js';
import type { ParsedDocument } from '../../domain/manifests/parse-manifests.js';

/** The parsed documents, or a function giving them (called on the first position asked for). */
export type Documents = readonly ParsedDocument[] | (() => readonly ParsedDocument[]);

/**
 * Resolves a manifest field (document origin + field path) to its file:line:column. The index of
 * the documents is built on the first lookup: most plans never report a position, and a fleet has
 * thousands of documents.
 */
export function positionResolver(
  documents: Documents,
): (origin: Origin, field: ReadonlyArray<string | number>) => SourcePosition | undefined {
  let byKey: Map<string, ParsedDocument> | null = null;
  return (origin, field) => {
    byKey ??= new Map((typeof documents === 'function' ? documents() : documents).map((d) => [`${d.file}#${d.index}`, d]));
    const doc = byKey.get(`${origin.file}#${origin.index}`);
    try {
      return doc?.at([...field], 'value');
    } catch {
      return undefined;
    }
  };
}

/** Above this many "not verified" warnings (a CI plan of a large gateway), one summary replaces them. */
export const CREDENTIAL_WARNINGS_SHOWN = 10;

/**
 * Gives diagnostics about a Pool (by name) the position of `spec.credentials` in its manifest.
 * Many `credentials.not-verified` warnings (a plan without secrets, one per pool) become one
 * warning naming the pools: as readable in a CI log, and without a positioned YAML parse of every
 * pool file.
 */
export function placePoolDiagnostics(
  diagnostics: Diagnostic[],
  pools: ReadonlyArray<{ name: string; origin: Origin }>,
  documents: Documents,
): Diagnostic[] {
  const notVerified = diagnostics.filter((d) => d.code === 'credentials.not-verified');
  if (notVerified.length > CREDENTIAL_WARNINGS_SHOWN) {
    const names = notVerified.map((d) => d.document?.name ?? '?');
    diagnostics = [
      ...diagnostics.filter((d) => d.code !== 'credentials.not-verified'),
      {
        severity: 'warning',
        code: 'credentials.not-verified',
        message: `credentials of ${names.length} pools not verified (their variables or files are not available here, or no secret key is configured): the encrypted credentials in their sidecars are kept as they are, and pools without them carry the references only: ${names.join(', ')}`,
        hint: 'Expected where the plan runs without secrets (CI). Otherwise set the referenced variables and files, and ORCH_SECRET_KEY or secretKeyFile; see docs/buckets.md.',
      },
    ];
  }
  const at = positionResolver(documents);
  const origins = new Map(pools.map((p) => [p.name, p.origin]));
  return diagnostics.map((d) => {
    if (d.source || d.document?.kind !== 'Pool') return d;
    const origin = origins.get(d.document.name);
    const field = d.field?.startsWith('spec.credentials') ? d.field.split('.') : [];
    const source = origin ? at(origin, field) : undefined;
    return source ? { ...d, source } : d;
  });
}
