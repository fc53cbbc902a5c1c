import { Flags } from '@oclif/core';
import { orphanedSources } from '../../use-cases/migrations/migration-commands.js';
import { migrationPorts } from '../../composition-root.js';
import { OrchCommand } from '../../cli/orch-command.js';

export default class MigrationsOrphaned extends OrchCommand {
  static override summary = 'List source data that finished migrations left behind for the operator to delete.';
  static override description = `orch never deletes a migration's source data. When a migration is done, the source pool, the bucket (as a prefix) and the time are recorded here. Check the data, then delete it on the old pool with your own tools (or empty the bucket there and remove it).`;
  static override examples = ['<%= config.bin %> migrations orphaned', '<%= config.bin %> migrations orphaned --json'];
  static override flags = {
    json: Flags.boolean({ description: 'print as JSON' }),
  };

  protected async execute() {
    const { flags } = await this.parse(MigrationsOrphaned);
    const settings = this.settingsFrom(flags);
    const done = orphanedSources(migrationPorts(settings));
    if (flags.json) {
      this.out(
        JSON.stringify(
          {
            format_version: '1.0',
            orphaned: done.map((d) => ({
              migration: d.name,
              virtual_host: d.virtualHost,
              bucket: d.bucket,
              pool: d.orphanedSource!.pool,
              prefix: d.orphanedSource!.prefix,
              at: d.orphanedSource!.at,
              moved_to: d.to,
            })),
          },
          null,
          2,
        ),
      );
      return;
    }
    if (done.length === 0) {
      this.out('No orphaned source data: no migration finished, or none left data behind.');
      return;
    }
    for (const d of done)
      this.out(
        `${d.name}: bucket ${d.bucket} on pool ${d.orphanedSource!.pool} (prefix ${d.orphanedSource!.prefix}) since ${d.orphanedSource!.at}; now served by ${d.to}`,
      );
  }
}
