/** Small text helpers for diagnostic messages. */

/** A value quoted for a message: JSON-escaped (so newlines stay visible) and shortened. */
export function show(value: unknown): string {
  // JSON escapes control characters; invisible Unicode spaces and separators are escaped too,
  // so a message never hides what makes the value wrong.
  const text = (JSON.stringify(value) ?? String(value)).replace(
    /[\u0080-\u00a0\u00ad\u1680\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]/g,
    (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
  return text.length > 80 ? `${text.slice(0, 77)}..."` : text;
}

const NAMED_CHARS: Record<string, string> = {
  ';': 'a semicolon (;)',
  '{': 'a brace ({)',
  '}': 'a brace (})',
  '"': 'a double quote (")',
  "'": "a single quote (')",
  '#': 'a hash sign (#)',
  '$': 'a dollar sign ($)',
  '\\': 'a backslash (\\)',
  ' ': 'a space',
  '\t': 'a tab',
  '\n': 'a line break',
  '\r': 'a carriage return',
  '/': 'a slash (/)',
  '%': 'a percent sign (%)',
};

/** Names a character the way an operator would: "a semicolon (;)", "a line break", "U+00E9 (é)". */
export function describeChar(ch: string): string {
  const named = NAMED_CHARS[ch];
  if (named) return named;
  const code = ch.codePointAt(0) ?? 0;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  if (code < 0x20 || code === 0x7f) return `a control character (${hex})`;
  if (/\s/u.test(ch)) return `a whitespace character (${hex})`;
  return `the character ${JSON.stringify(ch)}`;
}

/** The closest candidate within a small edit distance, for "did you mean" hints. */
export function closest(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return best !== null && bestDistance <= limit ? best : null;
}

export function didYouMean(word: string, candidates: Iterable<string>): string {
  const c = closest(word, candidates);
  return c === null ? '' : `Did you mean ${show(c)}? `;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** "a, b and c" (at most `max` items, then "and N more"). */
export function listWords(items: readonly string[], max = 10): string {
  if (items.length === 0) return '(none)';
  const shown = items.slice(0, max);
  const rest = items.length - shown.length;
  if (rest > 0) return `${shown.join(', ')} and ${rest} more`;
  if (shown.length === 1) return shown[0] ?? '';
  return `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
}
