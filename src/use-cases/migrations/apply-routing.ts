import type { Settings } from '../../config/settings.js';
import { applyGateway } from '../apply/apply-gateway.js';
import type { RoutingApplier } from './migration-ports.js';

/**
 * The routing generations of migrations, applied as `orch apply` applies (the record asks for the
 * routing; route-overlay.ts renders it). Manifest changes nobody applied yet are refused, not carried.
 */
export function gatewayRoutingApplier(settings: Settings): RoutingApplier {
  return async (record, _routing, command) => {
    const vhost = record.virtualHost;
    const result = await applyGateway(settings, {
      planFile: null,
      dryRun: false,
      overwriteDrift: new Set(),
      maxDelete: 0,
      allowEmpty: false,
      confirm: null,
      emit: () => undefined,
      command,
      refresh: false,
      onlyPaths: new Set([`vhosts/${vhost}.conf`, `vhosts/${vhost}.meta.json`]),
    });
    return { generation: result.outcome?.generation ?? null };
  };
}
