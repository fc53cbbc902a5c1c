/**
 * Per-resource conditions, as Kubernetes' kstatus has them: Ready, Reconciling, Stalled, each
 * True/False/Unknown with a CamelCase reason and a message for people. Derived from what orch knows
 * about the gateway (docs/json.md, "Conditions"). Pure: every fact comes in as a parameter.
 */

export type ConditionType = 'Ready' | 'Reconciling' | 'Stalled';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  /** One CamelCase word a script may match. */
  reason: string;
  message: string;
  /** When the condition took this status (ISO 8601), or null when orch does not know. */
  lastTransitionTime: string | null;
}

export type ResourceKind = 'Pool' | 'VirtualHost' | 'Route' | 'Migration';

export interface ResourceConditions {
  kind: ResourceKind;
  name: string;
  conditions: Condition[];
}

/** A resource of the live generation: its files, and for a route the pool it sends to. */
export interface AppliedResource {
  kind: 'Pool' | 'VirtualHost' | 'Route';
  name: string;
  /** Managed files that hold it (a route: its virtual host's files). */
  files: readonly string[];
  /** The pools it depends on (a route: its pool; a pool: itself). */
  pools: readonly string[];
  /** The generation that last wrote its files, and when (null when unknown). */
  since: string | null;
}

export interface MigrationFacts {
  name: string;
  phase: string;
  lastError: string | null;
  /** When the error was recorded, or the last update: null when unknown. */
  errorAt: string | null;
  updatedAt: string | null;
  finishedAt: string | null;
}

/** What orch knows about the gateway as a whole, which every resource of it shares. */
export interface GatewayFacts {
  /** The last committed generation, or null before the first apply. */
  generation: { number: number; createdAt: string } | null;
  /**
   * What nginx serves: the last generation ('current'), another one ('other'), nothing on the status
   * address ('none'), or not checked (the daemon does not probe nginx on every /status).
   */
  serving: { state: 'current' | 'other' | 'none' | 'unchecked'; detail: string };
  /** A writer at work now (holds the lock), or null. */
  writer: { command: string; since: string } | null;
  /** An apply that died mid-way and is finished or undone by the next orch writer, or null. */
  interrupted: { notice: string } | null;
  /** Managed files not as orch last wrote them. */
  drift: ReadonlyArray<{ path: string; kind: 'modified' | 'deleted' }>;
  /** The daemon's last reconcile when it did not succeed (invalid manifests, blocked, failed), or null. */
  reconcileFailure: { reason: string; message: string; at: string } | null;
  /** How each pool answered the last bucket sync (pools not listed are absent). */
  pools: ReadonlyArray<{ pool: string; status: string; message: string | null }>;
}

const POOL_PROBLEMS: Record<string, { reason: string; what: string }> = {
  'access-denied': { reason: 'CredentialsRefused', what: 'refused the credentials' },
  'no-credentials': { reason: 'NoCredentials', what: 'has no usable credentials' },
  'unreachable': { reason: 'PoolUnreachable', what: 'did not answer' },
  'error': { reason: 'PoolError', what: 'answered with an error' },
};

type Verdict = { type: ConditionType | null; reason: string; message: string; at: string | null };

/** The three conditions for one verdict: the one that holds True, the others False (all Unknown when type is null). */
export function conditionsOf(v: Verdict): Condition[] {
  return (['Ready', 'Reconciling', 'Stalled'] as const).map((type) => ({
    type,
    status: v.type === null ? 'Unknown' : v.type === type ? 'True' : 'False',
    reason: v.reason,
    message: v.message,
    lastTransitionTime: v.type === type ? v.at : null,
  }));
}

