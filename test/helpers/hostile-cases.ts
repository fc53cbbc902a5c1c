/**
 * The hostile-input corpus: bad inputs, each one mutation of a small valid gateway (BASE), with the
 * diagnostic it must produce: code (or code family), file, line and field. Used by
 * test/integration/hostile-corpus.test.ts (through `orch apply` against a real nginx) and by
 * test/unit/diagnostic-codes.test.ts (every code has a case).
 *
 * Line numbers below refer to BASE as written here; a mutation keeps the line structure of the
 * file it changes unless the case says otherwise.
 */

/** A file of a case: text, raw bytes, or something that is not a plain file. */
export type CaseFile = string | { bytes: Buffer } | { symlink: string } | { fifo: true } | { sparse: number } | { directory: true };

export interface BadCase {
  name: string;
  /** Files relative to the manifests directory; `null` removes a BASE file. */
  files: Record<string, CaseFile | null>;
  /** The expected diagnostic code, or a pattern of codes for the generated injection cases. */
  code: string | RegExp;
  /** `file:line` or `file:line:column` of the diagnostic (file relative to the manifests directory). */
  at: string;
  /** The field the diagnostic names, when it names one. */
  field?: string;
  /** Exit code of `orch apply`; default 1. */
  exit?: number;
  /**
   * Refused by nginx -t, after the rendered files were put in the content store (state/objects/,
   * content-addressed, referenced by no generation): only that store may grow.
   */
  contentStoreMayGrow?: true;
}

export interface GoodCase {
  name: string;
  files: Record<string, CaseFile | null>;
  /** A request that must be answered by the gateway after the apply: host header, path, expected status. */
  probe?: { host: string; path: string; status: number; method?: string };
}

/** Placeholders replaced by the test: the upstream member, the main port, a second free port, the status port. */
export const MEMBER = '@MEMBER@';
export const PORT = '@PORT@';
export const PORT2 = '@PORT2@';
export const STATUS_PORT = '@STATUS@';

const POOLS = `apiVersion: orch/v1
kind: Pool
metadata:
  name: hot
spec:
  type: http
  keepalive: 8
  loadBalancing: round_robin
  description: Hot pool
  members:
    - address: ${MEMBER}
      weight: 1
      maxFails: 1
      failTimeout: 10s
`;

const VHOST = `apiVersion: orch/v1
kind: VirtualHost
metadata:
  name: s3
spec:
  serverNames: [s3.test]
  port: ${PORT}
  defaultPool: hot
  ipRules:
    mode: allow
    addresses: [127.0.0.1]
  extraBlocks:
    - zone: top
      content: |
        add_header X-Gateway test always;
`;

const ROUTE = `apiVersion: orch/v1
kind: Route
metadata:
  name: photos
spec:
  virtualHost: s3
  path: /photos/
  pool: hot
`;

export const BASE: Record<string, string> = { 'pools.yaml': POOLS, 'vhosts/s3.yaml': VHOST, 'routes/photos.yaml': ROUTE };

const FILE_OF = { pool: 'pools.yaml', vhost: 'vhosts/s3.yaml', route: 'routes/photos.yaml' } as const;
type Doc = keyof typeof FILE_OF;

/** BASE with one line of one file replaced (`from` must occur exactly once). */
function sub(doc: Doc, from: string, to: string): Record<string, CaseFile> {
  const file = FILE_OF[doc];
  const text = BASE[file]!;
  if (text.split(from).length !== 2) throw new Error(`${from} is not unique in ${file}`);
  return { [file]: text.replace(from, to) };
}

/** BASE's vhost with its extra block content (line 15) replaced by `lines`. */
function extra(lines: string[], zone = 'top'): Record<string, CaseFile> {
  const text = VHOST.replace('    - zone: top\n', `    - zone: ${zone}\n`).replace(
    '        add_header X-Gateway test always;\n',
    lines.map((l) => `        ${l}\n`).join(''),
  );
  return { 'vhosts/s3.yaml': text };
}

