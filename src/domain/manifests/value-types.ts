import { isIP } from 'node:net';
import { canonicalIp, parseCidr } from './ip-addresses.js';
import type { Problem } from './problem.js';
import { describeChar, show } from './text.js';

export { canonicalIp, cidrHostBitsWarning, parseCidr } from './ip-addresses.js';

/**
 * Injection-safe checks of every manifest value that ends up in nginx text (or in a file name).
 * Each check is a whitelist: a value passes only if every character is one the type allows, so no
 * value can carry `;`, braces, quotes, `#`, `$`, backslashes, whitespace or control characters
 * into the rendered configuration. A check returns null when the value is fine, else a problem in
 * the operator's words. The JSON Schemas carry equivalent `pattern`s for editors; these checks are
 * the authoritative ones.
 */
export type { Problem };

export type ValueCheck = (value: string) => Problem | null;

const problem = (message: string, hint: string): Problem => ({ message, hint });

export function firstCharOutside(value: string, allowed: RegExp): string | null {
  // Most values are fine: one test of the whole value instead of one per character.
  if (wholeValueTest(allowed)?.test(value)) return null;
  for (const ch of value) if (!allowed.test(ch)) return ch;
  return null;
}

/** By source: a regex literal in a call is a new object at each call. */
const wholeValueTests = new Map<string, RegExp | null>();

/**
 * For a one-character test `/^[...]$/` of ASCII characters only, the test that every character of
 * a value passes it: `/^[...]*$/`. Exact: it matches only values of ASCII characters from the
 * class, which the per-character loop accepts too (no surrogate pairs to treat differently).
 */
function wholeValueTest(allowed: RegExp): RegExp | null {
  const src = allowed.source;
  let whole = allowed.flags === '' ? wholeValueTests.get(src) : null;
  if (whole === undefined) {
    // Escapes of letters (\u, \x, \s, \w...) are kept out: only literal ASCII characters and ranges.
    // Not a negated class either (it would match lone halves of a surrogate pair).
    const ok = /^\^\[[\x20-\x7e]*\]\$$/.test(src) && !src.startsWith('^[^') && !/\\[A-Za-z0-9]/.test(src);
    whole = ok ? new RegExp(`^${src.slice(1, -1)}*$`) : null;
    wholeValueTests.set(src, whole);
  }
  return whole;
}

function badChar(what: string, value: string, allowed: RegExp, allowedText: string): Problem | null {
  const ch = firstCharOutside(value, allowed);
  if (ch === null) return null;
  return problem(`${what} ${show(value)} contains ${describeChar(ch)}, which is not allowed`, `Use only ${allowedText}.`);
}

// ---------------------------------------------------------------- resource names

const NAME_CHAR = /^[A-Za-z0-9_.-]$/;
const NAME_CHARS_TEXT = 'letters, digits, "_", "." and "-" (1-63 characters, starting with a letter or digit)';

/** Names of pools, virtual hosts, routes and migrations: file names and nginx identifiers. */
export function checkResourceName(value: string): Problem | null {
  if (value === '') return problem('the name is empty', `Use ${NAME_CHARS_TEXT}.`);
  const bad = badChar('name', value, NAME_CHAR, NAME_CHARS_TEXT);
  if (bad) return bad;
  if (!/^[A-Za-z0-9]/.test(value)) return problem(`name ${show(value)} must start with a letter or digit`, `Use ${NAME_CHARS_TEXT}.`);
  if (value.length > 63)
    return problem(`name ${show(value)} is ${value.length} characters long; at most 63 are allowed`, 'Shorten the name.');
  if (value.includes('..'))
    return problem(`name ${show(value)} contains "..", which is not allowed`, 'Names become file names: use a single "." between parts.');
  return null;
}

// ---------------------------------------------------------------- DNS

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function checkDnsLabels(what: string, full: string, host: string): Problem | null {
  if (host.length > 253) return problem(`${what} ${show(full)} is longer than 253 characters`, 'Use a shorter DNS name.');
  for (const label of host.split('.')) {
    if (label === '') return problem(`${what} ${show(full)} has an empty part between dots`, 'Remove the extra ".".');
    if (!DNS_LABEL.test(label)) {
      const why = label.length > 63 ? 'is longer than 63 characters' : 'must start and end with a letter or digit';
      return problem(
        `${what} ${show(full)}: the part ${show(label)} ${why}`,
        'Each dot-separated part is 1-63 letters, digits or "-", not starting or ending with "-".',
      );
    }
  }
  return null;
}

