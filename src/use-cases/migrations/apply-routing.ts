import { refusalError } from '../../domain/apply/apply-guards.js';
import { applyGateway } from '../apply/apply-gateway.js';
import type { ApplyPorts } from '../apply/apply-ports.js';
import type { RoutingApplier } from './migration-ports.js';

/**
 * The routing generations of migrations, applied as `orch apply` applies (the record asks for the
 * routing; route-overlay.ts renders it). Manifest changes nobody applied yet are refused, not carried.
 */
export function gatewayRoutingApplier(ports: ApplyPorts): RoutingApplier {
  return async (record, _routing, command) => {
    const vhost = record.virtualHost;
    const result = await applyGateway(ports, {
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
    if (result.refusal) throw refusalError(result.refusal);
    return { generation: result.outcome?.generation ?? null };
  };
}
