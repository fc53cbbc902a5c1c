import { Flags } from '@oclif/core';
import { syncBuckets } from '../../use-cases/buckets/bucket-sync.js';
import { OrchCommand } from '../../cli/orch-command.js';
import { composeOrch } from '../../composition-root.js';
import { bucketReportToJson, formatBucketReport } from '../../cli/views/buckets-text.js';

export default class Buckets extends OrchCommand {
  static override summary = 'Sync and list the buckets behind the gateway: status, route, pools, object counts.';
  static override description = `For each deployed virtual host whose default pool is a nanio pool, lists the buckets on the default pool and on every nanio pool its routes point to (on the pools' members, never through the gateway), records them in the state database, and shows each bucket's status:

  routed       an explicit route serves it
  via-default  no route: the default pool serves it
  ignored      listed in the virtual host's ignoreBuckets
  migrating    a Migration moves it
  orphaned     routed elsewhere with objects left on the default pool, or source of a completed migration
  missing      a route points at a pool where the bucket does not exist

A pool that cannot be listed is reported; the others still sync. See docs/buckets.md.`;
  static override examples = [
    '<%= config.bin %> buckets',
    '<%= config.bin %> buckets --vhost s3-main --counts',
    '<%= config.bin %> buckets --json',
  ];
  static override flags = {
    vhost: Flags.string({ description: 'only this virtual host' }),
    counts: Flags.boolean({ description: 'count objects and bytes of every bucket (lists every object)' }),
    json: Flags.boolean({ description: 'print as JSON (format in docs/buckets.md)' }),
  };

  protected async execute() {
    const { flags } = await this.parse(Buckets);
    const settings = this.settingsFrom(flags);
    const report = await syncBuckets(composeOrch(settings), {
      ...(flags.vhost ? { vhost: flags.vhost } : {}),
      counts: flags.counts,
      checkIdentities: true,
    });
    if (flags.json) this.out(JSON.stringify(bucketReportToJson(report), null, 2));
    else this.out(formatBucketReport(report, this.style, { counts: flags.counts }));
  }
}
