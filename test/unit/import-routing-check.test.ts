import { describe, expect, it } from 'vitest';
import { inlineMap } from '../../src/domain/import/inline-maps.js';
import { routeRequest, serverViews, type RoutingRequest } from '../../src/domain/import/nginx-routing.js';
import { checkRouting, OUTSIDE_CLIENT } from '../../src/domain/import/routing-equivalence.js';
import type { NginxDirective } from '../../src/domain/nginx-config/nginx-ast.js';
import { parseNginxConfig } from '../../src/domain/nginx-config/parse-nginx-config.js';

/**
 * The routing check's model of nginx, on small configurations (the integration test
 * import-equivalence.test.ts holds it against the real nginx, request by request).
 */
const parse = (text: string): NginxDirective[] => parseNginxConfig(text, { file: 'x.conf' }).directives;
const servers = (text: string) => serverViews(parse(text).filter((d) => d.name === 'server'));
const req = (uri: string, extra: Partial<RoutingRequest> = {}): RoutingRequest => ({
  port: 80,
  host: 'a.test',
  uri,
  method: 'GET',
  client: '127.0.0.1',
  ...extra,
});
const route = (text: string, r: RoutingRequest, maps: NginxDirective[] = []) => routeRequest(servers(text), r, (x) => x, maps);

describe('where nginx sends a request', () => {
  const conf = `server { listen 80; server_name a.test;
    location /b/ { proxy_pass http://p; }
    location = /b { proxy_pass http://q; }
    location /c/ { proxy_pass http://p; }
    location ~ \\.php$ { return 403; }
    location ^~ /static/ { return 200; }
    location /k/ { rewrite ^/k/(.*)$ /k/pre/$1 break; proxy_pass http://p; }
  }
  server { listen 80; server_name *.wild.test; location / { proxy_pass http://w; } }`;

  it.each([
    ['/b/x', 'pool p /b/x'],
    ['/b', 'pool q /b'], // the exact location wins over the automatic redirect
    ['/c', 'redirect 301 /c/'], // a proxy location's automatic 301
    ['/c?list-type=2', 'redirect 301 /c/?list-type=2'],
    ['/b/x.php', 'status 403'], // a regex beats a plain prefix
    ['/static/x.php', 'status 200'], // ^~ stops the regex search
    ['/k/a', 'pool p /k/pre/a'],
    ['/nothing', 'static files (root html)'],
  ])('%s -> %s', (uri, outcome) => {
    expect(route(conf, req(uri))).toBe(outcome);
  });

  it('chooses the server by name, wildcard, then the port default; writes to static files are 405', () => {
    expect(route(conf, req('/x', { host: 'z.wild.test' }))).toBe('pool w /x');
    expect(route(conf, req('/nothing', { host: 'unknown.test', method: 'PUT' }))).toBe('status 405');
  });

  it('a return answers before the access rules; a denied client gets 403 where the location has none', () => {
    const rules = `server { listen 80; server_name a.test; deny 10.0.0.1; location /r/ { proxy_pass http://p; } location / { return 404; } }`;
    expect(route(rules, req('/x', { client: '10.0.0.1' }))).toBe('status 404');
    expect(route(rules, req('/r/x', { client: '10.0.0.1' }))).toBe('status 403');
    expect(route(rules, req('/r/x'))).toBe('pool p /r/x');
  });

  it('split routing: writes through error_page 418 to the named location, reads with a 404 fallback', () => {
    const split = `server { listen 80; server_name a.test;
      location /v/ { error_page 418 = @m; if ($request_method !~ ^(GET|HEAD|OPTIONS)$) { return 418; }
        proxy_intercept_errors on; error_page 404 = @m; proxy_pass http://src; }
      location @m { proxy_pass http://dst; } }`;
    expect(route(split, req('/v/k', { method: 'PUT' }))).toBe('pool dst /v/k');
    expect(route(split, req('/v/k'))).toBe('pool src /v/k; on 404: pool dst /v/k');
  });
});

describe('the routing check', () => {
  it('lists the 403 -> 404 of a client the IP rules deny when a "location /" starts answering 404', () => {
    const before = parse('server { listen 80; server_name a.test; deny 10.0.0.0/8; location /r/ { proxy_pass http://p; } }');
    const after = parse(
      'server { listen 80; server_name a.test; deny 10.0.0.0/8; location = /r { proxy_pass http://p; } location /r/ { proxy_pass http://p; } location / { return 404; } }',
    );
    const check = checkRouting({ servers: before, poolOf: new Map() }, { servers: after });
    const d = (uri: string, client: string) => check.differences.find((x) => x.uri === uri && x.client === client && x.method === 'GET');
    expect(d('/orch-probe/key.bin', '10.0.0.1')).toMatchObject({ before: 'status 403', after: 'status 404' });
    expect(d('/r', OUTSIDE_CLIENT)).toMatchObject({ before: 'redirect 301 /r/', after: 'pool p /r' });
    expect(d('/r/orch-probe/key.bin', OUTSIDE_CLIENT)).toBeUndefined();
    expect(checkRouting({ servers: before, poolOf: new Map() }, { servers: before }).differences).toEqual([]);
  });

  it('maps the source upstream names to the imported pool names', () => {
    const before = parse('server { listen 80; server_name a.test; location / { proxy_pass http://old_name; } }');
    const after = parse('server { listen 80; server_name a.test; location / { proxy_pass http://new-name; } }');
    expect(checkRouting({ servers: before, poolOf: new Map([['old_name', 'new-name']]) }, { servers: after }).differences).toEqual([]);
  });
});

describe('a map carried into a server as set/if', () => {
  const map = parse(`map $http_host $pool {
    default        a;
    exact.test     b;
    ~^exa          c;
    ~^ex           d;
    ~*^UPPER       e;
  }`)[0]!;

  it('gives every host the value the map gives it (exact keys first, then the first matching regex, else default)', () => {
    const inlined = inlineMap(map);
    if ('problem' in inlined) throw new Error(inlined.problem);
    const withMap = 'server { listen 80; server_name _; location / { proxy_pass http://$pool; } }';
    const withSet = `server { listen 80; server_name _;\n${inlined.text}\nlocation / { proxy_pass http://$pool; } }`;
    for (const host of ['exact.test', 'EXACT.test', 'example.test', 'ex.test', 'upper.test', 'other.test']) {
      const viaMap = route(withMap, req('/x', { host }), [map]);
      expect(route(withSet, req('/x', { host })), host).toBe(viaMap);
    }
    expect(route(withMap, req('/x', { host: 'exact.test' }), [map])).toBe('pool b /x');
    expect(route(withMap, req('/x', { host: 'example.test' }), [map])).toBe('pool c /x');
    expect(route(withMap, req('/x', { host: 'upper.test' }), [map])).toBe('pool e /x');
    expect(route(withMap, req('/x', { host: 'other.test' }), [map])).toBe('pool a /x');
  });
});
