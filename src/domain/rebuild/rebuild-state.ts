import type { Diagnostic } from '../diagnostics.js';
import { NginxParseError } from '../nginx-config/nginx-parse-error.js';
import { parseNginxConfig } from '../nginx-config/parse-nginx-config.js';
import type { NginxDirective } from '../nginx-config/nginx-ast.js';
import { resourceOfPath, sha256 } from '../plan/make-plan.js';
import { STATUS_FILE_PATH } from '../render/render-status.js';
import type { FileRole, NginxFeatures, ResourceRef } from '../render/rendered-tree.js';
import { decodeMigrationStateFile, latestMigrationStateFiles, type MigrationStateFile } from '../migrations/migration-record.js';
import { recoverDesiredState, type RecoveredResource } from './recover-desired-state.js';

/** A file of the managed directory as read from disk, with whether it carries orch's marker. */
export interface DiskFile {
  path: string;
  content: string;
  managed: boolean;
}

/** One inventory entry the rebuilt database will hold. */
export interface RebuiltFile {
  path: string;
  resource: ResourceRef | null;
  role: FileRole | 'status';
  /** sha256 of the file on disk: what the rebuilt generation's file list records. */
  diskSha256: string;
  /**
   * What the inventory records as "last written by orch": the disk content, except for a `.conf`
   * edited by hand, where it is the content orch rendered for the sidecar, so the edit stays drift.
   */
  recordedSha256: string;
  recordedSize: number;
  originFile: string | null;
  originIndex: number | null;
}

export interface RebuildPlan {
  /** The generation to re-establish: the one the status file says nginx serves, else 1. */
  generation: number;
  /** Where the generation number came from. */
  generationSource: 'status-file' | 'default';
  /** `sha256:<12 hex>` from the status file (all it holds of the fingerprint), else null. */
  fingerprint: string | null;
  files: RebuiltFile[];
  /** Content to keep in the content store: every recorded file, plus what orch wrote for edited files. */
  contents: Map<string, string>;
  resources: RecoveredResource[];
  /** Files in pools/ and vhosts/ without orch's marker: never recorded, never touched. */
  unmanaged: string[];
  migrations: MigrationStateFile[];
  diagnostics: Diagnostic[];
}

export interface RebuildInput {
  files: readonly DiskFile[];
  /** Content of `vhosts/_orch-status.conf`, or null. */
  statusFile: string | null;
  /** `<stateDir>/migrations/*.json`: name and text. */
  migrationFiles: ReadonlyArray<{ file: string; text: string }>;
  features: NginxFeatures;
}

/**
 * Works out what a rebuilt state database holds, from the disk alone: an inventory row for every
 * file carrying orch's marker (and the status file), with hashes recomputed, resource and manifest
 * origin (from the sidecars); one generation whose file list is the tree as it is; and the
 * migrations their state files describe. Pure: the caller reads the disk and writes the database.
 */
export function planRebuild(input: RebuildInput): RebuildPlan {
  const managed = input.files.filter((f) => f.managed);
  // Every file: a sidecar damaged past parsing no longer carries the marker, but is still orch's.
  const recovery = recoverDesiredState(input.files, input.features);
  const diagnostics = [...recovery.diagnostics];
  const byConf = new Map(recovery.resources.map((r) => [r.confPath, r]));
  const bySidecar = new Map(recovery.resources.map((r) => [r.sidecarPath, r]));
  const contents = new Map<string, string>();
  const files: RebuiltFile[] = [];

  for (const f of managed) {
    const diskSha = sha256(f.content);
    contents.set(diskSha, f.content);
    const res = byConf.get(f.path) ?? bySidecar.get(f.path) ?? null;
    const isConf = f.path.endsWith('.conf');
    let recorded = f.content;
    if (isConf && res?.expectedConf) {
      recorded = res.expectedConf;
      contents.set(sha256(recorded), recorded);
    }
    files.push({
      path: f.path,
      resource: resourceOfPath(f.path),
      role: isConf ? 'config' : 'sidecar',
      diskSha256: diskSha,
      recordedSha256: sha256(recorded),
      recordedSize: Buffer.byteLength(recorded),
      originFile: res?.origin?.file || null,
      originIndex: res?.from === 'sidecar' ? res.origin!.index : null,
    });
  }

  let generation = 1;
  let generationSource: RebuildPlan['generationSource'] = 'default';
  let fingerprint: string | null = null;
  if (input.statusFile !== null) {
    const sha = sha256(input.statusFile);
    contents.set(sha, input.statusFile);
    files.push({
      path: STATUS_FILE_PATH,
      resource: null,
      role: 'status',
      diskSha256: sha,
      recordedSha256: sha,
      recordedSize: Buffer.byteLength(input.statusFile),
      originFile: null,
      originIndex: null,
    });
    const token = servedToken(input.statusFile);
    if (token) {
      generation = token.generation;
      generationSource = 'status-file';
      fingerprint = `sha256:${token.fingerprint}`;
    } else {
      diagnostics.push({
        severity: 'warning',
        code: 'rebuild.status-unreadable',
        message: `${STATUS_FILE_PATH} does not hold a generation token orch wrote; the generation is re-established as 1.`,
        hint: "'orch status' reports nginx as not serving the last generation until the next apply rewrites the file.",
        source: { file: STATUS_FILE_PATH, line: 1, column: 1 },
      });
    }
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const states: MigrationStateFile[] = [];
  for (const m of input.migrationFiles) {
    const read = decodeMigrationStateFile(m.file, m.text);
    if (read.ok) states.push(read.value);
    else {
      diagnostics.push({
        severity: 'warning',
        code: 'rebuild.migration-state-unreadable',
        message: `migrations/${m.file} is unusable: ${read.problem}; that migration is not restored.`,
        hint: 'Fix or remove the file and run rebuild-db again; the source data of a migration is never deleted.',
        source: { file: `migrations/${m.file}`, line: 1, column: 1 },
      });
    }
  }

  return {
    generation,
    generationSource,
    fingerprint,
    files,
    contents,
    resources: recovery.resources,
    unmanaged: input.files
      .filter((f) => !f.managed && !recovery.resources.some((r) => r.sidecar === 'corrupt' && r.sidecarPath === f.path))
      .map((f) => f.path)
      .sort(),
    migrations: latestMigrationStateFiles(states),
    diagnostics,
  };
}

/** The `<generation> <12 hex>` token the status file answers with (render-status.ts), or null. */
export function servedToken(statusFile: string): { generation: number; fingerprint: string } | null {
  let directives: NginxDirective[];
  try {
    directives = parseNginxConfig(statusFile, { file: STATUS_FILE_PATH }).directives;
  } catch (e) {
    if (e instanceof NginxParseError) return null;
    throw e;
  }
  for (const server of directives.filter((d) => d.name === 'server')) {
    for (const loc of server.block ?? []) {
      if (loc.name !== 'location' || loc.args.join(' ') !== '= /orch/generation') continue;
      const ret = (loc.block ?? []).find((d) => d.name === 'return' && d.args[0] === '200');
      const m = /^([1-9][0-9]{0,9}) ([0-9a-f]{12})$/.exec(ret?.args[1] ?? '');
      if (m) return { generation: Number(m[1]), fingerprint: m[2]! };
    }
  }
  return null;
}
