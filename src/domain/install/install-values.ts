import { BugError, UserError } from '../errors.js';

/**
 * Values `orch install` and `orch node-config` write into systemd units, TOML, YAML and nginx
 * files. Each is checked here with a user-facing error before it reaches a renderer; the renderers
 * check again (a value that slipped through is a bug, never a broken or injected file).
 *
 * A path is absolute and made only of characters that need no quoting or escaping in any of those
 * formats: no whitespace or control characters, no quotes, no `\`, no `$` (systemd and nginx
 * variables), no `%` (systemd specifiers), no `;` `{` `}` `#` (nginx structure, comments).
 */
const SAFE_PATH = /^\/[A-Za-z0-9._@+,=:~/-]*$/;
/** A system user or group name as useradd accepts it by default (Debian's NAME_REGEX, no `$`). */
const SAFE_USER = /^[a-z_][a-z0-9_-]{0,31}$/;

export function isSafePath(value: string): boolean {
  return typeof value === 'string' && SAFE_PATH.test(value) && !value.split('/').includes('..');
}

export function isSafeUser(value: string): boolean {
  return typeof value === 'string' && SAFE_USER.test(value);
}

/** A path from a flag or a config file: a UserError naming `what` when it cannot be written safely. */
export function checkPath(value: string, what: string): string {
  if (!isSafePath(value)) {
    throw new UserError(
      'install.invalid-value',
      `${what} must be an absolute path of letters, digits and . _ @ + , = : ~ / - (no spaces, quotes, $, %, ;, # or ..); got ${JSON.stringify(value)}.`,
      {
        hint: 'Use a plain absolute path; a symlink with a plain name works for a directory whose real name has other characters.',
      },
    );
  }
  return value;
}

export function checkUser(value: string, what = 'user'): string {
  if (!isSafeUser(value)) {
    throw new UserError(
      'install.invalid-value',
      `${what} must be a system user name (lowercase letters, digits, _ and -, starting with a letter or _, at most 32 characters); got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

/** Renderer-side guard: a value that did not pass the checks above is a bug in the caller. */
export function assertSafePath(value: string, what: string): string {
  if (!isSafePath(value))
    throw new BugError(`render: ${what} ${JSON.stringify(value)} is not a safe absolute path (the caller must check it first)`);
  return value;
}

export function assertSafeUser(value: string, what: string): string {
  if (!isSafeUser(value))
    throw new BugError(`render: ${what} ${JSON.stringify(value)} is not a safe user name (the caller must check it first)`);
  return value;
}
