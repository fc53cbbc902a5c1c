import { MIGRATION_DEFAULTS, type DesiredMigration, type DesiredPool, type DesiredVirtualHost } from '../model/desired-state.js';
import type { Diagnostic } from '../diagnostics.js';
import { checkBucketName } from '../manifests/value-types.js';
import type { ImportWarnings, SourceFile } from './import-result.js';
import { resourceNameFrom } from './nginx-source.js';
import { credentialEnvNames } from './reference-credentials.js';

/**
 * The reference tool's migration state files (its data directory, `migrations/`):
 * `migration-<id>.state.json` while a migration runs, `migration-<id>.done.json` once it is done
 * (sidecar.py). Fields used: migration_id, vhost_id, bucket, source_pool_name, target_pool_name,
 * mode, status (its phase), copied_objects / total_objects, orphaned_* (done records).
 *
 * What each becomes:
 * - pending, copying (traffic still on the source, the route names it): a Migration document, so
 *   orch carries the move on; one line says what orch does with what was already copied;
 * - write_routing, verifying, switching (writes already reach the destination, reads the source):
 *   a refusal. Taking over would send writes back to the source and lose the ones the destination
 *   holds; the reference tool has to finish or cancel it first;
 * - done: nothing to carry (the route already names the destination); one line names the source
 *   data left behind, which orch does not track;
 * - error, cancelled: one line; not carried.
 */
export interface ReferenceMigrationContext {
  /** Virtual host by the reference tool's vhost_id (from the vhost sidecars). */
  vhostById: ReadonlyMap<number, DesiredVirtualHost>;
  pools: readonly DesiredPool[];
  migrationNames: Set<string>;
  warnings: ImportWarnings;
  refusals: Diagnostic[];
}

const SPLIT_PHASES = new Set(['write_routing', 'verifying', 'switching']);
const CARRIED_PHASES = new Set(['pending', 'copying']);
const ENDED_PHASES = new Set(['error', 'cancelled']);

