import { Args, Flags } from '@oclif/core';
import { applyGateway } from '../use-cases/apply/apply-gateway.js';
import { planIdentity } from '../use-cases/plan/compute-plan.js';
import { ExitCode, UserError } from '../domain/errors.js';
import { refusalError } from '../domain/apply/apply-guards.js';
import { composeOrch } from '../composition-root.js';
import { lineReporter, listrReporter, type ApplyReporter } from '../cli/apply-reporter.js';
import { confirmTyped } from '../cli/prompt.js';
import { EXIT_CODES_HELP, OrchCommand } from '../cli/orch-command.js';
import { jsonMeta, planToJson } from '../cli/views/plan-json.js';
import { formatPlanText } from '../cli/views/plan-text.js';
import { knownMigrationLines } from '../cli/views/plan-migrations.js';
import { completeHintCommands, shellWord } from '../cli/hint-commands.js';
import type { Plan } from '../domain/plan/plan-types.js';
import type { DesiredMigration } from '../domain/model/desired-state.js';
import { guardAgainstDaemon } from '../cli/daemon-guard.js';

/**
 * `orch apply --json` (docs/json.md, schemas/cli/apply.schema.json). 2.0: `timings` (`nginx_test_ms`,
 * `reload_ms`, `confirm_ms`; 1.0 had `timings_ms` with camelCase keys) and events in snake_case.
 */
export const APPLY_JSON_FORMAT_VERSION = '2.0';

export default class Apply extends OrchCommand {
  static override summary = 'Make nginx match the manifests: stage, validate, promote, reload, all or nothing.';
  static override description = `Takes the writer lock, finishes or undoes any apply that was interrupted, computes the plan, and asks for confirmation (or --auto-approve). Then builds the new generation beside the live one (unchanged files hard-linked) and validates it once with nginx -t and nginx's main configuration; switches the whole managed tree to it with one rename, under a journal; reloads nginx and confirms that the new generation is served; and only then commits the state. Any failure switches back the same way: the live tree is one whole generation at every instant.

With PLANFILE (from \`orch plan --out\`), applies exactly that plan and refuses it if anything it was computed from has changed.

${EXIT_CODES_HELP}`;
  static override examples = [
    '<%= config.bin %> apply',
    '<%= config.bin %> apply --auto-approve',
    '<%= config.bin %> apply gateway.plan',
    '<%= config.bin %> apply --dry-run',
  ];
  static override args = {
    planfile: Args.string({ ignoreStdin: true, description: 'saved plan from `orch plan --out FILE`', required: false }),
  };
  static override flags = {
    'auto-approve': Flags.boolean({ description: 'do not ask for confirmation' }),
    'dry-run': Flags.boolean({ description: 'stage and validate only; touch nothing live' }),
    'overwrite-drift': Flags.boolean({ description: 'discard hand edits of every managed file' }),
    'overwrite-drift-path': Flags.string({
      description: 'discard hand edits of this managed file (repeatable), e.g. vhosts/s3-main.conf',
      multiple: true,
    }),
    'max-delete': Flags.integer({ description: 'refuse to delete more resources than this (default: maxDelete setting, 10)' }),
    'allow-empty': Flags.boolean({ description: 'allow deleting every managed file' }),
    'lock-timeout': Flags.integer({ description: 'seconds to wait for another writer (default: lockTimeoutSeconds setting, 30)' }),
    'json': Flags.boolean({ description: 'print the result as JSON (progress goes to stderr)' }),
    'diff': Flags.boolean({ description: 'show diffs in the plan shown before confirmation', default: true, allowNo: true }),
    'suspend-watch': Flags.boolean({
      description: 'suspend a running orch watch that applies other manifests (it would undo this apply); orch resume ends it',
    }),
  };

