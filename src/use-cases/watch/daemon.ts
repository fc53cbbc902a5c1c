import type { HealthServer, HealthServers } from '../../ports/health-server.js';
import type { WatchSuspension, WatchSuspensionStore } from '../../ports/watch-suspension.js';
import type { ManifestWatcher, ManifestWatchers } from '../../ports/manifest-watcher.js';
import { isLockHeld } from '../../domain/errors.js';
import { afterCommitHousekeeping } from '../apply/apply-tree.js';
import type { ApplyEvent, ApplyStep } from '../../domain/apply/apply-events.js';
import { syncBuckets, type BucketSyncPorts } from '../buckets/bucket-sync.js';
import type { Logger } from './log.js';
import { METRICS_CONTENT_TYPE } from './metrics.js';
import type { Settings } from '../../config/settings.js';
import { orchVersion } from '../../config/version.js';
import { withWriterSession } from '../apply/writer-session.js';
import { NoMigrations, type MigrationSupervisor } from './migration-supervisor.js';
import { errorInfo, formatDiagnostic, reconcileOnce, WATCH_LOCK_WAIT_SECONDS, type ReconcilePorts, type WatchPolicy } from './reconcile.js';
import { debounce, Scheduler, timersOf, type Job, type JobResult, type Timers, type Trigger } from './scheduler.js';
import { firstLine, readiness, type WatchStatus } from './status.js';
import { bucketStatusesZero, createWatchMetrics, type ApplyMetricOutcome, type WatchMetrics } from './watch-metrics.js';
import { DaemonReport } from './daemon-report.js';

/** What the daemon's jobs need for one set of settings (the composition root's Orch). */
export type WatchPorts = ReconcilePorts & BucketSyncPorts & { suspension: WatchSuspensionStore };

export interface WatchDaemonOptions {
  settings: Settings;
  /** The ports for a set of settings (composeOrch): built again when SIGHUP changes the settings. */
  compose: (settings: Settings) => WatchPorts;
  healthServers: HealthServers;
  manifestWatchers: ManifestWatchers;
  /** This process's id: in /status, and to tell at shutdown whether the lock is still ours. */
  pid: number;
  /** Resolves orch's settings again (SIGHUP): flags, environment, config file. Throws on a bad file. */
  loadSettings: () => Settings;
  policy: WatchPolicy;
  log: Logger;
  /** The migration drivers (the command passes createMigrationSupervisor on the composition root's ports). Default: none. */
  migrations?: (settings: Settings, log: Logger) => MigrationSupervisor;
}

/**
 * At shutdown a bucket sync in flight is aborted (its requests cut, nothing of it recorded); should
 * it still not have ended after this long, the shutdown goes on without it.
 */
const ABANDON_SYNC_AFTER_MS = 2000;
/** Retry delay of a job put off because another writer held the lock. */
const LOCK_BUSY_RETRY_MS = 1000;

/**
 * `orch watch`: triggers (manifest changes, intervals, SIGHUP) schedule jobs on one worker
 * (reconcile, bucket sync, backup); the health listener reports what happened (daemon-report.ts).
 */
export class WatchDaemon {
  private settings: Settings;
  private readonly compose: (settings: Settings) => WatchPorts;
  private ports: WatchPorts;
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly policy: WatchPolicy;
  private readonly metrics: WatchMetrics;
  private readonly scheduler: Scheduler;
  private readonly supervisor: MigrationSupervisor;
  private server: HealthServer | null = null;
  private watcher: ManifestWatcher | null = null;
  private intervals: Array<{ cancel(): void }> = [];
  private debouncer: { call(): void; cancel(): void };
  private stopping: Promise<void> | null = null;
  /** Aborts the bucket sync in flight (at shutdown). */
  private syncAbort: AbortController | null = null;
  private lastErrorSignature: string | null = null;
  /** The suspension seen by the last job (orch suspend), to log each change once. */
  private suspended: WatchSuspension | null = null;
  /** What /status and /metrics report (daemon-report.ts). */
  private readonly statusReport: DaemonReport;

