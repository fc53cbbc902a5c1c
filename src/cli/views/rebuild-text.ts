import type { RebuildResult } from '../../use-cases/recovery/rebuild-db.js';
import { diagnosticToJson } from './diagnostics-text.js';
import type { Style } from '../style.js';

const BEFORE_TEXT: Record<RebuildResult['before'], string> = {
  missing: 'there is none',
  empty: 'it is empty',
  populated: 'it holds a previous state',
  corrupt: 'it is corrupt',
};

/** The human report of `orch rebuild-db` (with --dry-run: of what it would record). */
export function formatRebuildText(r: RebuildResult, nginxDir: string, style: Style): string {
  const p = r.plan;
  const out: string[] = [];
  const verb = r.dryRun ? 'Would rebuild' : 'Rebuilt';
  out.push(`${verb} the state database ${r.dbPath} (${BEFORE_TEXT[r.before]}) from ${nginxDir}:`);
  if (p.files.length === 0) out.push(style.dim("  no file carrying orch's marker: nothing to record"));
  else {
    out.push(
      `  generation ${p.generation}, outcome rebuilt${p.generationSource === 'status-file' ? ' (the generation nginx serves, from vhosts/_orch-status.conf)' : ''}`,
    );
    for (const res of p.resources) {
      const from =
        res.from === 'sidecar'
          ? 'from its sidecar'
          : res.from === 'conf'
            ? style.yellow('from the .conf alone')
            : style.red('not recovered');
      const origin = res.origin?.file ? `, manifest ${res.origin.file}${res.from === 'sidecar' ? `#${res.origin.index}` : ''}` : '';
      out.push(`  ${res.ref.kind}/${res.ref.name}: ${from}${origin}`);
    }
    const edited = p.files.filter((f) => f.recordedSha256 !== f.diskSha256);
    out.push(
      `  ${p.files.length} file(s) recorded with their sha256${edited.length > 0 ? style.yellow(`; ${edited.length} recorded as drift (edited outside orch): ${edited.map((f) => f.path).join(', ')}`) : ''}`,
    );
  }
  for (const { record: m, completed, file } of p.migrations) {
    out.push(
      `  migration ${m.name}: ${m.bucket} ${m.from} -> ${m.to}, ${completed ? `completed${m.orphanedSource ? ` (source data kept on ${m.orphanedSource.pool} ${m.orphanedSource.prefix})` : ''}` : `phase ${m.phase}, resumes`} (migrations/${file})`,
    );
  }
  for (const pool of r.removedPools) {
    out.push(`  removed pool ${pool}: its record (members, sealed credentials) from removed-pools.json beside the database`);
  }
  if (p.unmanaged.length > 0) out.push(style.dim(`  not orch's (no marker), left alone: ${p.unmanaged.join(', ')}`));
  for (const d of p.diagnostics) {
    out.push(`${d.severity === 'error' ? style.red('error') : style.yellow('warning')}: ${d.message} ${style.dim(`[${d.code}]`)}`);
    if (d.hint) out.push(`  ${style.cyan('hint:')} ${d.hint}`);
  }
  if (r.dryRun) out.push(style.dim('Nothing was written (--dry-run).'));
  else {
    if (r.keptAs) out.push(`The previous database was kept as ${r.keptAs}.`);
    out.push(style.green("Done. 'orch plan' now compares the manifests with this state; no nginx file was touched."));
  }
  return out.join('\n');
}

export function rebuildToJson(r: RebuildResult): Record<string, unknown> {
  const p = r.plan;
  return {
    format_version: '1.1',
    dry_run: r.dryRun === true,
    database: { path: r.dbPath, before: r.before, kept_as: r.keptAs },
    generation: { number: p.generation, source: p.generationSource, fingerprint: p.fingerprint },
    files: p.files.map((f) => ({
      path: f.path,
      role: f.role,
      resource: f.resource,
      sha256: f.diskSha256,
      recorded_sha256: f.recordedSha256,
      origin: f.originFile === null ? null : { file: f.originFile, index: f.originIndex },
    })),
    resources: p.resources.map((res) => ({ kind: res.ref.kind, name: res.ref.name, from: res.from, conf: res.conf, sidecar: res.sidecar })),
    unmanaged: p.unmanaged,
    migrations: p.migrations.map(({ record: m, completed, file }) => ({
      name: m.name,
      virtual_host: m.virtualHost,
      bucket: m.bucket,
      from: m.from,
      to: m.to,
      mode: m.mode,
      phase: m.phase,
      completed,
      file,
    })),
    removed_pools: r.removedPools,
    diagnostics: p.diagnostics.map(diagnosticToJson),
  };
}
