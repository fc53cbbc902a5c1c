/**
 * A reader of nginx configuration text that follows nginx's own tokenizer
 * (ngx_conf_read_token in src/core/ngx_conf_file.c), so that what orch believes about a verbatim
 * block (where statements end, how deep the braces go) is what nginx will believe:
 *
 * - whitespace (space, tab, CR, LF), `;` and `{` end a word; `}` does NOT end a word (`foo}` is
 *   one word), it only closes a block at the start of a token;
 * - `"` and `'` open a quoted string only at the start of a token, and a quoted string must be
 *   followed by whitespace, `;`, `{` or `)` (the `)` then starts the next word, as in
 *   `if ($request_method = "OPTIONS") {`);
 * - `\` escapes the next character anywhere outside comments;
 * - `#` starts a comment only at the start of a token, up to the end of the line;
 * - `${` does not open a block (variable syntax).
 *
 * It yields statements (directive name and arguments, ended by `;` or by `{` for a block) and
 * block ends, each with its 0-based line and column inside the text, or the first syntax problem.
 */
export interface Word {
  /** The word with quotes removed and nginx's escapes (\" \' \\ \t \r \n) applied. */
  text: string;
  line: number;
  column: number;
}

export type NginxEvent =
  | { type: 'statement'; words: Word[]; opensBlock: boolean; line: number; column: number }
  | { type: 'block-end'; line: number; column: number };

export type TokenProblemKind = 'unbalanced-quote' | 'unterminated-directive' | 'syntax';

export interface TokenProblem {
  kind: TokenProblemKind;
  message: string;
  line: number;
  column: number;
}

export interface TokenizeResult {
  events: NginxEvent[];
  problem: TokenProblem | null;
}

const SPACE = new Set([' ', '\t', '\r', '\n']);

export function tokenizeNginx(text: string): TokenizeResult {
  const events: NginxEvent[] = [];
  let words: Word[] = [];
  let line = 0;
  let column = 0;
  let i = 0;
  const fail = (kind: TokenProblemKind, message: string, at = { line, column }): TokenizeResult => ({
    events,
    problem: { kind, message, line: at.line, column: at.column },
  });
  const advance = (): string => {
    const ch = text[i++] ?? '';
    if (ch === '\n') {
      line++;
      column = 0;
    } else column++;
    return ch;
  };

  while (i < text.length) {
    const ch = text[i] ?? '';
    if (SPACE.has(ch)) {
      advance();
      continue;
    }
    const start = { line, column };
    if (ch === '#') {
      while (i < text.length && text[i] !== '\n') advance();
      continue;
    }
    if (ch === ';' || ch === '{') {
      advance();
      const first = words[0];
      if (!first) return fail('syntax', `"${ch}" with no directive before it`, start);
      events.push({ type: 'statement', words, opensBlock: ch === '{', line: first.line, column: first.column });
      words = [];
      continue;
    }
    if (ch === '}') {
      if (words.length > 0)
        return fail('unterminated-directive', `"}" ends the block before "${words[0]?.text ?? ''}" was ended with ";"`, start);
      advance();
      events.push({ type: 'block-end', ...start });
      continue;
    }
    const word = readWord();
    if (typeof word === 'object' && 'kind' in word) return { events, problem: word };
    words.push({ text: word, ...start });
  }
  const first = words[0];
  if (first) return fail('unterminated-directive', `directive "${first.text}" is not ended with ";"`, first);
  return { events, problem: null };

  /** Reads one word (quoted or bare) starting at `i`; returns its text or a problem. */
  function readWord(): string | TokenProblem {
    const start = { line, column };
    const quote = text[i] === '"' || text[i] === "'" ? advance() : '';
    let raw = '';
    let variable = false;
    while (i < text.length) {
      const ch = text[i] ?? '';
      if (ch === '\\') {
        raw += advance();
        if (i >= text.length) break;
        raw += advance();
        variable = false;
        continue;
      }
      if (ch === '{' && variable) {
        raw += advance();
        variable = false;
        continue;
      }
      variable = ch === '$';
      if (quote !== '' && ch === quote) {
        advance();
        const next = text[i];
        if (next !== undefined && !SPACE.has(next) && next !== ';' && next !== '{' && next !== ')') {
          return { kind: 'syntax', message: `unexpected "${next}" right after a quoted string`, line, column };
        }
        return unescape(raw);
      }
      if (quote === '' && (SPACE.has(ch) || ch === ';' || ch === '{')) return unescape(raw);
      raw += advance();
    }
    if (quote !== '') return { kind: 'unbalanced-quote', message: `the quote ${quote} opened here is never closed`, ...start };
    return unescape(raw);
  }
}

/** nginx's unescaping of a finished word: only these escapes are translated, others stay. */
function unescape(raw: string): string {
  return raw.replace(/\\(["'\\tnr])/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}
