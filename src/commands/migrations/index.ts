import { Flags } from '@oclif/core';
import { listMigrations } from '../../use-cases/migrations/migration-commands.js';
import { migrationPorts } from '../../composition-root.js';
import { OrchCommand } from '../../cli/orch-command.js';
import { formatMigrations, migrationToJson, MIGRATIONS_FORMAT_VERSION } from '../../cli/views/migrations-text.js';

export default class Migrations extends OrchCommand {
  static override summary = 'List bucket migrations: phase, progress, rate, ETA, last error.';
  static override description = `Every migration the state knows (started by 'orch apply' from a Migration manifest), with its phase (pending, copying, write_routing, verifying, switching, done, error, cancelled), progress from the last copy pass, the process driving it, the write freezes it went through and its last error. Reads the state only; nothing is changed. See docs/migrations.md.`;
  static override examples = ['<%= config.bin %> migrations', '<%= config.bin %> migrations --json'];
  static override flags = {
    json: Flags.boolean({ description: 'print as JSON (format_version 1.0)' }),
    log: Flags.integer({ description: "lines of each migration's own log to include (JSON) or show", default: 5 }),
  };

  protected async execute() {
    const { flags } = await this.parse(Migrations);
    const settings = this.settingsFrom(flags);
    const views = listMigrations(migrationPorts(settings), { logLines: flags.log });
    if (flags.json) {
      this.out(JSON.stringify({ format_version: MIGRATIONS_FORMAT_VERSION, migrations: views.map(migrationToJson) }, null, 2));
      return;
    }
    this.out(formatMigrations(views, this.style));
    if (flags.log > 0) {
      for (const v of views.filter((x) => x.log.length > 0 && x.record.phase !== 'done')) {
        this.out(`\n${v.record.name} log:`);
        for (const l of v.log) this.out(`  ${l.at} ${l.level.padEnd(5)} ${l.message}`);
      }
    }
  }
}
