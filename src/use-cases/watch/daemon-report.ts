import type { Settings } from '../../config/settings.js';
import { orchVersion } from '../../config/version.js';
import { resourceConditions, type AppliedResource, type MigrationFacts } from '../../domain/status/conditions.js';
import type { WatchSuspensionStore } from '../../ports/watch-suspension.js';
import { appliedResources, migrationFacts } from '../status/applied-resources.js';
import { driftReport, type DriftPorts } from '../status/drift-report.js';
import type { Logger } from './log.js';
import type { MigrationSupervisor } from './migration-supervisor.js';
import { errorInfo, type ErrorInfo, type ReconcilePorts, type WatchPolicy } from './reconcile.js';
import type { Scheduler } from './scheduler.js';
import {
  firstLine,
  readiness,
  watchStatusJson,
  type BucketSummary,
  type ErrorSource,
  type LastError,
  type LastReconcile,
  type WatchStatus,
  type WatchStatusFacts,
} from './status.js';
import type { WatchMetrics } from './watch-metrics.js';

/** The ports the report reads (a part of the daemon's WatchPorts). */
export type DaemonReportPorts = Pick<ReconcilePorts, 'clock' | 'locks' | 'state' | 'tree'> &
  DriftPorts & { suspension: WatchSuspensionStore };

/** What the report reads of the daemon. Settings and ports are asked for each time: SIGHUP replaces them. */
export interface DaemonReportSources {
  pid: number;
  policy: WatchPolicy;
  log: Logger;
  metrics: WatchMetrics;
  scheduler: Scheduler;
  supervisor: MigrationSupervisor;
  settings(): Settings;
  ports(): DaemonReportPorts;
}

/**
 * What `orch watch` reports on its listener: the facts its jobs record (reconciles, the last error,
 * the bucket summary) and those read from the state database and the disk (generation, drift, the
 * live resources), as the /status document and the /metrics text. The jobs that record them and the
 * loop that runs the jobs are WatchDaemon's (daemon.ts).
 */
export class DaemonReport {
  // Recorded by the daemon's jobs.
  reconciles = 0;
  lastReconcile: LastReconcile | null = null;
  lastError: LastError | null = null;
  buckets: BucketSummary | null = null;
  // Read from the state database and the disk (refreshStateFacts).
  private generation: number | null = null;
  private lastSuccessfulApply: WatchStatusFacts['lastSuccessfulApply'] = null;
  private drift: WatchStatusFacts['drift'] = { files: [], checkedAt: null };
  /** The live generation's resources and the recorded migrations, read with the other state facts. */
  private applied: AppliedResource[] = [];
  private appliedGeneration: number | null | undefined = undefined;
  private migrationFacts: MigrationFacts[] = [];

  private readonly startedAt: string;
  private readonly pid: number;
  private readonly policy: WatchPolicy;
  private readonly log: Logger;
  private readonly metrics: WatchMetrics;
  private readonly scheduler: Scheduler;
  private readonly supervisor: MigrationSupervisor;

  constructor(private readonly sources: DaemonReportSources) {
    this.pid = sources.pid;
    this.policy = sources.policy;
    this.log = sources.log;
    this.metrics = sources.metrics;
    this.scheduler = sources.scheduler;
    this.supervisor = sources.supervisor;
    this.startedAt = this.nowIso();
  }

  private get settings(): Settings {
    return this.sources.settings();
  }

  private get ports(): DaemonReportPorts {
    return this.sources.ports();
  }

  status(): WatchStatus {
    const r = readiness(this.lastReconcile);
    const retry = this.scheduler.nextRetryAt;
    const migrations = this.supervisor.snapshot();
    const doc: WatchStatusFacts = {
      orchVersion: orchVersion(),
      pid: this.pid,
      stateDir: this.settings.stateDir,
      startedAt: this.startedAt,
      mode: this.policy.mode,
      driftPolicy: this.policy.drift,
      manifests: this.settings.manifests,
      ready: r.ready,
      readyReason: r.reason,
      suspended: this.ports.suspension.read(),
      running: this.scheduler.runningJob,
      reconciles: this.reconciles,
      lastReconcile: this.lastReconcile,
      generation: this.generation,
      lastSuccessfulApply: this.lastSuccessfulApply,
      drift: this.drift,
      buckets: this.buckets,
      migrations,
      lastError: this.lastError,
      pendingTriggers: [...new Set(this.scheduler.pendingTriggers().flatMap((p) => p.triggers))],
      consecutiveFailures: this.scheduler.consecutiveFailures,
      nextRetryAt: retry === null ? null : new Date(retry).toISOString(),
      resources: this.resources(migrations),
    };
    // Error texts come from many places: the redaction guard covers them too.
    return redactStrings(watchStatusJson(doc), (t) => this.log.redact(t));
  }

