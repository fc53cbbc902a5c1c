import type { Settings } from '../../config/settings.js';
import type { DesiredPool } from '../../domain/model/desired-state.js';
import { readPoolSidecar } from '../../domain/rebuild/read-sidecar.js';
import type { DeployedSidecars } from '../../ports/deployed-sidecars.js';
import { preparePoolCredentials, type PoolAccess, type PoolAccessPorts } from '../buckets/pool-access.js';

/**
 * Pools as deployed (their sidecars, not the manifests): the members nginx sends traffic to, and
 * their credentials (references resolved through the secrets port, else the encrypted copy in the sidecar).
 */
export function deployedPoolAccess(ports: PoolAccessPorts, settings: Settings, sidecars: DeployedSidecars): PoolAccess {
  const texts = sidecars.pools();
  const pools: DesiredPool[] = [];
  for (const text of texts.values()) {
    try {
      const read = readPoolSidecar(JSON.parse(text));
      if (read.ok) pools.push(read.value);
    } catch {
      /* an unreadable sidecar: that pool is not usable */
    }
  }
  return preparePoolCredentials(ports, settings, pools, texts).access;
}
