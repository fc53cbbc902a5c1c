import { isIP } from 'node:net';
import type { Problem } from './problem.js';
import { show } from './text.js';

/**
 * IP address and CIDR parsing on top of node:net's isIP (a pure function): prefixes, host bits,
 * and a canonical form so `FD00:0::1` and `fd00::1` compare equal.
 */
export interface Cidr {
  family: 4 | 6;
  bits: bigint;
  prefix: number;
}

/** Parses `addr` or `addr/prefix`; returns a reason string when invalid. */
export function parseCidr(value: string): Cidr | string {
  const slash = value.indexOf('/');
  const addr = slash < 0 ? value : value.slice(0, slash);
  const family = isIP(addr);
  if (family !== 4 && family !== 6) return 'is not a valid IPv4 or IPv6 address';
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = value.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > max) return `has an invalid prefix length; it must be 0-${max} for IPv${family}`;
    prefix = Number(p);
  }
  return { family, bits: family === 4 ? ipv4ToBigInt(addr) : ipv6ToBigInt(addr), prefix };
}

/** A CIDR with bits set after the prefix (10.1.2.3/8): nginx accepts it but ignores those bits. */
export function cidrHostBitsWarning(value: string): Problem | null {
  const c = parseCidr(value);
  if (typeof c === 'string' || c.prefix === (c.family === 4 ? 32 : 128)) return null;
  const width = BigInt(c.family === 4 ? 32 : 128);
  const hostMask = (1n << (width - BigInt(c.prefix))) - 1n;
  if ((c.bits & hostMask) === 0n) return null;
  return {
    message: `IP rule ${show(value)} has address bits set after the /${c.prefix} prefix; nginx ignores them`,
    hint: 'Write the network address of the range (for example 10.0.0.0/8 instead of 10.1.2.3/8).',
  };
}

function ipv4ToBigInt(addr: string): bigint {
  return addr.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

/** Expands a valid IPv6 address (already checked by isIP), including an embedded IPv4 tail. */
function ipv6ToBigInt(addr: string): bigint {
  let text = addr;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = ipv4ToBigInt(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...zeros, ...tailGroups].reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** Canonical text of an IP address, so `FD00:0::1` and `fd00::1` compare equal. */
export function canonicalIp(addr: string): string {
  const family = isIP(addr);
  if (family === 4) return addr;
  if (family === 6) return ipv6ToBigInt(addr).toString(16).padStart(32, '0');
  return addr.toLowerCase();
}
