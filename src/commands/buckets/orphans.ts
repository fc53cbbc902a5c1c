import { ExitCode } from '../../domain/errors.js';
import { Flags } from '@oclif/core';
import { syncBuckets } from '../../use-cases/buckets/bucket-sync.js';
import { orphanRows, orphanCopies } from '../../domain/buckets/derive-bucket-status.js';
import { OrchCommand } from '../../cli/orch-command.js';
import { composeOrch } from '../../composition-root.js';
import { bucketReportToJson, formatOrphans } from '../../cli/views/buckets-text.js';

export default class BucketsOrphans extends OrchCommand {
  static override summary = 'List objects left on pools that do not serve their bucket (count, bytes).';
  static override description = `Objects a bucket left behind on a pool that does not serve it, unreachable through the gateway: on the default pool of a bucket routed elsewhere (routed with allowOrphan), or on a pool that no longer serves the bucket at all (its route removed or moved away, or its virtual host's default pool changed, acknowledged with allowOrphan), including a pool removed from the manifests while it held objects (orch keeps its record until 'orch buckets forget-pool POOL'). This lists them, counted. 'orch buckets purge-orphans VHOST BUCKET' deletes the default pool copies, and with --pool POOL the copies on a pool that no longer serves the bucket; sources of completed migrations are listed by 'orch migrations orphaned'.`;
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
    const orphans = orphanRows(report.rows);
    if (flags.json) {
      const json = bucketReportToJson({ ...report, rows: orphans });
      this.out(
        JSON.stringify(
          {
            format_version: json.format_version,
            synced_at: json.synced_at,
            orphans: orphans.flatMap((r) =>
              orphanCopies(r).map((c) => ({
                virtual_host: r.virtualHost,
                bucket: r.bucket,
                pool: c.pool,
                default_pool: r.defaultPool,
                route_pool: r.route?.pool ?? null,
                objects: c.objects,
                bytes: c.bytes,
              })),
            ),
            pools: json.pools,
          },
          null,
          2,
        ),
      );
    } else this.out(formatOrphans(report, orphans, this.style));
    // No pool could be listed: "no orphans" would be a guess. Exit 1 (the JSON says why per pool).
    if (report.pools.length > 0 && report.pools.every((p) => p.status !== 'ok')) return ExitCode.error;
    return ExitCode.ok;
  }
}
