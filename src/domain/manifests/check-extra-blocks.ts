import type { SourcePosition } from '../diagnostics.js';
import { formatFieldPath } from '../diagnostics.js';
import { tokenizeNginx, type NginxEvent, type TokenProblemKind } from './nginx-tokens.js';
import { getAt, type DiagnosticSink, type ManifestDoc } from './report.js';
import { describeChar, show } from './text.js';

/**
 * `extraBlocks` is the only manifest text rendered verbatim, so it is read the way nginx reads
 * it (nginx-tokens.ts) and must stay inside its zone: balanced quotes and braces, every directive
 * ended, no `}` that would close the enclosing server/location block, no new top-level blocks,
 * and none of the directives that load code or other files. An `ssl` zone needs a TLS virtual
 * host: without TLS there is no place to render it, so it is an error rather than dropped text.
 * Errors point at the manifest line of the offending text (exact for `|` block scalars).
 */
const FORBIDDEN_EXACT = new Set(['include', 'load_module']);
const FORBIDDEN_PREFIXES = ['lua', 'perl', 'js_', 'njs'];
const FORBIDDEN_BLOCKS = new Set(['server', 'http', 'upstream', 'events', 'stream', 'mail']);

/**
 * Directives that define a server's identity, sockets or certificates: orch renders them from
 * modelled fields, and an extra block that adds one would claim another virtual host's name or
 * open a socket the listen checks never saw. Refused at any depth, naming the field to use.
 */
const CLAIMED_ANYWHERE: ReadonlyMap<string, string> = new Map([
  ['listen', 'spec.port and spec.address'],
  ['server_name', 'spec.serverNames'],
  ['ssl_certificate', 'spec.tls.certificate'],
  ['ssl_certificate_key', 'spec.tls.key'],
  ['ssl', 'spec.tls'],
  ['http2', 'spec.tls.http2'],
  ['http3', 'spec.tls'],
  ['quic', 'spec.tls'],
]);

/**
 * Directives orch already writes once at the server level (its fixed S3 proxy settings and the
 * IP rules): a second one at that level is a duplicate nginx refuses, or silently changes what the
 * modelled field says. Inside a nested block (a location of an extra block) they are the
 * operator's own.
 */
const CLAIMED_AT_SERVER_LEVEL: ReadonlyMap<string, string> = new Map([
  ['client_max_body_size', "orch's fixed S3 proxy settings (no body size limit)"],
  ['proxy_request_buffering', "orch's fixed S3 proxy settings (no request buffering)"],
  ['proxy_buffering', "orch's fixed S3 proxy settings (no response buffering)"],
  ['proxy_http_version', "orch's fixed S3 proxy settings (HTTP/1.1 for upstream keepalive)"],
  ['allow', 'spec.ipRules'],
  ['deny', 'spec.ipRules'],
]);

/** Request headers orch sets for every proxied request (proxy_set_header NAME at server level). */
const ORCH_HEADERS = new Set(['host', 'connection', 'x-forwarded-for', 'x-forwarded-proto', 'x-real-ip']);

const PROBLEM_CODES: Record<TokenProblemKind, string> = {
  'unbalanced-quote': 'extra.unbalanced-quote',
  'unterminated-directive': 'extra.unterminated-directive',
  'syntax': 'extra.syntax',
};

export function checkExtraBlocks(md: ManifestDoc, sink: DiagnosticSink): void {
  const blocks = getAt(md.value, ['spec', 'extraBlocks']);
  if (!Array.isArray(blocks)) return;
  const hasTls = md.spec.tls !== undefined && md.spec.tls !== null;
  blocks.forEach((block: unknown, i) => {
    const zone = getAt(block, ['zone']);
    const content = getAt(block, ['content']);
    if (zone === 'ssl' && !hasTls) {
      sink.error(md, {
        code: 'extra.ssl-zone-without-tls',
        path: ['spec', 'extraBlocks', i, 'zone'],
        message: 'an extra block for the "ssl" zone is set on a virtual host without TLS',
        hint: 'Add spec.tls to the virtual host, or move the block to the "top" or "end" zone.',
      });
    }
    if (typeof content === 'string') checkContent(md, sink, i, content);
  });
}

function checkContent(md: ManifestDoc, sink: DiagnosticSink, index: number, content: string): void {
  const path = ['spec', 'extraBlocks', index, 'content'];
  // Looked up only when there is something to report: a position costs a full YAML parse of the
  // file (see parse-manifests.ts), which valid manifests never pay.
  // The character's own line and column in the file, whatever the scalar's style (a quoted or
  // folded scalar's line N is not the file's line N after the key).
  const report = (code: string, line: number, column: number, message: string, hint: string): void => {
    let offset = 0;
    for (let l = 0; l < line && offset >= 0; l++) offset = content.indexOf('\n', offset) + 1 || -1;
    const source: SourcePosition = md.doc.at(path, 'content', offset < 0 ? content.length : offset + column);
    sink.push(md, {
      severity: 'error',
      code,
      message: `extra block: ${message}`,
      hint,
      source,
      document: md.ref,
      field: formatFieldPath(path),
    });
  };

  const control = findControlChar(content);
  if (control) {
    report(
      'extra.control-char',
      control.line,
      control.column,
      `contains ${describeChar(control.ch)}`,
      'Remove it; nginx text needs only printable characters, tabs and line breaks.',
    );
    return;
  }
  const { events, problem } = tokenizeNginx(content);
  // After text that leaves the zone or hands a block to another language, the rest cannot be
  // read as this zone's nginx text: report that one cause, not its consequences.
  if (checkStatements(events, report, problem === null) === 'stop') return;
  if (problem) {
    report(PROBLEM_CODES[problem.kind], problem.line, problem.column, problem.message, hintFor(problem.kind));
  }
}

