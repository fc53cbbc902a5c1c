import type { ImportReport } from '../../use-cases/recovery/import-gateway.js';
import { formatDiagnostics, diagnosticToJson } from './diagnostics-text.js';
import type { Style } from '../style.js';

const SOURCE_TEXT = {
  'orch': "orch's own tree",
  'nanio-orchestrator': "the reference tool's (nanio-orchestrator) tree",
  'nginx': 'a hand-written nginx tree',
} as const;

/** The human report of `orch import`: what was written, every warning, and what to do next. */
export function formatImportText(r: ImportReport, style: Style): string {
  const out: string[] = [];
  out.push(`Imported ${SOURCE_TEXT[r.source]}${r.detected ? ` (detected: ${r.detected})` : ''} from ${r.dir}:`);
  out.push(
    `  ${r.counts.pools} pools, ${r.counts.virtualHosts} virtual hosts, ${r.counts.routes} routes -> ${r.files.length} manifest files in ${r.out}`,
  );
  if (r.layout === 'origin')
    out.push(
      `  manifests put back where they were (below ${r.originRoot || 'the working directory'}): planned from there, orch renders byte-identical files`,
    );
  else if (r.layoutProblem) out.push(style.dim(`  one file per resource (the original layout is not known: ${r.layoutProblem})`));
  if (r.envFile)
    out.push(`  credential values for ${r.secretNames.join(', ')} written to ${r.envFile} (mode 0600, git-ignored); they are not printed`);
  if (r.warnings.length > 0) {
    out.push('');
    out.push(formatDiagnostics(r.warnings, style));
  }
  out.push('');
  out.push(style.bold('Next:'));
  let step = 1;
  if (r.filesToMove.length > 0) {
    out.push(
      `  ${step++}. Move these files out of nginx's include path before the first apply (their blocks now live in files orch writes):`,
    );
    for (const f of r.filesToMove) out.push(`       ${f}`);
  }
  if (r.envFile) out.push(`  ${step++}. Provide the credentials to orch's environment (for example: set -a; . ${r.envFile}; set +a).`);
  out.push(`  ${step++}. Review: orch plan -m ${r.out}   (files orch takes over show as "adopt"; the diff is the exact change)`);
  out.push(`  ${step}. Take ownership: orch apply -m ${r.out}`);
  return out.join('\n');
}

export function importToJson(r: ImportReport): Record<string, unknown> {
  return {
    source: r.source,
    detected: r.detected,
    dir: r.dir,
    out: r.out,
    files: r.files,
    layout: r.layout,
    layout_problem: r.layoutProblem,
    counts: { pools: r.counts.pools, virtual_hosts: r.counts.virtualHosts, routes: r.counts.routes },
    env_file: r.envFile,
    secret_names: r.secretNames,
    files_to_move: r.filesToMove,
    warnings: r.warnings.map(diagnosticToJson),
  };
}
