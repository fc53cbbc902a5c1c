import { Args, Flags } from '@oclif/core';
import { purgeOrphans } from '../../use-cases/buckets/purge-orphans.js';
import { UserError } from '../../domain/errors.js';
import { OrchCommand } from '../../cli/orch-command.js';
import { composeOrch } from '../../composition-root.js';
import { confirmTyped } from '../../cli/prompt.js';
import { formatPurgeListing, formatPurgeResult } from '../../cli/views/buckets-text.js';
import { purgeToJson } from '../../cli/views/result-json.js';
import { shellWord } from '../../cli/hint-commands.js';

export default class BucketsPurgeOrphans extends OrchCommand {
  static override summary = 'Delete the objects a bucket left on a pool that does not serve it (its default pool, or --pool).';
  static override description = `Deletes only the objects of BUCKET on VHOST's DEFAULT pool, and only while the deployed route sends BUCKET to another pool that holds the bucket; the route's pool is never touched. Refused during a migration of the bucket, and when the manifests would route it back to the default pool.

With --pool POOL: deletes the objects of BUCKET on POOL instead, a pool that no longer serves the bucket at all (its route removed or moved away, a default pool changed, or POOL removed from the manifests: 'orch buckets orphans' lists them). Refused when a virtual host serves BUCKET from POOL, when a migration names POOL for the bucket, when the manifests would serve it from POOL after the next apply, and when POOL shares a member with a pool serving the bucket.

Lists the objects first (--dry-run stops there), refuses more than --max-objects, then asks you to type the bucket name (or --yes), deletes exactly the objects listed, and records an audit entry. Takes the writer lock.`;
  static override examples = [
    '<%= config.bin %> buckets purge-orphans s3-main photos --dry-run',
    '<%= config.bin %> buckets purge-orphans s3-main photos',
    '<%= config.bin %> buckets purge-orphans s3-main photos --yes --max-objects 50000',
    '<%= config.bin %> buckets purge-orphans s3-main photos --dry-run --json',
    '<%= config.bin %> buckets purge-orphans s3-main attic --pool pool-2019 --dry-run',
  ];
  static override args = {
    vhost: Args.string({ ignoreStdin: true, description: 'virtual host', required: true }),
    bucket: Args.string({ ignoreStdin: true, description: 'bucket', required: true }),
  };
  static override flags = {
    'pool': Flags.string({
      description: 'purge this pool, which no longer serves BUCKET (a removed pool included), instead of the default pool',
    }),
    'yes': Flags.boolean({ description: 'do not ask for confirmation' }),
    'dry-run': Flags.boolean({ description: 'list what would be deleted; delete nothing' }),
    'max-objects': Flags.integer({ description: 'refuse to delete more objects than this', default: 10000 }),
    'lock-timeout': Flags.integer({ description: 'seconds to wait for another writer (default: lockTimeoutSeconds setting, 30)' }),
    'json': Flags.boolean({ description: 'print the result as JSON (docs/json.md; needs --yes or --dry-run)' }),
  };

  protected async execute() {
    const { args, flags } = await this.parse(BucketsPurgeOrphans);
    const settings = this.settingsFrom(flags);
    if (flags['lock-timeout'] !== undefined) settings.lockTimeoutSeconds = flags['lock-timeout'];
    const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
    if (flags.json && !flags.yes && !flags['dry-run'])
      throw new UserError(
        'purge.needs-confirmation',
        'Refusing to purge with --json without --yes: the JSON result cannot hold a prompt.',
        {
          hint: `Review the listing with: \`orch buckets purge-orphans ${shellWord(args.vhost)} ${shellWord(args.bucket)}${flags.pool !== undefined ? ` --pool ${shellWord(flags.pool)}` : ''} --dry-run --json\``,
        },
      );
    if (!flags.yes && !flags['dry-run'] && !interactive) {
      throw new UserError(
        'purge.needs-confirmation',
        'Refusing to delete objects without confirmation: standard input is not a terminal.',
        {
          hint: 'Review the listing with --dry-run, then pass --yes.',
        },
      );
    }
    const result = await purgeOrphans(composeOrch(settings), {
      vhost: args.vhost,
      bucket: args.bucket,
      ...(flags.pool !== undefined ? { pool: flags.pool } : {}),
      maxObjects: flags['max-objects'],
      dryRun: flags['dry-run'],
      command: 'buckets purge-orphans',
      confirm: flags.yes
        ? null
        : async (listing) => {
            this.out(formatPurgeListing(listing, this.style));
            return confirmTyped(
              `\n${this.style.bold(`Type the bucket name (${listing.bucket}) to delete these objects from ${listing.pool}:`)} `,
              listing.bucket,
            );
          },
    });
    if (flags.json) {
      this.out(JSON.stringify(purgeToJson(result), null, 2));
      return;
    }
    if (flags.yes || flags['dry-run']) this.out(formatPurgeListing(result.listing, this.style));
    this.out(formatPurgeResult(result, this.style));
  }
}
