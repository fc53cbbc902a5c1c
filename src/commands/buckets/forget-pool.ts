import { Args, Flags } from '@oclif/core';
import { forgetPool } from '../../use-cases/buckets/removed-pools.js';
import { OrchCommand } from '../../cli/orch-command.js';
import { composeOrch } from '../../composition-root.js';

export default class BucketsForgetPool extends OrchCommand {
  static override summary = 'Stop listing the objects a pool removed from the manifests still holds (drop its record).';
  static override description = `When an apply removes a nanio pool from the manifests while the pool still holds objects (or cannot be listed), orch keeps the pool's members and sealed credentials in the state database, so that 'orch buckets orphans' lists what it holds. Once those objects are deleted on the pool's members, or no longer wanted, this drops the record: orch no longer lists the pool. Nothing on the pool is touched. Takes the writer lock and records an audit entry.`;
  static override examples = ['<%= config.bin %> buckets forget-pool pool-2019'];
  static override args = {
    pool: Args.string({ ignoreStdin: true, description: 'a removed pool (as named in orch buckets orphans)', required: true }),
  };
  static override flags = {
    'lock-timeout': Flags.integer({ description: 'seconds to wait for another writer (default: lockTimeoutSeconds setting, 30)' }),
  };

  protected async execute() {
    const { args, flags } = await this.parse(BucketsForgetPool);
    const settings = this.settingsFrom(flags);
    if (flags['lock-timeout'] !== undefined) settings.lockTimeoutSeconds = flags['lock-timeout'];
    const record = await forgetPool(composeOrch(settings), args.pool, 'buckets forget-pool');
    this.out(
      `Forgot removed pool ${record.pool} (removed ${record.removedAt}): orch no longer lists what it holds. Nothing on its members was touched.`,
    );
  }
}
