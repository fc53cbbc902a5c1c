import { Flags } from '@oclif/core';
import { computePlan, planIdentity } from '../use-cases/plan/compute-plan.js';
import { writeSavedPlan } from '../use-cases/plan/saved-plan.js';
import { openStateView } from '../use-cases/state/state-view.js';
import { composeOrch } from '../composition-root.js';
import { ExitCode } from '../domain/errors.js';
import { planHasChanges } from '../domain/plan/plan-types.js';
import { shellWord } from '../cli/hint-commands.js';
import { EXIT_CODES_HELP, OrchCommand } from '../cli/orch-command.js';
import { jsonMeta, planToJson } from '../cli/views/plan-json.js';
import { formatPlanText } from '../cli/views/plan-text.js';
import { planJsonToMarkdown } from '../cli/views/plan-markdown.js';

export default class Plan extends OrchCommand {
  static override summary = 'Show what apply would change: nginx files (with diffs), buckets to create, drift, migrations.';
  static override description = `Validates the manifests, renders the nginx files and sidecars they imply, and compares them with the managed directory. Every file to create, change or delete is listed with a unified diff; files edited outside orch are reported as drift; files without orch's marker are never touched. Nothing is written (except the --out file).

By default the plan refreshes from S3: it lists the buckets of the nanio pools the routes point to (on the pools' members, not through the gateway), plans "create bucket B on pool P" for a route whose bucket does not exist there, and refuses a route change that would leave a bucket's objects behind on its current pool without a Migration or allowOrphan. --no-refresh plans offline: no bucket is checked.

${EXIT_CODES_HELP}`;
  static override examples = [
    '<%= config.bin %> plan -m examples/gateway',
    '<%= config.bin %> plan --format markdown > plan-comment.md   # a pull-request comment',
    '<%= config.bin %> plan --json --detailed-exitcode > plan.json',
    '<%= config.bin %> plan --no-refresh --detailed-exitcode   # offline (CI without pool access)',
    '<%= config.bin %> plan --out gateway.plan && <%= config.bin %> apply gateway.plan',
  ];
  static override flags = {
    'json': Flags.boolean({ description: 'print the plan as JSON (format documented in docs/plan.md); same as --format json' }),
    'format': Flags.string({
      description: 'output format: text, json, or markdown (a pull-request comment: summary table, collapsible diffs)',
      options: ['text', 'json', 'markdown'],
      default: 'text',
    }),
    'detailed-exitcode': Flags.boolean({ description: 'exit 0 when there are no changes, 2 when there are, 1 on error' }),
    'out': Flags.string({ description: 'save the plan (with a fingerprint of its inputs) for `orch apply FILE`' }),
    'diff': Flags.boolean({ description: 'show unified diffs of changed files', default: true, allowNo: true }),
    'refresh': Flags.boolean({ description: 'check buckets on the pools (S3); --no-refresh plans offline', default: true, allowNo: true }),
    'state': Flags.boolean({
      description:
        "read the state database (default); --no-state previews against a copy of the managed tree without one (CI): without it, orch's files and no usable state stop the plan",
      default: true,
      allowNo: true,
    }),
  };

  protected async execute() {
    const { flags } = await this.parse(Plan);
    const settings = this.settingsFrom(flags);
    const orch = composeOrch(settings);
    // Said first: an interrupted apply or conversion (never reported as hand edits).
    const { view: state, notices } = openStateView(orch, { withoutState: !flags.state });
    for (const n of notices) this.err(this.errStyle.yellow(`Note: ${n}`));
    const result = await computePlan(orch, state, { refresh: flags.refresh });
    // Hashing the inputs costs time at fleet size: only for JSON output and saved plans.
    const format = flags.json ? 'json' : flags.format;
    const identity = format !== 'text' || flags.out ? planIdentity(result) : null;
    const json = identity ? planToJson(result.plan, jsonMeta(identity), { diffs: flags.diff }) : null;
    if (flags.out && identity) {
      writeSavedPlan(orch.files, flags.out, {
        kind: 'orch-saved-plan',
        format_version: '1',
        orch_version: identity.inputs.orchVersion,
        created_at: new Date().toISOString(),
        fingerprint: identity.fingerprint,
        inputs: identity.inputs,
        plan: json,
      });
    }
    if (format === 'json') this.out(JSON.stringify(json, null, 2));
    else if (format === 'markdown') this.out(planJsonToMarkdown(json!));
    else {
      this.out(formatPlanText(result.plan, this.style, { diffs: flags.diff }));
      if (flags.out)
        this.out(
          this.style.dim(
            `Saved this plan to ${flags.out}. Apply exactly it with: ${['orch apply', ...this.settingsArgs, shellWord(flags.out)].join(' ')}`,
          ),
        );
    }
    if (flags['detailed-exitcode'] && planHasChanges(result.plan)) return ExitCode.changesPresent;
    return ExitCode.ok;
  }
}
