import type { NginxDirective } from '../nginx-config/nginx-ast.js';
import { checkResourceName } from '../manifests/value-types.js';

/**
 * The text of a directive exactly as written (from its first character to its `;` or `}`), with the
 * indentation of its continuation lines made relative to the directive, so it reads as a block of
 * its own (extra blocks are indented by the renderer).
 */
export function verbatimOf(d: NginxDirective, texts: ReadonlyMap<string, string>): string {
  const text = texts.get(d.file) ?? '';
  const raw = text.slice(d.range[0], d.range[1]);
  const indent = d.column - 1;
  const lines = raw.split('\n');
  return lines
    .map((line, i) => {
      if (i === 0) return line;
      let n = 0;
      while (n < indent && n < line.length && (line[n] === ' ' || line[n] === '\t')) n++;
      return line.slice(n);
    })
    .join('\n');
}

/** A valid resource name from free text: invalid characters become `-`, made unique in `taken`. */
export function resourceNameFrom(text: string, taken: Set<string>, fallback: string): string {
  let base = text
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/\.\.+/g, '.')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 63)
    .replace(/[-.]+$/, '');
  if (base === '' || checkResourceName(base) !== null) base = fallback;
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base.slice(0, 58)}-${i}`;
  taken.add(name);
  return name;
}

export function at(d: { file: string; line: number; column: number }): { file: string; line: number; column: number } {
  return { file: d.file, line: d.line, column: d.column };
}

/** `name arg arg` as written in a message. */
export function describe(d: NginxDirective): string {
  const head = [d.name, ...d.args.map((a, i) => (d.quotes[i] ? `${d.quotes[i]}${a}${d.quotes[i]}` : a))].join(' ');
  return d.block ? `${head} { ... }` : `${head};`;
}
