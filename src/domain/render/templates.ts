import { Eta, type TemplateFunction } from 'eta/core';
import type { Origin } from '../model/desired-state.js';
import type { FieldPath } from './line-tracker.js';

/**
 * The nginx templates, kept as string constants so the core never reads files. Conventions:
 * - control-flow tags sit at column 0 and end with `-%>` (which eats their newline), so every
 *   output line is a literal template line;
 * - every line that comes from a manifest ends with `<%= it.at(origin, field) %>`, the line-map
 *   sentinel (see line-tracker.ts); lines without one are orch's own (line map: null);
 * - values arrive already checked and formatted by the view builders; templates only lay out.
 */

export type At = (origin: Origin, field?: FieldPath) => string;

/**
 * Field paths the templates name, as shared frozen constants (`it.F.port`): one allocation per
 * process instead of one per rendered line. Many line-map entries share them, hence frozen.
 */
const field = <T extends ReadonlyArray<string | number>>(...path: T): Readonly<T> => Object.freeze(path);
export const FIELDS = {
  name: field('metadata', 'name'),
  loadBalancing: field('spec', 'loadBalancing'),
  keepalive: field('spec', 'keepalive'),
  http2: field('spec', 'tls', 'http2'),
  serverNames: field('spec', 'serverNames'),
  ipRulesMode: field('spec', 'ipRules', 'mode'),
  certificate: field('spec', 'tls', 'certificate'),
  key: field('spec', 'tls', 'key'),
  path: field('spec', 'path'),
  keyPrefix: field('spec', 'keyPrefix'),
  pool: field('spec', 'pool'),
  defaultPool: field('spec', 'defaultPool'),
  proxyReadTimeout: field('spec', 'proxyReadTimeout'),
  proxySendTimeout: field('spec', 'proxySendTimeout'),
} as const satisfies Record<string, FieldPath>;

export interface PoolMemberView {
  /** `['spec', 'members', i, 'address']`. */
  field: FieldPath;
  address: string;
  weight: string;
  maxFails: string;
  failTimeout: string;
  /** ` backup`, ` down`, ` backup down` or empty. */
  flags: string;
}

export interface PoolView {
  at: At;
  F: typeof FIELDS;
  o: Origin;
  marker: string;
  name: string;
  method: 'least_conn' | 'ip_hash' | null;
  members: PoolMemberView[];
  keepalive: string | null;
}

/** One line of an extra-block zone: the `# extra: <zone>` comment or an indented content line. */
export interface ExtraLineView {
  text: string;
  field: FieldPath;
}

export interface LocationView {
  /** `= /photos` or `/photos/`. */
  match: string;
  rewrite: string | null;
}

export interface RouteView {
  o: Origin;
  pool: string;
  locations: LocationView[];
  /** A migration's write freeze: the `$msec` pattern that holds until the freeze ends. */
  freeze: { pattern: string; migration: string } | null;
}

export interface VirtualHostView {
  at: At;
  F: typeof FIELDS;
  o: Origin;
  marker: string;
  listen: string;
  listenField: FieldPath;
  http2On: boolean;
  serverNames: string | null;
  ipRules: { mode: 'allow' | 'deny'; addresses: Array<{ field: FieldPath; value: string }> } | null;
  tls: { certificate: string; key: string } | null;
  extra: { top: ExtraLineView[]; ssl: ExtraLineView[]; proxy: ExtraLineView[]; end: ExtraLineView[] };
  routes: RouteView[];
  defaultPool: string | null;
  /**
   * `proxy_read_timeout` / `proxy_send_timeout`: the value, and whether the manifest set it (its
   * line then maps to the field); null when an extra block sets the directive itself.
   */
  readTimeout: { value: string; set: boolean } | null;
  sendTimeout: { value: string; set: boolean } | null;
  /** Some route refuses writes: the server block gets the `SlowDown` answer. */
  slowdown: { location: string; body: string } | null;
}

export const POOL_TEMPLATE = `<%= it.marker %>
upstream <%= it.name %> {<%= it.at(it.o, it.F.name) %>
<% if (it.method !== null) { -%>
    <%= it.method %>;<%= it.at(it.o, it.F.loadBalancing) %>
<% } -%>
<% for (const m of it.members) { -%>
    server <%= m.address %> weight=<%= m.weight %> max_fails=<%= m.maxFails %> fail_timeout=<%= m.failTimeout %><%= m.flags %>;<%= it.at(it.o, m.field) %>
<% } -%>
<% if (it.keepalive !== null) { -%>
    keepalive <%= it.keepalive %>;<%= it.at(it.o, it.F.keepalive) %>
<% } -%>
}<%= it.at(it.o) %>
`;

/*
 * Layout of a server block, in order: listen, http2, server_name, IP rules, zone top | TLS
 * certificate, zone ssl | fixed S3 proxy settings, zone proxy | one group per enabled route |
 * the catch-all `location /` | zone end. `Host $http_host` (not `$host`) keeps the port that
 * SigV4 signed; `Connection ""` with HTTP/1.1 lets upstream keepalive work; no body size limit
 * and no buffering, so large and streamed uploads and downloads pass through.
 */