const bad = (
  name: string,
  files: Record<string, CaseFile | null>,
  code: string | RegExp,
  at: string,
  field?: string,
  exit?: number,
): BadCase => ({
  name,
  files,
  code,
  at,
  ...(field === undefined ? {} : { field }),
  ...(exit === undefined ? {} : { exit }),
});

// ------------------------------------------------------------------ injection into every field

/** The string fields of BASE that reach nginx text, a file name or a reference, with their line. */
const STRING_FIELDS: Array<{ doc: Doc; key: string; original: string; line: number; field: string; flow?: boolean }> = [
  { doc: 'pool', key: '  name', original: 'hot', line: 4, field: 'metadata.name' },
  { doc: 'pool', key: '    - address', original: MEMBER, line: 11, field: 'spec.members[0].address' },
  { doc: 'pool', key: '      failTimeout', original: '10s', line: 14, field: 'spec.members[0].failTimeout' },
  { doc: 'vhost', key: '  name', original: 's3', line: 4, field: 'metadata.name' },
  { doc: 'vhost', key: '  serverNames', original: 's3.test', line: 6, field: 'spec.serverNames[0]', flow: true },
  { doc: 'vhost', key: '  defaultPool', original: 'hot', line: 8, field: 'spec.defaultPool' },
  { doc: 'vhost', key: '    addresses', original: '127.0.0.1', line: 11, field: 'spec.ipRules.addresses[0]', flow: true },
  { doc: 'route', key: '  name', original: 'photos', line: 4, field: 'metadata.name' },
  { doc: 'route', key: '  virtualHost', original: 's3', line: 6, field: 'spec.virtualHost' },
  { doc: 'route', key: '  path', original: '/photos/', line: 7, field: 'spec.path' },
  { doc: 'route', key: '  pool', original: 'hot', line: 8, field: 'spec.pool' },
];

/** Attempts to break out of a field into nginx syntax, the terminal, the filesystem or the parser. */
const PAYLOADS: Array<{ label: string; value: string }> = [
  { label: 'semicolon', value: 'x; include /etc/passwd' },
  { label: 'closing brace', value: 'x}' },
  { label: 'opening brace', value: 'x{' },
  { label: 'space', value: 'a b' },
  { label: 'newline', value: 'x\nManifests are valid' },
  { label: 'variable', value: '$host' },
  { label: 'comment', value: '#x' },
  { label: 'quote', value: 'x\'y"z' },
  { label: 'ansi escape', value: '\u001b[2J\u001b]0;pwned\u0007' },
  { label: 'path traversal', value: '../../etc/passwd' },
  { label: 'fullwidth letters', value: 'ｓ３' },
  { label: 'backslash', value: 'x\\y' },
  { label: 'line separator', value: 'a\u2028b' },
];

function injectionCases(): BadCase[] {
  const out: BadCase[] = [];
  for (const f of STRING_FIELDS) {
    for (const p of PAYLOADS) {
      // JSON text is a YAML double-quoted scalar: every payload arrives byte for byte.
      const quoted = JSON.stringify(p.value);
      const from = f.flow ? `${f.key}: [${f.original}]` : `${f.key}: ${f.original}`;
      const to = f.flow ? `${f.key}: [${quoted}]` : `${f.key}: ${quoted}`;
      out.push(bad(`${f.doc} ${f.field}: ${p.label}`, sub(f.doc, from, to), /^(value|schema)\./, `${FILE_OF[f.doc]}:${f.line}`, f.field));
    }
  }
  return out;
}

// ------------------------------------------------------------------ numbers and their ranges

