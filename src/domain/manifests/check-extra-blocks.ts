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
  const report = (code: string, line: number, column: number, message: string, hint: string): void => {
    const origin = md.doc.at(path, 'content');
    sink.push(md, {
      severity: 'error',
      code,
      message: `extra block: ${message}`,
      hint,
      source: { file: origin.file, line: origin.line + line, column: origin.column + column } satisfies SourcePosition,
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
