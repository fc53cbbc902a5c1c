import { Args, Flags } from '@oclif/core';
import { composeOrch } from '../../composition-root.js';
import { OrchCommand } from '../../cli/orch-command.js';
import { generationDetail } from '../../use-cases/status/generation-history.js';
import { formatGenerationText, generationJson } from '../../cli/views/history-text.js';

export default class HistoryShow extends OrchCommand {
  static override summary = 'Show one generation: who applied it, from which git commit, every file it changed and the diffs.';
  static override description =
    'Diffs are shown while the contents are kept (the last keepGenerations generations); the list of changed files is kept for every generation.';
  static override examples = [
    '<%= config.bin %> history show 12',
    '<%= config.bin %> history show 12 --json',
    '<%= config.bin %> history show 12 --no-diff',
  ];
  static override args = {
    generation: Args.integer({ ignoreStdin: true, description: 'generation number (see orch history)', required: true, min: 1 }),
  };
  static override flags = {
    json: Flags.boolean({ description: 'print as JSON' }),
    diff: Flags.boolean({ description: 'show each file diff', default: true, allowNo: true }),
  };

  protected async execute() {
    const { args, flags } = await this.parse(HistoryShow);
    const settings = this.settingsFrom(flags);
    const detail = generationDetail(composeOrch(settings), args.generation, flags.diff);
    if (flags.json) {
      this.out(JSON.stringify(generationJson(detail), null, 2));
      return;
    }
    this.out(formatGenerationText(detail, this.style, flags.diff));
  }
}
