import { Flags } from '@oclif/core';
import { composeOrch } from '../composition-root.js';
import { OrchCommand } from '../cli/orch-command.js';
import { generationHistory } from '../use-cases/status/generation-history.js';

export default class History extends OrchCommand {
  static override summary = 'List applied generations (newest first) and which can be restored with rollback.';
  static override examples = ['<%= config.bin %> history', '<%= config.bin %> history --json'];
  static override flags = {
    json: Flags.boolean({ description: 'print as JSON' }),
    limit: Flags.integer({ description: 'how many generations', default: 20 }),
  };

  protected async execute() {
    const { flags } = await this.parse(History);
    const settings = this.settingsFrom(flags);
    const rows = generationHistory(composeOrch(settings), flags.limit);
    if (flags.json) {
      this.out(JSON.stringify({ generations: rows }, null, 2));
      return;
    }
    if (rows.length === 0) {
      this.out('No generation applied yet.');
      return;
    }
    for (const g of rows) {
      const s = g.summary;
      const counts = `+${String(s['add'] ?? 0)} ~${String(s['change'] ?? 0)} -${String(s['destroy'] ?? 0)}`;
      const note = s['note'] ? `  ${String(s['note'])}` : '';
      this.out(
        `${String(g.number).padStart(5)}  ${g.createdAt}  ${g.outcome.padEnd(8)} ${g.command.padEnd(12)} ${counts}${g.restorable ? '' : this.style.dim('  (files not kept)')}${note}`,
      );
    }
  }
}
