import type { IncludeResolver, NginxComment, NginxConfig, NginxDirective, NginxInclude } from './nginx-ast.js';
import { NginxParseError } from './nginx-parse-error.js';

export interface ParseNginxOptions {
  /** Name used in positions and errors; default `nginx.conf`. */
  file?: string;
  /** Follows `include` directives; without it they are only reported. */
  includeResolver?: IncludeResolver;
}

/** Include nesting beyond this is refused (nginx has no limit, but a loop must not hang us). */
const MAX_INCLUDE_DEPTH = 16;

const LF = 10;
const CR = 13;
const TAB = 9;
const SPACE = 32;
const SEMI = 59;
const LBRACE = 123;
const RBRACE = 125;
const HASH = 35;
const BACKSLASH = 92;
const DQUOTE = 34;
const SQUOTE = 39;
const DOLLAR = 36;
const RPAREN = 41;

function isSpace(ch: number): boolean {
  return ch === SPACE || ch === TAB || ch === LF || ch === CR;
}

interface Word {
  text: string;
  quote: string;
  line: number;
  column: number;
  offset: number;
}

interface OpenBlock {
  directive: NginxDirective | null;
  children: NginxDirective[];
  comments: NginxComment[];
}

/**
 * Parses nginx configuration text the way nginx's own reader does (ngx_conf_read_token and
 * ngx_conf_parse in src/core/ngx_conf_file.c):
 *
 * - space, tab, CR and LF separate words; `;` ends a directive, `{` opens its block and `}` closes
 *   one, each only where a word may end (`foo}` is one word);
 * - `"..."` and `'...'` quote a word when they open it; a closing quote must be followed by
 *   whitespace, `;`, `{` or `)` (the last for `if (...)`);
 * - a backslash escapes the next character anywhere outside comments, and `\" \' \\ \t \r \n` are
 *   translated in the finished word;
 * - `#` opens a comment only where a word may start;
 * - `${` does not open a block: it belongs to a variable (`${name}`).
 *
 * Directive semantics are not checked (nginx does that per module); the grammar is. Pure: no file
 * is read. Linear in the input, so it always terminates; it throws only NginxParseError.
 */
export function parseNginxConfig(text: string, options: ParseNginxOptions = {}): NginxConfig {
  const file = options.file ?? 'nginx.conf';
  const includes: NginxInclude[] = [];
  const root = parseInto(text, file, options.includeResolver ?? null, includes, 0, null);
  return { file, directives: root.children, comments: root.comments, includes };
}

