import { PoolAccessError } from '../../domain/buckets/pool-access-error.js';
import type { Diagnostic } from '../../domain/diagnostics.js';
import { isActive, type MigrationRecord } from '../../domain/migrations/migration-record.js';
import type { DesiredMigration, DesiredState, Origin } from '../../domain/model/desired-state.js';
import type { PoolAccess } from '../buckets/pool-access.js';
import type { PoolStorage } from '../../ports/pool-storage.js';

export interface PreflightInput {
  /** The manifests' desired state (before migrations rewrite routes). */
  desired: DesiredState;
  /** Migration documents the state does not know yet: `orch apply` would start them. */
  toStart: readonly DesiredMigration[];
  records: readonly MigrationRecord[];
  /** null: offline (`--no-refresh`): nothing is checked on the pools. */
  access: PoolAccess | null;
  maxParallel: number;
  positionOf?: (origin: Origin, field: Array<string | number>) => Diagnostic['source'] | undefined;
}

export interface PreflightResult {
  /** The migrations apply starts (all of toStart when nothing is wrong: errors refuse the plan). */
  start: DesiredMigration[];
  diagnostics: Diagnostic[];
}

/**
 * Checks, before a migration is started, what the manifests alone cannot tell:
 * - the bucket's route names the source pool (the migration flips it; a route already on the
 *   destination would have sent clients to an empty bucket);
 * - no other active migration moves the same bucket;
 * - on the pools (when the plan refreshes): the source bucket exists; in sync mode the source is
 *   not empty and the destination is (a mirror would otherwise delete the destination's objects);
 *   in copy mode, objects already at the destination are reported and kept.
 * Migrations beyond `maxParallel` start in phase pending and wait for a slot.
 */
export async function preflightMigrations(input: PreflightInput): Promise<PreflightResult> {
  const diagnostics: Diagnostic[] = [];
  if (input.toStart.length === 0) return { start: [], diagnostics };
  const at = (origin: Origin, field: Array<string | number>) => {
    const source = input.positionOf?.(origin, field);
    return { ...(source ? { source } : {}), document: { kind: origin.kind, name: origin.name }, field: field.join('.') };
  };
  const active = input.records.filter(isActive);

  for (const m of input.toStart) {
    const vhost = input.desired.virtualHosts.find((v) => v.name === m.virtualHost);
    const route = vhost?.routes.find((r) => r.bucket === m.bucket && r.enabled);
    if (route && route.pool !== m.from) {
      diagnostics.push({
        severity: 'error',
        code: 'migration.route-not-on-source',
        message: `migration ${m.name} moves bucket ${m.bucket} from pool ${m.from}, but route ${route.name} sends it to pool ${route.pool}`,
        hint:
          route.pool === m.to
            ? `Keep spec.pool of route ${route.name} at ${m.from} until the migration is done: the migration switches the route to ${m.to} itself, after the data is there.`
            : `Set spec.from of the migration to ${route.pool}, the pool that holds the bucket now.`,
        ...at(m.origin, ['spec', 'from']),
      });
    }
    const other = active.find((r) => r.virtualHost === m.virtualHost && r.bucket === m.bucket && r.name !== m.name);
    if (other) {
      diagnostics.push({
        severity: 'error',
        code: 'migration.bucket-busy',
        message: `bucket ${m.bucket} of ${m.virtualHost} is already moving in migration ${other.name} (phase ${other.phase})`,
        hint: `Wait until ${other.name} is done, or cancel it with 'orch migrate cancel ${other.name}'.`,
        ...at(m.origin, ['spec', 'bucket']),
      });
    }
  }
  const running = active.length;
  if (running + input.toStart.length > input.maxParallel) {
    const waiting = input.toStart.slice(Math.max(0, input.maxParallel - running));
    for (const m of waiting) {
      diagnostics.push({
        severity: 'warning',
        code: 'migration.queued',
        message: `migration ${m.name} starts in phase pending and waits: ${running} migration${running === 1 ? ' is' : 's are'} active and at most ${input.maxParallel} run at once`,
        hint: 'Raise maxParallelMigrations (ORCH_MAX_PARALLEL_MIGRATIONS) to run more at once.',
        ...at(m.origin, ['metadata', 'name']),
      });
    }
  }
  if (input.access) diagnostics.push(...(await checkPools(input.access, input.toStart, at)));
  return { start: [...input.toStart], diagnostics };
}

