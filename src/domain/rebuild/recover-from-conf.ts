import {
  MEMBER_DEFAULTS,
  type DesiredMember,
  type DesiredPool,
  type DesiredRoute,
  type DesiredVirtualHost,
  type Origin,
} from '../model/desired-state.js';
import type { ExtraBlock, ExtraBlockZone, IpRules } from '../model/manifest-types.js';
import type { NginxComment, NginxDirective } from '../nginx-config/nginx-ast.js';
import { NginxParseError } from '../nginx-config/nginx-parse-error.js';
import { parseNginxConfig } from '../nginx-config/parse-nginx-config.js';
import { CONF_MARKER } from '../render/rendered-tree.js';

/**
 * Recovers a pool or virtual host from the `.conf` orch rendered for it, without its sidecar. The
 * layout is orch's own (templates.ts), so every line has a known meaning; what nginx syntax does
 * not hold is lost and listed by the caller (pool type, description, credentials, disabled
 * members' and routes' existence, route names, ignoreBuckets, manifest indexes). Best effort: a
 * line orch would not have written is reported and skipped, never guessed into the model.
 */
export interface ConfRecovery<T> {
  value: T | null;
  problems: string[];
}

const MARKER_LINE = /^# managed-by: orch - generated from (.*) \((Pool|VirtualHost)\/(.*)\); edits are overwritten by 'orch apply'$/;

/** The manifest file named in the marker line (`generated from <file> (<Kind>/<name>)`). */
export function markerOrigin(content: string): { file: string; kind: string; name: string } | null {
  if (!content.startsWith(CONF_MARKER)) return null;
  const nl = content.indexOf('\n');
  const m = MARKER_LINE.exec(nl < 0 ? content : content.slice(0, nl));
  return m ? { file: m[1]!, kind: m[2]!, name: m[3]! } : null;
}

function originFor(content: string, kind: string, name: string): Origin {
  return { file: markerOrigin(content)?.file ?? '', index: 0, kind, name };
}

function parsed(path: string, content: string, problems: string[]): NginxDirective[] | null {
  try {
    return parseNginxConfig(content, { file: path }).directives;
  } catch (e) {
    if (!(e instanceof NginxParseError)) throw e;
    problems.push(`it is not valid nginx syntax (${e.message})`);
    return null;
  }
}

const where = (d: { line: number; column: number }) => `line ${d.line}`;

export function poolFromConf(path: string, name: string, content: string): ConfRecovery<DesiredPool> {
  const problems: string[] = [];
  const directives = parsed(path, content, problems);
  if (directives === null) return { value: null, problems };
  const upstreams = directives.filter((d) => d.name === 'upstream' && d.block);
  if (upstreams.length !== 1 || directives.length !== 1) {
    problems.push(`expected exactly one upstream block, found ${directives.map((d) => d.name).join(', ') || 'nothing'}`);
    if (upstreams.length === 0) return { value: null, problems };
  }
  const up = upstreams[0]!;
  if (up.args[0] !== name)
    problems.push(`the upstream is named ${JSON.stringify(up.args[0] ?? '')}, not ${JSON.stringify(name)} like its file`);
  let loadBalancing: DesiredPool['loadBalancing'] = 'round_robin';
  let keepalive: number | null = null;
  const members: DesiredMember[] = [];
  for (const d of up.block!) {
    if ((d.name === 'least_conn' || d.name === 'ip_hash') && d.args.length === 0 && !d.block) loadBalancing = d.name;
    else if (d.name === 'keepalive' && d.args.length === 1 && /^[0-9]+$/.test(d.args[0]!)) keepalive = Number(d.args[0]);
    else if (d.name === 'server' && !d.block) {
      const member = memberOf(d);
      if (member) members.push(member);
      else problems.push(`${where(d)}: server ${d.args.join(' ')} is not in orch's format; skipped`);
    } else problems.push(`${where(d)}: directive "${d.name}" is not one orch writes in an upstream; skipped`);
  }
  return {
    value: {
      name,
      // nginx syntax has no pool type: replicas (`backup`) exist only in http pools, so that is the guess.
      type: members.some((m) => m.role === 'replica') ? 'http' : 'nanio',
      description: null,
      loadBalancing,
      keepalive,
      members,
      credentials: null,
      origin: originFor(content, 'Pool', name),
    },
    problems,
  };
}

