import type { LockHolder, WriterLocks } from '../../ports/writer-lock.js';
import type { GenerationRow } from '../../ports/state-store.js';
import type { Clock } from '../../ports/clock.js';
import { statusToken } from '../../domain/render/render-status.js';
import { driftReport, type DriftPorts } from './drift-report.js';
import type { Nginx } from '../../ports/nginx.js';
import { openStateForReading } from '../state/state-health.js';
import { interruptedApplyOf } from '../state/state-view.js';
import { resourceConditions, type AppliedResource, type MigrationFacts, type ResourceConditions } from '../../domain/status/conditions.js';
import { appliedResources, migrationFacts } from './applied-resources.js';

export interface GatewayStatus {
  generation: GenerationRow | null;
  driftCount: number;
  /** The drifted files (orch drift shows their diffs). */
  driftFiles: Array<{ path: string; kind: 'modified' | 'deleted' }>;
  lockHolder: LockHolder | null;
  backupAgeSeconds: number | null;
  nginxVersion: string | null;
  /**
   * What the status location answers right now, and whether it is the last committed generation.
   * Not asked (`checked` false) before the first apply from this state directory: whatever answers
   * on that address then is not this gateway's.
   */
  served: { checked: boolean; token: string | null; expected: string | null; current: boolean };
  /** An apply that died mid-way (said first by `orch status`); `switched`: its generation is live. */
  interruptedApply: { generation: number; phase: string; switched: boolean | null; notice: string } | null;
  /** The layout of the managed directory: generations (the live one), legacy directories, ... */
  layout: { kind: string; current: number | null };
  /** Notices said first (an interrupted apply or conversion). */
  notices: string[];
  /** Healthy: a generation applied, served by nginx, no drift, no interrupted apply. Else why not. */
  health: { healthy: boolean; problems: Array<{ reason: string; message: string }> };
  /** Every pool, virtual host and route of the live generation and every migration, with its conditions. */
  resources: ResourceConditions[];
}

/** What `orch status` reads. */
export interface GatewayStatusPorts extends DriftPorts {
  locks: WriterLocks;
  clock: Clock;
  nginx: Pick<Nginx, 'version' | 'servedGeneration'>;
}

/** `orch status`. A lost or unusable state stops it with what was found (never "none applied yet"). */
export async function gatewayStatus(ports: GatewayStatusPorts, opts: { statusListen: string }): Promise<GatewayStatus> {
  const interrupted = interruptedApplyOf(ports);
  const store = openStateForReading(ports);
  let generation: GenerationRow | null = null;
  let applied: AppliedResource[] = [];
  let migrations: MigrationFacts[] = [];
  try {
    const n = store?.currentGeneration() ?? null;
    generation = n === null ? null : (store?.generation(n) ?? null);
    if (store) {
      applied = appliedResources(store, ports.tree);
      migrations = migrationFacts(store);
    }
  } finally {
    store?.close();
  }
  const expected = generation ? statusToken(generation.number, generation.fingerprint ?? '') : null;
  // Before the first apply, nothing on the status address is this gateway's: not asked.
  const token = generation ? await ports.nginx.servedGeneration() : null;
  const current = token !== null && token === expected;
  const backupAt = ports.state.backupWrittenAt();
  const drift = driftReport(ports);
  const layout = ports.tree.layout();
  const lockHolder = ports.locks.holder();
  const driftFiles = drift.items.map((d) => ({ path: d.path, kind: d.kind }));

  const problems: Array<{ reason: string; message: string }> = [];
  let serving: { state: 'current' | 'other' | 'none' | 'unchecked'; detail: string } = { state: 'unchecked', detail: '' };
  if (!generation)
    problems.push({ reason: 'NoGeneration', message: 'no generation has been applied from this state directory (orch apply)' });
  else if (token === null)
    serving = {
      state: 'none',
      detail: `nothing answers on the status address ${opts.statusListen}: nginx is not running, or not with orch's configuration, so generation ${generation.number} is not served`,
    };
  else if (!current)
    serving = {
      state: 'other',
      detail: `nginx serves "${token}", not generation ${generation.number} ("${expected}"): it did not load the last generation (orch apply reloads it)`,
    };
  else serving = { state: 'current', detail: `generation ${generation.number} is served` };
  if (serving.state === 'none') problems.push({ reason: 'NginxNotAnswering', message: serving.detail });
  if (serving.state === 'other') problems.push({ reason: 'NotServed', message: serving.detail });
  if (interrupted) problems.push({ reason: 'ApplyInterrupted', message: interrupted.notice });
  if (driftFiles.length > 0)
    problems.push({ reason: 'Drifted', message: `${driftFiles.length} managed file(s) changed outside orch (orch drift)` });

  const resources = resourceConditions(applied, migrations, {
    generation: generation ? { number: generation.number, createdAt: generation.createdAt } : null,
    serving,
    writer: lockHolder ? { command: lockHolder.command, since: lockHolder.since } : null,
    interrupted: interrupted ? { notice: interrupted.notice } : null,
    drift: driftFiles,
    reconcileFailure: null,
    pools: [],
  });
  return {
    generation,
    driftCount: drift.items.length,
    driftFiles,
    lockHolder,
    backupAgeSeconds: backupAt === null ? null : (ports.clock.now() - backupAt) / 1000,
    nginxVersion: await ports.nginx.version(),
    served: { checked: generation !== null, token, expected, current },
    interruptedApply: interrupted
      ? { generation: interrupted.generation, phase: interrupted.phase, switched: interrupted.switched, notice: interrupted.notice }
      : null,
    layout: { kind: layout.kind, current: layout.kind === 'generations' || layout.kind === 'converting' ? layout.current : null },
    notices: drift.notices,
    health: { healthy: problems.length === 0, problems },
    resources,
  };
}