/** nginx `server_name` entries: DNS names, `*.` prefix or `.*` suffix wildcards, or `_`. */
export function checkServerName(value: string): Problem | null {
  if (value === '_') return null;
  const allowedText = 'lowercase letters, digits, "-" and "." (optionally "*." at the start or ".*" at the end), or "_"';
  if (/[A-Z]/.test(value)) {
    return problem(
      `server name ${show(value)} has uppercase letters`,
      `Write it in lowercase (${show(value.toLowerCase())}); nginx compares host names case-insensitively.`,
    );
  }
  const bad = badChar('server name', value, /^[a-z0-9.*-]$/, allowedText);
  if (bad) return bad;
  let host = value;
  if (host.startsWith('*.')) host = host.slice(2);
  else if (host.endsWith('.*')) host = host.slice(0, -2);
  if (host.includes('*')) {
    return problem(
      `server name ${show(value)} has a "*" in the middle`,
      'A wildcard is allowed only as "*." at the start or ".*" at the end.',
    );
  }
  if (host === '') return problem('the server name is empty', `Use ${allowedText}.`);
  return checkDnsLabels('server name', value, host);
}

// ---------------------------------------------------------------- IP addresses

const IP_CHAR = /^[0-9A-Fa-f:.]$/;

/** Bind address of a virtual host: a bare IPv4 or IPv6 address (the renderer adds brackets). */
export function checkBindAddress(value: string): Problem | null {
  const hint = 'Give a bare IPv4 or IPv6 address without brackets or port, e.g. 10.0.0.5 or ::1; put the port in `port`.';
  const bad = badChar('bind address', value, IP_CHAR, 'an IPv4 or IPv6 address');
  if (bad) return { ...bad, hint };
  if (isIP(value) === 0) return problem(`bind address ${show(value)} is not a valid IPv4 or IPv6 address`, hint);
  return null;
}

/** One `ipRules.addresses` entry: an IPv4/IPv6 address or CIDR range. */
export function checkIpRule(value: string): Problem | null {
  const hint = 'Give an IPv4 or IPv6 address or a CIDR range, e.g. 10.0.0.0/8, 192.0.2.17, fd00::/8.';
  const bad = badChar('IP rule', value, /^[0-9A-Fa-f:./]$/, 'an IPv4/IPv6 address or CIDR range');
  if (bad) return { ...bad, hint };
  const parsed = parseCidr(value);
  if (typeof parsed === 'string') return problem(`IP rule ${show(value)} ${parsed}`, hint);
  return null;
}

// ---------------------------------------------------------------- member addresses

const MEMBER_HINT = 'Write host:port, e.g. 10.0.1.11:9000, [fd00::11]:9000 or nanio-1.internal:9000.';

export interface HostPort {
  host: string;
  port: number;
  ipv6: boolean;
}

/** Splits `host:port` / `[ipv6]:port` without validating the parts. */
export function splitHostPort(value: string): HostPort | null {
  const m = /^(\[([^\]]*)\]|([^:[\]]*)):([^:]*)$/.exec(value);
  if (!m) return null;
  return { host: m[2] ?? m[3] ?? '', port: Number(m[4]), ipv6: m[2] !== undefined };
}

/**
 * Pool member address: `host:port` with IPv4, `[IPv6]` or a DNS host (underscores allowed, as in
 * container names). The port is required. Unix sockets are not supported: migrations and bucket
 * sync talk S3 to the members directly, over TCP.
 */
export function checkMemberAddress(value: string): Problem | null {
  const bad = badChar(
    'member address',
    value,
    /^[A-Za-z0-9_.:[\]-]$/,
    'host:port with an IPv4 address, a [bracketed IPv6] address or a DNS name',
  );
  if (bad) return { ...bad, hint: MEMBER_HINT };
  const hp = splitHostPort(value);
  if (!hp) {
    if (isIP(value) === 6) return problem(`member address ${show(value)} is an IPv6 address without brackets and port`, MEMBER_HINT);
    return problem(`member address ${show(value)} has no port`, MEMBER_HINT);
  }
  const portText = value.slice(value.lastIndexOf(':') + 1);
  if (!/^[0-9]{1,5}$/.test(portText) || hp.port < 1 || hp.port > 65535) {
    return problem(`member address ${show(value)} has an invalid port; it must be 1-65535`, MEMBER_HINT);
  }
  if (hp.ipv6)
    return isIP(hp.host) === 6 ? null : problem(`member address ${show(value)}: ${show(hp.host)} is not a valid IPv6 address`, MEMBER_HINT);
  if (hp.host === '') return problem(`member address ${show(value)} has no host`, MEMBER_HINT);
  if (/^[0-9.]+$/.test(hp.host)) {
    return isIP(hp.host) === 4 ? null : problem(`member address ${show(value)}: ${show(hp.host)} is not a valid IPv4 address`, MEMBER_HINT);
  }
  const dns = checkDnsLabels('member address host', hp.host, hp.host.toLowerCase().replaceAll('_', 'a'));
  return dns ? { ...dns, hint: MEMBER_HINT } : null;
}

