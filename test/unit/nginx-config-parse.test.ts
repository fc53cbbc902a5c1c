import { describe, expect, it } from 'vitest';
import type { NginxDirective } from '../../src/domain/nginx-config/nginx-ast.js';
import { NginxParseError } from '../../src/domain/nginx-config/nginx-parse-error.js';
import { parseNginxConfig } from '../../src/domain/nginx-config/parse-nginx-config.js';

const parse = (text: string) => parseNginxConfig(text, { file: 't.conf' });
const only = (text: string): NginxDirective => {
  const { directives } = parse(text);
  expect(directives).toHaveLength(1);
  return directives[0]!;
};
const named = (list: NginxDirective[] | undefined, name: string) => (list ?? []).filter((d) => d.name === name);
const errorOf = (text: string): NginxParseError => {
  try {
    parse(text);
  } catch (e) {
    if (e instanceof NginxParseError) return e;
    throw e;
  }
  throw new Error(`expected a parse error for ${JSON.stringify(text)}`);
};

describe('nginx parser: words, quotes, escapes, variables, comments', () => {
  it.each([
    ['bare words', 'a b c;', ['b', 'c'], ['', '']],
    ['double quotes with spaces and ;{}', 'a "b c;{}";', ['b c;{}'], ['"']],
    ['single quotes', 'a \'b "c"\';', ['b "c"'], ["'"]],
    ['escaped quote inside quotes', 'a "x\\"y";', ['x"y'], ['"']],
    ['escapes \\t \\n \\r \\\\ translated, others kept', 'a "1\\t2\\n3\\r4\\\\5\\d";', ['1\t2\n3\r4\\5\\d'], ['"']],
    ['backslash escapes a space in a bare word', 'a b\\ c;', ['b\\ c'], ['']],
    ['escaped quote opening a bare word', 'a \\"b;', ['"b'], ['']],
    ['empty quoted word', 'a "";', [''], ['"']],
    ['variables', 'set $a $b;', ['$a', '$b'], ['', '']],
    ['${var} does not open a block', 'set $a ${b}c;', ['$a', '${b}c'], ['', '']],
    ['braces inside variables in a bare word', 'return 200 x${host}y${uri};', ['200', 'x${host}y${uri}'], ['', '']],
    ['a closing brace inside a word', 'a b}c;', ['b}c'], ['']],
    ['# inside a word is not a comment', 'a b#c;', ['b#c'], ['']],
    ['# inside quotes is not a comment', 'a "#c";', ['#c'], ['"']],
    ['unicode', 'add_header X-Name "Größe ✓";', ['X-Name', 'Größe ✓'], ['', '"']],
  ])('%s', (_, text, args, quotes) => {
    const d = only(text);
    expect(d.args).toEqual(args);
    expect(d.quotes).toEqual(quotes);
  });

  it('a quoted directive name', () => {
    expect(only('"proxy_pass" http://a;').name).toBe('proxy_pass');
  });

  it('keeps comments with positions, top level and per block', () => {
    const cfg = parse('# one\nserver { # two\n    listen 80; # three\n  # four\n}\n# five');
    expect(cfg.comments.map((c) => [c.text, c.line, c.column])).toEqual([
      [' one', 1, 1],
      [' five', 6, 1],
    ]);
    expect(cfg.directives[0]!.comments!.map((c) => [c.text, c.line, c.column])).toEqual([
      [' two', 2, 10],
      [' three', 3, 16],
      [' four', 4, 3],
    ]);
  });

  it('a comment inside an unfinished directive does not end it', () => {
    const d = only('listen 80 # the port\n  ssl;');
    expect(d.args).toEqual(['80', 'ssl']);
  });

  it('records line, column, end and source range of every directive', () => {
    const text = 'http {\n  server {\n    listen 80;\n  }\n}\n';
    const http = only(text);
    const server = http.block![0]!;
    const listen = server.block![0]!;
    expect([http.line, http.column, http.end]).toEqual([1, 1, { line: 5, column: 1 }]);
    expect([server.line, server.column, server.end]).toEqual([2, 3, { line: 4, column: 3 }]);
    expect([listen.line, listen.column, listen.end]).toEqual([3, 5, { line: 3, column: 14 }]);
    expect(text.slice(...listen.range)).toBe('listen 80;');
    expect(text.slice(...server.range)).toBe('server {\n    listen 80;\n  }');
    const quoted = only('  "return" 200;');
    expect('  "return" 200;'.slice(...quoted.range)).toBe('"return" 200;');
  });

  it('counts CRLF line ends like nginx (by LF)', () => {
    const cfg = parse('a 1;\r\nb 2;\r\n');
    expect(cfg.directives.map((d) => [d.name, d.line, d.column, d.args])).toEqual([
      ['a', 1, 1, ['1']],
      ['b', 2, 1, ['2']],
    ]);
  });
});

