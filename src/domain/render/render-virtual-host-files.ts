import { PROXY_TIMEOUT_DEFAULT, type DesiredRoute, type DesiredVirtualHost } from '../model/desired-state.js';
import type { ExtraBlockZone } from '../model/manifest-types.js';
import { BugError } from '../errors.js';
import { epochBeforeRegex, refusesWrites, SLOWDOWN_BODY, SLOWDOWN_LOCATION } from '../migrations/routing.js';
import { LineTracker } from './line-tracker.js';
import {
  keyPrefixToken,
  listenTarget,
  locationPath,
  nginxToken,
  regexLiteral,
  resourceName,
  serverNameToken,
  verbatimText,
} from './nginx-syntax.js';
import { markerLine } from './render-pool-files.js';
import { sidecarJson, virtualHostSidecar } from './render-sidecars.js';
import type { NginxFeatures, RenderedFile } from './rendered-tree.js';
import { FIELDS, runVirtualHostTemplate, type ExtraLineView, type LocationView, type RouteView } from './templates.js';

const INDENT = '    ';
const EXTRA_BLOCKS_FIELD = Object.freeze(['spec', 'extraBlocks'] as const);
const LISTEN_PORT_FIELD = Object.freeze(['spec', 'port'] as const);
const LISTEN_ADDRESS_FIELD = Object.freeze(['spec', 'address'] as const);

/** `vhosts/<name>.conf` (one `server` block) and its sidecar `vhosts/<name>.meta.json`. */
export function renderVirtualHostFiles(vhost: DesiredVirtualHost, features: NginxFeatures): RenderedFile[] {
  const name = resourceName(vhost.name, 'virtual host name');
  const resource = { kind: 'VirtualHost', name } as const;
  const tracker = new LineTracker();
  const tls = vhost.tls;
  const http2 = tls !== null && tls.http2;

  let listen = listenTarget(vhost.address, vhost.port);
  if (tls !== null) listen += ' ssl';
  // nginx < 1.25.1 has no `http2 on;`: HTTP/2 is a listen parameter there.
  if (http2 && !features.http2Directive) listen += ' http2';

  const routes = sortedRoutes(vhost.routes);
  const raw = runVirtualHostTemplate({
    at: tracker.at,
    F: FIELDS,
    o: vhost.origin,
    marker: markerLine(vhost.origin.file, 'VirtualHost', name),
    listen,
    listenField: vhost.address === null ? LISTEN_PORT_FIELD : LISTEN_ADDRESS_FIELD,
    http2On: http2 && features.http2Directive,
    serverNames: vhost.serverNames.length === 0 ? null : vhost.serverNames.map(serverNameToken).join(' '),
    ipRules:
      vhost.ipRules === null
        ? null
        : {
            mode: vhost.ipRules.mode,
            addresses: vhost.ipRules.addresses.map((a, index) => ({
              field: ['spec', 'ipRules', 'addresses', index],
              value: nginxToken(a, 'IP rule address'),
            })),
          },
    tls:
      tls === null ? null : { certificate: nginxToken(tls.certificate, 'TLS certificate path'), key: nginxToken(tls.key, 'TLS key path') },
    extra: extraZones(vhost),
    routes: routes.filter((r) => r.enabled).map(routeView),
    defaultPool: vhost.defaultPool === null ? null : resourceName(vhost.defaultPool, 'default pool'),
    readTimeout: proxyTimeout(vhost, 'proxy_read_timeout', vhost.proxyReadTimeout),
    sendTimeout: proxyTimeout(vhost, 'proxy_send_timeout', vhost.proxySendTimeout),
    slowdown: routes.some((r) => r.enabled && r.migration && refusesWrites(r.migration))
      ? { location: SLOWDOWN_LOCATION, body: SLOWDOWN_BODY }
      : null,
  });
  const { content, lineMap } = tracker.finish(raw);
  const sidecar = virtualHostSidecar(vhost, routes);
  return [
    { path: `vhosts/${name}.conf`, content, resource, role: 'config', lineMap },
    { path: `vhosts/${name}.meta.json`, content: sidecarJson(sidecar), resource, role: 'sidecar', lineMap: [] },
  ];
}

