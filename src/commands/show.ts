import { Args, Flags } from '@oclif/core';
import { readSavedPlan } from '../use-cases/plan/saved-plan.js';
import { composeOrch } from '../composition-root.js';
import { UserError } from '../domain/errors.js';
import { OrchCommand } from '../cli/orch-command.js';
import { shellWord } from '../cli/hint-commands.js';
import type { PlanJson } from '../cli/views/plan-json.js';
import { planJsonToText } from '../cli/views/plan-json-text.js';
import { planJsonToMarkdown } from '../cli/views/plan-markdown.js';

export default class Show extends OrchCommand {
  static override summary = 'Show a saved plan (orch plan --out FILE): as text, JSON or Markdown for a pull request.';
  static override description = `Prints the plan saved in FILE as it was when saved: nothing is recomputed and nothing is written. Apply exactly it with \`orch apply FILE\`, which refuses it if its inputs changed since.

--format markdown prints a comment for a pull or merge request: a summary table, then one collapsible section per resource with a diff GitHub and GitLab colour.`;
  static override examples = [
    '<%= config.bin %> show gateway.plan',
    '<%= config.bin %> show gateway.plan --format markdown > plan-comment.md',
    '<%= config.bin %> show gateway.plan --json',
  ];
  static override args = {
    file: Args.string({ description: 'a plan saved with orch plan --out FILE', required: true, ignoreStdin: true }),
  };
  static override flags = {
    format: Flags.string({ description: 'output format', options: ['text', 'json', 'markdown'], default: 'text' }),
    json: Flags.boolean({ description: 'print the plan as JSON (same as --format json)' }),
  };

  protected async execute() {
    const { args, flags } = await this.parse(Show);
    const settings = this.settingsFrom(flags);
    const saved = readSavedPlan(composeOrch(settings).files, args.file);
    const plan = saved.plan as PlanJson | null;
    if (!plan || !Array.isArray(plan.changes) || typeof plan.summary !== 'object')
      throw new UserError('plan.invalid', `${args.file} holds no plan to show (saved by an orch without one).`, {
        hint: `Save it again with \`orch plan --out ${shellWord(args.file)}\`.`,
      });
    const format = flags.json ? 'json' : flags.format;
    if (format === 'json') this.out(JSON.stringify(plan, null, 2));
    else if (format === 'markdown') this.out(planJsonToMarkdown(plan, { command: `orch show ${args.file}` }));
    else {
      this.out(this.style.dim(`Saved plan ${args.file}: created ${saved.created_at} by orch ${saved.orch_version}, ${saved.fingerprint}`));
      this.out(planJsonToText(plan, this.style));
      this.out(this.style.dim(`Apply exactly it with: ${['orch apply', ...this.settingsArgs, shellWord(args.file)].join(' ')}`));
    }
  }
}
