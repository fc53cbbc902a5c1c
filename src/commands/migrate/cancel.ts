import { Args, Flags } from '@oclif/core';
import { cancelMigration } from '../../use-cases/migrations/migration-commands.js';
import { migrationPorts } from '../../composition-root.js';
import { completeHintCommands } from '../../cli/hint-commands.js';
import { OrchCommand } from '../../cli/orch-command.js';
import { migrateToJson } from '../../cli/views/result-json.js';

export default class MigrateCancel extends OrchCommand {
  static override summary = 'Cancel a migration: the route goes back to the source pool.';
  static override description = `Writes and reads go back to the source pool, where every acknowledged write is (before the cutover nothing reaches the destination through the gateway). What was copied stays on the destination. Once the cutover has started (phase switching) a cancel is too late: the migration finishes instead. When another process (orch watch, orch migrate run) drives the migration, it is asked to cancel and this waits for it.`;
  static override examples = ['<%= config.bin %> migrate cancel photos-to-2026'];
  static override args = { name: Args.string({ ignoreStdin: true, description: 'the migration', required: true }) };
  static override flags = {
    wait: Flags.integer({ description: 'seconds to wait for the process driving the migration', default: 60 }),
    json: Flags.boolean({ description: 'print the result as JSON (docs/json.md)' }),
  };

  protected async execute() {
    const { args, flags } = await this.parse(MigrateCancel);
    const settings = this.settingsFrom(flags);
    const controller = new AbortController();
    const result = await cancelMigration(migrationPorts(settings), args.name, {
      waitSeconds: flags.wait,
      hooks: {
        signal: controller.signal,
        log: (level, m) => process.stderr.write(`${level === 'info' ? '' : `${level.toUpperCase()} `}${m}\n`),
      },
    });
    const d = result.record;
    if (flags.json) {
      this.out(JSON.stringify(migrateToJson(result.how, d), null, 2));
      return;
    }
    if (result.how === 'cancelled')
      this.out(this.style.green(`Migration ${d.name} is cancelled: bucket ${d.bucket} is served by pool ${d.from} again.`));
    else if (result.how === 'completed')
      this.out(this.style.yellow(`Migration ${d.name} was already switching to ${d.to} and finished instead (phase ${d.phase}).`));
    else
      this.out(
        this.style.yellow(
          completeHintCommands(
            `Migration ${d.name} is driven by another process, which was asked to cancel; it is still in phase ${d.phase}. Check with 'orch migrations'.`,
            this.settingsArgs,
          ),
        ),
      );
  }
}