function parseInto(
  text: string,
  file: string,
  resolver: IncludeResolver | null,
  includes: NginxInclude[],
  depth: number,
  host: OpenBlock | null,
): OpenBlock {
  const root: OpenBlock = host ?? { directive: null, children: [], comments: [] };
  const stack: OpenBlock[] = [root];
  let words: Word[] = [];
  let lastSpace = true;
  let needSpace = false;
  let quoted = false;
  let dQuoted = false;
  let sQuoted = false;
  let sharpComment = false;
  let variable = false;
  let start = 0;
  let startLine = 1;
  let startColumn = 1;
  let commentStart = 0;
  let commentLine = 1;
  let commentColumn = 1;
  let line = 1;
  let column = 1;

  const fail = (reason: string, l: number, c: number): never => {
    throw new NginxParseError(reason, file, l, c);
  };
  const top = (): OpenBlock => stack[stack.length - 1]!;
  const resetWordState = (): void => {
    lastSpace = true;
    needSpace = false;
    quoted = false;
    dQuoted = false;
    sQuoted = false;
    variable = false;
  };
  const directiveOf = (l: number, c: number, endOffsetExclusive: number): NginxDirective => {
    const first = words[0]!;
    const d: NginxDirective = {
      name: first.text,
      args: words.slice(1).map((w) => w.text),
      quotes: words.slice(1).map((w) => w.quote),
      line: first.line,
      column: first.column,
      end: { line: l, column: c },
      file,
      range: [first.offset - (first.quote === '' ? 0 : 1), endOffsetExclusive],
    };
    words = [];
    return d;
  };
  const endStatement = (l: number, c: number, offset: number): void => {
    const d = directiveOf(l, c, offset + 1);
    resetWordState();
    if (d.name === 'include' && d.args.length === 1) {
      const include: NginxInclude = { file, line: d.line, column: d.column, pattern: d.args[0]!, resolved: [] };
      includes.push(include);
      const found = resolver ? resolver(include.pattern, file) : null;
      if (found !== null) {
        if (depth + 1 > MAX_INCLUDE_DEPTH)
          fail(`include nesting deeper than ${MAX_INCLUDE_DEPTH} levels (an include loop?)`, d.line, d.column);
        for (const inc of found) {
          include.resolved.push(inc.file);
          parseInto(inc.text, inc.file, resolver, includes, depth + 1, top());
        }
        return;
      }
    }
    top().children.push(d);
  };
  const openBlock = (l: number, c: number, offset: number): void => {
    const d = directiveOf(l, c, offset + 1);
    resetWordState();
    d.block = [];
    d.comments = [];
    top().children.push(d);
    stack.push({ directive: d, children: d.block, comments: d.comments });
  };
  const pushWord = (endExclusive: number, quote: string): void => {
    words.push({ text: unescapeWord(text.slice(start, endExclusive)), quote, line: startLine, column: startColumn, offset: start });
  };

  const n = text.length;
  for (let i = 0; i < n; i++) {
    const ch = text.charCodeAt(i);
    const l = line;
    const c = column;
    if (ch === LF) {
      line++;
      column = 1;
    } else column++;

    if (sharpComment) {
      if (ch === LF) {
        sharpComment = false;
        top().comments.push({ text: text.slice(commentStart + 1, i), line: commentLine, column: commentColumn, file });
      }
      continue;
    }
    if (quoted) {
      quoted = false;
      continue;
    }
    if (needSpace) {
      if (isSpace(ch)) {
        lastSpace = true;
        needSpace = false;
        continue;
      }
      if (ch === SEMI) {
        endStatement(l, c, i);
        continue;
      }
      if (ch === LBRACE) {
        openBlock(l, c, i);
        continue;
      }
      if (ch === RPAREN) {
        lastSpace = true;
        needSpace = false;
      } else {
        fail(`unexpected "${String.fromCharCode(ch)}"`, l, c);
      }
    }

    if (lastSpace) {
      if (isSpace(ch)) continue;
      start = i;
      startLine = l;
      startColumn = c;
      switch (ch) {
        case SEMI:
        case LBRACE:
          if (words.length === 0) fail(`unexpected "${String.fromCharCode(ch)}"`, l, c);
          if (ch === LBRACE) openBlock(l, c, i);
          else endStatement(l, c, i);
          continue;
        case RBRACE: {
          if (words.length !== 0) fail('unexpected "}"', l, c);
          if (stack.length === 1) fail('unexpected "}"', l, c);
          const closed = stack.pop()!;
          closed.directive!.end = { line: l, column: c };
          closed.directive!.range[1] = i + 1;
          continue;
        }
        case HASH:
          sharpComment = true;
          commentStart = i;
          commentLine = l;
          commentColumn = c;
          continue;
        case BACKSLASH:
          quoted = true;
          lastSpace = false;
          continue;
        case DQUOTE:
          start++;
          dQuoted = true;
          lastSpace = false;
          continue;
        case SQUOTE:
          start++;
          sQuoted = true;
          lastSpace = false;
          continue;
        case DOLLAR:
          variable = true;
          lastSpace = false;
          continue;
        default:
          lastSpace = false;
      }
    } else {
      if (ch === LBRACE && variable) continue;
      variable = false;
      if (ch === BACKSLASH) {
        quoted = true;
        continue;
      }
      if (ch === DOLLAR) {
        variable = true;
        continue;
      }
      let found = false;
      if (dQuoted) {
        if (ch === DQUOTE) {
          dQuoted = false;
          needSpace = true;
          found = true;
        }
      } else if (sQuoted) {
        if (ch === SQUOTE) {
          sQuoted = false;
          needSpace = true;
          found = true;
        }
      } else if (isSpace(ch) || ch === SEMI || ch === LBRACE) {
        lastSpace = true;
        found = true;
      }
      if (found) {
        const quote = needSpace ? (ch === DQUOTE ? '"' : "'") : '';
        pushWord(i, quote);
        if (ch === SEMI) endStatement(l, c, i);
        else if (ch === LBRACE) openBlock(l, c, i);
      }
    }
  }

  if (sharpComment) top().comments.push({ text: text.slice(commentStart + 1), line: commentLine, column: commentColumn, file });
  if (words.length > 0 || !lastSpace || quoted) fail('unexpected end of file, expecting ";" or "}"', line, column);
  if (stack.length > 1) fail('unexpected end of file, expecting "}"', line, column);
  return root;
}

/** nginx's unescaping of a finished word: only these escapes are translated, others stay as written. */
function unescapeWord(raw: string): string {
  if (raw.indexOf('\\') < 0) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\\' && i + 1 < raw.length) {
      const next = raw[i + 1]!;
      if (next === '"' || next === "'" || next === '\\') {
        out += next;
        i++;
        continue;
      }
      if (next === 't' || next === 'r' || next === 'n') {
        out += next === 't' ? '\t' : next === 'r' ? '\r' : '\n';
        i++;
        continue;
      }
    }
    out += ch;
  }
  return out;
}
