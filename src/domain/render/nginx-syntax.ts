import { BugError } from '../errors.js';

/**
 * Guards for the values orch writes into nginx directives. The manifest validator is the first
 * line of defence and gives the operator a positioned diagnostic; these checks make sure that a
 * value the validator let through by mistake can never change the structure of a config file
 * (a `;` ending a directive early, a `{` opening a block, a newline, a NUL forging a line-map
 * sentinel). Failing here is a bug in validation, hence BugError.
 */

// Whitespace, control characters, quotes, backslash, and the characters nginx gives structure to.
const UNSAFE_TOKEN = /[\s\u0000-\u001f\u007f;{}"'\\#$]/;
// Server names may be regular expressions (`~^(?<sub>.+)\.example\.test$`): allow `$` and `\`.
const UNSAFE_SERVER_NAME = /[\s\u0000-\u001f\u007f;{}"'#]/;
// Extra blocks are verbatim nginx text. nginx counts lines by LF only, as the line map does, so
// only NUL (the line-map sentinel, and never valid nginx text) is refused.
const UNSAFE_VERBATIM = /\u0000/;

function fail(what: string, value: unknown): never {
  throw new BugError(
    `render: ${what} ${JSON.stringify(value)} cannot be written into an nginx file; manifest validation should have rejected it`,
  );
}

/** A bare nginx token: an address, a path, a pool name, a time. */
export function nginxToken(value: string, what: string): string {
  if (typeof value !== 'string' || value === '' || UNSAFE_TOKEN.test(value)) fail(what, value);
  return value;
}

export function serverNameToken(value: string): string {
  if (typeof value !== 'string' || value === '' || UNSAFE_SERVER_NAME.test(value)) fail('server name', value);
  return value;
}

export function nginxInteger(value: number, what: string): string {
  if (!Number.isSafeInteger(value) || value < 0) fail(what, value);
  return String(value);
}

/**
 * A route path: used as a location prefix and, with a key prefix, inside a `rewrite` pattern and
 * replacement, where `?` would drop the query string and `$` would read a variable.
 */
export function locationPath(value: string): string {
  nginxToken(value, 'route path');
  if (!value.startsWith('/') || value.includes('?')) fail('route path', value);
  return value;
}

/** A key prefix, inserted into a `rewrite` replacement. */
export function keyPrefixToken(value: string): string {
  nginxToken(value, 'key prefix');
  if (value.includes('?')) fail('key prefix', value);
  return value;
}

/** A resource name that becomes a file name (`pools/<name>.conf`) and an nginx identifier. */
export function resourceName(value: string, what: string): string {
  nginxToken(value, what);
  if (value === '.' || value === '..' || value.includes('/')) fail(what, value);
  return value;
}

/** Text injected verbatim (extra blocks): anything nginx can read, nothing that breaks lines. */
export function verbatimText(value: string, what: string): string {
  if (typeof value !== 'string' || UNSAFE_VERBATIM.test(value)) fail(what, value);
  return value;
}

/** Escapes a literal for a PCRE pattern in a `rewrite` directive. */
export function regexLiteral(value: string): string {
  return value.replace(/[.*+?^$()[\]|\\]/g, '\\$&');
}

/** `port`, `addr:port` or `[ipv6]:port` for a `listen` directive. */
export function listenTarget(address: string | null, port: number): string {
  const p = nginxInteger(port, 'listen port');
  if (address === null) return p;
  nginxToken(address, 'listen address');
  if (address.includes(':') && !address.startsWith('[')) return `[${address}]:${p}`;
  return `${address}:${p}`;
}

/** A comment's text: control characters replaced so a comment can never become two lines. */
export function commentText(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f]/g, '?');
}
