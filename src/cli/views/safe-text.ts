/**
 * Text from the operator's input (names, keys, paths, values) made safe for a terminal: control
 * characters (C0, DEL, C1 — ANSI escape sequences start with one), line and paragraph separators
 * and the bidirectional overrides are written as visible escapes (`\u001b`), so a name cannot
 * forge an output line, clear the screen or set the terminal title; and the text is shortened to
 * `max` characters, so a 1 MB key gives a one-line diagnostic.
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
const UNSAFE_WITH_NEWLINES = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

const escape = (ch: string): string => {
  if (ch === '\n') return '\\n';
  if (ch === '\t') return '\\t';
  if (ch === '\r') return '\\r';
  return `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;
};

/** One line of terminal-safe text: every control character escaped, newlines included. */
export function safeLine(text: string, max = 500): string {
  return truncate(text, max).replace(UNSAFE_WITH_NEWLINES, escape);
}

/** Terminal-safe text that may span lines (its newlines kept, each line shortened). */
export function safeLines(text: string, max = 2000): string {
  return truncate(text, max).replace(UNSAFE, escape);
}

function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}... (${text.length - max} more characters)`;
}