/** `host:port` lowercased with IPv6 canonicalised, to find duplicate members. */
export function canonicalMemberAddress(value: string): string {
  const hp = splitHostPort(value);
  if (!hp) return value.toLowerCase();
  return `${canonicalIp(hp.host)}:${hp.port}`;
}

// ---------------------------------------------------------------- nginx time

const DURATION_UNITS_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const DURATION_ORDER = ['d', 'h', 'm', 's', 'ms'];
/** 2^31-1 ms: the longest time every nginx time directive accepts on every platform. */
const DURATION_MAX_MS = 2_147_483_647;
const DURATION_HINT =
  'Use nginx time: a number with units d, h, m, s, ms in that order, e.g. 10s, 1m30s, 500ms (a bare number means seconds).';

/** Parses nginx time (`10s`, `1m30s`, `500ms`, `30`) into milliseconds; null when invalid. */
export function parseDurationMs(value: string): number | null {
  if (/^[0-9]{1,10}$/.test(value)) return Number(value) * 1000;
  const parts = /^(?:([0-9]{1,10})d)?(?:([0-9]{1,10})h)?(?:([0-9]{1,10})m)?(?:([0-9]{1,10})s)?(?:([0-9]{1,10})ms)?$/.exec(value);
  if (!parts || value === '') return null;
  let total = 0;
  DURATION_ORDER.forEach((unit, i) => {
    const n = parts[i + 1];
    if (n !== undefined) total += Number(n) * (DURATION_UNITS_MS[unit] ?? 0);
  });
  return total;
}

export function checkDuration(value: string): Problem | null {
  // Letters and digits only: a misspelt unit (10sec); anything else may be an injection attempt.
  const bad = badChar('time', value, /^[0-9A-Za-z]$/, 'digits and the units d, h, m, s, ms');
  if (bad) return { ...bad, hint: DURATION_HINT };
  const ms = parseDurationMs(value);
  if (ms === null) return problem(`${show(value)} is not an nginx time`, DURATION_HINT);
  if (ms > DURATION_MAX_MS) return problem(`time ${show(value)} is longer than 24 days, the longest nginx accepts`, 'Use a shorter time.');
  return null;
}

// ---------------------------------------------------------------- file paths, env names

const FILE_PATH_FORBIDDEN = /[\s;{}#$'"\\\u0000-\u001f\u007f]/u;

/** Absolute file path for TLS files and secret files. */
export function checkFilePath(value: string): Problem | null {
  const hint = 'Give an absolute path without whitespace, quotes, ";", "{", "}", "#", "$" or backslashes.';
  const m = FILE_PATH_FORBIDDEN.exec(value);
  if (m) return problem(`file path ${show(value)} contains ${describeChar(m[0])}, which is not allowed`, hint);
  if (!value.startsWith('/')) return problem(`file path ${show(value)} is not absolute`, 'Give the absolute path, starting with "/".');
  return null;
}

export function checkEnvName(value: string): Problem | null {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) return null;
  return problem(
    `${show(value)} is not an environment variable name`,
    'Use letters, digits and "_", not starting with a digit, e.g. NANIO_SECRET_KEY.',
  );
}

// ---------------------------------------------------------------- paths, key prefixes, buckets

/**
 * Characters allowed in a route path segment or a key prefix: RFC 3986 unreserved characters plus
 * `! * ( ) + , = @ :`. Excluded on purpose: quotes and `;` (nginx syntax), `$` (variables), `%`
 * (nginx matches locations against the decoded URI, so an escape would never match), `?`, `#`,
 * `&`, whitespace, braces, backslash.
 */
export const PATH_SEGMENT_CHARS = 'A-Za-z0-9 . _ ~ ! * ( ) + , = @ : -';
const PATH_CHAR = /^[A-Za-z0-9._~!*()+,=@:/-]$/;
const PATH_CHARS_TEXT = 'letters, digits, "/" and . _ ~ ! * ( ) + , = @ : -';

function checkSegments(what: string, value: string, segments: string[]): Problem | null {
  for (const seg of segments) {
    if (seg === '')
      return problem(
        `${what} ${show(value)} contains "//"`,
        'nginx merges repeated slashes in request paths, so this would never match; use single slashes.',
      );
    if (seg === '.' || seg === '..')
      return problem(
        `${what} ${show(value)} contains a "${seg}" segment`,
        'nginx normalises "." and ".." out of request paths, so this would never match; remove it.',
      );
  }
  return null;
}

