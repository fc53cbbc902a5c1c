import { BASE, HTTP_POOL, MAIN_POOL, migration, pool, route, vhost } from './docs.js';

/**
 * One case per diagnostic code: the code, where it points (file:line) and what it says. Spec
 * line k of a document built with the helpers is file line 5 + k.
 */
export interface RuleCase {
  name: string;
  files: Record<string, string>;
  code: string;
  at: string;
  message: RegExp;
  severity?: 'error' | 'warning';
}

const MIGRATION_BASE = { ...BASE };
const m = (spec: string, name?: string): string => migration(`virtualHost: gw\nbucket: photos\n${spec}`, name);
const tlsVhost = (extra: string, name = 'secure'): string =>
  vhost(`serverNames: [secure.example.com]\ntls:\n  certificate: /etc/ssl/a.crt\n  key: /etc/ssl/a.key\n${extra}`, name);
const block = (zone: string, lines: string[]): string =>
  `extraBlocks:\n  - zone: ${zone}\n    content: |\n${lines.map((l) => `      ${l}`).join('\n')}`;

export const RULE_CASES: RuleCase[] = [
  // ------------------------------------------------------------ YAML and envelope
  {
    name: 'YAML syntax',
    files: { 'x.yaml': 'apiVersion: orch/v1\nkind: Pool\nkind: Route\n' },
    code: 'yaml.syntax',
    at: 'x.yaml:3',
    message: /^YAML syntax error: Map keys must be unique/,
  },
  {
    name: 'a list document',
    files: { 'x.yaml': '- apiVersion: orch/v1\n- kind: Pool\n' },
    code: 'manifest.not-a-mapping',
    at: 'x.yaml:1',
    message: /this document is a list, not a manifest/,
  },
  {
    name: 'a scalar document',
    files: { 'x.yaml': 'just some text\n' },
    code: 'manifest.not-a-mapping',
    at: 'x.yaml:1',
    message: /this document is a string \("just some text"\), not a manifest/,
  },
  {
    name: 'no apiVersion',
    files: { 'x.yaml': MAIN_POOL.replace('apiVersion: orch/v1\n', '') },
    code: 'manifest.missing-api-version',
    at: 'x.yaml:1',
    message: /the document has no apiVersion/,
  },
  {
    name: 'another apiVersion',
    files: { 'x.yaml': MAIN_POOL.replace('orch/v1', 'orch/v1beta1') },
    code: 'manifest.unknown-api-version',
    at: 'x.yaml:1',
    message: /apiVersion "orch\/v1beta1" is not supported; this orch reads orch\/v1/,
  },
  {
    name: 'no kind',
    files: { 'x.yaml': MAIN_POOL.replace('kind: Pool\n', '') },
    code: 'manifest.missing-kind',
    at: 'x.yaml:1',
    message: /the document has no kind/,
  },
  {
    name: 'unknown kind',
    files: { 'x.yaml': MAIN_POOL.replace('kind: Pool', 'kind: pool') },
    code: 'manifest.unknown-kind',
    at: 'x.yaml:2',
    message: /kind "pool" is not one orch knows; the kinds are Pool, VirtualHost, Route and Migration/,
  },
  {
    name: 'no metadata.name',
    files: { 'x.yaml': MAIN_POOL.replace('metadata:\n  name: main\n', '') },
    code: 'manifest.missing-name',
    at: 'x.yaml:1',
    message: /the document has no metadata\.name/,
  },

  // ------------------------------------------------------------ schema
  {
    name: 'unknown field',
    files: { 'x.yaml': pool('type: http\nmembers:\n  - address: 10.0.0.1:80\n    wieght: 2') },
    code: 'schema.unknown-field',
    at: 'x.yaml:9',
    message: /unknown field "wieght" in spec\.members\[0\]/,
  },
  {
    name: 'missing field',
    files: { 'x.yaml': route('virtualHost: gw\npool: main'), ...BASE },
    code: 'schema.missing-field',
    at: 'x.yaml:5',
    message: /missing required field "path" in spec/,
  },
  {
    name: 'wrong type',
    files: { 'x.yaml': vhost('serverNames: s3.example.com') },
    code: 'schema.wrong-type',
    at: 'x.yaml:6',
    message: /spec\.serverNames must be a list \("- " items\), not the text "s3\.example\.com"/,
  },
  {
    name: 'empty value',
    files: { 'x.yaml': vhost('serverNames: [a.example.com]\nport:') },
    code: 'schema.wrong-type',
    at: 'x.yaml:7',
    message: /spec\.port must be a whole number, not empty/,
  },
  {
    name: 'enum',
    files: { 'x.yaml': migration('virtualHost: gw\nbucket: photos\nfrom: main\nto: other\nmode: move'), ...BASE },
    code: 'schema.not-allowed-value',
    at: 'x.yaml:10',
    message: /spec\.mode is "move"; it must be one of "copy" and "sync"/,
  },
  {
    name: 'out of range',
    files: { 'x.yaml': pool('type: http\nmembers:\n  - address: 10.0.0.1:80\n    maxFails: 1001') },
    code: 'schema.out-of-range',
    at: 'x.yaml:9',
    message: /spec\.members\[0\]\.maxFails is 1001; it must be between 0 and 1000/,
  },
  {
    name: 'keepalive 0',
    files: { 'x.yaml': pool('type: http\nkeepalive: 0\nmembers: [{ address: "10.0.0.1:80" }]') },
    code: 'schema.out-of-range',
    at: 'x.yaml:7',
    message: /spec\.keepalive is 0; it must be between 1 and 4096/,
  },
  {
    name: 'too few items',
    files: { 'x.yaml': vhost('serverNames: [a.example.com]\nipRules:\n  mode: deny\n  addresses: []') },
    code: 'schema.too-few-items',
    at: 'x.yaml:9',
    message: /spec\.ipRules\.addresses must list at least 1 entry/,
  },
  {
    name: 'duplicate item',
    files: { 'x.yaml': vhost('serverNames: [a.example.com]\nignoreBuckets: [tmp1, tmp2, tmp1]') },
    code: 'schema.duplicate-item',
    at: 'x.yaml:7',
    message: /spec\.ignoreBuckets lists "tmp1" twice \(entries 0 and 2\)/,
  },
  {
    name: 'empty extra block',
    files: { 'x.yaml': vhost('serverNames: [a.example.com]\nextraBlocks:\n  - zone: top\n    content: ""') },
    code: 'schema.empty-value',
    at: 'x.yaml:9',
    message: /spec\.extraBlocks\[0\]\.content is empty/,
  },
  {
    name: 'too long description',
    files: { 'x.yaml': pool(`type: http\ndescription: ${'d'.repeat(201)}\nmembers: [{ address: "10.0.0.1:80" }]`) },
    code: 'schema.too-long',
    at: 'x.yaml:7',
    message: /spec\.description is longer than 200 characters/,
  },
  {
    name: 'secret ref with no source',
    files: { 'x.yaml': MAIN_POOL.replace('{ env: SK }', '{}') },
    code: 'schema.secret-ref',
    at: 'x.yaml:11',
    message: /spec\.credentials\.secretAccessKey must name exactly one source of the secret: env or file/,
  },

  // ------------------------------------------------------------ typed values (injection)
  {
    name: 'resource name',
    files: { 'x.yaml': pool('type: http\nmembers: [{ address: "10.0.0.1:80" }]', '"a}b"') },
    code: 'value.name',
    at: 'x.yaml:4',
    message: /name "a}b" contains a brace \(}\), which is not allowed/,
  },
  {
    name: 'server name',
    files: { 'x.yaml': vhost('serverNames: ["a.example.com;"]') },
    code: 'value.server-name',
    at: 'x.yaml:6',
    message: /server name "a\.example\.com;" contains a semicolon \(;\), which is not allowed/,
  },
  {
    name: 'server name uppercase',
    files: { 'x.yaml': vhost('serverNames: [S3.Example.com]') },
    code: 'value.server-name',
    at: 'x.yaml:6',
    message: /server name "S3\.Example\.com" has uppercase letters/,
  },
  {
    name: 'member address',
    files: { 'x.yaml': pool('type: http\nmembers:\n  - address: "10.0.0.1:80 down"') },
    code: 'value.member-address',
    at: 'x.yaml:8',
    message: /member address "10\.0\.0\.1:80 down" contains a space, which is not allowed/,
  },
  {
    name: 'member port',
    files: { 'x.yaml': pool('type: http\nmembers:\n  - address: "10.0.0.1:65536"') },
    code: 'value.member-address',
    at: 'x.yaml:8',
    message: /has an invalid port; it must be 1-65535/,
  },
  {
    name: 'bind address',
    files: { 'x.yaml': vhost('serverNames: [a.example.com]\naddress: "[::1]"') },
    code: 'value.bind-address',
    at: 'x.yaml:7',
    message: /bind address "\[::1\]" contains the character "\[", which is not allowed/,
  },
  {
    name: 'ip rule',
    files: { 'x.yaml': vhost('serverNames: [a.example.com]\nipRules:\n  mode: allow\n  addresses: ["10.0.0.0/8 all"]') },
    code: 'value.ip-rule',
    at: 'x.yaml:9',
    message: /IP rule "10\.0\.0\.0\/8 all" contains a space, which is not allowed/,
  },
  {
    name: 'ip rule host bits',
    files: { 'x.yaml': vhost('serverNames: [a.example.com]\nipRules:\n  mode: allow\n  addresses: [10.1.2.3/8]') },
    code: 'value.ip-rule-host-bits',
    at: 'x.yaml:9',
    message: /IP rule "10\.1\.2\.3\/8" has address bits set after the \/8 prefix; nginx ignores them/,
    severity: 'warning',
  },
  {
    name: 'duration',
    files: { 'x.yaml': pool('type: http\nmembers:\n  - address: 10.0.0.1:80\n    failTimeout: 10sec') },
    code: 'value.duration',
    at: 'x.yaml:9',
    message: /"10sec" is not an nginx time/,
  },
  {
    name: 'file path',
    files: { 'x.yaml': tlsVhost('').replace('/etc/ssl/a.key', '"/etc/ssl/a key"') },
    code: 'value.file-path',
    at: 'x.yaml:9',
    message: /file path "\/etc\/ssl\/a key" contains a space, which is not allowed/,
  },
  {
    name: 'route path',
    files: { 'x.yaml': route('virtualHost: gw\npath: "/a%20b/"\npool: main'), ...BASE },
    code: 'value.route-path',
    at: 'x.yaml:7',
    message: /route path "\/a%20b\/" contains a percent sign \(%\), which is not allowed/,
  },
  {
    name: 'route path double slash',
    files: { 'x.yaml': route('virtualHost: gw\npath: /a//b/\npool: main'), ...BASE },
    code: 'value.route-path',
    at: 'x.yaml:7',
    message: /route path "\/a\/\/b\/" contains "\/\/"/,
  },
  {
    name: 'key prefix',
    files: { 'x.yaml': route('virtualHost: gw\npath: /a/\npool: main\nkeyPrefix: "x$1"'), ...BASE },
    code: 'value.key-prefix',
    at: 'x.yaml:9',
    message: /key prefix "x\$1" contains a dollar sign \(\$\), which is not allowed/,
  },
  {
    name: 'bucket name',
    files: { 'x.yaml': m('from: main\nto: other').replace('bucket: photos', 'bucket: ph'), ...BASE },
    code: 'value.bucket-name',
    at: 'x.yaml:7',
    message: /bucket name "ph" is 2 characters long/,
  },
  {
    name: 'env name',
    files: { 'x.yaml': MAIN_POOL.replace('{ env: AK }', '{ env: 1AK }') },
    code: 'value.env-name',
    at: 'x.yaml:10',
    message: /"1AK" is not an environment variable name/,
  },
  {
    name: 'bandwidth',
    files: { 'x.yaml': m('from: main\nto: other\nbandwidthLimit: 50MB'), ...BASE },
    code: 'value.bandwidth',
    at: 'x.yaml:10',
    message: /bandwidth limit "50MB" is not a number of bytes per second/,
  },
  {
    name: 'description',
    files: { 'x.yaml': pool('type: http\ndescription: "a\\tb"\nmembers: [{ address: "10.0.0.1:80" }]') },
    code: 'value.description',
    at: 'x.yaml:7',
    message: /description contains a tab/,
  },

  // ------------------------------------------------------------ references
  {
    name: 'route to unknown virtual host',
    files: { ...BASE, 'x.yaml': route('virtualHost: gww\npath: /a/\npool: main') },
    code: 'ref.unknown-virtual-host',
    at: 'x.yaml:6',
    message: /virtual host "gww" does not exist: no VirtualHost is named "gww"/,
  },
  {
    name: 'route to unknown pool',
    files: { ...BASE, 'x.yaml': route('virtualHost: gw\npath: /a/\npool: mainn') },
    code: 'ref.unknown-pool',
    at: 'x.yaml:8',
    message: /pool "mainn" does not exist: no Pool is named "mainn"/,
  },
  {
    name: 'unknown default pool',
    files: { 'x.yaml': vhost('serverNames: [a.example.com]\ndefaultPool: nope') },
    code: 'ref.unknown-pool',
    at: 'x.yaml:7',
    message: /default pool "nope" does not exist/,
  },
  {
    name: 'migration from unknown pool',
    files: { ...BASE, 'x.yaml': m('from: gone\nto: other') },
    code: 'ref.unknown-pool',
    at: 'x.yaml:8',
    message: /source pool "gone" does not exist/,
  },
  {
    name: 'migration without route',
    files: { ...BASE, 'x.yaml': m('from: main\nto: other').replace('bucket: photos', 'bucket: videos') },
    code: 'ref.migration-without-route',
    at: 'x.yaml:7',
    message: /bucket "videos" has no Route on virtual host "gw": no Route has path "\/videos\/" there/,
  },

  // ------------------------------------------------------------ collisions
  {
    name: 'duplicate name',
    files: { 'a.yaml': MAIN_POOL, 'b.yaml': `# another\n${MAIN_POOL}` },
    code: 'collision.duplicate-name',
    at: 'b.yaml:5',
    message: /a second Pool is named "main"; the first is at a\.yaml:4/,
  },
  {
    name: 'server name claimed twice',
    files: { ...BASE, 'x.yaml': vhost('serverNames: [s3.example.com]', 'gw2') },
    code: 'collision.server-name',
    at: 'x.yaml:6',
    message: /server name "s3\.example\.com" on port 80 is already claimed by VirtualHost "gw" \(vhost\.yaml:6\)/,
  },
  {
    name: 'same server name on another address is fine, same socket is not',
    files: { ...BASE, 'x.yaml': vhost('serverNames: [s3.example.com]\naddress: 0.0.0.0', 'gw2') },
    code: 'collision.server-name',
    at: 'x.yaml:6',
    message: /on 0\.0\.0\.0:80 is already claimed/,
  },
  {
    name: 'tls and plain on one socket',
    files: { ...BASE, 'x.yaml': tlsVhost('port: 80') },
    code: 'collision.listen-tls-mismatch',
    at: 'x.yaml:7',
    message: /port 80 is TLS here but plain HTTP in VirtualHost "gw" \(vhost\.yaml:4\)/,
  },
  {
    name: 'http2 differs on one socket',
    files: { 'a.yaml': tlsVhost('', 'one'), 'x.yaml': tlsVhost('  http2: true', 'two').replace('secure.example.com', 'two.example.com') },
    code: 'collision.listen-http2-mismatch',
    at: 'x.yaml:10',
    message: /http2 differs between this virtual host and VirtualHost "one" \(a\.yaml:4\), which share port 443/,
    severity: 'warning',
  },
  {
    name: 'route path twice',
    files: { ...BASE, 'x.yaml': route('virtualHost: gw\npath: /photos/\npool: other', 'photos2') },
    code: 'collision.route-path',
    at: 'x.yaml:7',
    message: /path "\/photos\/" of virtual host "gw" is already routed by Route "photos" \(route\.yaml:7\)/,
  },
  {
    name: 'bucket migrated twice',
    files: { ...MIGRATION_BASE, 'a.yaml': m('from: main\nto: other', 'first'), 'x.yaml': m('from: other\nto: main', 'second') },
    code: 'collision.migration-bucket',
    at: 'x.yaml:7',
    message: /bucket "photos" of virtual host "gw" is already moved by Migration "first" \(a\.yaml:7\)/,
  },

  // ------------------------------------------------------------ rules
  {
    name: 'credentials on http pool',
    files: {
      'x.yaml': pool(
        'type: http\nmembers: [{ address: "10.0.0.1:80" }]\ncredentials:\n  accessKeyId: { env: A }\n  secretAccessKey: { env: B }',
      ),
    },
    code: 'rule.credentials-on-http-pool',
    at: 'x.yaml:8',
    message: /credentials are set on an http pool; only nanio pools use S3 credentials/,
  },
  {
    name: 'replica on nanio',
    files: { 'x.yaml': pool('type: nanio\nmembers:\n  - address: 10.0.0.1:9000\n  - address: 10.0.0.2:9000\n    role: replica') },
    code: 'rule.replica-on-nanio-pool',
    at: 'x.yaml:10',
    message: /member "10\.0\.0\.2:9000" is a replica, but nanio pools have no replicas/,
  },
  {
    name: 'no primary',
    files: { 'x.yaml': pool('type: http\nmembers:\n  - { address: "10.0.0.1:80", role: replica }') },
    code: 'rule.no-primary-member',
    at: 'x.yaml:7',
    message: /every member of this http pool is a replica/,
  },
  {
    name: 'ip_hash with replica',
    files: {
      'x.yaml': pool('type: http\nloadBalancing: ip_hash\nmembers:\n  - address: 10.0.0.1:80\n  - address: 10.0.0.2:80\n    role: replica'),
    },
    code: 'rule.ip-hash-with-replica',
    at: 'x.yaml:11',
    message: /nginx refuses "backup" with ip_hash/,
  },
  {
    name: 'duplicate member',
    files: { 'x.yaml': pool('type: http\nmembers:\n  - address: Files.internal:80\n  - address: files.internal:80') },
    code: 'rule.duplicate-member-address',
    at: 'x.yaml:9',
    message: /member address "files\.internal:80" is listed twice \(members 0 and 1\)/,
  },
  {
    name: 'pool with no enabled member',
    files: { 'x.yaml': pool('type: http\nmembers:\n  - address: 10.0.0.1:80\n    enabled: false') },
    code: 'rule.pool-no-enabled-member',
    at: 'x.yaml:7',
    message: /no member of this pool is enabled/,
    severity: 'warning',
  },
  {
    name: 'route to a pool with no enabled member',
    files: {
      ...BASE,
      'p.yaml': pool('type: nanio\nmembers:\n  - { address: "10.0.0.3:9000", enabled: false }', 'parked'),
      'x.yaml': route('virtualHost: gw\npath: /a/\npool: parked'),
    },
    code: 'rule.pool-unavailable',
    at: 'x.yaml:8',
    message: /pool "parked" has no enabled member, so it cannot serve as the pool of route \/a\//,
  },
  {
    name: 'http pool on an S3 vhost',
    files: { ...BASE, 'h.yaml': HTTP_POOL, 'x.yaml': route('virtualHost: gw\npath: /static/\npool: files') },
    code: 'rule.mixed-pool-types',
    at: 'x.yaml:8',
    message: /virtual host "gw" serves S3 \(its default pool "main" is nanio\), but this route sends \/static\/ to the http pool "files"/,
  },
  {
    name: 'key prefix on nanio',
    files: { ...BASE, 'x.yaml': route('virtualHost: gw\npath: /a/\npool: main\nkeyPrefix: v2/') },
    code: 'rule.key-prefix-on-nanio',
    at: 'x.yaml:9',
    message: /SigV4 signatures cover the path, so signed requests will fail/,
    severity: 'warning',
  },
  {
    name: 'root route',
    files: { ...BASE, 'x.yaml': route('virtualHost: gw\npath: /\npool: main') },
    code: 'rule.route-root-path',
    at: 'x.yaml:7',
    message: /route path "\/" is the whole virtual host, not a route/,
  },
  {
    name: 'migration to the same pool',
    files: { ...BASE, 'x.yaml': m('from: main\nto: main') },
    code: 'rule.migration-same-pool',
    at: 'x.yaml:9',
    message: /moves bucket "photos" from pool "main" to the same pool/,
  },
  {
    name: 'migration from http',
    files: { ...BASE, 'h.yaml': HTTP_POOL, 'x.yaml': m('from: files\nto: main') },
    code: 'rule.migration-not-nanio',
    at: 'x.yaml:8',
    message: /pool "files" is an http pool; migrations move buckets between nanio pools only/,
  },
  {
    name: 'migration needs credentials',
    files: { ...BASE, 'p.yaml': pool('type: nanio\nmembers: [{ address: "10.0.0.4:9000" }]', 'bare'), 'x.yaml': m('from: main\nto: bare') },
    code: 'rule.migration-needs-credentials',
    at: 'x.yaml:9',
    message: /pool "bare" has no credentials/,
  },
  {
    name: 'freeze budget',
    files: { ...BASE, 'x.yaml': m('from: main\nto: other\nfreezeBudget: 1h') },
    code: 'rule.freeze-budget-too-long',
    at: 'x.yaml:10',
    message: /freezeBudget 1h is longer than 10 minutes/,
  },

  // ------------------------------------------------------------ extra blocks (content starts on spec line 4)
  {
    name: 'extra control char',
    files: { 'x.yaml': vhost('serverNames: [a.example.com]\nextraBlocks:\n  - zone: top\n    content: "gzip on;\\u0007"') },
    code: 'extra.control-char',
    at: 'x.yaml:9',
    message: /extra block: contains a control character \(U\+0007\)/,
  },
  {
    name: 'extra unbalanced quote',
    files: { 'x.yaml': vhost(`serverNames: [a.example.com]\n${block('end', ['return 200;', "return 200 'x;"])}`) },
    code: 'extra.unbalanced-quote',
    at: 'x.yaml:11',
    message: /extra block: the quote ' opened here is never closed/,
  },
  {
    name: 'extra unclosed brace',
    files: { 'x.yaml': vhost(`serverNames: [a.example.com]\n${block('end', ['location /a/ {', '  location /b/ {', '  }'])}`) },
    code: 'extra.unbalanced-braces',
    at: 'x.yaml:10',
    message: /extra block: the "{" of "location" is never closed/,
  },
  {
    name: 'extra closing brace',
    files: { 'x.yaml': vhost(`serverNames: [a.example.com]\n${block('proxy', ['gzip on;', '}'])}`) },
    code: 'extra.closes-enclosing-block',
    at: 'x.yaml:11',
    message: /extra block: this "}" has no matching "{" and would close the block orch renders around it/,
  },
  {
    name: 'extra unterminated',
    files: { 'x.yaml': vhost(`serverNames: [a.example.com]\n${block('top', ['gzip on'])}`) },
    code: 'extra.unterminated-directive',
    at: 'x.yaml:10',
    message: /extra block: directive "gzip" is not ended with ";"/,
  },
  {
    name: 'extra include',
    files: { 'x.yaml': vhost(`serverNames: [a.example.com]\n${block('top', ['gzip on;', '  INCLUDE x.conf;'])}`) },
    code: 'extra.forbidden-directive',
    at: 'x.yaml:11',
    message: /extra block: directive "include" is not allowed/,
  },
  {
    name: 'extra forbidden block',
    files: { 'x.yaml': vhost(`serverNames: [a.example.com]\n${block('end', ['events {', '}'])}`) },
    code: 'extra.forbidden-block',
    at: 'x.yaml:10',
    message: /extra block: a "events" block cannot be opened inside a virtual host/,
  },
  {
    name: 'extra ssl zone without tls',
    files: { 'x.yaml': vhost(`serverNames: [a.example.com]\n${block('ssl', ['ssl_stapling on;'])}`) },
    code: 'extra.ssl-zone-without-tls',
    at: 'x.yaml:8',
    message: /an extra block for the "ssl" zone is set on a virtual host without TLS/,
  },
  {
    name: 'extra syntax',
    files: { 'x.yaml': vhost(`serverNames: [a.example.com]\n${block('top', ['add_header X "a"b;'])}`) },
    code: 'extra.syntax',
    at: 'x.yaml:10',
    message: /extra block: unexpected "b" right after a quoted string/,
  },
];
