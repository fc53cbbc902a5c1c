import { Flags } from '@oclif/core';
import { composeOrch } from '../../composition-root.js';
import { OrchCommand } from '../../cli/orch-command.js';
import { generationHistory } from '../../use-cases/status/generation-history.js';
import { formatHistoryLine, historyJson } from '../../cli/views/history-text.js';

export default class History extends OrchCommand {
  static override summary =
    'List applied generations (newest first): who applied each, from which git commit, and which rollback can restore.';
  static override examples = ['<%= config.bin %> history', '<%= config.bin %> history --json', '<%= config.bin %> history show 12'];
  static override flags = {
    json: Flags.boolean({ description: 'print as JSON' }),
    limit: Flags.integer({ description: 'how many generations', default: 20, min: 1, max: 100000 }),
  };

  protected async execute() {
    const { flags } = await this.parse(History);
    const settings = this.settingsFrom(flags);
    const rows = generationHistory(composeOrch(settings), flags.limit);
    if (flags.json) {
      this.out(JSON.stringify(historyJson(rows), null, 2));
      return;
    }
    if (rows.length === 0) {
      this.out('No generation applied yet.');
      return;
    }
    for (const g of rows) this.out(formatHistoryLine(g, this.style));
    this.out(this.style.dim(`\nSee one generation's changes and diffs: orch history show ${rows[0]!.number}`));
  }
}