interface State {
  migration_id?: unknown;
  vhost_id?: unknown;
  bucket?: unknown;
  source_pool_name?: unknown;
  target_pool_name?: unknown;
  mode?: unknown;
  status?: unknown;
  copied_objects?: unknown;
  total_objects?: unknown;
  orphaned_source_prefix?: unknown;
  orphaned_at?: unknown;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

export function refusal(refusals: Diagnostic[], code: string, message: string, file: string, hint: string, line = 1): void {
  refusals.push({ severity: 'error', code, message, hint, source: { file, line, column: 1 } });
}

export function referenceMigrations(files: readonly SourceFile[], ctx: ReferenceMigrationContext): DesiredMigration[] {
  const out: DesiredMigration[] = [];
  const states: Array<{ file: SourceFile; state: State; done: boolean }> = [];
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    const done = file.path.endsWith('.done.json');
    if (!done && !file.path.endsWith('.state.json')) continue;
    let state: State | null = null;
    try {
      const v = JSON.parse(file.content) as unknown;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) state = v as State;
    } catch {
      /* reported below */
    }
    if (state === null) {
      refusal(
        ctx.refusals,
        'import.migration-unreadable',
        `${file.path} is not a JSON object: what this migration is doing is unknown.`,
        file.path,
        'Check the migration in the reference tool (its Migrations page or GET /api/migrations), let it finish or cancel it, remove the damaged file, then import again.',
      );
      continue;
    }
    states.push({ file, state, done });
  }
  // A state file left beside its completion record (the reference tool crashed between the two) is stale.
  const doneIds = new Set(states.filter((s) => s.done).map((s) => s.state.migration_id));
  for (const { file, state, done } of states) {
    const id = typeof state.migration_id === 'number' ? state.migration_id : null;
    if (!done && id !== null && doneIds.has(id)) continue;
    const status = done ? 'done' : (str(state.status) ?? 'unknown');
    const bucket = str(state.bucket);
    const from = str(state.source_pool_name);
    const to = str(state.target_pool_name);
    const what = `migration ${id ?? '?'} (bucket ${bucket ?? '?'}, ${from ?? '?'} -> ${to ?? '?'}, phase ${status})`;
    if (status === 'done') {
      const prefix = str(state.orphaned_source_prefix) ?? (bucket ? `/${bucket}/` : '?');
      ctx.warnings.warn(
        'import.migration-done',
        `${what}: done${str(state.orphaned_at) ? ` at ${String(state.orphaned_at)}` : ''}; the route already names ${to ?? 'the destination'}, nothing to carry. The source data (pool ${from ?? '?'}, ${prefix}) was left in place and is not listed by orch (orch migrations orphaned lists only orch's own migrations).`,
        { file: file.path },
        `Check it, then delete bucket ${bucket ?? '?'} on pool ${from ?? '?'} with your own tools when you no longer need it.`,
      );
      continue;
    }
    if (SPLIT_PHASES.has(status)) {
      refusal(
        ctx.refusals,
        'import.migration-split',
        `${what}: writes already go to ${to ?? 'the destination'} and reads to ${from ?? 'the source'}; orch cannot take this migration over without sending writes back to the source, where the ones written since are missing.`,
        file.path,
        `Let migration ${id ?? '?'} finish in the reference tool (or cancel it there: POST /api/migrations/${id ?? '<id>'}/cancel), then run orch import again.`,
      );
      continue;
    }
    if (ENDED_PHASES.has(status)) {
      ctx.warnings.warn(
        'import.migration-ended',
        `${what}: ended in the reference tool; not carried. The bucket is routed as its .conf says.`,
        { file: file.path },
        `To move bucket ${bucket ?? '?'} with orch, declare a Migration (docs/migrations.md).`,
      );
      continue;
    }
    if (!CARRIED_PHASES.has(status)) {
      refusal(
        ctx.refusals,
        'import.migration-unknown-phase',
        `${what}: the phase ${JSON.stringify(status)} is not one the reference tool writes; what the migration is doing is unknown.`,
        file.path,
        'Let the migration finish or cancel it in the reference tool, then import again.',
      );
      continue;
    }
    // pending / copying: orch carries it on.
    const vhost = typeof state.vhost_id === 'number' ? ctx.vhostById.get(state.vhost_id) : undefined;
    const route = vhost?.routes.find((r) => r.path === `/${bucket}/`);
    const fromPool = ctx.pools.find((p) => p.name === from);
    const toPool = ctx.pools.find((p) => p.name === to);
    const problem =
      bucket === null || checkBucketName(bucket) !== null
        ? `its bucket ${JSON.stringify(state.bucket)} is not a valid bucket name`
        : !vhost
          ? `no imported virtual host has the reference tool's vhost_id ${String(state.vhost_id)} (its sidecar is missing)`
          : !route
            ? `virtual host ${vhost.name} has no route /${bucket}/`
            : !fromPool || !toPool
              ? `pool ${!fromPool ? from : to} is not in the imported tree`
              : fromPool.type !== 'nanio' || toPool.type !== 'nanio'
                ? 'both pools must be nanio pools'
                : route.pool !== fromPool.name
                  ? `the route /${bucket}/ sends the bucket to ${route.pool}, not to the source ${fromPool.name}`
                  : null;
    if (problem !== null) {
      ctx.warnings.warn(
        'import.migration-not-carried',
        `${what}: not carried (${problem}). Traffic stays where the .conf sends it; nothing is copied.`,
        { file: file.path },
        `Cancel migration ${id ?? '?'} in the reference tool; to move the bucket with orch, declare a Migration (docs/migrations.md).`,
      );
      continue;
    }
    const name = resourceNameFrom(`${bucket}-to-${to}`, ctx.migrationNames, `migration-${id ?? out.length + 1}`);
    for (const pool of [fromPool!, toPool!]) {
      if (pool.credentials !== null) continue;
      // The reference tool signs with its global S3_ACCESS_KEY / S3_SECRET_KEY when a pool has none of its own.
      const env = credentialEnvNames(pool.name);
      pool.credentials = { accessKeyId: { env: env.accessKeyId }, secretAccessKey: { env: env.secretAccessKey } };
      ctx.warnings.warn(
        'import.global-credentials',
        `pool ${pool.name}: its sidecar holds no credentials, so the reference tool used its global S3_ACCESS_KEY and S3_SECRET_KEY for it; Migration ${name} needs credentials, imported as references to ${env.accessKeyId} and ${env.secretAccessKey}.`,
        { file: file.path },
        `Set ${env.accessKeyId} and ${env.secretAccessKey} in orch's environment to the values of NANIO_ORCHESTRATOR_S3_ACCESS_KEY and NANIO_ORCHESTRATOR_S3_SECRET_KEY (/etc/nanio-orchestrator/config.env).`,
      );
    }
    const mode = state.mode === 'sync' ? 'sync' : 'copy';
    const progress =
      typeof state.copied_objects === 'number' && typeof state.total_objects === 'number'
        ? `, ${state.copied_objects} of ${state.total_objects} objects copied`
        : '';
    ctx.warnings.warn(
      'import.migration-carried',
      `${what}${progress}: imported as Migration ${name} (${mode} mode); orch starts it over once applied, comparing what ${to} already holds rather than copying blindly.`,
      { file: file.path },
      mode === 'copy'
        ? `Stop the reference tool (systemctl stop nanio-orchestrator) before the first orch apply so that one tool copies. Objects it already copied count as objects that were at ${to} before: an object deleted from ${from} since would come back after the cutover; to rule that out, delete bucket ${bucket} on ${to} first.`
        : `Stop the reference tool (systemctl stop nanio-orchestrator) before the first orch apply. A sync migration refuses a destination that holds objects: delete bucket ${bucket} on ${to} first.`,
    );
    out.push({
      name,
      virtualHost: vhost!.name,
      bucket: bucket!,
      from: fromPool!.name,
      to: toPool!.name,
      mode,
      concurrency: MIGRATION_DEFAULTS.concurrency,
      bandwidthLimit: null,
      freezeBudgetSeconds: MIGRATION_DEFAULTS.freezeBudgetSeconds,
      origin: { file: '', index: 0, kind: 'Migration', name },
    });
  }
  return out;
}