const NUMBER_CASES: BadCase[] = [
  ['keepalive 100000000', 'pool', '  keepalive: 8', '  keepalive: 100000000', 7, 'spec.keepalive', 'schema.out-of-range'],
  ['keepalive 1e20', 'pool', '  keepalive: 8', '  keepalive: 1e20', 7, 'spec.keepalive', 'schema.out-of-range'],
  ['keepalive 0', 'pool', '  keepalive: 8', '  keepalive: 0', 7, 'spec.keepalive', 'schema.out-of-range'],
  ['keepalive -1', 'pool', '  keepalive: 8', '  keepalive: -1', 7, 'spec.keepalive', 'schema.out-of-range'],
  ['keepalive 1.5', 'pool', '  keepalive: 8', '  keepalive: 1.5', 7, 'spec.keepalive', 'schema.wrong-type'],
  ['keepalive .inf', 'pool', '  keepalive: 8', '  keepalive: .inf', 7, 'spec.keepalive', 'schema.wrong-type'],
  ['keepalive .nan', 'pool', '  keepalive: 8', '  keepalive: .nan', 7, 'spec.keepalive', 'schema.wrong-type'],
  ['keepalive as text', 'pool', '  keepalive: 8', '  keepalive: "8"', 7, 'spec.keepalive', 'schema.wrong-type'],
  ['keepalive 0x7fffffffffffffff', 'pool', '  keepalive: 8', '  keepalive: 0x7fffffffffffffff', 7, 'spec.keepalive', 'schema.out-of-range'],
  ['weight 1e20', 'pool', '      weight: 1', '      weight: 1e20', 12, 'spec.members[0].weight', 'schema.out-of-range'],
  ['weight 0', 'pool', '      weight: 1', '      weight: 0', 12, 'spec.members[0].weight', 'schema.out-of-range'],
  ['maxFails 100000', 'pool', '      maxFails: 1', '      maxFails: 100000', 13, 'spec.members[0].maxFails', 'schema.out-of-range'],
  ['maxFails -1', 'pool', '      maxFails: 1', '      maxFails: -1', 13, 'spec.members[0].maxFails', 'schema.out-of-range'],
  [
    'failTimeout 99999999999d',
    'pool',
    '      failTimeout: 10s',
    '      failTimeout: 99999999999d',
    14,
    'spec.members[0].failTimeout',
    'value.duration',
  ],
  ['failTimeout 30d', 'pool', '      failTimeout: 10s', '      failTimeout: 30d', 14, 'spec.members[0].failTimeout', 'value.duration'],
  ['port 65536', 'vhost', `  port: ${PORT}`, '  port: 65536', 7, 'spec.port', 'schema.out-of-range'],
  ['port 0', 'vhost', `  port: ${PORT}`, '  port: 0', 7, 'spec.port', 'schema.out-of-range'],
  ['port 1e20', 'vhost', `  port: ${PORT}`, '  port: 1e20', 7, 'spec.port', 'schema.out-of-range'],
  ['port 80.5', 'vhost', `  port: ${PORT}`, '  port: 80.5', 7, 'spec.port', 'schema.wrong-type'],
  ['port as list', 'vhost', `  port: ${PORT}`, '  port: [80]', 7, 'spec.port', 'schema.wrong-type'],
  [
    'member port 99999',
    'pool',
    `    - address: ${MEMBER}`,
    '    - address: 127.0.0.1:99999',
    11,
    'spec.members[0].address',
    'value.member-address',
  ],
  ["orch's status listener port", 'vhost', `  port: ${PORT}`, `  port: ${STATUS_PORT}`, 7, 'spec.port', 'collision.status-listener'],
].map(([name, doc, from, to, line, field, code]) =>
  bad(
    name as string,
    sub(doc as Doc, from as string, to as string),
    code as string,
    `${FILE_OF[doc as Doc]}:${line as number}`,
    field as string,
  ),
);

// ------------------------------------------------------------------ extra blocks

