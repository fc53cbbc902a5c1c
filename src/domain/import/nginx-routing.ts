import type { NginxDirective } from '../nginx-config/nginx-ast.js';

/**
 * Where nginx sends one request, computed from a configuration (no nginx run): the server chosen
 * by port and Host, the server-level rewrite directives, the location nginx's own rules choose
 * (exact, longest prefix, `^~`, regexes in order, the automatic 301 of a `/b/` proxy location
 * for `/b`), the location's rewrite directives (`return`, `rewrite` with its flags, `if` on the
 * variables a request carries, `set`), the access rules (location, else server), then the content:
 * `proxy_pass` (the pool and the URI the upstream gets), `return`, an `error_page` to a named
 * location, or nginx's static files. Phases are in nginx's order, which matters: a `return` in
 * the rewrite phase answers before the access rules are checked (a denied client gets it too).
 *
 * What it cannot decide (a condition on a file, a variable it does not know) is an outcome of its
 * own, `undetermined: ...`, naming the construct: two configurations agree on it only if they hold
 * the same construct. Pure.
 */
export interface RoutingRequest {
  port: number;
  host: string;
  /** Path and query, as sent. */
  uri: string;
  method: string;
  /** The client address, for allow/deny. */
  client: string;
}

export interface ServerView {
  ports: number[];
  defaultOn: number[];
  names: string[];
  body: NginxDirective[];
}

/** The server blocks of a configuration, with their ports and names. */
export function serverViews(servers: readonly NginxDirective[]): ServerView[] {
  return servers.map((s) => {
    const body = s.block ?? [];
    const ports: number[] = [];
    const defaultOn: number[] = [];
    for (const l of body.filter((d) => d.name === 'listen' && d.args.length > 0)) {
      const m = /(?:^|:)([0-9]{1,5})$/.exec(l.args[0]!);
      if (!m) continue;
      const port = Number(m[1]);
      ports.push(port);
      if (l.args.includes('default_server') || l.args.includes('default')) defaultOn.push(port);
    }
    if (ports.length === 0) ports.push(80);
    const names = body.filter((d) => d.name === 'server_name').flatMap((d) => d.args.map((a) => a.toLowerCase()));
    return { ports, defaultOn, names, body };
  });
}

function wildcardMatch(name: string, host: string): number {
  if (name.startsWith('*.') && host.endsWith(name.slice(1))) return name.length;
  if (name.startsWith('.') && (host === name.slice(1) || host.endsWith(name))) return name.length;
  if (name.endsWith('.*') && host.startsWith(name.slice(0, -1))) return name.length;
  return 0;
}