type At = (origin: Origin, field: Array<string | number>) => Pick<Diagnostic, 'source' | 'document' | 'field'>;

async function checkPools(access: PoolAccess, migrations: readonly DesiredMigration[], at: At): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  const opened = new Map<string, Promise<PoolStorage>>();
  const open = (pool: string) => {
    let p = opened.get(pool);
    if (!p) {
      p = access.open(pool);
      opened.set(pool, p);
    }
    return p;
  };
  try {
    for (const m of migrations) {
      const unusable = [m.from, m.to].filter((p) => !access.usable.has(p));
      if (unusable.length > 0) {
        out.push({
          severity: 'warning',
          code: 'migration.not-checked',
          message: `migration ${m.name} was not checked on the pools: ${unusable.map((p) => access.problems.get(p) ?? `no credentials for pool ${p}`).join('; ')}`,
          hint: 'The migration checks again when it starts copying; make the pool credentials available to orch.',
          ...at(m.origin, ['metadata', 'name']),
        });
        continue;
      }
      try {
        const source = await open(m.from);
        const destination = await open(m.to);
        const [sourceBuckets, destinationBuckets] = await Promise.all([source.listBuckets(), destination.listBuckets()]);
        if (!sourceBuckets.includes(m.bucket)) {
          out.push({
            severity: 'error',
            code: 'migration.source-missing',
            message: `migration ${m.name}: bucket ${m.bucket} does not exist on the source pool ${m.from}`,
            hint: `Check spec.bucket and spec.from: the bucket must exist on ${m.from}.`,
            ...at(m.origin, ['spec', 'bucket']),
          });
          continue;
        }
        const destinationHas = destinationBuckets.includes(m.bucket) ? await destination.hasObjects(m.bucket) : false;
        if (m.mode === 'sync') {
          if (!(await source.hasObjects(m.bucket))) {
            out.push({
              severity: 'error',
              code: 'migration.sync-empty-source',
              message: `migration ${m.name} mirrors an empty bucket: ${m.bucket} has no object on ${m.from}`,
              hint: 'A sync of an empty source is refused (it usually means the wrong pool or bucket). Check spec.from and spec.bucket, or use mode: copy.',
              ...at(m.origin, ['spec', 'mode']),
            });
          }
          if (destinationHas) {
            out.push({
              severity: 'error',
              code: 'migration.sync-destination-not-empty',
              message: `migration ${m.name} mirrors into a bucket that is not empty: ${m.bucket} already has objects on ${m.to}`,
              hint: `sync mode makes the destination equal to the source and would delete what is there. Empty ${m.bucket} on ${m.to}, or use mode: copy (it keeps them).`,
              ...at(m.origin, ['spec', 'mode']),
            });
          }
        } else if (destinationHas) {
          out.push({
            severity: 'warning',
            code: 'migration.destination-not-empty',
            message: `migration ${m.name}: bucket ${m.bucket} already has objects on ${m.to}; copy mode keeps those the source does not have, and overwrites those it has`,
            hint:
              `Check spec.to. After an earlier migration to ${m.to} (cancelled, failed, or under another name), only objects that were ` +
              'there before the first one started are kept: what an earlier attempt copied and the source no longer has is deleted.',
            ...at(m.origin, ['spec', 'to']),
          });
        }
      } catch (e) {
        if (!(e instanceof PoolAccessError)) throw e;
        out.push({
          severity: 'warning',
          code: 'migration.not-checked',
          message: `migration ${m.name} was not checked on the pools: ${e.message}`,
          hint: e.hint ?? 'The migration checks again when it starts copying.',
          ...at(m.origin, ['metadata', 'name']),
        });
      }
    }
  } finally {
    for (const p of opened.values())
      p.then(
        (s) => s.close(),
        () => undefined,
      );
  }
  return out;
}
