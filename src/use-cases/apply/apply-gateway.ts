import { ExitCode, UserError } from '../../domain/errors.js';
import { asStorageError } from '../../domain/apply/storage-failure.js';
import { describeInputChanges } from '../../domain/plan/plan-inputs.js';
import { planHasChanges, type Plan } from '../../domain/plan/plan-types.js';
import { applyTree, type ApplyOutcome } from './apply-tree.js';
import type { EmitApplyEvent } from '../../domain/apply/apply-events.js';
import { recoverJournal, type RecoveryReport } from './recover-journal.js';
import { computePlan, planIdentity, type PlanIdentity, type PlanResult } from '../plan/compute-plan.js';
import { createPlannedBuckets, describeCreated, type CreatedBuckets } from '../buckets/create-buckets.js';
import { mapNginxOutput } from './map-nginx-errors.js';
import { stateViewOf } from '../state/open-state.js';
import { withWriterSession } from './writer-session.js';
import { readSavedPlan } from '../plan/saved-plan.js';
import { applyRefusal, type ApplyRefusal } from '../../domain/apply/apply-guards.js';
import type { ApplyPorts } from './apply-ports.js';
import { startPlannedMigrations } from '../migrations/start-migrations.js';
import { shellWord } from '../../domain/shell-word.js';
import { recordRemovedPools } from '../buckets/removed-pools.js';

export interface ApplyOptions {
  /** A saved plan (`orch plan --out`): refused when any of its inputs changed. */
  planFile: string | null;
  dryRun: boolean;
  /** Paths whose hand edits may be overwritten, or 'all'. */
  overwriteDrift: ReadonlySet<string> | 'all';
  maxDelete: number;
  allowEmpty: boolean;
  /** Asked before anything is written (not for a saved plan, nor with --auto-approve). */
  confirm: ((plan: PlanResult) => Promise<boolean>) | null;
  emit: EmitApplyEvent;
  command: string;
  /**
   * A migration's phase generation: only these files may change. Anything else means the manifests
   * hold changes nobody applied yet, which must not ride along a cutover: refused.
   */
  onlyPaths?: ReadonlySet<string>;
  /** Refresh from S3 while planning (default true; a migration's routing generation skips it). */
  refresh?: boolean;
}

export interface ApplyResult {
  planResult: PlanResult;
  /** The plan's inputs and fingerprint, when this apply needed them (a saved plan, a new generation). */
  identity: PlanIdentity | null;
  outcome: ApplyOutcome | null;
  recovered: RecoveryReport | null;
  /** Why nothing was applied, when nothing was. */
  nothingToDo: boolean;
  /** Buckets created on pools before the routes went live. */
  buckets: CreatedBuckets;
  /** Migrations this apply started (phase pending: a driver moves them on). */
  migrationsStarted: string[];
  /** The guard that refused the plan (drift, max-delete, empty): nothing was changed. */
  refusal: ApplyRefusal | null;
}

/**
 * `orch apply`: lock, recover, plan, guards, confirm, then the apply sequence. A guard's refusal is
 * returned (`refusal`), not thrown: the command reports it as an error, the daemon as a blocked
 * reconcile.
 */
