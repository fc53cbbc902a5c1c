import { Flags } from '@oclif/core';
import { suspendWatch } from '../use-cases/watch/suspension.js';
import { completeHintCommands } from '../cli/hint-commands.js';
import { OrchCommand } from '../cli/orch-command.js';
import { composeOrch } from '../composition-root.js';

export default class Suspend extends OrchCommand {
  static override summary = 'Suspend orch watch for this state directory: it reconciles nothing until orch resume.';
  static override description = `A running daemon (and one started later) skips every reconcile and bucket sync: it applies nothing, reverts no drift and no rollback, and keeps answering /healthz, /status and /metrics, which say it is suspended (orch_suspended 1). Migrations already running go on; cancel one with orch migrate cancel. The suspension is a file in the state directory (watch-suspended.json), so it holds across daemon restarts. Use it before a manual rollback or while you work on the gateway by hand.`;
  static override examples = ["<%= config.bin %> suspend --reason 'rolling back by hand'", '<%= config.bin %> suspend --json'];
  static override flags = {
    reason: Flags.string({ description: 'why (shown by orch status and the daemon)' }),
    json: Flags.boolean({ description: 'print the result as JSON' }),
  };

  protected async execute() {
    const { flags } = await this.parse(Suspend);
    const settings = this.settingsFrom(flags);
    const orch = composeOrch(settings);
    const r = suspendWatch(orch, { by: orch.provenance.actor(), reason: flags.reason ?? null });
    if (flags.json) {
      this.out(JSON.stringify({ format_version: '1.0', suspended: r.suspension, already_suspended: r.already }, null, 2));
      return;
    }
    this.out(
      this.style.yellow(
        completeHintCommands(
          `orch watch is suspended for ${settings.stateDir}${r.already ? ' (it already was; the record is replaced)' : ''}: it reconciles nothing until you run 'orch resume'.`,
          this.settingsArgs,
        ),
      ),
    );
  }
}