type Report = (code: string, line: number, column: number, message: string, hint: string) => void;

function checkStatements(events: NginxEvent[], report: Report, complete: boolean): 'stop' | 'continue' {
  const open: Extract<NginxEvent, { type: 'statement' }>[] = [];
  for (const ev of events) {
    if (ev.type === 'block-end') {
      if (open.pop() !== undefined) continue;
      report(
        'extra.closes-enclosing-block',
        ev.line,
        ev.column,
        'this "}" has no matching "{" and would close the block orch renders around it',
        'Remove the "}" or add the "{" it belongs to; extra blocks must stay inside their zone.',
      );
      return 'stop';
    }
    const name = (ev.words[0]?.text ?? '').toLowerCase();
    const claim = claimedBy(ev, open.length);
    if (claim) {
      const fixed = claim.field.startsWith("orch's");
      report(
        'extra.claimed-directive',
        ev.line,
        ev.column,
        fixed
          ? `${show(claim.what)} is already set by ${claim.field} in this server block`
          : `${show(claim.what)} is set by orch from ${claim.field}`,
        fixed
          ? 'Remove it: nginx refuses a second one at the same level, and S3 traffic needs the value orch sets. Inside a location of the extra block it is allowed.'
          : `Remove it from the extra block and set ${claim.field} instead, so the collision and listen checks see it.`,
      );
      if (ev.opensBlock) return 'stop';
      continue;
    }
    if (isForbiddenDirective(name)) {
      report(
        'extra.forbidden-directive',
        ev.line,
        ev.column,
        `directive ${show(name)} is not allowed`,
        'Extra blocks may not include files or load code (include, load_module, Lua, Perl, njs). Put the directives themselves in the block.',
      );
      if (ev.opensBlock) return 'stop'; // e.g. content_by_lua_block: its body is Lua, not nginx
    }
    if (ev.opensBlock && FORBIDDEN_BLOCKS.has(name)) {
      report(
        'extra.forbidden-block',
        ev.line,
        ev.column,
        `a "${name}" block cannot be opened inside a virtual host`,
        'Extra blocks are inserted inside the server block; server, http, upstream, events, stream and mail blocks do not belong there.',
      );
      return 'stop';
    }
    if (ev.opensBlock) open.push(ev);
  }
  const unclosed = open[open.length - 1];
  // When the text stopped early on a syntax problem, the open blocks say nothing more.
  if (unclosed && complete) {
    report(
      'extra.unbalanced-braces',
      unclosed.line,
      unclosed.column,
      `the "{" of "${unclosed.words[0]?.text ?? ''}" is never closed`,
      'Add the missing "}" so the block ends inside the extra block.',
    );
  }
  return 'continue';
}

/** The modelled field a statement of an extra block would take over, or null. */
function claimedBy(ev: Extract<NginxEvent, { type: 'statement' }>, depth: number): { what: string; field: string } | null {
  return claimedByOrch(
    ev.words[0]?.text ?? '',
    ev.words.slice(1).map((w) => w.text),
    depth,
    ev.opensBlock,
  );
}

/**
 * Whether a directive (its name and arguments, at this depth of an extra block: 0 is the server
 * level) sets what orch renders itself, and from which field; null when an extra block may hold
 * it. Also used by `orch import`, which must not carry such a directive into an extra block.
 */
export function claimedByOrch(
  directive: string,
  args: readonly string[],
  depth: number,
  opensBlock: boolean,
): { what: string; field: string } | null {
  const name = directive.toLowerCase();
  const anywhere = CLAIMED_ANYWHERE.get(name);
  if (anywhere !== undefined) return { what: name, field: anywhere };
  if (depth > 0) return null;
  const serverLevel = CLAIMED_AT_SERVER_LEVEL.get(name);
  if (serverLevel !== undefined) return { what: name, field: serverLevel };
  const header = (args[0] ?? '').toLowerCase();
  if (name === 'proxy_set_header' && ORCH_HEADERS.has(header))
    return { what: `proxy_set_header ${args[0] ?? ''}`, field: "orch's fixed S3 proxy headers" };
  // orch always renders the catch-all `location /` (to the default pool, or a 404).
  if (name === 'location' && opensBlock && args.length === 1 && args[0] === '/') return { what: 'location /', field: 'spec.defaultPool' };
  return null;
}

export function isForbiddenDirective(name: string): boolean {
  return FORBIDDEN_EXACT.has(name) || FORBIDDEN_PREFIXES.some((p) => name.startsWith(p)) || name.includes('_by_lua');
}

function hintFor(kind: TokenProblemKind): string {
  switch (kind) {
    case 'unbalanced-quote':
      return 'Close the quote, or escape a literal quote with a backslash.';
    case 'unterminated-directive':
      return 'End every directive with ";" (or a { } block); otherwise it would swallow the next line orch renders.';
    case 'syntax':
      return 'Fix the nginx syntax at this position.';
  }
}

function findControlChar(text: string): { ch: string; line: number; column: number } | null {
  let line = 0;
  let column = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if ((code < 0x20 && ch !== '\n' && ch !== '\t' && ch !== '\r') || code === 0x7f) return { ch, line, column };
    if (ch === '\n') {
      line++;
      column = 0;
    } else column++;
  }
  return null;
}
