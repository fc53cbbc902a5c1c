import type { NginxDirective } from '../nginx-config/nginx-ast.js';
import { routeRequest, serverViews, type RoutingRequest, type ServerView } from './nginx-routing.js';

/**
 * The routing equivalence check of `orch import`: for every server name and location of the
 * source tree (and of orch's rendering of the imported manifests), the requests that exercise it
 * (the location's path, a key below it, the bucket-level form without the slash; GET and PUT;
 * from a client each IP rule covers and from one none covers) are routed through both
 * configurations (nginx-routing.ts). Every request whose answer differs is listed; "unchanged"
 * means none did. Pure.
 */
export interface RoutingProbe {
  port: number;
  host: string;
  method: string;
  uri: string;
  client: string;
}

export interface RoutingDifference extends RoutingProbe {
  before: string;
  after: string;
}

export interface RoutingCheck {
  /** Requests routed through both configurations. */
  checked: number;
  differences: RoutingDifference[];
  /** Locations no probe can be derived for (regular expressions): compared by construction only. */
  notProbed: string[];
}

/** A client no rule names (TEST-NET-2): how a stranger is treated. */
export const OUTSIDE_CLIENT = '198.51.100.7';
const METHODS = ['GET', 'PUT'] as const;

/** A client address each allow/deny argument covers. */
function clientFor(rule: string): string | null {
  if (rule === 'all' || rule === 'unix:') return null;
  const [net, bits] = rule.split('/') as [string, string | undefined];
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(net);
  if (m) {
    // The network's first host: inside any prefix shorter than /32.
    const last = bits !== undefined && Number(bits) < 32 ? Number(m[4]) + 1 : Number(m[4]);
    return `${m[1]}.${m[2]}.${m[3]}.${Math.min(last, 255)}`;
  }
  return bits === undefined ? net : null;
}

function rulesIn(body: readonly NginxDirective[]): string[] {
  const out: string[] = [];
  for (const d of body) {
    if ((d.name === 'allow' || d.name === 'deny') && d.args.length === 1) out.push(d.args[0]!);
    if (d.block) out.push(...rulesIn(d.block));
  }
  return out;
}

function pathsOf(body: readonly NginxDirective[], notProbed: string[], where: string): string[] {
  const out: string[] = [];
  for (const d of body) {
    if (d.name !== 'location' || !d.block) continue;
    const [a, b] = d.args;
    if (d.args.length === 1 && !a!.startsWith('@')) {
      const p = a!;
      out.push(p, p.endsWith('/') ? `${p}orch-probe/key.bin` : `${p}/orch-probe`);
      if (p.endsWith('/') && p.length > 1) out.push(p.slice(0, -1), `${p.slice(0, -1)}?list-type=2`);
    } else if (d.args.length === 2 && (a === '=' || a === '^~')) {
      out.push(b!);
      if (a === '^~') out.push(`${b!.replace(/\/$/, '')}/orch-probe`);
    } else if (d.args.length === 2) notProbed.push(`${where}: location ${a} ${b}`);
  }
  return out;
}

function hostsOf(s: ServerView): string[] {
  const plain = s.names.filter((n) => n !== '' && n !== '_' && !n.startsWith('~') && !n.includes('*') && !n.startsWith('.'));
  const wild = s.names.filter((n) => n.startsWith('*.')).map((n) => `orch-probe${n.slice(1)}`);
  const out = [...plain, ...wild];
  return out.length > 0 ? out : ['orch-probe.invalid'];
}

export function checkRouting(
  before: { servers: readonly NginxDirective[]; poolOf: ReadonlyMap<string, string>; maps?: readonly NginxDirective[] },
  after: { servers: readonly NginxDirective[] },
): RoutingCheck {
  const b = serverViews(before.servers);
  const a = serverViews(after.servers);
  const notProbed: string[] = [];
  const probes = new Map<string, RoutingProbe>();
  const add = (p: RoutingProbe) => probes.set(`${p.port} ${p.host} ${p.method} ${p.uri} ${p.client}`, p);
  const views = [...b, ...a];
  for (const s of b) pathsOf(s.body, notProbed, hostsOf(s)[0]!);
  // Every location either configuration has for a host on a port, and the rules either applies.
  const bodiesAt = new Map<string, NginxDirective[][]>();
  for (const s of views)
    for (const port of new Set(s.ports))
      for (const host of hostsOf(s)) {
        const list = bodiesAt.get(`${port} ${host}`) ?? [];
        list.push(s.body);
        bodiesAt.set(`${port} ${host}`, list);
      }
  const done = new Set<string>();
  for (const s of views) {
    for (const port of s.ports) {
      for (const host of hostsOf(s)) {
        if (done.has(`${port} ${host}`)) continue;
        done.add(`${port} ${host}`);
        const bodies = bodiesAt.get(`${port} ${host}`) ?? [];
        const paths = new Set<string>(['/', '/orch-probe/key.bin']);
        for (const body of bodies) for (const p of pathsOf(body, [], host)) paths.add(p);
        const clients = new Set<string>([OUTSIDE_CLIENT]);
        for (const body of bodies)
          for (const r of rulesIn(body)) {
            const c = clientFor(r);
            if (c !== null) clients.add(c);
          }
        for (const uri of paths) for (const method of METHODS) for (const client of clients) add({ port, host, method, uri, client });
      }
    }
  }
  const poolOf = (upstream: string) => before.poolOf.get(upstream) ?? upstream;
  const same = (name: string) => name;
  const differences: RoutingDifference[] = [];
  for (const p of probes.values()) {
    const req: RoutingRequest = { port: p.port, host: p.host, uri: p.uri, method: p.method, client: p.client };
    const was = routeRequest(b, req, poolOf, before.maps ?? []);
    const now = routeRequest(a, req, same);
    if (was !== now) differences.push({ ...p, before: was, after: now });
  }
  return { checked: probes.size, differences, notProbed: [...new Set(notProbed)] };
}