/** A route path: `/a/`, `/a/b/`; starts and ends with `/`; `/` alone is the default pool. */
export function checkRoutePath(value: string): Problem | null {
  const bad = badChar('route path', value, PATH_CHAR, PATH_CHARS_TEXT);
  if (bad) return bad;
  if (!value.startsWith('/')) return problem(`route path ${show(value)} must start with "/"`, `Write it as ${show(`/${value}`)}.`);
  if (value === '/') return null; // reported by the rules as `rule.route-root-path`
  if (!value.endsWith('/')) {
    return problem(
      `route path ${show(value)} must end with "/"`,
      `Write it as ${show(`${value}/`)}; without the slash it would also match ${show(`${value}-other`)}.`,
    );
  }
  if (value.length > 1024) return problem(`route path ${show(value)} is longer than 1024 characters`, 'Use a shorter path.');
  return checkSegments('route path', value, value.slice(1, -1).split('/'));
}

/** A key prefix: same characters as a route path, no leading `/`. */
export function checkKeyPrefix(value: string): Problem | null {
  const bad = badChar('key prefix', value, PATH_CHAR, PATH_CHARS_TEXT);
  if (bad) return bad;
  if (value === '') return problem('the key prefix is empty', 'Remove keyPrefix, or give a prefix such as "archive/".');
  if (value.startsWith('/'))
    return problem(`key prefix ${show(value)} must not start with "/"`, `Write it as ${show(value.replace(/^\/+/, ''))}.`);
  if (value.length > 1024) return problem(`key prefix ${show(value)} is longer than 1024 characters`, 'Use a shorter prefix.');
  const body = value.endsWith('/') ? value.slice(0, -1) : value;
  return checkSegments('key prefix', value, body.split('/'));
}

/** S3 bucket naming rules (the general-purpose bucket subset every S3 client accepts). */
export function checkBucketName(value: string): Problem | null {
  const hint = 'S3 bucket names are 3-63 characters: lowercase letters, digits, "." and "-", starting and ending with a letter or digit.';
  if (/[A-Z]/.test(value)) return problem(`bucket name ${show(value)} has uppercase letters`, hint);
  const bad = badChar('bucket name', value, /^[a-z0-9.-]$/, 'lowercase letters, digits, "." and "-"');
  if (bad) return { ...bad, hint };
  if (value.length < 3 || value.length > 63) return problem(`bucket name ${show(value)} is ${value.length} characters long`, hint);
  if (!/^[a-z0-9].*[a-z0-9]$/.test(value)) return problem(`bucket name ${show(value)} must start and end with a letter or digit`, hint);
  if (value.includes('..')) return problem(`bucket name ${show(value)} contains ".."`, hint);
  if (/^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/.test(value)) return problem(`bucket name ${show(value)} looks like an IP address`, hint);
  return null;
}

/** The bucket a route path designates: `/photos/` -> `photos`; any other path -> null. */
export function bucketFromPath(path: string): string | null {
  const m = /^\/([^/]+)\/$/.exec(path);
  if (!m || m[1] === undefined) return null;
  return checkBucketName(m[1]) === null ? m[1] : null;
}

// ---------------------------------------------------------------- sizes, free text

const SIZE_UNITS: Record<string, number> = { '': 1, 'K': 1024, 'M': 1024 ** 2, 'G': 1024 ** 3 };

/** `50M` -> 52428800 bytes per second (binary units, like rclone's --bwlimit); null when invalid. */
export function parseBandwidth(value: string): number | null {
  const m = /^([1-9][0-9]{0,12})([KMG]?)$/.exec(value);
  if (!m) return null;
  return Number(m[1]) * (SIZE_UNITS[m[2] ?? ''] ?? 1);
}

export function checkBandwidth(value: string): Problem | null {
  if (parseBandwidth(value) !== null) return null;
  return problem(
    `bandwidth limit ${show(value)} is not a number of bytes per second`,
    'Write a whole number with an optional K, M or G suffix (binary units), e.g. 50M; omit the field for no limit.',
  );
}

/** Free text that may appear in a generated file's comment: one line, no control characters. */
export function checkSingleLine(value: string): Problem | null {
  const m = /[\u0000-\u001f\u007f]/.exec(value);
  if (!m) return null;
  return problem(`description contains ${describeChar(m[0])}`, 'Keep the description on one line, without control characters.');
}
