import { UserError } from '../errors.js';
import type { Plan } from '../plan/plan-types.js';

/**
 * The guards an apply checks before it touches anything, as data: a refusal says which guard
 * stopped the plan and why. `orch apply` reports it as an error (refusalError); the watch daemon
 * reports it as a blocked reconcile.
 */
export type ApplyGuard = 'drift' | 'max-delete' | 'empty';

export interface ApplyRefusal {
  guard: ApplyGuard;
  /** `apply.drift`, `apply.max-delete`, `apply.empty`: the error code the CLI reports. */
  code: `apply.${ApplyGuard}`;
  message: string;
  hint: string;
  /** The files (drift) or resources (max-delete, empty) the refusal is about. */
  subjects: string[];
}

export interface ApplyGuardPolicy {
  /** Paths whose hand edits may be overwritten, or 'all'. */
  overwriteDrift: ReadonlySet<string> | 'all';
  maxDelete: number;
  allowEmpty: boolean;
}

/** The first guard that refuses the plan (drift, then max-delete, then empty), or null. */
export function applyRefusal(plan: Plan, policy: ApplyGuardPolicy): ApplyRefusal | null {
  const blocking = plan.drift.filter(
    (d) => d.kind === 'modified' && !(policy.overwriteDrift === 'all' || policy.overwriteDrift.has(d.path)),
  );
  // Only drifted files that this apply would overwrite or delete matter.
  const touched = new Set(plan.changes.flatMap((c) => c.files.map((f) => f.path)));
  const stops = blocking.filter((d) => touched.has(d.path));
  if (stops.length > 0) {
    return {
      guard: 'drift',
      code: 'apply.drift',
      message: `${stops.length} managed file${stops.length === 1 ? ' was' : 's were'} edited outside orch and would be overwritten: ${stops.map((d) => d.path).join(', ')}.`,
      hint: `See the edits with 'orch drift'. Either carry them into the manifests, or discard them with 'orch apply ${stops
        .slice(0, 5)
        .map((d) => `--overwrite-drift-path ${d.path}`)
        .join(
          ' ',
        )}'${stops.length > 5 ? " (one --overwrite-drift-path per file), or all of them with 'orch apply --overwrite-drift'" : ''}.`,
      subjects: stops.map((d) => d.path),
    };
  }
  const deletes = plan.changes.filter((c) => c.action === 'delete').map((c) => `${c.resource.kind}/${c.resource.name}`);
  if (deletes.length > policy.maxDelete) {
    return {
      guard: 'max-delete',
      code: 'apply.max-delete',
      message: `This apply would delete ${deletes.length} resources (${deletes.join(', ')}), more than --max-delete ${policy.maxDelete}.`,
      hint: 'Check that the manifest path is right. If the deletion is intended, raise --max-delete.',
      subjects: deletes,
    };
  }
  if (plan.desired.files.length === 0 && deletes.length > 0 && !policy.allowEmpty) {
    return {
      guard: 'empty',
      code: 'apply.empty',
      message: 'This apply would delete every managed file: the manifests describe no pool and no virtual host.',
      hint: 'Check the manifest path. To really empty the gateway, pass --allow-empty.',
      subjects: deletes,
    };
  }
  return null;
}

/** The refusal as the error the CLI reports (code, message, hint and exit code 1, as always). */
export function refusalError(refusal: ApplyRefusal): UserError {
  return new UserError(refusal.code, refusal.message, { hint: refusal.hint });
}
