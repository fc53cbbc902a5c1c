import type { DesiredRoute, DesiredVirtualHost, Origin } from '../model/desired-state.js';
import { claimedByOrch } from '../manifests/check-extra-blocks.js';
import type { ExtraBlock, ExtraBlockZone, IpRules } from '../model/manifest-types.js';
import { isForbiddenDirective } from '../manifests/check-extra-blocks.js';
import {
  bucketFromPath,
  checkBindAddress,
  checkFilePath,
  checkIpRule,
  checkKeyPrefix,
  checkRoutePath,
  checkServerName,
} from '../manifests/value-types.js';
import type { NginxDirective } from '../nginx-config/nginx-ast.js';
import type { ImportWarnings } from './import-result.js';
import { at, describe, resourceNameFrom, verbatimOf } from './nginx-source.js';

/**
 * An nginx `server` block as a VirtualHost with its Routes. What maps to the model is mapped:
 * the first listen, server names, an allow-list or deny-list, the TLS pair, `location /` sent to a
 * pool (the default pool), `location /b/` (with or without `location = /b`) sent to a pool,
 * optionally through orch's key prefix rewrite (a Route). Everything else that nginx accepts in a
 * server block is carried verbatim into `extraBlocks` (locations into the `end` zone, ssl_* into
 * `ssl`, proxy_* into `proxy`, the rest into `top`, in source order), with one warning per construct.
 * What cannot be carried (a second `location /`, an include that was not followed, code-loading
 * directives) is dropped with a warning saying so.
 *
 * orch renders its own proxy settings on every server (templates.ts); where the imported server
 * set them differently, one warning per virtual host says what changes.
 */
export interface RouteForm {
  pool: string;
  keyPrefix: string | null;
}

export interface PoolResolver {
  /** The pool a `proxy_pass` target (`http://<name or host:port>`, nothing after) designates, or null. */
  poolFor(target: string, d: NginxDirective): string | null;
}

export interface ServerImportOptions {
  name: string;
  origin: Origin;
  /** Text of every file a directive may come from (for verbatim copies). */
  texts: ReadonlyMap<string, string>;
  pools: PoolResolver;
  warnings: ImportWarnings;
  /** Route names already taken in the whole import. */
  routeNames: Set<string>;
  /** Directives the caller accounted for itself (they are neither mapped nor carried here). */
  consumed?: ReadonlySet<NginxDirective>;
  /** Extra blocks the caller recovered; they come first in their zones. */
  extraBlocks?: ExtraBlock[];
  /** http-level context this server's directives need (maps turned into `set`), first in zone top. */
  serverContext?: ExtraBlock[];
  /** A tool-specific route form, tried before the generic one. */
  routeOf?: (location: NginxDirective) => RouteForm | null;
  /** Where a route's manifest goes: origins of routes, keyed by route name. */
  routeOrigin: (routeName: string) => Origin;
  /**
   * The directory nginx resolves relative file paths against (its conf prefix: the directory of
   * the main nginx.conf). Relative certificate paths are imported as nginx reads them.
   */
  confDir?: string;
}

