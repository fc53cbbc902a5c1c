import { Flags } from '@oclif/core';
import { stopSandboxNginx } from '../../use-cases/install/sandbox.js';
import { OrchCommand } from '../../cli/orch-command.js';
import { composeOrch } from '../../composition-root.js';

export default class SandboxDown extends OrchCommand {
  static override summary = 'Stop the sandbox nginx (files and state under ./.orch are kept).';
  static override examples = ['<%= config.bin %> sandbox down', '<%= config.bin %> sandbox down --json'];
  static override flags = {
    json: Flags.boolean({ description: 'print the result as JSON' }),
  };

  protected async execute() {
    const { flags } = await this.parse(SandboxDown);
    const settings = this.settingsFrom(flags);
    const stopped = await stopSandboxNginx(composeOrch(settings));
    if (flags.json) this.out(JSON.stringify({ format_version: '1.0', stopped, was_running: stopped }, null, 2));
    else this.out(stopped ? 'Sandbox nginx stopped.' : 'The sandbox nginx was not running.');
  }
}
