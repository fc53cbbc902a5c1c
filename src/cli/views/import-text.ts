import type { ImportReport } from '../../use-cases/recovery/import-gateway.js';
import { formatDiagnostics, diagnosticToJson } from './diagnostics-text.js';
import type { Style } from '../style.js';
import { OUTSIDE_CLIENT, type RoutingCheck } from '../../domain/import/routing-equivalence.js';

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
  if (r.migrations.length > 0)
    out.push(`  ${r.migrations.length} running migration${r.migrations.length === 1 ? '' : 's'} carried on: ${r.migrations.join(', ')}`);
  if (r.warnings.length > 0) {
    out.push('');
    out.push(formatDiagnostics(r.warnings, style));
  }
  if (r.routing) out.push('', ...routingText(r.routing, style));
  out.push('');
  out.push(style.bold('Next:'));
  let step = 1;
  if (r.filesToMove.length > 0) {
    out.push(
      `  ${step++}. Move these files out of nginx's include path before the first apply (their blocks now live in files orch writes):`,
    );
    for (const f of r.filesToMove) out.push(`       ${f}`);
  }
  if (r.source === 'nanio-orchestrator')
    out.push(
      `  ${step++}. Stop the reference tool, so that it no longer rewrites these files or copies objects: systemctl stop nanio-orchestrator`,
    );
  if (r.envFile) out.push(`  ${step++}. Provide the credentials to orch's environment (for example: set -a; . ${r.envFile}; set +a).`);
  out.push(`  ${step++}. Review: orch plan -m ${r.out}   (files orch takes over show as "adopt"; the diff is the exact change)`);
  out.push(`  ${step}. Take ownership: orch apply -m ${r.out}`);
  return out.join('\n');
}

const EXAMPLES_PER_CHANGE = 3;

function clientText(client: string): string {
  return client === OUTSIDE_CLIENT ? `from ${client} (no IP rule names it)` : `from ${client}`;
}

/** An answer without the URI it carries: `pool p`, `redirect 301`, `status 404`, `static files (...)`. */
function answerKind(outcome: string): string {
  const m = /^(pool \S+|redirect \d+) /.exec(outcome);
  return m ? m[1]! : outcome.replace(/; on 404: .*$/, ' (404 fallback)');
}

/**
 * The routing check: "unchanged" only when no request was answered differently; otherwise each
 * kind of change (before -> after) with its count and a few of its requests (--json has them all).
 */
function routingText(check: RoutingCheck, style: Style): string[] {
  const out: string[] = [];
  if (check.differences.length === 0) {
    out.push(style.bold(`Routing unchanged: ${check.checked} requests answered the same by the imported tree and by orch's rendering.`));
  } else {
    out.push(
      style.bold(
        `Routing changes: ${check.differences.length} of ${check.checked} requests are answered differently by orch's rendering (before -> after):`,
      ),
    );
    const groups = new Map<string, RoutingCheck['differences']>();
    for (const d of check.differences) {
      const key = `${answerKind(d.before)} -> ${answerKind(d.after)}`;
      groups.set(key, [...(groups.get(key) ?? []), d]);
    }
    for (const [key, list] of groups) {
      out.push(`  ${key}: ${list.length} request${list.length === 1 ? '' : 's'}, e.g.`);
      for (const d of list.slice(0, EXAMPLES_PER_CHANGE))
        out.push(`    ${d.method} ${d.host}:${d.port}${d.uri} ${clientText(d.client)}: ${d.before} -> ${d.after}`);
    }
    out.push(style.dim('  (orch import --json lists every request)'));
  }
  for (const n of check.notProbed) out.push(style.dim(`  not probed (a regular expression location; carried as it is): ${n}`));
  return out;
}

export function importToJson(r: ImportReport): Record<string, unknown> {
  return {
    format_version: '1.0',
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
    migrations: r.migrations,
    routing:
      r.routing === null
        ? null
        : {
            unchanged: r.routing.differences.length === 0,
            checked: r.routing.checked,
            differences: r.routing.differences,
            not_probed: r.routing.notProbed,
          },
    warnings: r.warnings.map(diagnosticToJson),
  };
}