const EXTRA_FIELD = 'spec.extraBlocks[0].content';
const EXTRA_CASES: BadCase[] = [
  ['server_name takeover', ['server_name other.test;'], 'extra.claimed-directive'],
  ['listen on every interface', [`listen 0.0.0.0:${PORT2};`], 'extra.claimed-directive'],
  ['listen IPv6', [`listen [::]:${PORT2};`], 'extra.claimed-directive'],
  ['ssl_certificate', ['ssl_certificate /etc/ssl/other.crt;'], 'extra.claimed-directive'],
  ['ssl_certificate_key', ['ssl_certificate_key /etc/ssl/other.key;'], 'extra.claimed-directive'],
  ['http2', ['http2 on;'], 'extra.claimed-directive'],
  ['client_max_body_size', ['client_max_body_size 1m;'], 'extra.claimed-directive'],
  ['proxy_buffering', ['proxy_buffering on;'], 'extra.claimed-directive'],
  ['proxy_http_version', ['proxy_http_version 1.0;'], 'extra.claimed-directive'],
  ['proxy_set_header Host', ['proxy_set_header Host evil.test;'], 'extra.claimed-directive'],
  ['allow all at server level', ['allow all;'], 'extra.claimed-directive'],
  ['location / duplicate', ['location / { return 200; }'], 'extra.claimed-directive'],
  ['SERVER_NAME in capitals', ['SERVER_NAME other.test;'], 'extra.claimed-directive'],
  ['server_name inside if', ['if ($host) {', '    server_name other.test;', '}'], 'extra.claimed-directive', 1],
  ['include', ['include /etc/passwd;'], 'extra.forbidden-directive'],
  ['load_module', ['load_module /tmp/x.so;'], 'extra.forbidden-directive'],
  ['lua block', ['content_by_lua_block { ngx.say(1) }'], 'extra.forbidden-directive'],
  ['perl', ['perl_set $x "sub { 1 }";'], 'extra.forbidden-directive'],
  ['njs', ['js_import /tmp/x.js;'], 'extra.forbidden-directive'],
  ['server block', ['server { listen 1; }'], 'extra.forbidden-block'],
  ['http block', ['http { }'], 'extra.forbidden-block'],
  ['closing brace escapes the server', ['}', 'server { listen 9; }'], 'extra.closes-enclosing-block'],
  ['unbalanced quote', ['add_header X "a;'], 'extra.unbalanced-quote'],
  ['missing semicolon', ['add_header X a'], 'extra.unterminated-directive'],
  ['unclosed location', ['location /x/ {'], 'extra.unbalanced-braces'],
  ['text glued to a quote', ['add_header X "a"b;'], 'extra.syntax'],
  ['brace with no directive', ['{ }'], 'extra.syntax'],
].map(([name, lines, code, offset]) =>
  bad(
    `extra block: ${name as string}`,
    extra(lines as string[]),
    code as string,
    `vhosts/s3.yaml:${15 + ((offset as number | undefined) ?? 0)}${name === 'unbalanced quote' ? ':22' : ''}`,
    EXTRA_FIELD,
  ),
);

const EXTRA_SPECIAL: BadCase[] = [
  bad(
    'extra block: control character',
    {
      'vhosts/s3.yaml': VHOST.replace(
        '      content: |\n        add_header X-Gateway test always;\n',
        '      content: "add_header X a;\\u001b[2J"\n',
      ),
    },
    'extra.control-char',
    'vhosts/s3.yaml:14',
    EXTRA_FIELD,
  ),
  bad(
    'extra block: unclosed quote after escapes in a double-quoted scalar',
    {
      'vhosts/s3.yaml': VHOST.replace(
        '      content: |\n        add_header X-Gateway test always;\n',
        '      content: "add_header X-A \\"b\\";\\n  add_header X-B \\"c d;\\n"\n',
      ),
    },
    'extra.unbalanced-quote',
    'vhosts/s3.yaml:14:57',
    EXTRA_FIELD,
  ),
  bad(
    'extra block: ssl zone without TLS',
    extra(['ssl_protocols TLSv1.2;'], 'ssl'),
    'extra.ssl-zone-without-tls',
    'vhosts/s3.yaml:13',
    'spec.extraBlocks[0].zone',
  ),
];

// ------------------------------------------------------------------ YAML

const aliasBomb = (anchor: (i: number) => string): string => {
  let text = `a0: &${anchor(0)} ["x","x","x","x","x","x","x","x","x"]\n`;
  for (let i = 1; i < 9; i++)
    text += `a${i}: &${anchor(i)} [${Array(9)
      .fill(`*${anchor(i - 1)}`)
      .join(',')}]\n`;
  return text;
};