/** By path, then name; plain code-unit order so the result never depends on a locale. */
export function sortedRoutes(routes: readonly DesiredRoute[]): DesiredRoute[] {
  return [...routes].sort((a, b) => (a.path !== b.path ? (a.path < b.path ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * A path ending in `/` (a bucket, `/photos/`) gets an exact `location = /photos` too: bucket-level
 * requests (`GET /photos?list-type=2`, `PUT /photos`, `HEAD /photos`) carry no trailing slash and
 * `location /photos/` alone answers them with a 301.
 *
 * A key prefix rewrites object requests only: `^/photos/(.+)$ -> /photos/<prefix>$1`. Bucket-level
 * requests (`/photos`, `/photos/`) keep their URI, so listing and bucket operations still address
 * the bucket. For a path without a trailing slash (`/dl`), the key starts after `/dl/`.
 * Without a key prefix `proxy_pass` has no URI part, so the raw request URI is forwarded unchanged.
 */
function routeView(route: DesiredRoute): RouteView {
  const path = locationPath(route.path);
  let rewrite: string | null = null;
  if (route.keyPrefix !== null) {
    const base = path.endsWith('/') ? path : `${path}/`;
    rewrite = `^${regexLiteral(base)}(.+)$ ${base}${keyPrefixToken(route.keyPrefix)}$1`;
  }
  const locations: LocationView[] = [];
  if (path.endsWith('/') && path.length > 1) locations.push({ match: `= ${path.slice(0, -1)}`, rewrite: null });
  locations.push({ match: path, rewrite });
  const m = route.migration;
  const freeze =
    m && refusesWrites(m) ? { pattern: epochBeforeRegex(m.freezeUntil!), migration: resourceName(m.name, 'migration name') } : null;
  return { o: route.origin, pool: resourceName(route.pool, 'route pool'), locations, freeze };
}

/**
 * Extra blocks, grouped by zone in manifest order. Each non-empty zone opens with a
 * `# extra: <zone>` comment; content lines are indented by 4 spaces and otherwise verbatim
 * (empty lines stay empty, trailing newlines of the content are dropped, leading ones kept).
 * Invariant the nginx error mapping relies on: the lines of one block are consecutive and in
 * order, so the k-th line mapped to `['spec','extraBlocks',i,'content']` is line k of the content.
 */
function extraZones(vhost: DesiredVirtualHost): Record<ExtraBlockZone, ExtraLineView[]> {
  const zones: Record<ExtraBlockZone, ExtraLineView[]> = { top: [], ssl: [], proxy: [], end: [] };
  vhost.extraBlocks.forEach((block, index) => {
    const text = verbatimText(block.content, 'extra block content').replace(/\n+$/, '');
    if (text === '') return;
    const zone = zones[block.zone];
    if (zone === undefined) {
      throw new BugError(`render: unknown extra block zone ${JSON.stringify(block.zone)}; manifest validation should have rejected it`);
    }
    if (zone.length === 0) zone.push({ text: `${INDENT}# extra: ${block.zone}`, field: EXTRA_BLOCKS_FIELD });
    const field = ['spec', 'extraBlocks', index, 'content'] as const;
    for (const line of text.split('\n')) zone.push({ text: line === '' ? '' : INDENT + line, field });
  });
  return zones;
}

/**
 * A proxy timeout line: the manifest's value, else the default; none when an extra block of the
 * server sets the directive itself (nginx refuses it twice in one block; the extra block, written
 * for what orch did not model, keeps working as it did).
 */
function proxyTimeout(vhost: DesiredVirtualHost, directive: string, value: string | undefined): { value: string; set: boolean } | null {
  const own = new RegExp(`(^|[;{}\\n])\\s*${directive}\\s`);
  if (value === undefined && vhost.extraBlocks.some((b) => own.test(b.content))) return null;
  return { value: nginxToken(value ?? PROXY_TIMEOUT_DEFAULT, directive), set: value !== undefined };
}
