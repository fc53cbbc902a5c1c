import type { Diagnostic } from '../../domain/diagnostics.js';
import { isLockHeld, isOrchError, ValidationError } from '../../domain/errors.js';
import { planHasChanges, type Plan, type PlanSummary } from '../../domain/plan/plan-types.js';
import type { EmitApplyEvent } from '../../domain/apply/apply-events.js';
import { applyGateway } from '../apply/apply-gateway.js';
import type { ApplyPorts } from '../apply/apply-ports.js';
import type { ApplyRefusal } from '../../domain/apply/apply-guards.js';
import { computePlan, type PlanResult } from '../plan/compute-plan.js';
import { openStateView } from '../state/state-view.js';
import type { PoolAccessPorts } from '../buckets/pool-access.js';

export type WatchMode = 'apply' | 'plan';
export type DriftPolicy = 'warn' | 'correct';

/**
 * - `applied`: a new generation is served (or only the buckets new routes need were created);
 * - `no_changes`: nginx already matches the manifests (drift left alone under `--drift warn` included);
 * - `planned`: `--mode plan` found changes and only reported them;
 * - `invalid`: the manifests (or nginx -t of what they render) are rejected: nothing applied;
 * - `blocked`: a guard refused the apply (hand-edited files under `--drift warn`, `--max-delete`,
 *   `--allow-empty`): nothing applied, waits for the next trigger;
 * - `failed`: anything else (nginx not reloading, S3 unreachable, disk...): retried with backoff.
 */
export const RECONCILE_OUTCOMES = ['applied', 'no_changes', 'planned', 'invalid', 'blocked', 'failed'] as const;
export type ReconcileOutcome = (typeof RECONCILE_OUTCOMES)[number];

export interface WatchPolicy {
  mode: WatchMode;
  drift: DriftPolicy;
  maxDelete: number;
  allowEmpty: boolean;
}

export interface ErrorInfo {
  code: string;
  message: string;
  hint: string | null;
  diagnostics: DiagnosticInfo[];
}

export interface DiagnosticInfo {
  severity: 'error' | 'warning';
  code: string;
  message: string;
  hint: string | null;
  file: string | null;
  line: number | null;
  column: number | null;
  /** `Kind/name` of the manifest document. */
  document: string | null;
  field: string | null;
}

export interface ChangeCounts {
  add: number;
  change: number;
  destroy: number;
  bucketsToCreate: number;
  migrationsToStart: number;
  /** Managed files the plan writes or deletes. */
  files: number;
}

export interface ReconcileResult {
  outcome: ReconcileOutcome | 'deferred';
  /** The generation this reconcile applied, when it applied one. */
  generation: number | null;
  changes: ChangeCounts | null;
  error: ErrorInfo | null;
  /** Hand-edited files that the apply overwrote (`--drift correct`). */
  driftCorrected: string[];
  /** Hand-edited files left alone (`--drift warn`) that this reconcile would otherwise have rewritten. */
  driftKept: string[];
  /** Secret values met while planning (for the log's redaction guard). */
  secrets: string[];
}

/** What a reconcile needs: the settings, the state database, the writer lock, the pools. */
/** What a reconcile works on: the apply engine's ports (which reach the pools too). */
export type ReconcilePorts = ApplyPorts;

/** Waiting for the writer lock while an operator applies would stall shutdown: wait briefly, retry later. */
export const WATCH_LOCK_WAIT_SECONDS = 5;

/**
 * One reconcile: the whole plan from the manifests and the disk as they are now; in `apply` mode,
 * applied through `applyGateway` exactly as `orch apply --auto-approve` does (lock, recover, plan
 * with bucket refresh, guards, stage, nginx -t, journaled promote, live nginx -t, confirmed reload,
 * commit, backup). Never throws: every error is classified in the result.
 */
export async function reconcileOnce(ports: ReconcilePorts, policy: WatchPolicy, emit: EmitApplyEvent): Promise<ReconcileResult> {
  const { settings } = ports;
  const base: ReconcileResult = {
    outcome: 'no_changes',
    generation: null,
    changes: null,
    error: null,
    driftCorrected: [],
    driftKept: [],
    secrets: [],
  };
  if (policy.mode === 'plan') {
    try {
      const pr = await planReadOnly(ports);
      const changes = countChanges(pr.plan);
      return { ...base, outcome: planHasChanges(pr.plan) ? 'planned' : 'no_changes', changes, secrets: secretsOf(ports, pr) };
    } catch (e) {
      return { ...base, ...classify(e) };
    }
  }

  // An operator's apply or rollback holds the lock: come back in a moment rather than queue behind it.
  if (ports.locks.holder()) return { ...base, outcome: 'deferred' };
  try {
    const result = await applyGateway(
      { ...ports, settings: { ...settings, lockTimeoutSeconds: Math.min(settings.lockTimeoutSeconds, WATCH_LOCK_WAIT_SECONDS) } },
      {
        planFile: null,
        dryRun: false,
        overwriteDrift: policy.drift === 'correct' ? 'all' : new Set(),
        maxDelete: policy.maxDelete,
        allowEmpty: policy.allowEmpty,
        confirm: null,
        emit,
        command: 'watch',
      },
    );
    // A guard's refusal is a blocked reconcile (or, for drift under the warn policy, a report).
    if (result.refusal) return await refused(ports, policy, base, result.refusal);
    const plan = result.planResult.plan;
    const changes = countChanges(plan);
    const secrets = secretsOf(ports, result.planResult);
    if (result.nothingToDo) return { ...base, changes, secrets };
    const touched = new Set(plan.changes.flatMap((c) => c.files.map((f) => f.path)));
    return {
      ...base,
      outcome: 'applied',
      generation: result.outcome?.generation ?? null,
      changes,
      secrets,
      driftCorrected: plan.drift.filter((d) => d.kind === 'modified' && touched.has(d.path)).map((d) => d.path),
    };
  } catch (e) {
    if (isLockHeld(e)) return { ...base, outcome: 'deferred' };
    return { ...base, ...classify(e) };
  }
}