  protected async execute() {
    const { args, flags } = await this.parse(Apply);
    const settings = this.settingsFrom(flags);
    if (flags['lock-timeout'] !== undefined) settings.lockTimeoutSeconds = flags['lock-timeout'];
    const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
    if (!args.planfile && !flags['auto-approve'] && !flags['dry-run'] && !interactive) {
      throw new UserError('apply.needs-approval', 'Refusing to apply without confirmation: standard input is not a terminal.', {
        hint: 'Review `orch plan` and pass --auto-approve, or apply a saved plan file (`orch plan --out gateway.plan`, then `orch apply gateway.plan`).',
      });
    }
    const orch = composeOrch(settings);
    if (!flags['dry-run'])
      await guardAgainstDaemon(orch, settings, {
        action: 'apply',
        interactive: interactive && !flags['auto-approve'] && !args.planfile && !flags.json,
        suspend: flags['suspend-watch'],
        reason: `orch apply from ${settings.manifests}`,
        out: (l) => this.out(l),
        err: (l) => this.err(l),
        style: this.style,
        settingsArgs: this.settingsArgs,
      });
    const reporter: ApplyReporter = process.stderr.isTTY && !flags.json ? listrReporter() : lineReporter((l) => this.err(l), this.errStyle);
    let result;
    try {
      result = await applyGateway(orch, {
        planFile: args.planfile ?? null,
        dryRun: flags['dry-run'],
        overwriteDrift: flags['overwrite-drift'] ? 'all' : new Set(flags['overwrite-drift-path'] ?? []),
        maxDelete: flags['max-delete'] ?? settings.maxDelete,
        allowEmpty: flags['allow-empty'],
        emit: (e) => reporter.emit(e),
        command: args.planfile ? 'apply-plan' : 'apply',
        confirm:
          args.planfile || flags['auto-approve'] || flags['dry-run']
            ? null
            : async (planResult) => {
                this.out(formatPlanText(planResult.plan, this.style, { diffs: flags.diff }));
                return confirmTyped(`\n${this.style.bold('Do you want to apply these changes?')} Only 'yes' will be accepted: `, 'yes');
              },
      });
      if (result.refusal) throw refusalError(result.refusal);
    } catch (e) {
      await reporter.finish(e);
      throw e;
    }
    await reporter.finish();

    const { planResult, outcome } = result;
    if (flags.json) {
      this.out(
        JSON.stringify(
          {
            format_version: APPLY_JSON_FORMAT_VERSION,
            applied: outcome !== null && !outcome.dryRun,
            dry_run: flags['dry-run'] === true,
            generation: outcome?.generation ?? null,
            recovered: result.recovered ? { action: result.recovered.action, generation: result.recovered.journal.generation } : null,
            buckets_created: result.buckets.created.map((b) => ({
              bucket: b.bucket,
              pool: b.pool,
              virtual_host: b.virtualHost,
              route: b.route,
            })),
            buckets_existing: result.buckets.existed.map((b) => ({
              bucket: b.bucket,
              pool: b.pool,
              virtual_host: b.virtualHost,
              route: b.route,
            })),
            migrations_started: startedMigrations(planResult.plan, result.migrationsStarted).map((m) => ({
              name: m.name,
              virtual_host: m.virtualHost,
              bucket: m.bucket,
              from: m.from,
              to: m.to,
              mode: m.mode,
              phase: 'pending',
            })),
            files_written: outcome?.filesWritten ?? 0,
            files_deleted: outcome?.filesDeleted ?? 0,
            nginx_tests: outcome?.nginxTests ?? 0,
            reloads: outcome?.reloads ?? 0,
            timings: outcome
              ? { nginx_test_ms: outcome.timings.testMs, reload_ms: outcome.timings.reloadMs, confirm_ms: outcome.timings.confirmMs }
              : null,
            warnings: outcome?.warnings ?? [],
            plan: planToJson(planResult.plan, jsonMeta(result.identity ?? planIdentity(planResult)), { diffs: false }),
            events: reporter.events.map((e) => ({
              step: e.step,
              status: e.status,
              message: e.message ?? null,
              duration_ms: e.durationMs ?? null,
            })),
          },
          null,
          2,
        ),
      );
      return ExitCode.ok;
    }
    if (result.recovered)
      this.out(
        this.style.yellow(`Recovered an interrupted apply: ${result.recovered.action} generation ${result.recovered.journal.generation}.`),
      );
    if (result.nothingToDo) {
      this.out(this.style.green('No changes. The nginx files match the manifests.'));
      return ExitCode.ok;
    }
    const created = result.buckets.created.map((b) => `${b.bucket} on ${b.pool}`);
    if (created.length > 0) {
      const when = outcome === null ? '' : ` before the route${created.length === 1 ? '' : 's'} went live`;
      this.out(this.style.green(`Created bucket${created.length === 1 ? '' : 's'} ${created.join(', ')}${when}.`));
    }
    this.reportMigrations(planResult.plan, result.migrationsStarted, flags['dry-run']);
    if (outcome === null) {
      const started = result.migrationsStarted.length;
      if (flags['dry-run']) this.out(formatPlanText(planResult.plan, this.style, { diffs: flags.diff }));
      this.out(
        this.style.green(
          flags['dry-run']
            ? 'Dry run: nothing was created or started.'
            : `Apply complete: no nginx file changed${started > 0 ? `; ${started} migration${started === 1 ? '' : 's'} started` : ''}.`,
        ),
      );
      return ExitCode.ok;
    }
    if (outcome.dryRun) {
      this.out(formatPlanText(planResult.plan, this.style, { diffs: flags.diff }));
      this.out(
        this.style.green(
          `Dry run: the new generation passes nginx -t with nginx's main configuration (${(outcome.timings.testMs / 1000).toFixed(2)}s). Nothing live was touched.`,
        ),
      );
      return ExitCode.ok;
    }
    for (const w of outcome.warnings) this.err(this.style.yellow(`Warning: ${w}`));
    const s = planResult.plan.summary;
    this.out(
      this.style.green(
        `Apply complete: generation ${outcome!.generation}. ${s.add} added, ${s.change} changed, ${s.destroy} destroyed; ${outcome!.filesWritten} files written, ${outcome!.filesDeleted} deleted; nginx -t ${outcome!.nginxTests}x, ${outcome!.reloads} reload confirmed in ${(outcome!.timings.confirmMs / 1000).toFixed(2)}s.${result.migrationsStarted.length > 0 ? ` ${result.migrationsStarted.length} migration${result.migrationsStarted.length === 1 ? '' : 's'} started.` : ''}`,
      ),
    );
    return ExitCode.ok;
  }

  /**
   * One line per migration this apply started, one line for those started before. A dry run starts
   * none: the plan it prints names those that would start.
   */
  private reportMigrations(plan: Plan, started: readonly string[], dryRun: boolean): void {
    if (dryRun) return;
    for (const m of startedMigrations(plan, started)) {
      const hint = completeHintCommands(
        `'orch watch' moves it on, or 'orch migrate run ${shellWord(m.name)}'; 'orch migrations' shows its progress`,
        this.settingsArgs,
      );
      this.out(
        this.style.green(
          `Started migration ${m.name}: bucket ${m.bucket} of ${m.virtualHost}, ${m.from} -> ${m.to} (${m.mode} mode), phase pending. `,
        ) +
          hint +
          '.',
      );
    }
    for (const line of knownMigrationLines(plan.knownMigrations, (x) => x)) this.out(this.style.dim(`Migration ${line}.`));
  }
}

/** The plan's migrations that apply started, in the plan's order. */
function startedMigrations(plan: Plan, started: readonly string[]): DesiredMigration[] {
  const names = new Set(started);
  return plan.migrations.map((c) => c.migration).filter((m) => names.has(m.name));
}