const YAML_CASES: BadCase[] = [
  bad('yaml: !include tag', sub('pool', '  description: Hot pool', '  description: !include /etc/passwd'), 'yaml.tag', 'pools.yaml:9'),
  bad('yaml: !!binary tag', sub('pool', '  description: Hot pool', '  description: !!binary aGVsbG8='), 'yaml.tag', 'pools.yaml:9'),
  bad('yaml: !!set tag', sub('pool', '  description: Hot pool', '  description: !!set {a}'), 'yaml.tag', 'pools.yaml:9'),
  bad('yaml: %TAG directive', { 'x.yaml': '%TAG !e! tag:example.com,2000:\n---\na: !e!thing 1\n' }, 'yaml.tag', 'x.yaml:3'),
  bad('yaml: alias bomb', { 'bomb.yaml': aliasBomb((i) => `a${i}`) }, 'yaml.limit', 'bomb.yaml:1'),
  bad(
    'yaml: alias bomb with anchors named .a',
    { 'bomb.yaml': aliasBomb((i) => (i === 0 ? '.a' : `.a${i}`)) },
    'yaml.limit',
    'bomb.yaml:1',
  ),
  bad('yaml: deep flow nesting', { 'deep.yaml': `${'['.repeat(5000)}${']'.repeat(5000)}\n` }, /^yaml\.(limit|syntax)$/, 'deep.yaml:1'),
  bad(
    'yaml: deep block nesting',
    { 'deep.yaml': `${Array.from({ length: 200 }, (_, i) => `${' '.repeat(i)}k:`).join('\n')} 1\n` },
    'yaml.limit',
    'deep.yaml:65',
  ),
  bad('yaml: 60,000 documents', { 'many.yaml': '---\n'.repeat(60_000) }, 'yaml.limit', 'many.yaml:50001'),
  bad('yaml: duplicate key', sub('pool', '  keepalive: 8', '  keepalive: 8\n  keepalive: 9'), 'yaml.syntax', 'pools.yaml:8'),
  bad('yaml: tab indentation', sub('pool', '  keepalive: 8', '\tkeepalive: 8'), 'yaml.syntax', 'pools.yaml:7'),
  bad('yaml: unclosed quote', sub('pool', '  description: Hot pool', '  description: "Hot pool'), 'yaml.syntax', 'pools.yaml:15'),
  bad('yaml: thousands of syntax errors', { 'junk.yaml': 'a: [\n'.repeat(5000) }, 'yaml.syntax', 'junk.yaml:2'),
  bad(
    'yaml: merge key is not a merge',
    sub('pool', '  keepalive: 8', '  <<: {keepalive: 8}'),
    'schema.unknown-field',
    'pools.yaml:7',
    'spec.<<',
  ),
  bad('yaml: a list document', { 'list.yaml': '- a\n- b\n' }, 'manifest.not-a-mapping', 'list.yaml:1'),
  bad('yaml: a scalar document', { 'scalar.yaml': 'hello\n' }, 'manifest.not-a-mapping', 'scalar.yaml:1'),
  bad('yaml: no kind', sub('route', 'kind: Route', 'kinds: Route'), 'manifest.missing-kind', 'routes/photos.yaml:1'),
  bad('yaml: unknown kind', sub('route', 'kind: Route', 'kind: Ingress'), 'manifest.unknown-kind', 'routes/photos.yaml:2', 'kind'),
  bad(
    'yaml: apiVersion v2',
    sub('route', 'apiVersion: orch/v1', 'apiVersion: orch/v2'),
    'manifest.unknown-api-version',
    'routes/photos.yaml:1',
    'apiVersion',
  ),
  bad('yaml: 1 MB key', sub('pool', '  keepalive: 8', `  ${'k'.repeat(1_000_000)}: 8`), 'yaml.syntax', 'pools.yaml:7'),
  bad('yaml: 1,000-character key', sub('pool', '  keepalive: 8', `  ${'k'.repeat(1000)}: 8`), 'schema.unknown-field', 'pools.yaml:7'),
];

// ------------------------------------------------------------------ files

