import { MEMBER_DEFAULTS, type DesiredMember, type DesiredPool, type Origin } from '../model/desired-state.js';
import type { PoolType } from '../model/manifest-types.js';
import { checkDuration, checkMemberAddress } from '../manifests/value-types.js';
import type { NginxDirective } from '../nginx-config/nginx-ast.js';
import type { ImportWarnings } from './import-result.js';
import { at, describe } from './nginx-source.js';

/**
 * An nginx `upstream` block as a Pool: members with weight, max_fails, fail_timeout, backup (a
 * replica) and down (disabled); least_conn / ip_hash; keepalive. What a Pool cannot say (other
 * server parameters, other directives, unix sockets) is dropped with a warning, since a pool has
 * no verbatim zone: the plan shows the difference before anything is applied.
 */
export function poolFromUpstream(
  up: NginxDirective,
  name: string,
  type: PoolType | null,
  origin: Origin,
  warnings: ImportWarnings,
): DesiredPool {
  let loadBalancing: DesiredPool['loadBalancing'] = 'round_robin';
  let keepalive: number | null = null;
  const members: DesiredMember[] = [];
  for (const d of up.block ?? []) {
    if ((d.name === 'least_conn' || d.name === 'ip_hash') && d.args.length === 0 && !d.block) {
      loadBalancing = d.name;
    } else if (d.name === 'keepalive' && d.args.length === 1 && /^[1-9][0-9]{0,5}$/.test(d.args[0]!) && !d.block) {
      keepalive = Number(d.args[0]);
    } else if (d.name === 'server' && !d.block && d.args.length >= 1) {
      const m = memberOf(d, warnings);
      if (m) members.push(m);
    } else {
      warnings.warn(
        'import.dropped',
        `upstream ${up.args[0]}: ${describe(d)} has no Pool field and is not carried; the pool behaves without it.`,
        at(d),
        dropHint(d.name),
      );
    }
  }
  let resolvedType: PoolType = type ?? 'http';
  if (resolvedType === 'nanio' && members.some((m) => m.role === 'replica')) {
    // nanio pools have no replicas; keeping the backup members keeps the routing: the pool becomes http.
    warnings.warn(
      'import.pool-type',
      `upstream ${up.args[0]}: it is described as a nanio pool but has backup members, which only http pools have; imported as an http pool.`,
      at(up),
    );
    resolvedType = 'http';
  }
  return { name, type: resolvedType, description: null, loadBalancing, keepalive, members, credentials: null, origin };
}

function dropHint(name: string): string {
  if (name === 'hash' || name === 'random' || name === 'least_time')
    return 'orch balances with round_robin, least_conn or ip_hash: choose spec.loadBalancing.';
  if (name === 'zone' || name === 'keepalive_timeout' || name === 'keepalive_requests')
    return 'nginx uses its default for it; routing is unchanged.';
  return 'Review the plan: it shows the upstream orch writes instead.';
}

function memberOf(d: NginxDirective, warnings: ImportWarnings): DesiredMember | null {
  let address = d.args[0]!;
  if (address.startsWith('unix:')) {
    warnings.warn(
      'import.dropped',
      `server ${address}: unix sockets are not pool members orch supports; the member is not imported.`,
      at(d),
      'Serve the member on a TCP port, then add it to the pool.',
    );
    return null;
  }
  // nginx's default port for an upstream server without one is 80.
  if (!/:[0-9]+$/.test(address) || (address.startsWith('[') && address.endsWith(']'))) address = `${address}:80`;
  const problem = checkMemberAddress(address);
  if (problem) {
    warnings.warn('import.dropped', `server ${d.args[0]}: ${problem.message}; the member is not imported.`, at(d), problem.hint);
    return null;
  }
  const m: DesiredMember = { address, ...MEMBER_DEFAULTS, role: 'primary' };
  const dropped: string[] = [];
  for (const p of d.args.slice(1)) {
    const kv = /^(weight|max_fails|fail_timeout)=(.*)$/.exec(p);
    if (kv?.[1] === 'weight' && /^[1-9][0-9]{0,5}$/.test(kv[2]!)) m.weight = Number(kv[2]);
    else if (kv?.[1] === 'max_fails' && /^[0-9]{1,6}$/.test(kv[2]!)) m.maxFails = Number(kv[2]);
    else if (kv?.[1] === 'fail_timeout' && checkDuration(kv[2]!) === null) m.failTimeout = kv[2]!;
    else if (p === 'backup') m.role = 'replica';
    else if (p === 'down') m.enabled = false;
    else dropped.push(p);
  }
  if (dropped.length > 0) {
    warnings.warn(
      'import.dropped',
      `server ${d.args[0]}: ${dropped.join(' ')} ${dropped.length === 1 ? 'is' : 'are'} not a member field orch has; the member is imported without ${dropped.length === 1 ? 'it' : 'them'}.`,
      at(d),
    );
  }
  return m;
}
