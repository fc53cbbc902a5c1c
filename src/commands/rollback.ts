import { Args, Flags } from '@oclif/core';
import { rollbackTo } from '../use-cases/apply/rollback.js';
import { UserError } from '../domain/errors.js';
import { composeOrch } from '../composition-root.js';
import { lineReporter, listrReporter } from '../cli/apply-reporter.js';
import { confirmTyped } from '../cli/prompt.js';
import { completeHintCommands } from '../cli/hint-commands.js';
import { EXIT_CODES_HELP, OrchCommand } from '../cli/orch-command.js';
import { formatPlanText } from '../cli/views/plan-text.js';
import { rollbackToJson } from '../cli/views/result-json.js';
import { guardAgainstDaemon } from '../cli/daemon-guard.js';

export default class Rollback extends OrchCommand {
  static override summary = 'Restore the files of an earlier generation through stage, validate, promote and a confirmed reload.';
  static override description = `Restores generation N (default: the one before the current) as a new generation. The manifests are not changed, so the next 'orch plan' shows how to return to them: fix the manifests (or revert the commit) before the next apply.

${EXIT_CODES_HELP}`;
  static override examples = [
    '<%= config.bin %> rollback',
    '<%= config.bin %> rollback 4 --auto-approve',
    '<%= config.bin %> rollback --auto-approve --json',
  ];
  static override args = { generation: Args.integer({ ignoreStdin: true, description: 'generation to restore', required: false }) };
  static override flags = {
    'auto-approve': Flags.boolean({ description: 'do not ask for confirmation' }),
    'lock-timeout': Flags.integer({ description: 'seconds to wait for another writer' }),
    'suspend-watch': Flags.boolean({
      description: 'suspend a running orch watch first (it would apply the manifests again and undo the rollback); orch resume ends it',
    }),
    'json': Flags.boolean({ description: 'print the result as JSON (docs/json.md; needs --auto-approve; progress goes to stderr)' }),
  };

  protected async execute() {
    const { args, flags } = await this.parse(Rollback);
    const settings = this.settingsFrom(flags);
    if (flags['lock-timeout'] !== undefined) settings.lockTimeoutSeconds = flags['lock-timeout'];
    const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
    if (flags.json && !flags['auto-approve'])
      throw new UserError(
        'rollback.needs-approval',
        'Refusing to roll back with --json without --auto-approve: the JSON result cannot hold a prompt.',
        {
          hint: 'Pass --auto-approve, or run it in a terminal without --json to review the changes and confirm: `orch rollback`',
        },
      );
    if (!flags['auto-approve'] && !interactive) {
      throw new UserError('rollback.needs-approval', 'Refusing to roll back without confirmation: standard input is not a terminal.', {
        hint: 'Pass --auto-approve.',
      });
    }
    const orch = composeOrch(settings);
    await guardAgainstDaemon(orch, settings, {
      action: 'rollback',
      interactive: interactive && !flags['auto-approve'],
      suspend: flags['suspend-watch'],
      reason: `orch rollback${args.generation === undefined ? '' : ` ${args.generation}`}`,
      // With --json, standard output holds the JSON result only: warnings go to stderr.
      out: (l) => (flags.json ? this.err(l) : this.out(l)),
      err: (l) => this.err(l),
      style: this.style,
      settingsArgs: this.settingsArgs,
    });
    const reporter = process.stderr.isTTY && !flags.json ? listrReporter() : lineReporter((l) => this.err(l), this.errStyle);
    let result;
    try {
      result = await rollbackTo(orch, {
        target: args.generation ?? null,
        emit: (e) => reporter.emit(e),
        confirm: flags['auto-approve']
          ? null
          : async (plan, target) => {
              this.out(
                formatPlanText(plan, this.style, {
                  diffs: true,
                  offlineNote: 'Buckets not checked: a rollback restores nginx files only.',
                }),
              );
              return confirmTyped(`\nRestore generation ${target}? Only 'yes' will be accepted: `, 'yes');
            },
      });
    } catch (e) {
      await reporter.finish(e);
      throw e;
    }
    await reporter.finish();
    if (flags.json) {
      this.out(JSON.stringify(rollbackToJson(result, reporter.events), null, 2));
      return;
    }
    const m = result.manifests;
    const next =
      m.match === true
        ? 'The manifests describe the same files: the next apply changes nothing.'
        : m.match === false
          ? "The manifests still describe another state: 'orch plan' shows the way back; fix the manifests (or revert their commit) before the next apply."
          : `Whether the manifests describe it could not be told (${m.why}): see 'orch plan'.`;
    this.out(
      this.style.green(
        completeHintCommands(
          `Restored generation ${result.target} as generation ${result.outcome?.generation}. ${next}`,
          this.settingsArgs,
        ),
      ),
    );
  }
}