/** The verdict for a resource of the live generation, most urgent first. */
function appliedVerdict(r: AppliedResource, g: GatewayFacts): Verdict {
  if (g.writer)
    return { type: 'Reconciling', reason: 'Applying', message: `orch ${g.writer.command} is writing the gateway`, at: g.writer.since };
  if (g.interrupted) return { type: 'Reconciling', reason: 'ApplyInterrupted', message: g.interrupted.notice, at: null };
  if (g.reconcileFailure) return { type: 'Stalled', ...g.reconcileFailure };
  const files = new Set(r.files);
  const drifted = g.drift.filter((d) => files.has(d.path));
  if (drifted.length > 0)
    return {
      type: 'Stalled',
      reason: 'Drifted',
      message: `${drifted.map((d) => `${d.path} was ${d.kind === 'deleted' ? 'deleted' : 'edited'}`).join(', ')} outside orch (orch drift)`,
      at: null,
    };
  if (g.serving.state === 'none' || g.serving.state === 'other')
    return { type: 'Stalled', reason: g.serving.state === 'none' ? 'NginxNotAnswering' : 'NotServed', message: g.serving.detail, at: null };
  for (const p of r.pools) {
    const seen = g.pools.find((x) => x.pool === p);
    const problem = seen ? POOL_PROBLEMS[seen.status] : undefined;
    if (seen && problem)
      return {
        type: 'Stalled',
        reason: problem.reason,
        message: `pool ${p} ${problem.what} at the last bucket sync${seen.message ? `: ${seen.message}` : ''}`,
        at: null,
      };
  }
  const gen = g.generation ? `generation ${g.generation.number}` : 'the last generation';
  return {
    type: 'Ready',
    reason: 'Current',
    message: g.serving.state === 'current' ? `${gen} is served by nginx` : `${gen} is applied`,
    at: r.since,
  };
}

const CAMEL = (phase: string) => phase.replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());

/** The verdict for a migration, from its phase. */
function migrationVerdict(m: MigrationFacts): Verdict {
  switch (m.phase) {
    case 'done':
      return { type: 'Ready', reason: 'Done', message: 'the bucket is served by the destination pool', at: m.finishedAt };
    case 'cancelled':
      return { type: 'Stalled', reason: 'Cancelled', message: 'cancelled: the bucket stays on the source pool', at: m.finishedAt };
    case 'error':
      return {
        type: 'Stalled',
        reason: 'MigrationFailed',
        message: m.lastError ?? 'failed (no detail recorded)',
        at: m.errorAt ?? m.updatedAt,
      };
    case 'pending':
    case 'copying':
    case 'write_routing':
    case 'verifying':
    case 'switching':
      return m.lastError
        ? { type: 'Reconciling', reason: 'Retrying', message: `${m.phase}, retrying after: ${m.lastError}`, at: m.errorAt ?? m.updatedAt }
        : { type: 'Reconciling', reason: CAMEL(m.phase), message: `phase ${m.phase}`, at: m.updatedAt };
    default:
      return { type: null, reason: 'UnknownPhase', message: `phase ${JSON.stringify(m.phase)} is not one orch knows`, at: null };
  }
}

/** Every resource's conditions: pools, virtual hosts and routes of the live generation, then migrations. */
export function resourceConditions(
  applied: readonly AppliedResource[],
  migrations: readonly MigrationFacts[],
  gateway: GatewayFacts,
): ResourceConditions[] {
  const order: Record<string, number> = { Pool: 0, VirtualHost: 1, Route: 2 };
  const sorted = [...applied].sort((a, b) => order[a.kind]! - order[b.kind]! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return [
    ...sorted.map((r) => ({ kind: r.kind, name: r.name, conditions: conditionsOf(appliedVerdict(r, gateway)) })),
    ...[...migrations]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((m) => ({ kind: 'Migration' as const, name: m.name, conditions: conditionsOf(migrationVerdict(m)) })),
  ];
}

/** The condition JSON of docs/json.md (snake_case). */
export function conditionToJson(c: Condition) {
  return { type: c.type, status: c.status, reason: c.reason, message: c.message, last_transition_time: c.lastTransitionTime };
}