const FILE_CASES: BadCase[] = [
  bad(
    'file: invalid UTF-8',
    {
      'pools.yaml': {
        bytes: Buffer.concat([
          Buffer.from(POOLS.split('Hot pool')[0]!),
          Buffer.from([0x48, 0xff]),
          Buffer.from(POOLS.split('Hot pool')[1]!),
        ]),
      },
    },
    'manifest.encoding',
    'pools.yaml:9',
  ),
  bad(
    'file: overlong UTF-8',
    {
      'pools.yaml': {
        bytes: Buffer.concat([
          Buffer.from(POOLS.split('Hot pool')[0]!),
          Buffer.from([0xc0, 0xaf]),
          Buffer.from(POOLS.split('Hot pool')[1]!),
        ]),
      },
    },
    'manifest.encoding',
    'pools.yaml:9',
  ),
  bad(
    'file: UTF-16 surrogate in UTF-8',
    {
      'pools.yaml': {
        bytes: Buffer.concat([
          Buffer.from(POOLS.split('Hot pool')[0]!),
          Buffer.from([0xed, 0xa0, 0x80]),
          Buffer.from(POOLS.split('Hot pool')[1]!),
        ]),
      },
    },
    'manifest.encoding',
    'pools.yaml:9',
  ),
  bad('file: NUL byte', sub('pool', '  description: Hot pool', '  description: Hot\u0000pool'), 'manifest.control-char', 'pools.yaml:9'),
  bad(
    'file: raw ANSI escape in a comment',
    sub('pool', '  description: Hot pool', '  description: Hot pool # \u001b[2J\u001b]0;pwned\u0007'),
    'manifest.control-char',
    'pools.yaml:9',
  ),
  bad(
    'file: 3 MB of binary garbage',
    { 'garbage.yaml': { bytes: Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => (i === 0 ? 0xff : (i * 2654435761) >>> 24))) } },
    /^manifest\.(encoding|control-char)$/,
    'garbage.yaml:1',
  ),
  bad('file: 50 MB file', { 'huge.yaml': { sparse: 50 * 1024 * 1024 } }, 'manifest.too-large', 'huge.yaml:1'),
  bad('file: a FIFO named like a manifest', { 'pipe.yaml': { fifo: true } }, 'manifest.unreadable', 'pipe.yaml:1'),
  bad('file: a dangling symbolic link', { 'gone.yaml': { symlink: 'does-not-exist.yaml' } }, 'manifest.unreadable', 'gone.yaml:1'),
  bad('file: a link to itself', { 'self.yaml': { symlink: 'self.yaml' } }, 'manifest.symlink-loop', 'self.yaml:1'),
  bad('file: a directory link loop', { 'sub/up': { symlink: '..' } }, 'manifest.symlink-loop', 'sub/up:1'),
  bad('file: a link to /dev/zero', { 'zero.yaml': { symlink: '/dev/zero' } }, 'manifest.unreadable', 'zero.yaml:1'),
];

// ------------------------------------------------------------------ names, references, collisions

const SECOND_POOL = (name: string): string => POOLS.replace('  name: hot', `  name: ${name}`);
const SECOND_VHOST = (name: string, serverName: string, port = PORT): string =>
  VHOST.replace('  name: s3', `  name: ${name}`).replace('[s3.test]', `[${serverName}]`).replace(`  port: ${PORT}`, `  port: ${port}`);

