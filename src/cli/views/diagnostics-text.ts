import { formatPosition, sortDiagnostics, type Diagnostic } from '../../domain/diagnostics.js';
import type { Style } from '../style.js';

/**
 * One diagnostic per block:
 *   manifests/pools.yaml:12:7: error: Pool/pool-a spec.members[0].address: "10.0.0.1" has no port [value.address]
 *     hint: write host:port, e.g. 10.0.0.1:9000
 */
export function formatDiagnostics(list: readonly Diagnostic[], style: Style): string {
  const lines: string[] = [];
  for (const d of sortDiagnostics(list)) {
    const where = formatPosition(d.source);
    const sev = d.severity === 'error' ? style.red('error') : style.yellow('warning');
    const doc = d.document ? `${d.document.kind}/${d.document.name}` : '';
    const subject = [doc, d.field].filter(Boolean).join(' ');
    const head = [where ? style.bold(where) : '', sev].filter(Boolean).join(': ');
    lines.push(`${head}: ${subject ? `${subject}: ` : ''}${d.message} ${style.dim(`[${d.code}]`)}`);
    if (d.hint) lines.push(`  ${style.cyan('hint:')} ${d.hint}`);
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
