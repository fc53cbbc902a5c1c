import type { DesiredPool } from '../model/desired-state.js';
import { NODE_CONFIG_DEFAULTS } from './render-node-config.js';

/**
 * The steps that give every member of a nanio pool the users the manifests declare (orch's
 * credentials and the client identities), as an operator pastes them: per member, the exact
 * `orch node-config POOL MEMBER --out DIR` that writes its options file, then where to install it
 * and the restart (nanio reads its users at start only). MEMBER is the address as written in the
 * manifest when it is one shell word as is (host:port), else the member's index (an IPv6 address
 * in brackets would need quoting); the same word names the member's directory under
 * ./node-config/POOL/.
 */
export function memberUpdateSteps(pool: Pick<DesiredPool, 'name' | 'members'>): string {
  const configFile = `${NODE_CONFIG_DEFAULTS.configDir}/options.toml`;
  const steps = pool.members.map((m, index) => {
    const word = /^[A-Za-z0-9_.:-]+$/.test(m.address) ? m.address : String(index);
    const dir = `./node-config/${pool.name}/${word}`;
    return `'orch node-config ${pool.name} ${word} --out ${dir}', then install ${dir}/nanio-options.toml as ${configFile} on member ${m.address} and restart nanio there ('systemctl restart nanio')`;
  });
  return `for each member of pool ${pool.name}, run ${steps.join('; ')}`;
}