const COLLISION_CASES: BadCase[] = [
  bad('names: pools Hot and hot', { 'pools2.yaml': SECOND_POOL('Hot') }, 'collision.pool-name-case', 'pools2.yaml:4', 'metadata.name'),
  bad('names: two pools named hot', { 'pools2.yaml': SECOND_POOL('hot') }, 'collision.duplicate-name', 'pools2.yaml:4', 'metadata.name'),
  bad(
    'names: server name claimed twice',
    { 'vhosts/t.yaml': SECOND_VHOST('t', 's3.test') },
    'collision.server-name',
    'vhosts/t.yaml:6',
    'spec.serverNames[0]',
  ),
  bad(
    'names: route path claimed twice',
    { 'routes/q2.yaml': ROUTE.replace('  name: photos', '  name: photos2') },
    'collision.route-path',
    'routes/q2.yaml:7',
    'spec.path',
  ),
  bad('refs: unknown pool', sub('route', '  pool: hot', '  pool: cold'), 'ref.unknown-pool', 'routes/photos.yaml:8', 'spec.pool'),
  bad(
    'refs: unknown virtual host',
    sub('route', '  virtualHost: s3', '  virtualHost: s4'),
    'ref.unknown-virtual-host',
    'routes/photos.yaml:6',
    'spec.virtualHost',
  ),
  bad(
    'refs: pool name differs in case',
    sub('route', '  pool: hot', '  pool: HOT'),
    'ref.unknown-pool',
    'routes/photos.yaml:8',
    'spec.pool',
  ),
  bad('schema: unknown field', sub('pool', '  keepalive: 8', '  keepAlive: 8'), 'schema.unknown-field', 'pools.yaml:7', 'spec.keepAlive'),
  bad(
    'schema: 64-character name',
    sub('route', '  name: photos', `  name: ${'p'.repeat(64)}`),
    /^(value|schema)\./,
    'routes/photos.yaml:4',
    'metadata.name',
  ),
  bad(
    'secrets: a nanio pool credential read from /dev/zero',
    sub('pool', '  type: http', '  type: nanio\n  credentials:\n    accessKeyId: { file: /dev/zero }\n    secretAccessKey: { env: SK }'),
    'credentials.unreadable',
    'pools.yaml:8',
    'spec.credentials.accessKeyId',
  ),
  bad(
    'secrets: a nanio pool credential read from a directory',
    sub('pool', '  type: http', '  type: nanio\n  credentials:\n    accessKeyId: { env: AK }\n    secretAccessKey: { file: /etc }'),
    'credentials.unreadable',
    'pools.yaml:9',
    'spec.credentials.secretAccessKey',
  ),
  bad(
    'secrets: credentials on an http pool',
    sub('pool', '  keepalive: 8', '  keepalive: 8\n  credentials:\n    accessKeyId: { file: /dev/zero }\n    secretAccessKey: { env: SK }'),
    'rule.credentials-on-http-pool',
    'pools.yaml:8',
    'spec.credentials',
  ),
];

// ------------------------------------------------------------------ nginx -t, mapped back

const TLS_VHOST = `apiVersion: orch/v1
kind: VirtualHost
metadata:
  name: secure
spec:
  serverNames: [secure.test]
  port: ${PORT2}
  defaultPool: hot
  tls:
    certificate: /nonexistent/secure.crt
    key: /nonexistent/secure.key
`;

const NGINX_CASES: BadCase[] = [
  bad(
    'nginx -t: a certificate file that does not exist',
    { 'vhosts/secure.yaml': TLS_VHOST },
    'nginx.test',
    'vhosts/secure.yaml:10',
    'spec.tls.certificate',
    5,
  ),
  bad('nginx -t: a directive named with U+2028', extra(['x\u2028y on;']), 'nginx.test', 'vhosts/s3.yaml:15', EXTRA_FIELD, 5),
].map((c) => ({ ...c, contentStoreMayGrow: true as const }));

export const BAD_CASES: BadCase[] = [
  ...injectionCases(),
  ...NUMBER_CASES,
  ...EXTRA_CASES,
  ...EXTRA_SPECIAL,
  ...YAML_CASES,
  ...FILE_CASES,
  ...COLLISION_CASES,
  ...NGINX_CASES,
];

// ------------------------------------------------------------------ valid but unusual

