import { Flags } from '@oclif/core';
import { syncBuckets } from '../../use-cases/buckets/bucket-sync.js';
import { defaultPoolOrphans } from '../../domain/buckets/derive-bucket-status.js';
import { OrchCommand } from '../../cli/orch-command.js';
import { composeOrch } from '../../composition-root.js';
import { bucketReportToJson, formatOrphans } from '../../cli/views/buckets-text.js';

export default class BucketsOrphans extends OrchCommand {
  static override summary = 'List objects routed buckets left on their default pool (count, bytes).';
  static override description = `A bucket routed to another pool than its virtual host's default pool may still have objects on the default pool (routed with allowOrphan, or the source of a completed migration). They are unreachable through the gateway. This lists them, counted; 'orch buckets purge-orphans VHOST BUCKET' deletes them.`;
  static override examples = ['<%= config.bin %> buckets orphans', '<%= config.bin %> buckets orphans --vhost s3-main --json'];
  static override flags = {
    vhost: Flags.string({ description: 'only this virtual host' }),
    json: Flags.boolean({ description: 'print as JSON' }),
  };

  protected async execute() {
    const { flags } = await this.parse(BucketsOrphans);
    const settings = this.settingsFrom(flags);
    const report = await syncBuckets(composeOrch(settings), {
      ...(flags.vhost ? { vhost: flags.vhost } : {}),
      counts: false,
      countOrphans: true,
    });
    const orphans = defaultPoolOrphans(report.rows);
    if (flags.json) {
      const json = bucketReportToJson({ ...report, rows: orphans });
      this.out(
        JSON.stringify(
          {
            format_version: json.format_version,
            synced_at: json.synced_at,
            orphans: orphans.map((r) => {
              const onDefault = r.pools.find((p) => p.pool === r.defaultPool);
              return {
                virtual_host: r.virtualHost,
                bucket: r.bucket,
                default_pool: r.defaultPool,
                route_pool: r.route!.pool,
                objects: onDefault?.objects ?? null,
                bytes: onDefault?.bytes ?? null,
              };
            }),
            pools: json.pools,
          },
          null,
          2,
        ),
      );
    } else this.out(formatOrphans(report, orphans, this.style));
  }
}