/** A path as nginx resolves it: absolute as is, relative against the conf prefix (`a/./b/../c` normalised). */
export function nginxFullPath(confDir: string, path: string): string {
  const joined = path.startsWith('/') ? path : `${confDir.replace(/\/+$/, '')}/${path}`;
  const parts: string[] = [];
  for (const part of joined.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/** orch's fixed proxy settings (templates.ts) and the value it renders for each. */
const FIXED: Record<string, string> = {
  client_max_body_size: '0',
  proxy_request_buffering: 'off',
  proxy_buffering: 'off',
  proxy_http_version: '1.1',
};
const FIXED_HEADERS: Record<string, string> = {
  'host': '$http_host',
  'connection': '',
  'x-forwarded-for': '$proxy_add_x_forwarded_for',
  'x-forwarded-proto': '$scheme',
  'x-real-ip': '$remote_addr',
};

/** For one of orch's fixed settings: [setting, value written here]; undefined for any other directive. */
function fixedSetting(d: NginxDirective): [string, string] | undefined {
  if (d.block) return undefined;
  if (d.name in FIXED && d.args.length === 1) return [d.name, d.args[0]!];
  if (d.name === 'proxy_set_header' && d.args.length === 2 && d.args[0]!.toLowerCase() in FIXED_HEADERS)
    return [`proxy_set_header ${d.args[0]}`, d.args[1]!];
  return undefined;
}

function orchValueOf(setting: string): string {
  if (setting.startsWith('proxy_set_header ')) return FIXED_HEADERS[setting.slice('proxy_set_header '.length).toLowerCase()]!;
  return FIXED[setting]!;
}

/** The named location a hand-written `location /` is carried into (see virtualHostFromServer). */
export const CATCH_ALL = '@orch_import_root';

const LISTEN_TARGET = /^(?:\[([0-9A-Fa-f:.]+)\]:|(\*|[0-9.]+):)?([0-9]{1,5})$/;
const LISTEN_KEPT = new Set(['ssl', 'http2']);

export function virtualHostFromServer(server: NginxDirective, o: ServerImportOptions): DesiredVirtualHost {
  const w = o.warnings;
  const body = (server.block ?? []).filter((d) => !o.consumed?.has(d));
  const handled = new Set<NginxDirective>();
  const carried: Array<{ zone: ExtraBlockZone; d: NginxDirective; why: string; text?: string }> = [];
  const settings = new Map<string, string>(); // orch setting -> the value this server had
  const carry = (zone: ExtraBlockZone, d: NginxDirective, why: string, text?: string) => {
    handled.add(d);
    // What orch renders from a modelled field may not sit in an extra block (validation refuses
    // it): dropped, said so; the routing check lists the requests it decided.
    const claim = claimedByOrch(d.name, d.args, 0, Boolean(d.block));
    if (claim) {
      w.warn(
        'import.dropped',
        `${describe(d)}: orch sets ${claim.what} from ${claim.field} only, and an extra block may not; not carried (requests it decided may be answered differently: see the routing check).`,
        at(d),
      );
      return;
    }
    carried.push({ zone, d, why, ...(text === undefined ? {} : { text }) });
  };

  // listen: the first TCP one is the virtual host's; others are carried as they are.
  let port = 80;
  let address: string | null = null;
  let ssl = false;
  let http2 = false;
  const listens = body.filter((d) => d.name === 'listen' && !d.block);
  const main = listens.find((d) => LISTEN_TARGET.test(d.args[0] ?? ''));
  if (main) {
    handled.add(main);
    const m = LISTEN_TARGET.exec(main.args[0]!)!;
    port = Number(m[3]);
    const addr = m[1] ?? (m[2] === '*' ? undefined : m[2]);
    if (addr !== undefined && addr !== '0.0.0.0') {
      if (checkBindAddress(addr) === null) address = addr;
      else
        w.warn(
          'import.dropped',
          `${describe(main)}: ${addr} is not an IP address orch can bind; the virtual host listens on all addresses.`,
          at(main),
        );
    }
    const params = main.args.slice(1);
    ssl = params.includes('ssl');
    http2 = params.includes('http2');
    const dropped = params.filter((p) => !LISTEN_KEPT.has(p));
    if (dropped.length > 0) {
      w.warn(
        'import.dropped',
        `${describe(main)}: ${dropped.join(' ')} ${dropped.length === 1 ? 'is' : 'are'} not carried (orch renders "listen ${main.args[0]}${ssl ? ' ssl' : ''}").`,
        at(main),
        dropped.includes('default_server')
          ? 'Without default_server, nginx answers unknown host names with the first server on this port.'
          : undefined,
      );
    }
  } else {
    w.warn(
      'import.listen-default',
      `server block of ${o.name} has no TCP listen; imported as listening on port 80 (nginx's default when run as root).`,
      at(server),
    );
  }
  for (const l of listens) if (l !== main) carry('top', l, 'a second listen');

  // server names
  const names: string[] = [];
  for (const sn of body.filter((d) => d.name === 'server_name' && !d.block)) {
    handled.add(sn);
    const unmapped: string[] = [];
    sn.args.forEach((raw, i) => {
      const lower = raw.toLowerCase();
      if (!raw.startsWith('~') && checkServerName(lower) === null) {
        if (!names.includes(lower)) names.push(lower);
      } else unmapped.push(sn.quotes[i] ? `${sn.quotes[i]}${raw}${sn.quotes[i]}` : raw);
    });
    if (unmapped.length > 0)
      carry('top', sn, `server names orch does not model (${unmapped.join(' ')})`, `server_name ${unmapped.join(' ')};`);
  }
  if (names.length === 0) {
    names.push('_');
    w.warn(
      'import.server-name',
      `server block of ${o.name} has no plain server name; imported with "_" (a name no request carries).`,
      at(server),
    );
  }

  // IP rules: an allow-list ending in `deny all`, or a deny-list; anything else is carried in order.
  const ipRules = accessRules(body.filter((d) => (d.name === 'allow' || d.name === 'deny') && !d.block));
  const access = body.filter((d) => (d.name === 'allow' || d.name === 'deny') && !d.block);
  if (ipRules) for (const d of access) handled.add(d);
  else for (const d of access) carry('top', d, 'access rules orch models only as an allow-list or a deny-list');

  // TLS
  let tls: DesiredVirtualHost['tls'] = null;
  const certs = body.filter((d) => d.name === 'ssl_certificate' && !d.block && d.args.length === 1);
  const keys = body.filter((d) => d.name === 'ssl_certificate_key' && !d.block && d.args.length === 1);
  if (ssl) {
    const cert = certs[0];
    const key = keys[0];
    const full = (d: NginxDirective | undefined): string | null => {
      if (!d) return null;
      const raw = d.args[0]!;
      if (raw.startsWith('/')) return raw;
      if (o.confDir === undefined || raw.includes('$')) return null;
      const resolved = nginxFullPath(o.confDir, raw);
      w.warn(
        'import.relative-path',
        `${describe(d)}: nginx reads this relative path from the directory of its main configuration (${o.confDir}); imported as ${resolved}.`,
        at(d),
        'If nginx runs with another main configuration, set ORCH_NGINX_CONF to that file and import again.',
      );
      return resolved;
    };
    const certPath = full(cert);
    const keyPath = full(key);
    if (cert && key && certPath !== null && keyPath !== null && checkFilePath(certPath) === null && checkFilePath(keyPath) === null) {
      handled.add(cert);
      handled.add(key);
      tls = { certificate: certPath, key: keyPath, http2 };
    } else {
      ssl = false;
      w.warn(
        'import.dropped',
        `${describe(main!)}: TLS needs an ssl_certificate and ssl_certificate_key in this server block, with paths orch can render; imported without TLS.`,
        at(main!),
        'Add spec.tls to the virtual host.',
      );
    }
  }
  const http2On = body.find((d) => d.name === 'http2' && d.args.length === 1 && !d.block);
  if (http2On && tls) {
    handled.add(http2On);
    tls.http2 = http2On.args[0] === 'on';
  } else if (http2 && !tls && main) {
    w.warn('import.dropped', `${describe(main)}: http2 without TLS is not something orch renders; not carried.`, at(main));
  }

  // Locations.
  let defaultPool: string | null = null;
  let catchAll: { loc: NginxDirective; content: string } | null = null;
  const routes: DesiredRoute[] = [];
  const locations = body.filter((d) => d.name === 'location' && d.block);
  const exact = new Map<string, NginxDirective>();
  for (const loc of locations) if (loc.args.length === 2 && loc.args[0] === '=') exact.set(loc.args[1]!, loc);
  for (const loc of locations) {
    if (loc.args.length !== 1 || loc.args[0]!.startsWith('@')) continue;
    const path = loc.args[0]!;
    const seen = new Map<string, string>();
    const form = o.routeOf?.(loc) ?? genericRoute(loc, o, seen);
    if (path === '/') {
      handled.add(loc);
      if (form && form.keyPrefix === null) {
        defaultPool = form.pool;
        for (const [k, v] of seen) settings.set(k, v);
      } else if ((loc.block ?? []).some((d) => d.name === 'location' || isForbiddenDirective(d.name.toLowerCase()))) {
        w.warn(
          'import.dropped',
          `location / does more than send requests to one pool and holds what a named location cannot; orch renders its own "location /" (the default pool, or 404), so it is not carried.`,
          at(loc),
          'Review the plan; requests that match no route now answer 404.',
        );
      } else {
        // orch renders its own `location / { return 404; }`: its 404 hands the request, with its URI,
        // to a named location holding this one's directives, which answers as "location /" did.
        const inner = (loc.block ?? []).map((d) => verbatimOf(d, o.texts).replace(/^/gm, '    ')).join('\n');
        catchAll = { loc, content: `location ${CATCH_ALL} {\n${inner}\n}` };
        w.warn(
          'import.catch-all',
          `location / does more than send requests to one pool: carried as the named location ${CATCH_ALL}, which orch's own "location /" hands every request that matches no route to (error_page 404 in zone top, the location in zone end).`,
          at(loc),
          'Routing is unchanged; a 404 that nginx itself answers in another location of this server without an error_page of its own goes there too (the routing check lists it).',
        );
      }
      continue;
    }
    if (!form || !path.endsWith('/') || checkRoutePath(path) !== null) continue;
    const bare = path.slice(0, -1);
    const pair = exact.get(bare);
    if (pair) {
      const pairSeen = new Map<string, string>();
      const pairForm = o.routeOf?.(pair) ?? genericRoute(pair, o, pairSeen);
      if (!pairForm || pairForm.pool !== form.pool || pairForm.keyPrefix !== null) continue; // both carried below
      handled.add(pair);
      for (const [k, v] of pairSeen) settings.set(k, v);
    } else {
      w.warn(
        'import.bucket-redirect',
        `location ${path} has no "location = ${bare}": nginx answers ${bare} (bucket-level S3 requests) with a 301 today; orch sends it to pool ${form.pool} too.`,
        at(loc),
      );
    }
    handled.add(loc);
    for (const [k, v] of seen) settings.set(k, v);
    const rname = resourceNameFrom(`${o.name}-${bucketFromPath(path) ?? path}`, o.routeNames, `${o.name}-route`);
    routes.push({
      name: rname,
      virtualHost: o.name,
      path,
      bucket: bucketFromPath(path),
      pool: form.pool,
      keyPrefix: form.keyPrefix,
      enabled: true,
      allowOrphan: false,
      origin: o.routeOrigin(rname),
    });
  }

  // Everything else, in source order.
  for (const d of body) {
    if (handled.has(d)) continue;
    const fixed = fixedSetting(d);
    if (fixed) {
      settings.set(fixed[0], fixed[1]);
      continue;
    }
    if (d.name === 'include') {
      w.warn(
        'import.dropped',
        `${describe(d)} was not followed (the file is outside the imported directory or matched nothing); its directives are not carried.`,
        at(d),
        'Import a directory that holds the included file, or copy its directives into the server block first.',
      );
      continue;
    }
    if (isForbiddenDirective(d.name.toLowerCase())) {
      w.warn('import.dropped', `${describe(d)} loads code or files, which extra blocks may not do; not carried.`, at(d));
      continue;
    }
    if (d.name === 'location') carry('end', d, 'a location orch does not model as a route');
    else if (d.name.startsWith('ssl_')) carry(tls ? 'ssl' : 'top', d, 'a directive orch does not model');
    else if (d.name.startsWith('proxy_')) carry('proxy', d, 'a directive orch does not model');
    else carry('top', d, 'a directive orch does not model');
  }

  // One extra block per run of consecutive constructs carried for the same reason into the same
  // zone (one warning each): the manifest reads like the original.
  const extraBlocks: ExtraBlock[] = [...(o.serverContext ?? []), ...(o.extraBlocks ?? [])];
  if (catchAll) extraBlocks.push({ zone: 'top', content: `error_page 404 = ${CATCH_ALL};\n` });
  let previous: { zone: ExtraBlockZone; why: string; block: ExtraBlock } | null = null;
  for (const { zone, d, why, text } of carried) {
    const content = `${text ?? verbatimOf(d, o.texts)}\n`;
    if (previous && previous.zone === zone && previous.why === why && !d.block) previous.block.content += content;
    else {
      const block: ExtraBlock = { zone, content };
      extraBlocks.push(block);
      previous = d.block ? null : { zone, why, block };
    }
    w.warn('import.carried', `${describe(d)}: ${why}; carried verbatim into extraBlocks (zone ${zone}) of VirtualHost ${o.name}.`, at(d));
  }
  if (catchAll) extraBlocks.push({ zone: 'end', content: `${catchAll.content}\n` });
  const changed = [...settings].filter(([k, v]) => orchValueOf(k) !== v);
  if (changed.length > 0) {
    w.warn(
      'import.proxy-settings',
      `VirtualHost ${o.name}: orch renders its own proxy settings; these change: ${changed.map(([k, v]) => `${k} ${JSON.stringify(v)} -> ${JSON.stringify(orchValueOf(k))}`).join(', ')}.`,
      at(server),
      'Routing is unchanged. Host $http_host keeps the port SigV4 signed; buffering off and no body size limit let large uploads through.',
    );
  }
  routes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    name: o.name,
    serverNames: names,
    port,
    address,
    tls,
    defaultPool,
    ipRules,
    extraBlocks,
    ignoreBuckets: [],
    routes,
    origin: o.origin,
  };
}

function accessRules(access: NginxDirective[]): IpRules | null {
  if (access.length === 0 || access.some((d) => d.args.length !== 1)) return null;
  const last = access[access.length - 1]!;
  if (last.name === 'deny' && last.args[0] === 'all') {
    const allows = access.slice(0, -1);
    if (allows.length === 0 || !allows.every((d) => d.name === 'allow' && checkIpRule(d.args[0]!) === null)) return null;
    return { mode: 'allow', addresses: allows.map((d) => d.args[0]!) };
  }
  if (access.every((d) => d.name === 'deny' && checkIpRule(d.args[0]!) === null))
    return { mode: 'deny', addresses: access.map((d) => d.args[0]!) };
  return null;
}

function regexLiteral(value: string): string {
  return value.replace(/[.*+?^$()[\]|\\]/g, '\\$&');
}

/**
 * A location that only sends requests to one pool (`proxy_pass http://<pool>;`, nothing after the
 * name), optionally through orch's key prefix rewrite, with nothing else but orch's fixed proxy
 * settings (whose values here go to `seen`). Null for anything else: it is then carried verbatim.
 */
export function genericRoute(loc: NginxDirective, o: Pick<ServerImportOptions, 'pools'>, seen: Map<string, string>): RouteForm | null {
  let pass: NginxDirective | null = null;
  let rewrite: NginxDirective | null = null;
  for (const d of loc.block ?? []) {
    if (d.block) return null;
    if (d.name === 'proxy_pass' && d.args.length === 1 && pass === null) pass = d;
    else if (d.name === 'rewrite' && d.args.length === 3 && d.args[2] === 'break' && rewrite === null) rewrite = d;
    else {
      const fixed = fixedSetting(d);
      if (!fixed) return null;
      seen.set(fixed[0], fixed[1]);
    }
  }
  if (!pass) return null;
  const m = /^http:\/\/([^/$?#\s]+)$/.exec(pass.args[0]!);
  if (!m) return null;
  const pool = o.pools.poolFor(m[1]!, pass);
  if (pool === null) return null;
  if (!rewrite) return { pool, keyPrefix: null };
  const path = loc.args[loc.args.length - 1]!;
  if (loc.args.length !== 1 || !path.endsWith('/')) return null;
  const [pattern, replacement] = rewrite.args as [string, string];
  if (pattern !== `^${regexLiteral(path)}(.+)$` || !replacement.startsWith(path) || !replacement.endsWith('$1')) return null;
  const keyPrefix = replacement.slice(path.length, -2);
  return keyPrefix !== '' && checkKeyPrefix(keyPrefix) === null ? { pool, keyPrefix } : null;
}