export const GOOD_CASES: GoodCase[] = [
  {
    name: 'if with a quoted string before ")" (CORS preflight)',
    files: extra(['if ($request_method = "OPTIONS") { return 204; }']),
    probe: { host: 's3.test', path: '/x', status: 204, method: 'OPTIONS' },
  },
  {
    name: 'if with a quoted regex and a group (CORS origin)',
    files: extra(['if ($http_origin ~* "^https://(a|b)\\.test$") { set $cors 1; }']),
    probe: { host: 's3.test', path: '/photos/a', status: 200 },
  },
  {
    name: 'single-quoted if argument',
    files: extra(["if ($request_method = 'OPTIONS') { return 204; }"]),
    probe: { host: 's3.test', path: '/', status: 204, method: 'OPTIONS' },
  },
  { name: 'CRLF line ends', files: { 'pools.yaml': POOLS.replace(/\n/g, '\r\n'), 'vhosts/s3.yaml': VHOST.replace(/\n/g, '\r\n') } },
  { name: 'a byte order mark', files: { 'pools.yaml': `\ufeff${POOLS}` } },
  {
    name: 'a symlinked manifest file',
    files: { 'routes/photos.yaml': { symlink: '../../shared/photos.yaml' }, '../shared/photos.yaml': ROUTE },
    probe: { host: 's3.test', path: '/photos/a', status: 200 },
  },
  {
    name: 'a symlinked manifest directory',
    files: { 'routes/photos.yaml': null, 'linked': { symlink: '../shared-dir' }, '../shared-dir/photos.yaml': ROUTE },
    probe: { host: 's3.test', path: '/photos/a', status: 200 },
  },
  {
    name: 'a symlinked directory outside the tree holding a pool',
    files: { 'more-pools': { symlink: '../pool-dir' }, '../pool-dir/warm.yaml': SECOND_POOL('warm') },
  },
  {
    name: 'a wildcard server name',
    files: sub('vhost', '[s3.test]', '["*.s3.test", s3.test]'),
    probe: { host: 'photos.s3.test', path: '/photos/a', status: 200 },
  },
  {
    name: 'a trailing wildcard server name',
    files: sub('vhost', '[s3.test]', '[s3.test, "s3.*"]'),
    probe: { host: 's3.example', path: '/photos/a', status: 200 },
  },
  { name: 'the catch-all server name', files: sub('vhost', '[s3.test]', '[s3.test, _]') },
  {
    name: 'an IPv6 member address',
    files: sub('pool', `    - address: ${MEMBER}`, `    - address: ${MEMBER}\n    - address: "[::1]:${PORT2}"\n      enabled: false`),
  },
  {
    name: 'IPv6 allow rules',
    files: sub('vhost', '[127.0.0.1]', '[127.0.0.1, "::1", "fd00::/8"]'),
    probe: { host: 's3.test', path: '/photos/a', status: 200 },
  },
  { name: 'a listen address on IPv6 loopback', files: sub('vhost', `  port: ${PORT}`, `  port: ${PORT}\n  address: "::1"`) },
  { name: 'pool names differing in more than case', files: { 'pools2.yaml': SECOND_POOL('hot2') } },
  {
    name: 'anchors and a few aliases',
    files: {
      'pools.yaml': POOLS.replace('      weight: 1\n', '      weight: &w 1\n').replace('      maxFails: 1\n', '      maxFails: *w\n'),
    },
  },
  {
    name: 'flow style everywhere',
    files: {
      'routes/photos.yaml':
        '{apiVersion: orch/v1, kind: Route, metadata: {name: photos}, spec: {virtualHost: s3, path: /photos/, pool: hot}}\n',
    },
    probe: { host: 's3.test', path: '/photos/a', status: 200 },
  },
  {
    name: 'several documents, comments and an empty document',
    files: { 'routes/photos.yaml': `# routes\n---\n---\n${ROUTE}---\n# nothing\n` },
  },
  {
    name: 'unicode in a description and a comment',
    files: sub('pool', '  description: Hot pool', '  description: "Pool chaud — données ✓" # été'),
  },
  { name: '!!str core tag', files: sub('pool', '  description: Hot pool', '  description: !!str 12345') },
  {
    name: 'proxy headers orch does not set',
    files: extra(['proxy_set_header X-Tenant acme;', 'location /health { return 200 ok; }']),
    probe: { host: 's3.test', path: '/health', status: 200 },
  },
  { name: 'a .yml file in a deep directory', files: { 'routes/photos.yaml': null, 'a/b/c/d/photos.yml': ROUTE } },
  {
    name: 'hidden files and other extensions are not manifests',
    files: { '.hidden.yaml': 'not: [valid', 'README.md': '# notes\n', 'x.yaml.bak': 'junk: [' },
  },
];
