/**
 * The tree an nginx configuration text parses into. Positions are 1-based lines and 1-based
 * columns counted in UTF-16 code units (what a JavaScript string index counts), so a position
 * can be turned back into an offset of the text it came from.
 */
export interface NginxPosition {
  line: number;
  column: number;
}

export interface NginxComment extends NginxPosition {
  /** The comment without its `#`, not trimmed. */
  text: string;
  /** The file it came from (the parsed file, or an included one). */
  file: string;
}

export interface NginxDirective extends NginxPosition {
  name: string;
  /** Arguments with quotes removed and nginx's escapes (\" \' \\ \t \r \n) applied. */
  args: string[];
  /** For each argument: the quote it was written in (`"` or `'`), or '' when bare. */
  quotes: string[];
  /** Where the directive ends: its `;`, or the `}` closing its block. */
  end: NginxPosition;
  /** The file the directive was read from. */
  file: string;
  /** Offsets in that file's text: from the directive's first character to just after its `;` or `}`. */
  range: [number, number];
  /** Present for block directives (`server { ... }`), possibly empty. */
  block?: NginxDirective[];
  /** Comments written directly inside this directive's block, in order. */
  comments?: NginxComment[];
}

/** An `include` met while parsing: reported always, followed only through an include resolver. */
export interface NginxInclude extends NginxPosition {
  file: string;
  /** The include argument exactly as written (a path or a glob). */
  pattern: string;
  /** The files it was resolved to; empty when not followed. */
  resolved: string[];
}

export interface NginxConfig {
  file: string;
  directives: NginxDirective[];
  /** Comments at the top level of the file (outside any block). */
  comments: NginxComment[];
  includes: NginxInclude[];
}

/** A file an include resolved to. */
export interface IncludedText {
  file: string;
  text: string;
}

/**
 * Resolves an include argument (already unquoted) written in `fromFile` to the files it names, in
 * nginx's order. Returns null when it cannot be resolved (the include is then reported only).
 * The parser itself never reads files: the caller decides what an include may reach.
 */
export type IncludeResolver = (pattern: string, fromFile: string) => IncludedText[] | null;
