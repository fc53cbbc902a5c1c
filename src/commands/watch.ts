import { completeHintCommands } from '../cli/hint-commands.js';
import { Flags } from '@oclif/core';
import { createLogger, LOG_LEVELS, type LogLevel } from '../use-cases/watch/log.js';
import { isLoopbackHostPort, type Settings } from '../config/settings.js';
import { runWatch } from '../cli/run-watch.js';
import { createMigrationSupervisor } from '../use-cases/watch/migration-supervisor.js';
import { composeOrch, composeWatchAdapters, migrationPorts } from '../composition-root.js';
import { ExitCode, UserError } from '../domain/errors.js';
import { colorEnabled, colorFlag } from '../cli/style.js';
import { OrchCommand } from '../cli/orch-command.js';

export default class Watch extends OrchCommand {
  static override summary = 'Run as a daemon: keep nginx matching the manifests, report drift, sync buckets, drive migrations.';
  static override description = `Watches the manifests and reconciles on every change (debounced), on the drift interval, on SIGHUP, and retries failures with backoff. A reconcile computes the whole plan and, in --mode apply, applies it exactly as 'orch apply --auto-approve' does (lock, stage, nginx -t, journaled promote, confirmed reload); --mode plan only reports. Manifests that do not validate keep the last good configuration. Hand-edited managed files are reported (--drift warn) or overwritten (--drift correct).

Health and metrics on a loopback listener (--listen, default 127.0.0.1:18098): /healthz, /readyz, /status (JSON), /metrics (Prometheus). Logs: JSON lines when standard output is not a terminal, readable lines on a terminal.

Signals: SIGTERM or SIGINT finish the step in flight, release the lock and exit 0 (a second one exits at once); SIGHUP re-reads orch's configuration file, then reconciles.

See docs/watch.md.`;
  static override examples = [
    '<%= config.bin %> watch',
    '<%= config.bin %> watch --mode plan',
    '<%= config.bin %> watch --drift correct --listen 127.0.0.1:9180',
    'curl -s http://127.0.0.1:18098/status',
  ];
  static override flags = {
    'mode': Flags.string({
      description: 'apply: make nginx match the manifests; plan: only report what would change',
      options: ['apply', 'plan'],
      default: 'apply',
    }),
    'drift': Flags.string({
      description: 'hand-edited managed files: warn (report, leave them) or correct (overwrite them)',
      options: ['warn', 'correct'],
      default: 'warn',
    }),
    'max-delete': Flags.integer({ description: 'refuse applies that delete more resources than this (default: maxDelete setting, 10)' }),
    'allow-empty': Flags.boolean({ description: 'allow an apply that deletes every managed file' }),
    'listen': Flags.string({
      description:
        'loopback address:port for /healthz, /readyz, /status, /metrics, or "off". Env: ORCH_WATCH_LISTEN. Default: 127.0.0.1:18098',
    }),
    'drift-interval': Flags.integer({
      description: 'seconds between reconciles without a manifest change (0: off). Env: ORCH_DRIFT_INTERVAL. Default: 60',
    }),
    'bucket-sync-interval': Flags.integer({
      description: 'seconds between bucket syncs (0: off). Env: ORCH_BUCKET_SYNC_INTERVAL. Default: 300',
    }),
    'migration-tick': Flags.integer({ description: 'seconds between migration ticks (0: off). Env: ORCH_MIGRATION_TICK. Default: 5' }),
    'backup-interval': Flags.integer({
      description: 'seconds between state database backups (0: off). Env: ORCH_BACKUP_INTERVAL. Default: 3600',
    }),
    'debounce': Flags.integer({
      description: 'milliseconds of quiet after a manifest change before reconciling. Env: ORCH_DEBOUNCE_MS. Default: 500',
    }),
    'log-level': Flags.string({ description: 'least severe level logged', options: LOG_LEVELS, default: 'info', env: 'ORCH_LOG_LEVEL' }),
    'log-format': Flags.string({
      description: 'auto: JSON lines unless standard output is a terminal',
      options: ['auto', 'json', 'text'],
      default: 'auto',
      env: 'ORCH_LOG_FORMAT',
    }),
  };

  protected async execute() {
    const { flags } = await this.parse(Watch);
    const loadSettings = (): Settings => {
      const s = this.settingsFrom(flags);
      if (flags.listen !== undefined) {
        if (flags.listen !== 'off' && !isLoopbackHostPort(flags.listen)) {
          throw new UserError(
            'config.invalid',
            `--listen must be a loopback address with a port (127.0.0.1:18098, [::1]:18098, localhost:18098) or "off"; got "${flags.listen}".`,
          );
        }
        s.watchListen = flags.listen;
      }
      const numeric: Array<
        [
          number | undefined,
          'driftIntervalSeconds' | 'bucketSyncIntervalSeconds' | 'migrationTickSeconds' | 'backupIntervalSeconds' | 'debounceMs',
          string,
        ]
      > = [
        [flags['drift-interval'], 'driftIntervalSeconds', '--drift-interval'],
        [flags['bucket-sync-interval'], 'bucketSyncIntervalSeconds', '--bucket-sync-interval'],
        [flags['migration-tick'], 'migrationTickSeconds', '--migration-tick'],
        [flags['backup-interval'], 'backupIntervalSeconds', '--backup-interval'],
        [flags.debounce, 'debounceMs', '--debounce'],
      ];
      for (const [v, key, name] of numeric) {
        if (v === undefined) continue;
        if (v < 0) throw new UserError('config.invalid', `${name} must be a non-negative integer, got ${v}.`);
        s[key] = v;
      }
      return s;
    };
    const settings = loadSettings();
    const json = flags['log-format'] === 'json' || (flags['log-format'] === 'auto' && !process.stdout.isTTY);
    const { clock } = composeOrch(settings);
    const log = createLogger({
      now: () => new Date(clock.now()),
      write: (line) => process.stdout.write(`${line}\n`),
      json,
      level: flags['log-level'] as LogLevel,
      color: !json && colorEnabled(process.stdout, process.env, colorFlag(this.argv)),
      hint: (text) => completeHintCommands(text, this.settingsArgs),
    });
    await runWatch({
      settings,
      loadSettings,
      compose: composeOrch,
      ...(await composeWatchAdapters()),
      pid: process.pid,
      log,
      migrations: (s, l) => createMigrationSupervisor(s, l, (next) => migrationPorts(next)),
      policy: {
        mode: flags.mode as 'apply' | 'plan',
        drift: flags.drift as 'warn' | 'correct',
        maxDelete: flags['max-delete'] ?? settings.maxDelete,
        allowEmpty: flags['allow-empty'],
      },
    });
    // Handles of work abandoned at shutdown (an S3 listing) must not keep the process alive.
    setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
    return ExitCode.ok;
  }
}
