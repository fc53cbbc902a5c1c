import type { Severity } from '../diagnostics.js';

/**
 * Every diagnostic code the manifest validation can produce, with its severity and a one-line
 * summary, for documentation and for tools that filter by code. `test/unit/diagnostic-codes.test.ts`
 * fails when a code is used in src/domain/manifests but missing here, or listed here but unused.
 */
export const MANIFEST_DIAGNOSTIC_CODES = {
  'yaml.syntax': { severity: 'error', summary: 'The file is not valid YAML.' },
  'yaml.tag': { severity: 'error', summary: 'A YAML tag other than the core ones (!include, !!binary...).' },
  'yaml.limit': { severity: 'error', summary: 'Aliases that expand too much, nesting deeper than 64, or too many documents in a file.' },
  'manifest.encoding': { severity: 'error', summary: 'A manifest file is not valid UTF-8 (points at the first bad byte).' },
  'manifest.control-char': { severity: 'error', summary: 'A manifest file holds a control character (a binary file?).' },
  'manifest.too-large': { severity: 'error', summary: 'A manifest file, or the tree of them, is larger than orch reads.' },
  'manifest.unreadable': { severity: 'error', summary: 'A manifest file cannot be read (permission, a FIFO or device, a dangling link).' },
  'manifest.symlink-loop': { severity: 'error', summary: 'A symbolic link in the manifest tree points back at a directory above it.' },
  'manifest.not-a-mapping': { severity: 'error', summary: 'A YAML document is a list or a scalar, not a manifest mapping.' },
  'manifest.missing-api-version': { severity: 'error', summary: 'No apiVersion.' },
  'manifest.unknown-api-version': { severity: 'error', summary: 'apiVersion is not orch/v1.' },
  'manifest.missing-kind': { severity: 'error', summary: 'No kind.' },
  'manifest.unknown-kind': { severity: 'error', summary: 'kind is not Pool, VirtualHost, Route or Migration.' },
  'manifest.missing-name': { severity: 'error', summary: 'No metadata.name.' },

  'schema.unknown-field': { severity: 'error', summary: 'A field the schema does not define (points at the key).' },
  'schema.missing-field': { severity: 'error', summary: 'A required field is missing.' },
  'schema.wrong-type': { severity: 'error', summary: 'A value of the wrong type (text for a number, a scalar for a list...).' },
  'schema.not-allowed-value': { severity: 'error', summary: 'A value outside an enumeration; the message lists the allowed values.' },
  'schema.out-of-range': { severity: 'error', summary: 'A number below its minimum or above its maximum (e.g. keepalive: 0).' },
  'schema.too-few-items': { severity: 'error', summary: 'A list with fewer entries than required (e.g. serverNames: []).' },
  'schema.duplicate-item': { severity: 'error', summary: 'A list that must not repeat an entry repeats one.' },
  'schema.empty-value': { severity: 'error', summary: 'A text value that must not be empty is empty.' },
  'schema.too-short': { severity: 'error', summary: 'A text value is shorter than the schema allows.' },
  'schema.too-long': { severity: 'error', summary: 'A text value is longer than the schema allows.' },
  'schema.secret-ref': { severity: 'error', summary: 'A secret reference names none or both of env and file.' },
  'schema.pattern': { severity: 'error', summary: 'A value does not match the schema pattern and no typed check explained why.' },
  'schema.invalid': { severity: 'error', summary: 'Any other schema violation.' },

  'value.name': { severity: 'error', summary: 'A resource name or a reference to one is not a safe name.' },
  'value.server-name': { severity: 'error', summary: 'A server name is not a lowercase DNS name, wildcard or "_".' },
  'value.member-address': { severity: 'error', summary: 'A pool member address is not host:port.' },
  'value.bind-address': { severity: 'error', summary: 'A virtual host bind address is not a bare IPv4/IPv6 address.' },
  'value.ip-rule': { severity: 'error', summary: 'An ipRules entry is not an IPv4/IPv6 address or CIDR range.' },
  'value.ip-rule-host-bits': { severity: 'warning', summary: 'An ipRules CIDR has bits set after its prefix; nginx ignores them.' },
  'value.duration': { severity: 'error', summary: 'A time value is not nginx time (10s, 1m30s, 500ms).' },
  'value.file-path': { severity: 'error', summary: 'A file path is not absolute or contains characters unsafe in nginx text.' },
  'value.route-path': { severity: 'error', summary: 'A route path is not /segment/.../ made of safe characters.' },
  'value.key-prefix': { severity: 'error', summary: 'A key prefix has unsafe characters, a leading "/" or dot segments.' },
  'value.bucket-name': { severity: 'error', summary: 'A bucket name breaks the S3 naming rules.' },
  'value.env-name': { severity: 'error', summary: 'A secret env reference is not an environment variable name.' },
  'value.bandwidth': { severity: 'error', summary: 'A bandwidth limit is not a whole number with an optional K/M/G suffix.' },
  'value.description': { severity: 'error', summary: 'A description has a line break or a control character.' },

  'ref.unknown-pool': { severity: 'error', summary: 'A route, default pool or migration names a Pool that does not exist.' },
  'ref.unknown-virtual-host': { severity: 'error', summary: 'A route or migration names a VirtualHost that does not exist.' },
  'ref.migration-without-route': { severity: 'error', summary: 'A migrated bucket has no Route /<bucket>/ on its virtual host.' },

  'collision.pool-name-case': { severity: 'error', summary: 'Two pools whose names differ only in case (one nginx upstream).' },
  'collision.duplicate-name': { severity: 'error', summary: 'Two documents of one kind have the same name (reported on the second).' },
  'collision.server-name': { severity: 'error', summary: 'Two virtual hosts claim one server name on the same address and port.' },
  'collision.listen-tls-mismatch': { severity: 'error', summary: 'Virtual hosts sharing an address and port disagree on TLS.' },
  'collision.listen-http2-mismatch': { severity: 'warning', summary: 'TLS virtual hosts sharing an address and port disagree on http2.' },
  'collision.route-path': { severity: 'error', summary: 'Two routes have the same path on one virtual host.' },
  'collision.migration-bucket': { severity: 'error', summary: 'Two migrations move the same bucket of one virtual host.' },

  'rule.credentials-on-http-pool': { severity: 'error', summary: 'credentials on an http pool.' },
  'rule.replica-on-nanio-pool': { severity: 'error', summary: 'role: replica on a nanio pool member.' },
  'rule.no-primary-member': { severity: 'error', summary: 'An http pool whose members are all replicas.' },
  'rule.ip-hash-with-replica': { severity: 'error', summary: 'A replica (nginx backup) member in an ip_hash pool.' },
  'rule.duplicate-member-address': { severity: 'error', summary: 'One address listed twice in a pool.' },
  'rule.pool-no-enabled-member': { severity: 'warning', summary: 'A pool with every member disabled (fine while unused).' },
  'rule.pool-unavailable': {
    severity: 'error',
    summary: 'An enabled route, a default pool or a migration uses a pool with no enabled member.',
  },
  'rule.mixed-pool-types': { severity: 'error', summary: 'A route of a virtual host whose default pool is nanio goes to an http pool.' },
  'rule.key-prefix-on-nanio': { severity: 'warning', summary: 'keyPrefix on a route to a nanio pool: SigV4-signed requests will fail.' },
  'rule.route-root-path': { severity: 'error', summary: 'A route with path "/" (use the virtual host defaultPool).' },
  'rule.migration-same-pool': { severity: 'error', summary: 'A migration whose from and to are the same pool.' },
  'rule.migration-not-nanio': { severity: 'error', summary: 'A migration from or to an http pool.' },
  'rule.migration-needs-credentials': { severity: 'error', summary: 'A migration from or to a nanio pool without credentials.' },
  'rule.freeze-budget-too-long': { severity: 'error', summary: 'A migration freezeBudget longer than 10 minutes.' },

  'extra.control-char': { severity: 'error', summary: 'An extra block contains a control character.' },
  'extra.unbalanced-quote': { severity: 'error', summary: 'An extra block opens a quote it never closes.' },
  'extra.unbalanced-braces': { severity: 'error', summary: 'An extra block opens a "{" it never closes.' },
  'extra.closes-enclosing-block': {
    severity: 'error',
    summary: 'An extra block has a "}" that would close the enclosing server/location block.',
  },
  'extra.unterminated-directive': { severity: 'error', summary: 'An extra block directive is not ended with ";".' },
  'extra.forbidden-directive': { severity: 'error', summary: 'include, load_module, or a Lua/Perl/njs directive in an extra block.' },
  'extra.forbidden-block': { severity: 'error', summary: 'A server/http/upstream/events/stream/mail block in an extra block.' },
  'extra.claimed-directive': {
    severity: 'error',
    summary: 'An extra block sets what orch renders from a field (listen, server_name, ssl_certificate, its proxy settings, location /).',
  },
  'extra.ssl-zone-without-tls': { severity: 'error', summary: 'An extra block for the ssl zone on a virtual host without TLS.' },
  'extra.syntax': {
    severity: 'error',
    summary: 'Other nginx syntax problems in an extra block ("{" with no directive, text glued to a quote).',
  },
} as const satisfies Record<string, { severity: Severity; summary: string }>;

export type ManifestDiagnosticCode = keyof typeof MANIFEST_DIAGNOSTIC_CODES;
