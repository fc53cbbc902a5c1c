import { Flags } from '@oclif/core';
import { driftReport } from '../use-cases/status/drift-report.js';
import { ExitCode } from '../domain/errors.js';
import { OrchCommand } from '../cli/orch-command.js';
import { composeOrch } from '../composition-root.js';

export default class Drift extends OrchCommand {
  static override summary = 'List managed files edited or deleted outside orch, with a diff of last applied against disk.';
  static override description = `Compares every file in orch's inventory with the disk. Nothing is changed: 'orch apply --overwrite-drift' discards the edits, or carry them into the manifests.

EXIT CODES
  0  no drift (or drift without --detailed-exitcode)
  1  error
  2  drift found (with --detailed-exitcode)`;
  static override examples = ['<%= config.bin %> drift', '<%= config.bin %> drift --json'];
  static override flags = {
    'json': Flags.boolean({ description: 'print as JSON (docs/json.md)' }),
    'detailed-exitcode': Flags.boolean({ description: 'exit 2 when drift is found' }),
  };

  protected async execute() {
    const { flags } = await this.parse(Drift);
    const settings = this.settingsFrom(flags);
    const { items, notices, generation } = driftReport(composeOrch(settings));
    if (flags.json)
      this.out(
        JSON.stringify(
          {
            // docs/json.md; 1.0: the first versioned format (before it: camelCase, no format_version).
            format_version: '1.0',
            generation,
            drift: items.map((d) => ({
              path: d.path,
              kind: d.kind,
              expected_sha256: d.expectedSha256,
              actual_sha256: d.actualSha256,
              diff: d.diff,
            })),
            notices,
          },
          null,
          2,
        ),
      );
    else {
      // Said first: an interrupted apply or conversion (whose files are never reported as hand edits).
      for (const n of notices) this.out(this.style.yellow(`Note: ${n}`));
      if (items.length === 0) this.out(this.style.green('No drift: every managed file is as orch last wrote it.'));
      else {
        for (const d of items) {
          this.out(
            this.style.yellow(`! ${d.path} ${d.kind === 'deleted' ? 'was deleted (apply recreates it)' : 'was edited outside orch'}`),
          );
          if (d.diff) this.out(d.diff.replace(/^/gm, '    '));
        }
        this.out(`${items.length} drifted file(s).`);
      }
    }
    return flags['detailed-exitcode'] && items.length > 0 ? ExitCode.changesPresent : ExitCode.ok;
  }
}
