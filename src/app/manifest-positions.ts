import type { Diagnostic, SourcePosition } from '../core/diagnostics.js';
import type { Origin } from '../core/model/desired-state.js';
import type { ParsedDocument } from '../core/manifests/parse-manifests.js';

/** Resolves a manifest field (document origin + field path) to its file:line:column. */
export function positionResolver(documents: readonly ParsedDocument[]): (origin: Origin, field: ReadonlyArray<string | number>) => SourcePosition | undefined {
  const byKey = new Map(documents.map((d) => [`${d.file}#${d.index}`, d]));
  return (origin, field) => {
    const doc = byKey.get(`${origin.file}#${origin.index}`);
    try {
      return doc?.at([...field], 'value');
    } catch {
      return undefined;
    }
  };
}

/** Gives diagnostics about a Pool (by name) the position of `spec.credentials` in its manifest. */
export function placePoolDiagnostics(diagnostics: Diagnostic[], pools: ReadonlyArray<{ name: string; origin: Origin }>, documents: readonly ParsedDocument[]): Diagnostic[] {
  const at = positionResolver(documents);
  const origins = new Map(pools.map((p) => [p.name, p.origin]));
  return diagnostics.map((d) => {
    if (d.source || d.document?.kind !== 'Pool') return d;
    const origin = origins.get(d.document.name);
    const source = origin ? at(origin, d.field === 'spec.credentials' ? ['spec', 'credentials'] : []) : undefined;
    return source ? { ...d, source } : d;
  });
}