export const VIRTUAL_HOST_TEMPLATE = `<%= it.marker %>
server {<%= it.at(it.o) %>
    listen <%= it.listen %>;<%= it.at(it.o, it.listenField) %>
<% if (it.http2On) { -%>
    http2 on;<%= it.at(it.o, it.F.http2) %>
<% } -%>
<% if (it.serverNames !== null) { -%>
    server_name <%= it.serverNames %>;<%= it.at(it.o, it.F.serverNames) %>
<% } -%>
<% if (it.ipRules !== null) { -%>
<% for (const a of it.ipRules.addresses) { -%>
    <%= it.ipRules.mode %> <%= a.value %>;<%= it.at(it.o, a.field) %>
<% } -%>
<% if (it.ipRules.mode === 'allow') { -%>
    deny all;<%= it.at(it.o, it.F.ipRulesMode) %>
<% } -%>
<% } -%>
<% for (const l of it.extra.top) { -%>
<%= l.text %><%= it.at(it.o, l.field) %>
<% } -%>
<% if (it.tls !== null || it.extra.ssl.length > 0) { -%>

<% } -%>
<% if (it.tls !== null) { -%>
    ssl_certificate <%= it.tls.certificate %>;<%= it.at(it.o, it.F.certificate) %>
    ssl_certificate_key <%= it.tls.key %>;<%= it.at(it.o, it.F.key) %>
<% } -%>
<% for (const l of it.extra.ssl) { -%>
<%= l.text %><%= it.at(it.o, l.field) %>
<% } -%>

    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Host $http_host;
    proxy_set_header Connection "";
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Real-IP $remote_addr;
<% if (it.readTimeout !== null) { -%>
    proxy_read_timeout <%= it.readTimeout.value %>;<% if (it.readTimeout.set) { %><%= it.at(it.o, it.F.proxyReadTimeout) %><% } %>
<% } -%>
<% if (it.sendTimeout !== null) { -%>
    proxy_send_timeout <%= it.sendTimeout.value %>;<% if (it.sendTimeout.set) { %><%= it.at(it.o, it.F.proxySendTimeout) %><% } %>
<% } -%>
<% for (const l of it.extra.proxy) { -%>
<%= l.text %><%= it.at(it.o, l.field) %>
<% } -%>
<% for (const r of it.routes) { -%>

<% if (r.freeze !== null) { -%>
    # migration <%= r.freeze.migration %>: writes are refused with 503 SlowDown until the freeze ends<%= it.at(r.o, it.F.pool) %>
<% } -%>
<% for (const loc of r.locations) { -%>
    location <%= loc.match %> {<%= it.at(r.o, it.F.path) %>
<% if (r.freeze !== null) { -%>
        set $orch_write 0;<%= it.at(r.o, it.F.pool) %>
        if ($request_method !~ ^(GET|HEAD|OPTIONS)$) {<%= it.at(r.o, it.F.pool) %>
            set $orch_write 1;<%= it.at(r.o, it.F.pool) %>
        }<%= it.at(r.o, it.F.pool) %>
        set $orch_freeze "$orch_write:$msec";<%= it.at(r.o, it.F.pool) %>
        if ($orch_freeze ~ "<%= r.freeze.pattern %>") {<%= it.at(r.o, it.F.pool) %>
            return 503;<%= it.at(r.o, it.F.pool) %>
        }<%= it.at(r.o, it.F.pool) %>
<% } -%>
<% if (loc.rewrite !== null) { -%>
        rewrite <%= loc.rewrite %> break;<%= it.at(r.o, it.F.keyPrefix) %>
<% } -%>
        proxy_pass http://<%= r.pool %>;<%= it.at(r.o, it.F.pool) %>
    }<%= it.at(r.o, it.F.path) %>
<% } -%>
<% } -%>

<% if (it.defaultPool !== null) { -%>
    location / {<%= it.at(it.o, it.F.defaultPool) %>
        proxy_pass http://<%= it.defaultPool %>;<%= it.at(it.o, it.F.defaultPool) %>
    }<%= it.at(it.o, it.F.defaultPool) %>
<% } else { -%>
    location / {<%= it.at(it.o) %>
        return 404;<%= it.at(it.o) %>
    }<%= it.at(it.o) %>
<% } -%>
<% if (it.slowdown !== null) { -%>

    error_page 503 <%= it.slowdown.location %>;
    location <%= it.slowdown.location %> {
        default_type application/xml;
        add_header Retry-After 5 always;
        return 503 '<%= it.slowdown.body %>';
    }
<% } -%>
<% if (it.extra.end.length > 0) { -%>

<% } -%>
<% for (const l of it.extra.end) { -%>
<%= l.text %><%= it.at(it.o, l.field) %>
<% } -%>
}<%= it.at(it.o) %>
`;

interface CompiledTemplates {
  eta: Eta;
  pool: TemplateFunction;
  virtualHost: TemplateFunction;
}

let compiled: CompiledTemplates | null = null;

/** Compiles the templates on first use (not at import), once per process. */
function templates(): CompiledTemplates {
  if (compiled === null) {
    const eta = new Eta({ autoEscape: false, autoTrim: false, useWith: false, varName: 'it', cache: false });
    compiled = { eta, pool: eta.compile(POOL_TEMPLATE), virtualHost: eta.compile(VIRTUAL_HOST_TEMPLATE) };
  }
  return compiled;
}

export function runPoolTemplate(view: PoolView): string {
  const t = templates();
  return t.pool.call(t.eta, view);
}

export function runVirtualHostTemplate(view: VirtualHostView): string {
  const t = templates();
  return t.virtualHost.call(t.eta, view);
}
