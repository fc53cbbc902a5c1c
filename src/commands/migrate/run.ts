import { Args, Flags } from '@oclif/core';
import { runMigration } from '../../use-cases/migrations/migration-commands.js';
import { migrationPorts } from '../../composition-root.js';
import type { MigrationRecord } from '../../domain/migrations/migration-record.js';
import { ExitCode } from '../../domain/errors.js';
import { completeHintCommands, shellWord } from '../../cli/hint-commands.js';
import { OrchCommand } from '../../cli/orch-command.js';
import { composeOrch } from '../../composition-root.js';
import { formatDuration, progressText, rateText } from '../../cli/views/migrations-text.js';
import { migrateToJson } from '../../cli/views/result-json.js';

export default class MigrateRun extends OrchCommand {
  static override summary = 'Drive one migration in the foreground, with progress, until it is done.';
  static override description = `For operators without the 'orch watch' daemon: copies the bucket, freezes writes for the cutover (answered 503 SlowDown, at most the freeze budget), verifies, switches the route and records the source data as orphaned. Resumes from wherever the migration stopped (a crash, Ctrl-C, an error). Ctrl-C or SIGTERM stops at a safe point: a freeze in progress is ended (writes go back to the source) and the next run goes on from there. Only one process drives a migration at a time.

EXIT CODES
  0  done (or cancelled)
  1  error: the migration is in phase error (see 'orch migrations'), or bad input
  3  another process drives this migration`;
  static override examples = ['<%= config.bin %> migrate run photos-to-2026', '<%= config.bin %> migrate run photos-to-2026 --json'];
  static override flags = {
    json: Flags.boolean({ description: 'print the result as JSON (docs/json.md; progress goes to stderr)' }),
  };
  static override args = {
    name: Args.string({ ignoreStdin: true, description: 'the migration (its Migration manifest name)', required: true }),
  };

  protected async execute() {
    const { args, flags } = await this.parse(MigrateRun);
    const settings = this.settingsFrom(flags);
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const tty = Boolean(process.stderr.isTTY);
    let lastLine = '';
    const status = (record: MigrationRecord) =>
      `${record.phase}: pass ${record.progress.pass}, ${progressText(record)}, ${rateText(record)}, ETA ${formatDuration(record.progress.etaSeconds)}`;
    try {
      const result = await runMigration(migrationPorts(settings), args.name, {
        signal: controller.signal,
        command: 'migrate run',
        fault: composeOrch(settings).fault,
        log: (level, message) => {
          const line = `${new Date().toISOString()} ${level === 'info' ? '' : `${level.toUpperCase()} `}${message}`;
          if (tty)
            process.stderr.write(
              `\r\x1b[2K${level === 'error' ? this.errStyle.red(line) : level === 'warn' ? this.errStyle.yellow(line) : line}\n`,
            );
          else process.stderr.write(`${line}\n`);
        },
        onUpdate: (record) => {
          if (!tty) return;
          const line = status(record);
          if (line !== lastLine) {
            lastLine = line;
            process.stderr.write(`\r\x1b[2K${this.errStyle.dim(line.slice(0, (process.stderr.columns ?? 120) - 1))}`);
          }
        },
      });
      if (tty) process.stderr.write('\r\x1b[2K');
      const d = result.record;
      if (flags.json) {
        this.out(JSON.stringify(migrateToJson(result.outcome, d), null, 2));
        return result.outcome === 'done' || result.outcome === 'cancelled' || result.outcome === 'stopped' ? ExitCode.ok : ExitCode.error;
      }
      switch (result.outcome) {
        case 'done': {
          const f = d.freezes.filter((x) => x.outcome === 'switched').at(-1);
          this.out(this.style.green(`Migration ${d.name} is done: bucket ${d.bucket} is served by pool ${d.to}.`));
          if (f?.windowMs != null) this.out(`Writes were refused (503 SlowDown) for ${(f.windowMs / 1000).toFixed(2)} s at the cutover.`);
          this.out(
            completeHintCommands(
              `The source data stays on pool ${d.from}: see 'orch migrations orphaned'. Change the Route's pool to ${d.to} in the manifests; the Migration document can then be removed.`,
              this.settingsArgs,
            ),
          );
          return ExitCode.ok;
        }
        case 'cancelled':
          this.out(`Migration ${d.name} is cancelled: bucket ${d.bucket} stays on pool ${d.from}.`);
          return ExitCode.ok;
        case 'stopped':
          this.out(
            `Stopped in phase ${d.phase}; writes go to ${d.routing === 'destination' ? d.to : d.from}. Run the same command again to go on.`,
          );
          return ExitCode.ok;
        default:
          this.out(this.style.red(`Migration ${d.name} is in phase ${d.phase}: ${d.lastError ?? 'see orch migrations'}`));
          this.out(
            completeHintCommands(
              `Its route stays on ${d.routing === 'destination' ? d.to : d.from}. Fix the cause and run 'orch migrate run ${shellWord(d.name)}' again, or cancel it with 'orch migrate cancel ${shellWord(d.name)}'.`,
              this.settingsArgs,
            ),
          );
          return ExitCode.error;
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  }
}