  /** Conditions of every resource, from what the daemon knows (it does not probe nginx on every /status). */
  private resources(live: ReturnType<MigrationSupervisor['snapshot']>): WatchStatusFacts['resources'] {
    const last = this.lastReconcile;
    const failed = last && (last.outcome === 'invalid' || last.outcome === 'blocked' || last.outcome === 'failed');
    const reasons = { invalid: 'ManifestsInvalid', blocked: 'ReconcileBlocked', failed: 'ReconcileFailed' } as const;
    const holder = this.ports.locks.holder();
    // The supervisor's view of a migration it drives is fresher than the database's.
    const migrations = this.migrationFacts.map((m) => {
      const l = live.find((x) => x.name === m.name);
      return l ? { ...m, phase: l.phase, lastError: l.lastError, updatedAt: l.updatedAt ?? m.updatedAt } : m;
    });
    for (const l of live)
      if (!migrations.some((m) => m.name === l.name))
        migrations.push({ name: l.name, phase: l.phase, lastError: l.lastError, errorAt: null, updatedAt: l.updatedAt, finishedAt: null });
    return resourceConditions(this.applied, migrations, {
      generation: this.lastSuccessfulApply ? { number: this.lastSuccessfulApply.generation, createdAt: this.lastSuccessfulApply.at } : null,
      serving: { state: 'unchecked', detail: '' },
      writer: holder ? { command: holder.command, since: holder.since } : null,
      interrupted: null,
      drift: this.drift.files,
      reconcileFailure:
        failed && last
          ? {
              reason: reasons[last.outcome as keyof typeof reasons],
              message: `the last reconcile was ${last.outcome}${last.error ? `: ${last.error.code}: ${firstLine(last.error.message)}` : ''}`,
              at: last.finishedAt,
            }
          : null,
      pools: this.buckets?.pools ?? [],
    });
  }

  renderMetrics(): string {
    const m = this.metrics;
    m.ready.set({}, readiness(this.lastReconcile).ready ? 1 : 0);
    m.suspended.set({}, this.ports.suspension.read() ? 1 : 0);
    m.consecutiveFailures.set({}, this.scheduler.consecutiveFailures);
    m.migrationPhase.clear();
    for (const s of this.supervisor.snapshot()) {
      m.migrationPhase.set({ migration: s.name, phase: s.phase }, 1);
      m.migrationObjects.setTotal({ migration: s.name }, s.objectsCopied);
      m.migrationBytes.setTotal({ migration: s.name }, s.bytesCopied);
    }
    return m.registry.render();
  }

  private nowIso(): string {
    return new Date(this.ports.clock.now()).toISOString();
  }

  recordError(source: ErrorSource, info: ErrorInfo): void {
    this.lastError = { ...info, at: this.nowIso(), source };
  }

  /** Generation, last apply and drift as the state database and the disk say now. */
  refreshStateFacts(): void {
    try {
      const store = this.ports.state.openIfExists();
      try {
        const n = store?.currentGeneration() ?? null;
        const g = n === null ? null : (store?.generation(n) ?? null);
        this.generation = n;
        this.lastSuccessfulApply = g ? { generation: g.number, at: g.createdAt, command: g.command } : null;
        // The live generation's resources change only with the generation (reading every sidecar
        // again after each no-change reconcile would cost at fleet size).
        if (n !== this.appliedGeneration) {
          this.applied = store ? appliedResources(store, this.ports.tree) : [];
          this.appliedGeneration = n;
        }
        this.migrationFacts = store ? migrationFacts(store) : [];
      } finally {
        store?.close();
      }
      this.metrics.generation.set({}, this.generation ?? 0);
      if (this.lastSuccessfulApply) {
        const t = Date.parse(this.lastSuccessfulApply.at);
        if (Number.isFinite(t)) this.metrics.lastApply.set({}, t / 1000);
      }
      const before = new Set(this.drift.files.map((f) => f.path));
      const items = driftReport(this.ports).items;
      this.drift = { files: items.map((d) => ({ path: d.path, kind: d.kind })), checkedAt: this.nowIso() };
      this.metrics.drifted.set({}, items.length);
      const fresh = items.filter((d) => !before.has(d.path));
      if (fresh.length > 0) {
        this.log.warn('drift.detected', {
          files: fresh.map((d) => `${d.path} (${d.kind})`),
          policy: this.policy.drift,
          hint:
            this.policy.drift === 'warn'
              ? "Left as they are (--drift warn): see them with 'orch drift'; carry the edits into the manifests, or discard them with 'orch apply --overwrite-drift' (or run orch watch --drift correct)."
              : 'The next apply overwrites them (--drift correct).',
        });
      } else if (items.length === 0 && before.size > 0) {
        this.log.info('drift.cleared', {});
      }
    } catch (e) {
      const info = errorInfo(e);
      this.log.warn('state.read-failed', { code: info.code, error: info.message });
    }
  }
}

/** A copy of `value` with `redact` applied to every string in it. */
function redactStrings<T>(value: T, redact: (s: string) => string): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactStrings(v, redact)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redactStrings(v, redact)])) as T;
  }
  return value;
}