/**
 * A reconcile an apply guard refused (drift, max-delete, empty tree): blocked. Drift under the warn
 * policy is not a failure when restoring the hand-edited files is ALL the plan would do: the drift
 * is reported and kept.
 */
async function refused(ports: ReconcilePorts, policy: WatchPolicy, base: ReconcileResult, refusal: ApplyRefusal): Promise<ReconcileResult> {
  const blocked = {
    outcome: 'blocked' as const,
    error: { code: refusal.code, message: refusal.message, hint: refusal.hint, diagnostics: [] },
  };
  if (refusal.guard !== 'drift' || policy.drift !== 'warn') return { ...base, ...blocked };
  try {
    const pr = await planReadOnly(ports);
    const kept = pr.plan.drift.filter((d) => d.kind === 'modified').map((d) => d.path);
    const keptSet = new Set(kept);
    const others = pr.plan.changes.flatMap((c) => c.files).filter((f) => !keptSet.has(f.path));
    const s = pr.plan.summary;
    const report = { changes: countChanges(pr.plan), driftKept: kept, secrets: secretsOf(ports, pr) };
    if (others.length === 0 && s.migrationsToStart === 0 && s.bucketsToCreate === 0) return { ...base, outcome: 'no_changes', ...report };
    return { ...base, ...blocked, ...report };
  } catch (e) {
    return { ...base, ...classify(e) };
  }
}

/**
 * The plan with the state read without the lock (`orch plan`, refresh included). A lost state
 * stops it as it stops `orch plan` (src/use-cases/state/state-health.ts).
 */
async function planReadOnly(ports: ReconcilePorts): Promise<PlanResult> {
  return computePlan(ports, openStateView(ports).view, { refresh: true });
}

const GUARDS: ReadonlySet<string> = new Set(['apply.drift', 'apply.max-delete', 'apply.empty']);
const INVALID: ReadonlySet<string> = new Set(['validation.failed', 'nginx.test-failed', 'manifests.not-found']);

/** invalid (the input is wrong), blocked (a guard), failed (may work on retry). */
export function classify(e: unknown): { outcome: ReconcileOutcome; error: ErrorInfo } {
  const error = errorInfo(e);
  if (e instanceof ValidationError || INVALID.has(error.code)) return { outcome: 'invalid', error };
  if (GUARDS.has(error.code)) return { outcome: 'blocked', error };
  return { outcome: 'failed', error };
}

export function errorInfo(e: unknown): ErrorInfo {
  if (isOrchError(e)) {
    return {
      code: e.code,
      message: e.message,
      hint: e.hint ?? null,
      diagnostics: e instanceof ValidationError ? e.diagnostics.map(diagnosticInfo) : [],
    };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as NodeJS.ErrnoException).code;
  return { code: typeof code === 'string' ? `internal.${code}` : 'internal', message: err.message, hint: null, diagnostics: [] };
}

export function diagnosticInfo(d: Diagnostic): DiagnosticInfo {
  return {
    severity: d.severity,
    code: d.code,
    message: d.message,
    hint: d.hint ?? null,
    file: d.source?.file ?? null,
    line: d.source?.line ?? null,
    column: d.source?.column ?? null,
    document: d.document ? `${d.document.kind}/${d.document.name}` : null,
    field: d.field ?? null,
  };
}

/** `manifests/routes/photos.yaml:7:9: ref.unknown-pool: ...` */
export function formatDiagnostic(d: DiagnosticInfo): string {
  const at = d.file ? `${d.file}${d.line !== null ? `:${d.line}${d.column !== null ? `:${d.column}` : ''}` : ''}: ` : '';
  return `${at}${d.code}: ${d.message}`;
}

function countChanges(plan: Plan): ChangeCounts {
  const s: PlanSummary = plan.summary;
  return {
    add: s.add,
    change: s.change,
    destroy: s.destroy,
    bucketsToCreate: s.bucketsToCreate,
    migrationsToStart: s.migrationsToStart,
    files: plan.changes.reduce((n, c) => n + c.files.length, 0),
  };
}

/** The credential values the manifests reference (resolved the way planning resolves them). */
function secretsOf(ports: PoolAccessPorts, pr: PlanResult): string[] {
  const out: string[] = [];
  for (const p of pr.manifests.validation.desired.pools) {
    if (!p.credentials) continue;
    const r = ports.secrets.resolvePoolCredentials(p.credentials);
    for (const v of [r.accessKeyId, r.secretAccessKey]) if (v.ok) out.push(v.value);
  }
  return out;
}