function regexOf(pattern: string, caseless: boolean): RegExp | null {
  try {
    // PCRE and JavaScript agree on the constructs nginx configurations use (classes, groups, anchors).
    return new RegExp(
      pattern.replace(/\(\?<([A-Za-z_][A-Za-z0-9_]*)>/g, '(?<$1>').replace(/\(\?P<([A-Za-z_]\w*)>/g, '(?<$1>'),
      caseless ? 'i' : '',
    );
  } catch {
    return null;
  }
}

interface ServerIndex {
  byPort: Map<number, ServerView[]>;
  /** `port name` -> the first server with that exact name on that port. */
  exact: Map<string, ServerView>;
}
const indexes = new WeakMap<readonly ServerView[], ServerIndex>();

/** Servers by port and exact name, computed once per list (a fleet has thousands). */
function indexOf(servers: readonly ServerView[]): ServerIndex {
  let index = indexes.get(servers);
  if (index) return index;
  index = { byPort: new Map(), exact: new Map() };
  for (const s of servers)
    for (const port of new Set(s.ports)) {
      const list = index.byPort.get(port) ?? [];
      list.push(s);
      index.byPort.set(port, list);
      for (const n of s.names) if (!index.exact.has(`${port} ${n}`)) index.exact.set(`${port} ${n}`, s);
    }
  indexes.set(servers, index);
  return index;
}

/** nginx's choice of server: exact name, longest leading wildcard, trailing wildcard, first regex, else the port's default. */
export function chooseServer(servers: readonly ServerView[], port: number, host: string): ServerView | null {
  const index = indexOf(servers);
  const on = index.byPort.get(port) ?? [];
  if (on.length === 0) return null;
  const h = host
    .toLowerCase()
    .replace(/:[0-9]+$/, '')
    .replace(/\.$/, '');
  const exact = index.exact.get(`${port} ${h}`);
  if (exact) return exact;
  let best: ServerView | null = null;
  let bestLen = 0;
  for (const s of on)
    for (const n of s.names) {
      if (!n.startsWith('*') && !n.startsWith('.')) continue;
      const l = wildcardMatch(n, h);
      if (l > bestLen) [best, bestLen] = [s, l];
    }
  if (best) return best;
  for (const s of on)
    for (const n of s.names) {
      if (!n.endsWith('.*')) continue;
      const l = wildcardMatch(n, h);
      if (l > bestLen) [best, bestLen] = [s, l];
    }
  if (best) return best;
  for (const s of on) for (const n of s.names) if (n.startsWith('~') && regexOf(n.slice(1), true)?.test(h)) return s;
  return on.find((s) => s.defaultOn.includes(port)) ?? on[0]!;
}

interface State {
  uri: string;
  args: string;
  vars: Map<string, string>;
  req: RoutingRequest;
  uriChanged: boolean;
  /** http-level maps by the variable they define. */
  maps: ReadonlyMap<string, NginxDirective>;
}

/** A map's value for this request, as nginx computes it: exact key (case-insensitive), first matching regex, default. */
function mapValue(map: NginxDirective, st: State): string | null {
  const source = expand(map.args[0]!, st);
  if (source === null) return null;
  const entries = (map.block ?? []).filter((e) => e.args.length === 1 && e.name !== 'default');
  const exact = entries.find((e) => !e.name.startsWith('~') && e.name.replace(/^\\/, '').toLowerCase() === source.toLowerCase());
  const chosen =
    exact ??
    entries.find((e) => e.name.startsWith('~') && regexOf(e.name.replace(/^~\*?/, ''), e.name.startsWith('~*'))?.test(source)) ??
    (map.block ?? []).find((e) => e.name === 'default' && e.args.length === 1);
  return chosen ? expand(chosen.args[0]!, st) : '';
}

type Step = { done: string } | { next: 'continue' | 'break' | 'last' };

function variable(name: string, st: State): string | null {
  const v = name.toLowerCase();
  if (st.vars.has(v)) return st.vars.get(v)!;
  switch (v) {
    case 'request_method':
      return st.req.method;
    case 'uri':
    case 'document_uri':
      return st.uri;
    case 'request_uri':
      return st.req.uri;
    case 'args':
    case 'query_string':
      return st.args;
    case 'host':
      return st.req.host.toLowerCase().replace(/:[0-9]+$/, '');
    case 'http_host':
      return st.req.host;
    case 'remote_addr':
      return st.req.client;
    case 'server_port':
      return String(st.req.port);
  }
  if (v.startsWith('http_') || v.startsWith('cookie_') || v.startsWith('arg_')) return ''; // the probes send no other header
  if (/^[0-9]$/.test(v)) return st.vars.get(v) ?? '';
  const map = st.maps.get(v);
  if (map) return mapValue(map, st);
  return null;
}

/** `$x` and `${x}` replaced; null when a variable is not known here. */
function expand(text: string, st: State): string | null {
  let unknown = false;
  const out = text.replace(/\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (_, a: string | undefined, b: string | undefined) => {
    const v = variable((a ?? b)!, st);
    if (v === null) unknown = true;
    return v ?? '';
  });
  return unknown ? null : out;
}

/** An `if`'s arguments without the parentheses (attached to the first and last argument, or on their own). */
function conditionArgs(d: NginxDirective): string[] {
  const a = [...d.args];
  if (a[0] === '(') a.shift();
  else if (a[0]?.startsWith('(')) a[0] = a[0].slice(1);
  const last = a.length - 1;
  if (a[last] === ')' && d.quotes[d.args.length - 1] === '') a.pop();
  else if (last >= 0 && a[last]!.endsWith(')') && d.quotes[d.args.length - 1] === '') a[last] = a[last]!.slice(0, -1);
  return a;
}

function condition(d: NginxDirective, st: State): boolean | null {
  const a = conditionArgs(d);
  if (a.length === 1) {
    const v = a[0]!.startsWith('$') ? expand(a[0]!, st) : null;
    return v === null ? null : v !== '' && v !== '0';
  }
  if (a.length !== 3 || !a[0]!.startsWith('$')) return null;
  const v = expand(a[0]!, st);
  if (v === null) return null;
  const [, op, rhs] = a as [string, string, string];
  if (op === '=' || op === '!=') {
    const r = expand(rhs, st);
    return r === null ? null : (v === r) === (op === '=');
  }
  if (op === '~' || op === '~*' || op === '!~' || op === '!~*') {
    const re = regexOf(rhs, op.endsWith('*'));
    if (!re) return null;
    const m = re.exec(v);
    if (m && !op.startsWith('!')) m.forEach((g, i) => st.vars.set(String(i), g ?? ''));
    return (m !== null) === !op.startsWith('!');
  }
  return null;
}

const REDIRECT_CODES = new Set(['301', '302', '303', '307', '308']);

function returnOutcome(d: NginxDirective, st: State): string {
  const [code, text] = d.args;
  if (code !== undefined && /^https?:\/\//.test(code)) return `redirect 302 ${expand(code, st) ?? code}`;
  if (code !== undefined && REDIRECT_CODES.has(code))
    return `redirect ${code} ${text === undefined ? '' : (expand(text, st) ?? text)}`.trim();
  return `status ${code ?? '?'}`;
}

/** Runs the rewrite module's directives of one block, in order. */
function runRewrites(block: readonly NginxDirective[], st: State): Step {
  for (const d of block) {
    if (d.name === 'return') return { done: returnOutcome(d, st) };
    if (d.name === 'break' && d.args.length === 0) return { next: 'break' };
    if (d.name === 'set' && d.args.length === 2) {
      const v = expand(d.args[1]!, st);
      st.vars.set(d.args[0]!.replace(/^\$/, '').toLowerCase(), v ?? `<${d.args[1]}>`);
    } else if (d.name === 'rewrite' && d.args.length >= 2) {
      const re = regexOf(d.args[0]!, false);
      if (!re) return { done: `undetermined: rewrite ${d.args[0]}` };
      const m = re.exec(st.uri);
      if (!m) continue;
      m.forEach((g, i) => st.vars.set(String(i), g ?? ''));
      let target = expand(d.args[1]!, st) ?? d.args[1]!;
      const flag = d.args[2];
      const keepArgs = !target.endsWith('?');
      if (!keepArgs) target = target.slice(0, -1);
      if (/^(https?:\/\/|\$scheme)/.test(d.args[1]!) || flag === 'redirect' || flag === 'permanent') {
        const code = flag === 'permanent' ? '301' : '302';
        return { done: `redirect ${code} ${target}${keepArgs && st.args ? `?${st.args}` : ''}` };
      }
      const q = target.indexOf('?');
      if (q >= 0) {
        st.args = target.slice(q + 1) + (keepArgs && st.args ? `&${st.args}` : '');
        target = target.slice(0, q);
      } else if (!keepArgs) st.args = '';
      st.uri = target;
      st.uriChanged = true;
      if (flag === 'last') return { next: 'last' };
      if (flag === 'break') return { next: 'break' };
    } else if (d.name === 'if' && d.block) {
      const c = condition(d, st);
      if (c === null) return { done: `undetermined: if (${d.args.join(' ')})` };
      if (!c) continue;
      const inner = runRewrites(d.block, st);
      if ('done' in inner || inner.next !== 'continue') return inner;
    }
  }
  return { next: 'continue' };
}

interface Location {
  d: NginxDirective;
  kind: '=' | '^~' | 'prefix' | '~' | '~*' | '@';
  name: string;
}

function locationsOf(body: readonly NginxDirective[]): Location[] {
  const out: Location[] = [];
  for (const d of body) {
    if (d.name !== 'location' || !d.block) continue;
    if (d.args.length === 1) out.push({ d, kind: d.args[0]!.startsWith('@') ? '@' : 'prefix', name: d.args[0]! });
    else if (d.args.length === 2 && ['=', '^~', '~', '~*'].includes(d.args[0]!))
      out.push({ d, kind: d.args[0] as Location['kind'], name: d.args[1]! });
  }
  return out;
}

function proxies(l: Location): boolean {
  return (l.d.block ?? []).some((d) => d.name === 'proxy_pass' || d.name.endsWith('_pass'));
}

/** nginx's location choice; `redirect` for the automatic 301 of a `/b/` proxy location asked for `/b`. */
function findLocation(locs: readonly Location[], uri: string): { loc: Location } | { redirect: string } | { undetermined: string } | null {
  const exact = locs.find((l) => l.kind === '=' && l.name === uri);
  if (exact) return { loc: exact };
  let best: Location | null = null;
  for (const l of locs) {
    if ((l.kind === 'prefix' || l.kind === '^~') && uri.startsWith(l.name) && (!best || l.name.length > best.name.length)) best = l;
  }
  if (!best || best.name !== uri) {
    const auto = locs.find((l) => (l.kind === 'prefix' || l.kind === '^~') && l.name === `${uri}/` && proxies(l));
    if (auto) return { redirect: `${uri}/` };
  }
  if (best?.kind === '^~') return { loc: best };
  for (const l of locs) {
    if (l.kind !== '~' && l.kind !== '~*') continue;
    const re = regexOf(l.name, l.kind === '~*');
    if (re === null) return { undetermined: `undetermined: location ${l.kind} ${l.name}` };
    if (re.test(uri)) return { loc: l };
  }
  return best ? { loc: best } : null;
}

function ipv4(a: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** Whether an allow/deny argument covers a client address (IPv4 CIDR, IPv6 exact, `all`). */
export function ruleCovers(rule: string, client: string): boolean {
  if (rule === 'all') return true;
  const [net, bits] = rule.split('/') as [string, string | undefined];
  const a = ipv4(net);
  const c = ipv4(client);
  if (a !== null && c !== null) {
    const n = bits === undefined ? 32 : Number(bits);
    if (n === 0) return true;
    const mask = (0xffffffff << (32 - n)) >>> 0;
    return (a & mask) >>> 0 === (c & mask) >>> 0;
  }
  return a === null && c === null && net.toLowerCase() === client.toLowerCase();
}

function accessDenied(rules: readonly NginxDirective[], client: string): boolean {
  for (const r of rules) if (r.args.length === 1 && ruleCovers(r.args[0]!, client)) return r.name === 'deny';
  return false;
}

const accessRulesOf = (body: readonly NginxDirective[]) => body.filter((d) => (d.name === 'allow' || d.name === 'deny') && !d.block);

function errorPageTarget(code: string, blocks: ReadonlyArray<readonly NginxDirective[]>): string | null {
  for (const body of blocks) {
    const pages = body.filter((d) => d.name === 'error_page' && d.args.length >= 2);
    if (pages.length === 0) continue; // error_page is inherited only when the inner level has none
    for (const p of pages) if (p.args.slice(0, -1).includes(code)) return p.args[p.args.length - 1]!;
    return null;
  }
  return null;
}

function proxyOutcome(
  body: readonly NginxDirective[],
  loc: Location | null,
  st: State,
  poolOf: (upstream: string) => string,
): string | null {
  const pass = body.find((d) => d.name === 'proxy_pass' && d.args.length === 1);
  if (!pass) return null;
  const raw = pass.args[0]!;
  const m = /^(https?):\/\/([^/]+)(\/.*)?$/.exec(raw);
  if (!m) return `undetermined: proxy_pass ${raw}`;
  const target = m[2]!.includes('$') ? expand(m[2]!, st) : m[2]!;
  if (target === null) return `undetermined: proxy_pass ${raw}`;
  let uri: string;
  if (m[3] !== undefined) {
    const part = expand(m[3], st) ?? m[3];
    if (loc && (loc.kind === 'prefix' || loc.kind === '^~' || loc.kind === '=') && !st.uriChanged && st.uri.startsWith(loc.name))
      uri = part + st.uri.slice(loc.name.length) + (st.args ? `?${st.args}` : '');
    else uri = part;
  } else uri = st.uriChanged ? st.uri + (st.args ? `?${st.args}` : '') : st.req.uri;
  return `pool ${poolOf(target)} ${uri}`;
}

/** The content of a location (or named location) once the rewrite and access phases passed. */
function content(
  body: readonly NginxDirective[],
  loc: Location | null,
  server: readonly NginxDirective[],
  named: ReadonlyMap<string, Location>,
  st: State,
  poolOf: (upstream: string) => string,
): string {
  const proxied = proxyOutcome(body, loc, st, poolOf);
  if (proxied !== null) {
    const intercept = body.some((d) => d.name === 'proxy_intercept_errors' && d.args[0] === 'on');
    const fallback = intercept ? errorPageTarget('404', [body, server]) : null;
    if (fallback?.startsWith('@')) {
      const n = named.get(fallback);
      return `${proxied}; on 404: ${n ? (proxyOutcome(n.d.block ?? [], null, st, poolOf) ?? 'static files') : `undetermined ${fallback}`}`;
    }
    return proxied;
  }
  // nginx's static and index handlers serve GET, HEAD and POST only: anything else is 405.
  if (!['GET', 'HEAD', 'POST'].includes(st.req.method)) return 'status 405';
  const root = body.find((d) => d.name === 'root' || d.name === 'alias') ?? server.find((d) => d.name === 'root');
  const where = root ? `${root.name} ${root.args.join(' ')}` : 'root html';
  return st.uri.endsWith('/') ? `static directory index (${where})` : `static files (${where})`;
}

/** Where nginx sends the request, as a canonical text (`pool <name> <uri>`, `status <code>`, ...). */
export function routeRequest(
  servers: readonly ServerView[],
  req: RoutingRequest,
  poolOf: (upstream: string) => string,
  maps: readonly NginxDirective[] = [],
): string {
  const server = chooseServer(servers, req.port, req.host);
  if (!server) return 'no server';
  const q = req.uri.indexOf('?');
  const st: State = {
    uri: q >= 0 ? req.uri.slice(0, q) : req.uri,
    args: q >= 0 ? req.uri.slice(q + 1) : '',
    vars: new Map(),
    req,
    uriChanged: false,
    maps: new Map(maps.filter((m) => m.args.length === 2).map((m) => [m.args[1]!.replace(/^\$\{?|\}$/g, '').toLowerCase(), m])),
  };
  const locs = locationsOf(server.body);
  const named = new Map(locs.filter((l) => l.kind === '@').map((l) => [l.name, l]));
  const finish = (outcome: string, blocks: ReadonlyArray<readonly NginxDirective[]>): string => {
    const m = /^status ([0-9]{3})$/.exec(outcome);
    if (!m) return outcome;
    const target = errorPageTarget(m[1]!, blocks);
    if (!target?.startsWith('@')) return outcome;
    const n = named.get(target);
    if (!n) return outcome;
    // A named location runs the location rewrite, access and content phases.
    const namedBody = n.d.block ?? [];
    const step = runRewrites(namedBody, st);
    if ('done' in step) return step.done;
    const rules = accessRulesOf(namedBody);
    if (accessDenied(rules.length > 0 ? rules : accessRulesOf(server.body), req.client)) return 'status 403';
    return content(namedBody, null, server.body, named, st, poolOf);
  };
  const serverStep = runRewrites(server.body, st);
  if ('done' in serverStep) return finish(serverStep.done, [server.body]);
  for (let round = 0; round < 10; round++) {
    const found = findLocation(locs, st.uri);
    if (found === null) {
      if (accessDenied(accessRulesOf(server.body), req.client)) return 'status 403';
      return content([], null, server.body, named, st, poolOf);
    }
    if ('undetermined' in found) return found.undetermined;
    if ('redirect' in found) return `redirect 301 ${found.redirect}${st.args ? `?${st.args}` : ''}`;
    const loc = found.loc;
    const body = loc.d.block ?? [];
    const before = st.uri;
    st.uriChanged = st.uriChanged || false;
    const step = runRewrites(body, st);
    if ('done' in step) return finish(step.done, [body, server.body]);
    if (step.next === 'last' || (step.next === 'continue' && st.uri !== before)) continue;
    const rules = accessRulesOf(body);
    if (accessDenied(rules.length > 0 ? rules : accessRulesOf(server.body), req.client)) return finish('status 403', [body, server.body]);
    // An `if` whose condition held and that holds a proxy_pass is the location's content then.
    const active = body.find(
      (d) => d.name === 'if' && d.block && condition(d, st) === true && d.block.some((x) => x.name === 'proxy_pass'),
    );
    return content(active?.block ?? body, loc, server.body, named, st, poolOf);
  }
  return 'status 500 (rewrite cycle)';
}