function memberOf(d: NginxDirective): DesiredMember | null {
  const [address, ...params] = d.args;
  if (address === undefined) return null;
  const m: DesiredMember = { address, ...MEMBER_DEFAULTS, role: 'primary' };
  for (const p of params) {
    const kv = /^(weight|max_fails|fail_timeout)=(.+)$/.exec(p);
    if (kv?.[1] === 'weight' && /^[0-9]+$/.test(kv[2]!)) m.weight = Number(kv[2]);
    else if (kv?.[1] === 'max_fails' && /^[0-9]+$/.test(kv[2]!)) m.maxFails = Number(kv[2]);
    else if (kv?.[1] === 'fail_timeout') m.failTimeout = kv[2]!;
    else if (p === 'backup') m.role = 'replica';
    else if (p === 'down') m.enabled = false;
    else return null;
  }
  return m;
}

const ZONE_ORDER: Record<ExtraBlockZone, number> = { top: 0, ssl: 1, proxy: 2, end: 3 };
const EXTRA_COMMENT = /^ extra: (top|ssl|proxy|end)$/;
/** orch's fixed proxy settings, in order (templates.ts). */
const FIXED: ReadonlyArray<readonly [string, ...string[]]> = [
  ['client_max_body_size', '0'],
  ['proxy_request_buffering', 'off'],
  ['proxy_buffering', 'off'],
  ['proxy_http_version', '1.1'],
  ['proxy_set_header', 'Host', '$http_host'],
  ['proxy_set_header', 'Connection', ''],
  ['proxy_set_header', 'X-Forwarded-For', '$proxy_add_x_forwarded_for'],
  ['proxy_set_header', 'X-Forwarded-Proto', '$scheme'],
  ['proxy_set_header', 'X-Real-IP', '$remote_addr'],
];

function isFixed(d: NginxDirective): boolean {
  return (
    !d.block && FIXED.some(([name, ...args]) => d.name === name && d.args.length === args.length && d.args.every((a, i) => a === args[i]))
  );
}

/** `proxy_pass http://<pool>;` as the last directive of a location, optionally after orch's rewrite. */
function routeTarget(d: NginxDirective): { pool: string; rewrite: string[] | null } | null {
  if (d.name !== 'location' || !d.block || (d.comments?.length ?? 0) > 0) return null;
  const body = d.block;
  const pass = body[body.length - 1];
  if (!pass || pass.name !== 'proxy_pass' || pass.block || pass.args.length !== 1 || !pass.args[0]!.startsWith('http://')) return null;
  const pool = pass.args[0]!.slice('http://'.length);
  if (pool === '' || pool.includes('/')) return null;
  if (body.length === 1) return { pool, rewrite: null };
  const rw = body[0]!;
  if (body.length === 2 && rw.name === 'rewrite' && !rw.block && rw.args.length === 3 && rw.args[2] === 'break')
    return { pool, rewrite: rw.args.slice(0, 2) };
  return null;
}

function isCatchAll(d: NginxDirective): boolean {
  return d.name === 'location' && d.args.length === 1 && d.args[0] === '/' && !!d.block;
}

function isRouteLocation(d: NginxDirective): boolean {
  return d.name === 'location' && !isCatchAll(d) && routeTarget(d) !== null;
}

function regexLiteral(value: string): string {
  return value.replace(/[.*+?^$()[\]|\\]/g, '\\$&');
}

/** The key prefix of orch's rewrite `^<base>(.+)$ <base><prefix>$1`, or null when it is not that. */
function keyPrefixOf(path: string, rewrite: string[]): string | null {
  const base = path.endsWith('/') ? path : `${path}/`;
  const [pattern, replacement] = rewrite;
  if (pattern !== `^${regexLiteral(base)}(.+)$` || !replacement?.startsWith(base) || !replacement.endsWith('$1')) return null;
  const prefix = replacement.slice(base.length, -2);
  return prefix === '' ? null : prefix;
}