export async function applyGateway(ports: ApplyPorts, opts: ApplyOptions): Promise<ApplyResult> {
  checkNginxConf(ports);
  return withWriterSession(ports, opts.command, async ({ store }) => {
    opts.emit({ step: 'recover', status: 'start' });
    const recovered = await recoverJournal(ports, store);
    opts.emit({
      step: 'recover',
      status: recovered ? 'done' : 'skip',
      message: recovered ? `${recovered.action} generation ${recovered.journal.generation}` : 'nothing to recover',
    });

    opts.emit({ step: 'plan', status: 'start' });
    // Refresh from S3: the buckets new routes need, and the guard against stranding objects.
    // A migration's routing generation (onlyPaths) starts no migration: new Migration documents wait for 'orch apply'.
    const planResult = await computePlan(ports, stateViewOf(store), { refresh: opts.refresh ?? true, startsMigrations: !opts.onlyPaths });
    opts.emit({ step: 'plan', status: 'done' });
    const plan = planResult.plan;
    // Hashed only when needed: a no-op apply (each quiet `watch` tick) does not pay for it.
    let identity: PlanIdentity | null = null;
    const identify = (): PlanIdentity => (identity ??= planIdentity(planResult));

    if (opts.planFile) {
      const saved = readSavedPlan(ports.files, opts.planFile);
      if (saved.fingerprint !== identify().fingerprint) {
        const reasons = describeInputChanges(saved.inputs, identify().inputs);
        throw new UserError(
          'plan.stale',
          `The saved plan ${opts.planFile} is stale: ${reasons.length > 0 ? reasons.join('; ') : 'its inputs changed'}.`,
          {
            hint: `Save it again with \`orch plan --out ${shellWord(opts.planFile)}\`, review it, and apply it with \`orch apply ${shellWord(opts.planFile)}\`.`,
            exitCode: ExitCode.stalePlan,
          },
        );
      }
    }

    const buckets: CreatedBuckets = { created: [], existed: [] };
    const migrationsStarted: string[] = [];
    const refusal = applyRefusal(plan, opts);
    if (refusal) return { planResult, identity, outcome: null, recovered, nothingToDo: false, buckets, migrationsStarted, refusal };
    if (opts.onlyPaths) checkOnlyPaths(plan, opts.onlyPaths);
    const startMigrations = (): void => {
      if (opts.dryRun || opts.onlyPaths) return;
      migrationsStarted.push(...startPlannedMigrations(ports, store, plan, opts.command));
    };
    if (!planHasChanges(plan) && plan.summary.migrationsToStart === 0) {
      for (const s of ['stage', 'validate', 'buckets', 'switch', 'reload', 'commit', 'backup'] as const)
        opts.emit({ step: s, status: 'skip', message: 'no changes' });
      return { planResult, identity, outcome: null, recovered, nothingToDo: true, buckets, migrationsStarted, refusal: null };
    }
    if (opts.confirm && !(await opts.confirm(planResult))) {
      throw new UserError('apply.cancelled', 'Apply cancelled; nothing was changed.', { exitCode: ExitCode.error });
    }
    const createBuckets = async (): Promise<string | null> => {
      if (plan.buckets.length === 0) return null;
      const r = await createPlannedBuckets(plan.buckets, planResult.poolAccess, store, opts.command);
      buckets.created.push(...r.created);
      buckets.existed.push(...r.existed);
      return describeCreated(r);
    };
    // Only buckets to create (a route's bucket was deleted on its pool) or migrations to start: no new generation.
    if (plan.summary.add + plan.summary.change + plan.summary.destroy === 0) {
      for (const s of ['stage', 'validate'] as const) opts.emit({ step: s, status: 'skip', message: 'no file changes' });
      if (opts.dryRun) opts.emit({ step: 'buckets', status: 'skip', message: 'dry run' });
      else {
        opts.emit({ step: 'buckets', status: 'start' });
        try {
          opts.emit({ step: 'buckets', status: 'done', message: (await createBuckets()) ?? 'none to create' });
        } catch (e) {
          opts.emit({ step: 'buckets', status: 'fail', message: e instanceof Error ? e.message : String(e) });
          throw asStorageError(e, { doing: 'recording the buckets created', outcome: 'No nginx file changed.' });
        }
      }
      for (const s of ['switch', 'reload', 'commit', 'backup'] as const) opts.emit({ step: s, status: 'skip', message: 'no file changes' });
      startMigrations();
      return { planResult, identity, outcome: null, recovered, nothingToDo: false, buckets, migrationsStarted, refusal: null };
    }

    const files = plan.changes.flatMap((c) => c.files);
    const origins = new Map(plan.changes.filter((c) => c.origin).map((c) => [`${c.resource.kind}/${c.resource.name}`, c.origin!]));
    for (const v of planResult.manifests.validation.desired.virtualHosts) origins.set(`VirtualHost/${v.name}`, v.origin);
    for (const p of planResult.manifests.validation.desired.pools) origins.set(`Pool/${p.name}`, p.origin);
    const outcome = await applyTree(
      { ports, store, emit: opts.emit, command: opts.command },
      {
        files: plan.desired.files,
        changes: files,
        fingerprint: identify().fingerprint,
        summary: { add: plan.summary.add, change: plan.summary.change, destroy: plan.summary.destroy },
        dryRun: opts.dryRun,
        origins,
        mapNginxOutput: (output, root) => mapNginxOutput(output, root, plan.desired.files, planResult.manifests.validation.documents),
        beforePromote: async () => {
          // Before the switch: a crash after it must not lose the record of a removed pool's objects
          // (a record written for an apply that then fails is dropped or replaced by the next apply).
          recordRemovedPools(
            store,
            ports.removedPoolsFile,
            planResult.removedPools,
            new Set(planResult.manifests.validation.desired.pools.map((p) => p.name)),
          );
          return createBuckets();
        },
      },
    );
    if (!outcome.dryRun) startMigrations();
    return { planResult, identity, outcome, recovered, nothingToDo: false, buckets, migrationsStarted, refusal: null };
  });
}

function checkOnlyPaths(plan: Plan, allowed: ReadonlySet<string>): void {
  const other = plan.changes.flatMap((c) => c.files.map((f) => f.path)).filter((p) => !allowed.has(p));
  if (other.length > 0 || plan.buckets.length > 0) {
    throw new UserError(
      'migrate.unapplied-changes',
      `The manifests hold changes that were not applied yet (${[...other, ...plan.buckets.map((b) => `bucket ${b.bucket} on ${b.pool}`)].slice(0, 5).join(', ')}${other.length > 5 ? ', ...' : ''}): a migration's routing change does not carry them.`,
      { hint: "Review and apply them with 'orch plan' and 'orch apply' (or let 'orch watch' do it); the migration then goes on." },
    );
  }
}

/** A missing main configuration would only surface after promotion, as a live `nginx -t` failure. */
export function checkNginxConf({ settings, nginx }: Pick<ApplyPorts, 'settings' | 'nginx'>): void {
  if (settings.nginxConf && !nginx.mainConfigExists()) {
    throw new UserError('nginx.conf-missing', `nginx's main configuration ${settings.nginxConf} does not exist.`, {
      hint: "For the local sandbox, run 'orch sandbox up' first. For a real gateway, set nginxConf (ORCH_NGINX_CONF) to its nginx.conf, or to 'default' for nginx's built-in path, and nginxPrefix (ORCH_NGINX_PREFIX) likewise.",
    });
  }
}
