import { Flags } from '@oclif/core';
import { resumeWatch } from '../use-cases/watch/suspension.js';
import { OrchCommand } from '../cli/orch-command.js';
import { composeOrch } from '../composition-root.js';

export default class Resume extends OrchCommand {
  static override summary = 'Resume orch watch after orch suspend: it reconciles again at its next trigger.';
  static override description =
    'Ends the suspension of this state directory. A running daemon reconciles at its next trigger (a manifest change, its drift or reconcile interval, or SIGHUP) — and then makes nginx match the manifests again, undoing any change made by hand meanwhile.';
  static override examples = ['<%= config.bin %> resume', '<%= config.bin %> resume --json'];
  static override flags = { json: Flags.boolean({ description: 'print the result as JSON' }) };

  protected async execute() {
    const { flags } = await this.parse(Resume);
    const settings = this.settingsFrom(flags);
    const r = resumeWatch(composeOrch(settings));
    if (flags.json) {
      this.out(JSON.stringify({ format_version: '1.0', resumed: r.resumed, was: r.was }, null, 2));
      return;
    }
    this.out(
      r.resumed
        ? this.style.green(`orch watch is resumed for ${settings.stateDir}: it reconciles at its next trigger.`)
        : `orch watch was not suspended for ${settings.stateDir}; nothing to do.`,
    );
  }
}