  constructor(private readonly opts: WatchDaemonOptions) {
    this.settings = opts.settings;
    this.ports = opts.compose(opts.settings);
    this.timers = timersOf(this.ports.clock);
    this.log = opts.log;
    this.policy = opts.policy;
    this.metrics = createWatchMetrics();
    this.metrics.info.set({ version: orchVersion(), mode: this.policy.mode, drift_policy: this.policy.drift }, 1);
    this.supervisor = (opts.migrations ?? (() => new NoMigrations()))(this.settings, this.log);
    this.compose = opts.compose;
    this.scheduler = new Scheduler({
      run: (job, triggers) => this.runJob(job, triggers),
      onCrash: (job, e) => this.log.error('job.crashed', { job, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
      onRetryScheduled: (delayMs, failures) => this.log.info('reconcile.retry-scheduled', { inMs: delayMs, consecutiveFailures: failures }),
      timers: this.timers,
    });
    this.statusReport = new DaemonReport({
      pid: opts.pid,
      policy: this.policy,
      log: this.log,
      metrics: this.metrics,
      scheduler: this.scheduler,
      supervisor: this.supervisor,
      settings: () => this.settings,
      ports: () => this.ports,
    });
    this.debouncer = this.makeDebouncer();
  }

  /** Address the health listener is bound to, or null when off. */
  get listenAddress(): string | null {
    return this.server?.address ?? null;
  }

  async start(): Promise<void> {
    this.registerKeySecrets(this.settings);
    if (this.settings.watchListen !== 'off') {
      this.server = await this.opts.healthServers.start(this.settings.watchListen, {
        ready: () => readiness(this.statusReport.lastReconcile),
        status: () => this.status(),
        metrics: () => ({ contentType: METRICS_CONTENT_TYPE, body: this.statusReport.renderMetrics() }),
      });
    }
    this.statusReport.refreshStateFacts();
    this.startWatcher();
    await this.watcher?.ready;
    this.startIntervals();
    this.log.info('watch.started', {
      pid: this.opts.pid,
      version: orchVersion(),
      mode: this.policy.mode,
      drift: this.policy.drift,
      manifests: this.settings.manifests,
      nginxDir: this.settings.nginxDir,
      stateDir: this.settings.stateDir,
      listen: this.server?.address ?? 'off',
      intervals: this.intervalSummary(this.settings),
    });
    this.scheduler.trigger('startup');
    if (this.settings.bucketSyncIntervalSeconds > 0) this.scheduler.trigger('startup', 'bucket-sync');
  }

  /** SIGHUP: re-read orch's settings (a bad config file keeps the old ones), then reconcile. */
  reloadSettings(): void {
    if (this.stopping) return;
    let next: Settings;
    try {
      next = this.opts.loadSettings();
    } catch (e) {
      const info = errorInfo(e);
      this.statusReport.recordError('settings', info);
      this.log.error('settings.reload-failed', { error: info.message, hint: info.hint, kept: this.settings.configFile ?? 'defaults' });
      return;
    }
    const prev = this.settings;
    const changed = (Object.keys(next) as Array<keyof Settings>).filter((k) => JSON.stringify(next[k]) !== JSON.stringify(prev[k]));
    this.settings = next;
    this.ports = this.opts.compose(next);
    this.registerKeySecrets(next);
    this.supervisor.updateSettings(next);
    if (changed.includes('watchListen')) {
      this.log.warn('settings.listen-not-moved', {
        listen: this.server?.address ?? 'off',
        wanted: next.watchListen,
        hint: 'Restart orch watch to move the health listener.',
      });
    }
    if (changed.includes('manifests')) {
      void this.watcher?.close();
      this.startWatcher();
    }
    if (changed.includes('debounceMs')) {
      this.debouncer.cancel();
      this.debouncer = this.makeDebouncer();
    }
    if (changed.some((k) => k.endsWith('IntervalSeconds') || k === 'migrationTickSeconds')) this.startIntervals();
    this.log.info('settings.reloaded', { configFile: next.configFile, changed });
    this.scheduler.trigger('sighup');
  }

  /**
   * Stops scheduling; lets the job in flight finish (an apply is short and journaled) or aborts a
   * bucket sync (its requests cut; it writes nothing until its end); stops migration drivers at a
   * safe point; closes the watcher and the listener. The writer lock is only ever held inside a job.
   */
  stop(reason: string): Promise<void> {
    this.stopping ??= (async () => {
      const running = this.scheduler.runningJob;
      this.log.info('shutdown.start', { reason, running: running ?? 'nothing' });
      for (const t of this.intervals) t.cancel();
      this.intervals = [];
      this.debouncer.cancel();
      const stopped = this.scheduler.stop();
      if (running === 'bucket-sync') {
        this.syncAbort?.abort(new DOMException(`orch watch is stopping (${reason})`, 'AbortError'));
        const giveUp = new AbortController();
        const abandoned = await Promise.race([
          stopped.then(() => false),
          this.ports.clock.sleep(ABANDON_SYNC_AFTER_MS, giveUp.signal).then(
            () => true,
            () => false,
          ),
        ]);
        giveUp.abort();
        if (abandoned) this.log.info('shutdown.abandoned', { job: 'bucket-sync', detail: 'nothing of it was recorded' });
      } else {
        await stopped;
      }
      await this.supervisor.stop();
      await this.watcher?.close();
      await this.server?.close();
      this.log.info('shutdown.done', { reason, lockHeld: this.ports.locks.holder()?.pid === this.opts.pid });
    })();
    return this.stopping;
  }

  status(): WatchStatus {
    return this.statusReport.status();
  }

  // ------------------------------------------------------------------------------------ jobs

  private async runJob(job: Job, triggers: Trigger[]): Promise<JobResult> {
    if ((job === 'reconcile' || job === 'bucket-sync') && this.isSuspended(job)) return {};
    if (job === 'reconcile') return this.reconcile(triggers);
    if (job === 'bucket-sync') return this.bucketSync();
    return this.backup();
  }

  /**
   * Whether `orch suspend` is in force: then reconciles and bucket syncs are skipped (the
   * listener keeps answering, and says so). Each change is logged once.
   */
  private isSuspended(job: Job): boolean {
    const now = this.ports.suspension.read();
    const was = this.suspended;
    this.suspended = now;
    if (now && !was) this.log.warn('watch.suspended', { since: now.since, by: now.by, reason: now.reason, skipped: job });
    else if (!now && was) this.log.info('watch.resumed', { suspendedSince: was.since });
    else if (now) this.log.debug('watch.suspended', { skipped: job });
    return now !== null;
  }

  private async reconcile(triggers: Trigger[]): Promise<JobResult> {
    const ports = this.ports;
    const started = this.nowIso();
    const t0 = ports.clock.now();
    this.log.debug('reconcile.start', { triggers });
    const stepStarted = new Map<ApplyStep, number>();
    let staged = false;
    let failedStep: ApplyStep | null = null;
    const emit = (e: ApplyEvent) => {
      const now = ports.clock.now();
      if (e.status === 'start') {
        stepStarted.set(e.step, now);
        if (e.step === 'stage') staged = true;
        return;
      }
      const ms = e.durationMs ?? (stepStarted.has(e.step) ? now - stepStarted.get(e.step)! : null);
      if (e.status === 'fail') failedStep = e.step;
      if (ms !== null && e.status !== 'skip') {
        // One nginx -t per apply: the main configuration with the new generation, before the switch.
        if (e.step === 'validate') this.metrics.nginxTest.observe({ stage: 'live' }, ms / 1000);
        if (e.step === 'reload') this.metrics.reload.observe({}, ms / 1000);
      }
      if (e.status === 'fail') this.log.warn('apply.step-failed', { step: e.step, message: firstLine(e.message ?? '') });
      else if (e.status === 'done')
        this.log.debug('apply.step', { step: e.step, durationMs: ms === null ? null : Math.round(ms), message: e.message });
    };

    const r = await reconcileOnce(ports, this.policy, emit);
    for (const s of r.secrets) this.log.registerSecret(s);
    if (r.outcome === 'deferred') {
      const holder = ports.locks.holder();
      this.metrics.deferred.inc({ reason: 'lock_busy' });
      this.log.info('reconcile.deferred', {
        reason: 'another orch writer holds the lock',
        holder: holder ? `pid ${holder.pid} (${holder.command})` : 'gone',
        retryInMs: LOCK_BUSY_RETRY_MS,
      });
      return { againAfterMs: LOCK_BUSY_RETRY_MS };
    }
    const outcome = r.outcome;
    const durationMs = ports.clock.now() - t0;
    this.statusReport.reconciles++;
    this.metrics.reconcile.inc({ outcome });
    this.metrics.reconcileDuration.observe({}, durationMs / 1000);
    this.metrics.lastReconcile.set({}, this.ports.clock.now() / 1000);
    if (staged) {
      const applyOutcome: ApplyMetricOutcome =
        outcome === 'applied'
          ? 'applied'
          : failedStep === 'validate'
            ? 'nginx_rejected'
            : failedStep === 'reload'
              ? 'reload_not_confirmed'
              : 'failed';
      this.metrics.apply.inc({ outcome: applyOutcome });
    }
    this.statusReport.lastReconcile = {
      triggers,
      startedAt: started,
      finishedAt: this.nowIso(),
      durationMs: Math.round(durationMs),
      outcome,
      generation: r.generation,
      changes: r.changes,
      error: r.error,
    };
    if (r.error) this.statusReport.recordError('reconcile', r.error);
    this.statusReport.refreshStateFacts();

    // Logs: an error repeated reconcile after reconcile (an invalid manifest, drift interval after
    // drift interval) is logged in full once, then at debug level until it changes.
    const fields = { outcome, triggers, generation: r.generation, changes: r.changes, durationMs: Math.round(durationMs) };
    if (r.error) {
      const signature = `${outcome}|${r.error.code}|${r.error.message}`;
      const repeated = signature === this.lastErrorSignature;
      this.lastErrorSignature = signature;
      const details = {
        ...fields,
        code: r.error.code,
        error: r.error.message,
        hint: r.error.hint,
        diagnostics: r.error.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic),
      };
      if (repeated) this.log.debug('reconcile.done', { ...details, repeated: true });
      else if (outcome === 'failed') this.log.error('reconcile.done', details);
      else this.log.warn('reconcile.done', details);
    } else {
      this.lastErrorSignature = null;
      if (
        outcome === 'no_changes' &&
        !triggers.includes('manifest-change') &&
        !triggers.includes('startup') &&
        !triggers.includes('sighup')
      )
        this.log.debug('reconcile.done', fields);
      else this.log.info('reconcile.done', fields);
    }
    if (r.driftCorrected.length > 0) this.log.warn('drift.corrected', { files: r.driftCorrected, policy: 'correct' });
    this.supervisor.tick();
    return { failed: outcome === 'failed' };
  }

  private async bucketSync(): Promise<JobResult> {
    if (!this.stateExists()) {
      this.log.debug('buckets.sync-skipped', { reason: 'nothing applied yet' });
      return {};
    }
    const abort = (this.syncAbort = new AbortController());
    try {
      const report = await syncBuckets(this.ports, { counts: false, signal: abort.signal });
      const byStatus = bucketStatusesZero();
      for (const row of report.rows) byStatus[row.status] = (byStatus[row.status] ?? 0) + 1;
      this.statusReport.buckets = { syncedAt: report.syncedAt, byStatus, pools: report.pools, error: null };
      this.metrics.buckets.clear();
      for (const [status, n] of Object.entries(byStatus)) this.metrics.buckets.set({ status }, n);
      this.metrics.bucketSync.inc({ outcome: 'ok' });
      this.metrics.lastBucketSync.set({}, this.ports.clock.now() / 1000);
      const failing = report.pools.filter((p) => p.status !== 'ok');
      this.log.info('buckets.synced', {
        ...byStatus,
        pools: report.pools.length,
        poolsNotListed: failing.map((p) => `${p.pool}: ${p.status}`),
      });
      if (byStatus['missing']! > 0 && this.policy.mode === 'apply') this.scheduler.trigger('bucket-missing');
    } catch (e) {
      if (abort.signal.aborted) {
        this.log.info('buckets.sync-aborted', {
          reason: abort.signal.reason instanceof Error ? abort.signal.reason.message : 'aborted',
          detail: 'its requests were cut; nothing of it was recorded',
        });
        return {};
      }
      const info = errorInfo(e);
      this.statusReport.buckets = {
        ...(this.statusReport.buckets ?? { syncedAt: null, byStatus: bucketStatusesZero(), pools: [] }),
        error: info.message,
      };
      this.metrics.bucketSync.inc({ outcome: 'failed' });
      this.statusReport.recordError('bucket-sync', info);
      this.log.warn('buckets.sync-failed', { code: info.code, error: info.message, hint: info.hint });
    } finally {
      if (this.syncAbort === abort) this.syncAbort = null;
    }
    return {};
  }

  private async backup(): Promise<JobResult> {
    const settings = this.settings;
    if (!this.stateExists()) return {};
    if (this.ports.locks.holder()) return { againAfterMs: LOCK_BUSY_RETRY_MS * 5 };
    try {
      const ports = this.compose({ ...settings, lockTimeoutSeconds: Math.min(settings.lockTimeoutSeconds, WATCH_LOCK_WAIT_SECONDS) });
      await withWriterSession(ports, 'watch-backup', async ({ store }) => {
        await afterCommitHousekeeping(ports, store);
      });
      this.metrics.backup.inc({ outcome: 'ok' });
      this.metrics.lastBackup.set({}, this.ports.clock.now() / 1000);
      this.log.info('backup.done', { database: `${this.ports.state.path}.bak`, rotate: settings.backupRotate });
    } catch (e) {
      if (isLockHeld(e)) return { againAfterMs: LOCK_BUSY_RETRY_MS * 5 };
      const info = errorInfo(e);
      this.metrics.backup.inc({ outcome: 'failed' });
      this.statusReport.recordError('backup', info);
      this.log.warn('backup.failed', { code: info.code, error: info.message });
    }
    return {};
  }

  // ------------------------------------------------------------------------------------ helpers

  private nowIso(): string {
    return new Date(this.ports.clock.now()).toISOString();
  }

  /** Whether anything was applied yet (a database exists); an unreadable one counts: the job reports it. */
  private stateExists(): boolean {
    try {
      const store = this.ports.state.openIfExists();
      store?.close();
      return store !== null;
    } catch {
      return true;
    }
  }

  private registerKeySecrets(settings: Settings): void {
    for (const value of this.ports.secrets.keyMaterial(settings.secretKeyFile)) this.log.registerSecret(value);
  }

  private makeDebouncer() {
    const wait = this.settings.debounceMs;
    return debounce(() => this.scheduler.trigger('manifest-change'), wait, Math.max(wait * 10, 5000), this.timers);
  }

  private startWatcher(): void {
    try {
      this.watcher = this.opts.manifestWatchers.watch(
        this.settings.manifests,
        (e) => {
          this.metrics.manifestEvents.inc();
          this.log.debug('manifests.event', { kind: e.kind, path: e.path });
          this.debouncer.call();
        },
        (err) => {
          this.statusReport.recordError('watcher', { code: 'watch.error', message: err.message, hint: null, diagnostics: [] });
          this.log.warn('manifests.watch-error', {
            error: err.message,
            hint: `The drift interval (${this.settings.driftIntervalSeconds}s) still reconciles what a missed event changed.`,
          });
        },
      );
    } catch (e) {
      this.watcher = null;
      const info = errorInfo(e);
      this.statusReport.recordError('watcher', info);
      this.log.error('manifests.watch-failed', { error: info.message });
    }
  }

  private startIntervals(): void {
    for (const t of this.intervals) t.cancel();
    this.intervals = [];
    const s = this.settings;
    const every = (seconds: number, fn: () => void) => {
      if (seconds > 0) this.intervals.push(this.repeat(seconds * 1000, fn));
    };
    every(s.driftIntervalSeconds, () => this.scheduler.trigger('drift-interval'));
    every(s.bucketSyncIntervalSeconds, () => this.scheduler.trigger('bucket-sync-interval', 'bucket-sync'));
    every(s.backupIntervalSeconds, () => this.scheduler.trigger('backup-interval', 'backup'));
    every(s.migrationTickSeconds, () => this.supervisor.tick());
  }

  /** Calls `fn` every `ms` on the clock until cancelled. */
  private repeat(ms: number, fn: () => void): { cancel(): void } {
    let handle: unknown = null;
    let cancelled = false;
    const arm = () => {
      handle = this.timers.setTimeout(() => {
        if (cancelled) return;
        arm();
        fn();
      }, ms);
    };
    arm();
    return {
      cancel: () => {
        cancelled = true;
        if (handle !== null) this.timers.clearTimeout(handle);
      },
    };
  }

  private intervalSummary(s: Settings): Record<string, number> {
    return {
      driftIntervalSeconds: s.driftIntervalSeconds,
      bucketSyncIntervalSeconds: s.bucketSyncIntervalSeconds,
      migrationTickSeconds: s.migrationTickSeconds,
      backupIntervalSeconds: s.backupIntervalSeconds,
      debounceMs: s.debounceMs,
    };
  }
}