/** A route name for a recovered route: `<vhost>-<bucket or path>`, made unique. */
function routeName(vhost: string, path: string, taken: Set<string>): string {
  const slug =
    path
      .replace(/^\/+|\/+$/g, '')
      .replace(/[^A-Za-z0-9_.-]+/g, '-')
      .replace(/\.\.+/g, '.') || 'root';
  let name = `${vhost}-${slug}`.slice(0, 63).replace(/[-.]+$/, '');
  for (let i = 2; taken.has(name); i++) name = `${vhost}-${slug}`.slice(0, 60) + `-${i}`;
  taken.add(name);
  return name;
}

type Element = { kind: 'directive'; d: NginxDirective } | { kind: 'comment'; c: NginxComment };

export function virtualHostFromConf(path: string, name: string, content: string): ConfRecovery<DesiredVirtualHost> {
  const problems: string[] = [];
  const directives = parsed(path, content, problems);
  if (directives === null) return { value: null, problems };
  const servers = directives.filter((d) => d.name === 'server' && d.block);
  if (servers.length !== 1 || directives.length !== 1) {
    problems.push(`expected exactly one server block, found ${directives.map((d) => d.name).join(', ') || 'nothing'}`);
    if (servers.length === 0) return { value: null, problems };
  }
  const server = servers[0]!;
  const lines = content.split('\n');
  const elements: Element[] = [
    ...server.block!.map((d) => ({ kind: 'directive' as const, d })),
    ...(server.comments ?? []).map((c) => ({ kind: 'comment' as const, c })),
  ].sort((a, b) => {
    const pa = a.kind === 'directive' ? a.d : a.c;
    const pb = b.kind === 'directive' ? b.d : b.c;
    return pa.line - pb.line || pa.column - pb.column;
  });

  const vhostOrigin = originFor(content, 'VirtualHost', name);
  const serverNames: string[] = [];
  const allows: string[] = [];
  const denies: string[] = [];
  let port = 80;
  let address: string | null = null;
  let ssl = false;
  let http2 = false;
  let certificate: string | null = null;
  let key: string | null = null;
  let defaultPool: string | null = null;
  const extraBlocks: ExtraBlock[] = [];
  const routes: DesiredRoute[] = [];
  const routeNames = new Set<string>();
  let pendingExact: { path: string; pool: string; line: number } | null = null;
  let zone: { zone: ExtraBlockZone; startLine: number } | null = null;

  const closeZone = (beforeLine: number) => {
    if (!zone) return;
    const body = lines.slice(zone.startLine - 1, beforeLine - 1);
    while (body.length > 0 && body[body.length - 1] === '') body.pop();
    if (body.length > 0)
      extraBlocks.push({ zone: zone.zone, content: `${body.map((l) => (l.startsWith('    ') ? l.slice(4) : l)).join('\n')}\n` });
    zone = null;
  };
  const endsZone = (d: NginxDirective): boolean => {
    switch (zone!.zone) {
      case 'top':
        return (ssl && d.name === 'ssl_certificate') || (d.name === 'client_max_body_size' && isFixed(d));
      case 'ssl':
        return d.name === 'client_max_body_size' && isFixed(d);
      case 'proxy':
        return isRouteLocation(d) || isCatchAll(d);
      case 'end':
        return false;
    }
  };
  const addRoute = (routePath: string, pool: string, rewrite: string[] | null, line: number) => {
    const keyPrefix = rewrite === null ? null : keyPrefixOf(routePath, rewrite);
    if (rewrite !== null && keyPrefix === null)
      problems.push(
        `line ${line}: the rewrite of location ${routePath} is not orch's key prefix rewrite; the route is recovered without it`,
      );
    const bucket = /^\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/$/.exec(routePath)?.[1] ?? null;
    const rname = routeName(name, routePath, routeNames);
    routes.push({
      name: rname,
      virtualHost: name,
      path: routePath,
      bucket,
      pool,
      keyPrefix,
      enabled: true,
      allowOrphan: false,
      origin: { file: '', index: 0, kind: 'Route', name: rname },
    });
  };

  for (const el of elements) {
    if (el.kind === 'comment') {
      const m = EXTRA_COMMENT.exec(el.c.text);
      if (m && (zone === null || ZONE_ORDER[m[1] as ExtraBlockZone] > ZONE_ORDER[zone.zone])) {
        closeZone(el.c.line);
        zone = { zone: m[1] as ExtraBlockZone, startLine: el.c.line + 1 };
      }
      continue;
    }
    const d = el.d;
    if (zone !== null) {
      if (!endsZone(d)) continue;
      closeZone(d.line);
    }
    if (pendingExact && !(d.name === 'location' && d.args.length === 1 && d.args[0] === `${pendingExact.path}/`)) {
      problems.push(`line ${pendingExact.line}: location = ${pendingExact.path} has no matching location ${pendingExact.path}/; skipped`);
      pendingExact = null;
    }
    if (d.name === 'listen' && !d.block) {
      const target = d.args[0] ?? '';
      const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?([0-9]+)$/.exec(target);
      if (!m) problems.push(`line ${d.line}: listen ${target} is not in orch's format`);
      else {
        address = m[1] ?? m[2] ?? null;
        port = Number(m[3]);
      }
      ssl = d.args.includes('ssl');
      http2 = http2 || d.args.includes('http2');
    } else if (d.name === 'http2' && d.args[0] === 'on') http2 = true;
    else if (d.name === 'server_name') serverNames.push(...d.args);
    else if (d.name === 'allow' && d.args.length === 1) allows.push(d.args[0]!);
    else if (d.name === 'deny' && d.args.length === 1) {
      if (d.args[0] !== 'all') denies.push(d.args[0]!);
    } else if (d.name === 'ssl_certificate' && d.args.length === 1) certificate = d.args[0]!;
    else if (d.name === 'ssl_certificate_key' && d.args.length === 1) key = d.args[0]!;
    else if (isFixed(d)) continue;
    else if (isCatchAll(d)) {
      const body = d.block!;
      const target = routeTarget(d);
      if (target && !target.rewrite) defaultPool = target.pool;
      else if (!(body.length === 1 && body[0]!.name === 'return' && body[0]!.args.join(' ') === '404')) {
        problems.push(`line ${d.line}: location / is not orch's (a default pool or return 404)`);
      }
    } else if (d.name === 'location' && d.args[0] === '=' && d.args.length === 2 && routeTarget(d)?.rewrite === null) {
      pendingExact = { path: d.args[1]!, pool: routeTarget(d)!.pool, line: d.line };
    } else if (d.name === 'location' && d.args.length === 1 && routeTarget(d)) {
      const target = routeTarget(d)!;
      if (pendingExact && pendingExact.pool !== target.pool)
        problems.push(`line ${d.line}: location = ${pendingExact.path} and ${d.args[0]} go to different pools; recovered the second`);
      pendingExact = null;
      addRoute(d.args[0]!, target.pool, target.rewrite, d.line);
    } else problems.push(`line ${d.line}: directive "${d.name}" outside any extra block is not one orch writes; skipped`);
  }
  closeZone(server.end.line);

  let ipRules: IpRules | null = null;
  if (allows.length > 0) ipRules = { mode: 'allow', addresses: allows };
  else if (denies.length > 0) ipRules = { mode: 'deny', addresses: denies };
  if (ssl && (certificate === null || key === null))
    problems.push('listen has ssl but the certificate or key line is missing; recovered without TLS');
  const tls = ssl && certificate !== null && key !== null ? { certificate, key, http2 } : null;
  return {
    value: { name, serverNames, port, address, tls, defaultPool, ipRules, extraBlocks, ignoreBuckets: [], routes, origin: vhostOrigin },
    problems,
  };
}
