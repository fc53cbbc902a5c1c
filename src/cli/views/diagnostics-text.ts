import { formatPosition, sortDiagnostics, type Diagnostic } from '../../domain/diagnostics.js';
import type { Style } from '../style.js';
import { safeLine } from './safe-text.js';

/** Diagnostics printed as text at most; the rest are counted (JSON output lists them all). */
export const DIAGNOSTICS_SHOWN = 50;

/**
 * One diagnostic per block:
 *   manifests/pools.yaml:12:7: error: Pool/pool-a spec.members[0].address: "10.0.0.1" has no port [value.address]
 *     hint: write host:port, e.g. 10.0.0.1:9000
 * Every part comes from the operator's input one way or another: each is escaped and shortened
 * (safeLine), so a diagnostic is always one line plus its hint. At most DIAGNOSTICS_SHOWN are
 * printed, errors first; a last line counts the others.
 */
export function formatDiagnostics(list: readonly Diagnostic[], style: Style): string {
  let shown = list;
  if (list.length > DIAGNOSTICS_SHOWN) {
    const errors = list.filter((d) => d.severity === 'error');
    shown = [...errors, ...list.filter((d) => d.severity !== 'error')].slice(0, DIAGNOSTICS_SHOWN);
  }
  const lines: string[] = [];
  for (const d of sortDiagnostics(shown)) {
    const where = d.source ? `${safeLine(d.source.file, 300)}:${d.source.line}:${d.source.column}` : formatPosition(d.source);
    const sev = d.severity === 'error' ? style.red('error') : style.yellow('warning');
    const doc = d.document ? `${safeLine(d.document.kind, 40)}/${safeLine(d.document.name, 100)}` : '';
    const subject = [doc, d.field === undefined ? '' : safeLine(d.field, 200)].filter(Boolean).join(' ');
    const head = [where ? style.bold(where) : '', sev].filter(Boolean).join(': ');
    lines.push(`${head}: ${subject ? `${subject}: ` : ''}${safeLine(d.message)} ${style.dim(`[${safeLine(d.code, 60)}]`)}`);
    if (d.hint) lines.push(`  ${style.cyan('hint:')} ${safeLine(d.hint)}`);
  }
  const rest = list.length - shown.length;
  if (rest > 0) {
    const restErrors = list.filter((d) => d.severity === 'error').length - shown.filter((d) => d.severity === 'error').length;
    lines.push(
      `... and ${rest} more diagnostic${rest === 1 ? '' : 's'} not shown (${restErrors} error${restErrors === 1 ? '' : 's'}); fix the ones above first.`,
    );
  }
  return lines.join('\n');
}

export interface DiagnosticJson {
  severity: string;
  code: string;
  message: string;
  hint: string | null;
  file: string | null;
  line: number | null;
  column: number | null;
  kind: string | null;
  name: string | null;
  field: string | null;
}

export function diagnosticToJson(d: Diagnostic): DiagnosticJson {
  return {
    severity: d.severity,
    code: d.code,
    message: d.message,
    hint: d.hint ?? null,
    file: d.source?.file ?? null,
    line: d.source?.line ?? null,
    column: d.source?.column ?? null,
    kind: d.document?.kind ?? null,
    name: d.document?.name ?? null,
    field: d.field ?? null,
  };
}