describe('nginx parser: gateway constructs', () => {
  it('upstream with every server parameter', () => {
    const up = only(`upstream pool-a {
    least_conn;
    zone pool-a 64k;
    server 10.0.0.1:9000 weight=5 max_fails=3 fail_timeout=30s max_conns=100;
    server 10.0.0.2:9000 backup;
    server 10.0.0.3:9000 down;
    server nanio.internal:9000 resolve service=_s3._tcp slow_start=30s route=a;
    server unix:/run/nanio.sock;
    server [2001:db8::1]:9000;
    keepalive 32;
}`);
    expect(up.name).toBe('upstream');
    expect(up.args).toEqual(['pool-a']);
    const servers = named(up.block, 'server');
    expect(servers.map((s) => s.args)).toEqual([
      ['10.0.0.1:9000', 'weight=5', 'max_fails=3', 'fail_timeout=30s', 'max_conns=100'],
      ['10.0.0.2:9000', 'backup'],
      ['10.0.0.3:9000', 'down'],
      ['nanio.internal:9000', 'resolve', 'service=_s3._tcp', 'slow_start=30s', 'route=a'],
      ['unix:/run/nanio.sock'],
      ['[2001:db8::1]:9000'],
    ]);
    expect(servers.map((s) => s.line)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(named(up.block, 'keepalive')[0]!.args).toEqual(['32']);
    expect(named(up.block, 'least_conn')[0]!.args).toEqual([]);
  });

  it('server with several listen and server_name lines and locations of every form', () => {
    const server = only(`server {
    listen 80;
    listen [::]:80 ipv6only=on;
    listen 443 ssl http2 default_server;
    server_name a.example.test b.example.test;
    server_name *.c.example.test ~^(?<sub>.+)\\.d\\.test$;
    location = /exact { return 204; }
    location ^~ /static/ { proxy_pass http://static; }
    location ~ \\.(gif|jpg)$ { return 403; }
    location ~* "^/(A|B)/" { return 403; }
    location /photos/ { proxy_pass http://pool-a; }
    location @fallback { proxy_pass http://pool-b; }
    location / {
        location /nested/ { return 418; }
        proxy_pass http://pool-a;
    }
}`);
    expect(named(server.block, 'listen').map((l) => l.args)).toEqual([
      ['80'],
      ['[::]:80', 'ipv6only=on'],
      ['443', 'ssl', 'http2', 'default_server'],
    ]);
    expect(named(server.block, 'server_name').flatMap((s) => s.args)).toEqual([
      'a.example.test',
      'b.example.test',
      '*.c.example.test',
      '~^(?<sub>.+)\\.d\\.test$',
    ]);
    const locations = named(server.block, 'location');
    expect(locations.map((l) => l.args)).toEqual([
      ['=', '/exact'],
      ['^~', '/static/'],
      ['~', '\\.(gif|jpg)$'],
      ['~*', '^/(A|B)/'],
      ['/photos/'],
      ['@fallback'],
      ['/'],
    ]);
    expect(locations[3]!.quotes).toEqual(['', '"']);
    expect(named(locations[6]!.block, 'location')[0]!.args).toEqual(['/nested/']);
  });

  it('if blocks, error_page, rewrite, mirror, return', () => {
    const loc = only(`location /videos/ {
    error_page 418 = @mig_7;
    if ($request_method !~ ^(GET|HEAD|OPTIONS)$) { return 418; }
    if ($http_x_a = "b c") { return 403 "no"; }
    if (-f $request_filename) { break; }
    proxy_intercept_errors on;
    error_page 404 = @mig_7;
    error_page 500 502 503 504 /50x.html;
    rewrite ^/videos/(.*)$ /archive/$1 break;
    rewrite "^/v/(\\d{2})/(.*)$" /v2/$1/$2 last;
    mirror /mirror;
    mirror_request_body off;
    return 301 https://$host$request_uri;
}`);
    const ifs = named(loc.block, 'if');
    expect(ifs.map((i) => i.args)).toEqual([
      ['($request_method', '!~', '^(GET|HEAD|OPTIONS)$)'],
      ['($http_x_a', '=', 'b c', ')'],
      ['(-f', '$request_filename)'],
    ]);
    expect(ifs[1]!.block!.map((d) => [d.name, d.args])).toEqual([['return', ['403', 'no']]]);
    expect(named(loc.block, 'error_page').map((e) => e.args)).toEqual([
      ['418', '=', '@mig_7'],
      ['404', '=', '@mig_7'],
      ['500', '502', '503', '504', '/50x.html'],
    ]);
    expect(named(loc.block, 'rewrite').map((e) => e.args)).toEqual([
      ['^/videos/(.*)$', '/archive/$1', 'break'],
      ['^/v/(\\d{2})/(.*)$', '/v2/$1/$2', 'last'],
    ]);
    expect(named(loc.block, 'mirror')[0]!.args).toEqual(['/mirror']);
    expect(named(loc.block, 'return')[0]!.args).toEqual(['301', 'https://$host$request_uri']);
  });

  it('regex with braces in a bare word needs quotes, as in nginx', () => {
    // `\d{2}` bare opens a block in nginx too: the `{` ends the word.
    expect(() => parse('rewrite ^/(\\d{2})$ /x last;')).toThrow(NginxParseError);
  });
});

describe('nginx parser: includes', () => {
  it('reports includes without following them', () => {
    const cfg = parse('http {\n  include /etc/nginx/mime.types;\n  include "conf.d/*.conf";\n}');
    expect(cfg.includes.map((i) => [i.pattern, i.line, i.column, i.resolved])).toEqual([
      ['/etc/nginx/mime.types', 2, 3, []],
      ['conf.d/*.conf', 3, 3, []],
    ]);
    expect(named(cfg.directives[0]!.block, 'include')).toHaveLength(2);
  });

  it('follows includes through a resolver, splicing their directives in place', () => {
    const files: Record<string, string> = {
      'snippets/proxy.conf': 'proxy_read_timeout 300s;\ninclude snippets/deeper.conf;\n',
      'snippets/deeper.conf': '# deep\nproxy_send_timeout 60s;\n',
    };
    const cfg = parseNginxConfig('server {\n  listen 80;\n  include snippets/proxy.conf;\n  server_name a;\n}', {
      file: 'main.conf',
      includeResolver: (pattern) => (pattern in files ? [{ file: pattern, text: files[pattern]! }] : null),
    });
    const server = cfg.directives[0]!;
    expect(server.block!.map((d) => [d.name, d.file, d.line])).toEqual([
      ['listen', 'main.conf', 2],
      ['proxy_read_timeout', 'snippets/proxy.conf', 1],
      ['proxy_send_timeout', 'snippets/deeper.conf', 2],
      ['server_name', 'main.conf', 4],
    ]);
    expect(cfg.includes.map((i) => [i.pattern, i.file, i.resolved])).toEqual([
      ['snippets/proxy.conf', 'main.conf', ['snippets/proxy.conf']],
      ['snippets/deeper.conf', 'snippets/proxy.conf', ['snippets/deeper.conf']],
    ]);
    expect(server.comments!.map((c) => [c.text, c.file])).toEqual([[' deep', 'snippets/deeper.conf']]);
  });

  it('an include loop is a positioned parse error, not a hang', () => {
    const e = (() => {
      try {
        parseNginxConfig('include self.conf;', {
          file: 'self.conf',
          includeResolver: () => [{ file: 'self.conf', text: 'include self.conf;' }],
        });
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(NginxParseError);
    expect((e as NginxParseError).reason).toMatch(/include nesting/);
  });

  it('a parse error inside an included file names that file', () => {
    const e = (() => {
      try {
        parseNginxConfig('server {\n include bad.conf;\n}', {
          file: 'main.conf',
          includeResolver: () => [{ file: 'bad.conf', text: 'a {' }],
        });
      } catch (err) {
        return err as NginxParseError;
      }
      return null;
    })();
    expect([e?.file, e?.line, e?.column]).toEqual(['bad.conf', 1, 4]);
  });
});

describe('nginx parser: errors are positioned like nginx reports them', () => {
  it.each([
    ['a ; before a directive', ';', 1, 1, 'unexpected ";"'],
    ['a { before a directive', 'server {\n  {\n}', 2, 3, 'unexpected "{"'],
    ['an unmatched }', 'a 1;\n}', 2, 1, 'unexpected "}"'],
    ['} ending a directive', 'server {\n  listen 80\n}', 3, 1, 'unexpected "}"'],
    ['text right after a closing quote', 'a "b"c;', 1, 6, 'unexpected "c"'],
    ['an unclosed quote', 'a "b;\n', 2, 1, 'unexpected end of file, expecting ";" or "}"'],
    ['an unterminated directive', 'server {\n  listen 80;\n}\nlisten 81', 4, 10, 'unexpected end of file, expecting ";" or "}"'],
    ['an unclosed block', 'server {\n  listen 80;\n', 3, 1, 'unexpected end of file, expecting "}"'],
    ['a trailing backslash', 'a b\\', 1, 5, 'unexpected end of file, expecting ";" or "}"'],
  ])('%s', (_, text, line, column, reason) => {
    const e = errorOf(text);
    expect([e.line, e.column, e.reason]).toEqual([line, column, reason]);
    expect(e.file).toBe('t.conf');
    expect(e.message).toBe(`t.conf:${line}:${column}: ${reason}`);
  });

  it('an empty text and a text of comments parse to nothing', () => {
    expect(parse('').directives).toEqual([]);
    expect(parse('# only\n   \n# comments').directives).toEqual([]);
  });
});
