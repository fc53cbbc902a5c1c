import { stopSandboxNginx } from '../../use-cases/install/sandbox.js';
import { OrchCommand } from '../../cli/orch-command.js';
import { composeOrch } from '../../composition-root.js';

export default class SandboxDown extends OrchCommand {
  static override summary = 'Stop the sandbox nginx (files and state under ./.orch are kept).';
  static override examples = ['<%= config.bin %> sandbox down'];

  protected async execute() {
    const { flags } = await this.parse(SandboxDown);
    const settings = this.settingsFrom(flags);
    const stopped = await stopSandboxNginx(composeOrch(settings));
    this.out(stopped ? 'Sandbox nginx stopped.' : 'The sandbox nginx was not running.');
  }
}
