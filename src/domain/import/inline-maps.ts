import type { NginxDirective } from '../nginx-config/nginx-ast.js';

/**
 * http-level `map` blocks a hand-written server depends on, carried into the server itself: orch
 * writes server blocks, not the http context, so a map left behind in a file of the imported
 * directory (or in a nginx.conf the staged `nginx -t` does not read) leaves the server with an
 * unknown variable. A map of literal keys and regular expressions becomes `set` + `if` at server
 * level (zone top), evaluated in nginx's server rewrite phase, with map's priority: exact keys
 * (case-insensitive, like map) over regular expressions, the first regular expression over later
 * ones, `default` otherwise. Maps with `hostnames`, `include` or wildcard keys are not converted.
 * nginx accepts `set` on a variable a map also defines, so a copy left in nginx.conf does no harm.
 */
export interface InlineMap {
  /** The variable it defines, without `$`. */
  variable: string;
  /** The variables its source and values read, without `$`. */
  reads: string[];
  text: string;
  d: NginxDirective;
}

function quoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A regular expression as an `if` argument: bare when nginx reads it so, else quoted (with `( ... )` spaced, as nginx needs then). */
function condition(variable: string, op: string, re: string): string {
  if (/^[^\s;{}"'()]+$/.test(re) && !re.endsWith('\\')) return `(${variable} ${op} ${re})`;
  return `( ${variable} ${op} ${quoted(re)} )`;
}

function regexLiteral(value: string): string {
  return value.replace(/[.*+?^$()[\]{}|\\/]/g, '\\$&');
}

function variablesIn(text: string): string[] {
  return [...text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g)].map((m) => m[1]!.toLowerCase());
}

/** A map as server-level directives, or a reason it cannot be one. */
export function inlineMap(d: NginxDirective): InlineMap | { problem: string } {
  const [source, target] = d.args;
  if (d.args.length !== 2 || !source || !target?.startsWith('$') || !d.block)
    return { problem: 'it is not "map $source $variable { ... }"' };
  const variable = target.slice(1).replace(/^\{(.*)\}$/, '$1');
  let fallback = '';
  const exact: Array<[string, string]> = [];
  const regexes: Array<[string, boolean, string]> = [];
  for (const e of d.block) {
    if (e.block) return { problem: `it holds a block (${e.name})` };
    if (e.name === 'volatile' && e.args.length === 0) continue;
    if (e.name === 'hostnames' || e.name === 'include') return { problem: `it uses ${e.name}` };
    if (e.args.length !== 1) return { problem: `its entry ${e.name} is not "key value;"` };
    const value = e.args[0]!;
    if (e.name === 'default') {
      fallback = value;
      continue;
    }
    if (e.name.startsWith('~*')) regexes.push([e.name.slice(2), true, value]);
    else if (e.name.startsWith('~')) regexes.push([e.name.slice(1), false, value]);
    else if (e.name.startsWith('\\')) exact.push([e.name.slice(1), value]);
    else if (e.name.includes('*')) return { problem: `its key ${e.name} is a wildcard` };
    else exact.push([e.name, value]);
  }
  const lines = [`# map ${source} $${variable}, carried from the http context by orch import`, `set $${variable} ${quoted(fallback)};`];
  // Later lines win: regular expressions last-to-first (the first one matching wins), exact keys after them.
  for (const [re, caseless, value] of [...regexes].reverse())
    lines.push(`if ${condition(source, caseless ? '~*' : '~', re)} {`, `    set $${variable} ${quoted(value)};`, '}');
  for (const [key, value] of exact)
    lines.push(`if ${condition(source, '~*', `^${regexLiteral(key)}$`)} {`, `    set $${variable} ${quoted(value)};`, '}');
  const reads = [
    ...new Set([
      ...variablesIn(source),
      ...variablesIn(fallback),
      ...exact.flatMap(([, v]) => variablesIn(v)),
      ...regexes.flatMap(([, , v]) => variablesIn(v)),
    ]),
  ];
  return { variable: variable.toLowerCase(), reads, text: `${lines.join('\n')}\n`, d };
}

/** Every variable a server block reads (`$name` anywhere in its arguments). */
export function variablesReadBy(d: NginxDirective): Set<string> {
  const out = new Set<string>();
  const walk = (x: NginxDirective) => {
    for (const a of x.args) for (const v of variablesIn(a)) out.add(v);
    for (const c of x.block ?? []) walk(c);
  };
  walk(d);
  return out;
}

/** The maps a server needs (those defining a variable it reads, and those these read), in definition order. */
export function mapsFor(server: NginxDirective, maps: readonly InlineMap[]): InlineMap[] {
  const wanted = variablesReadBy(server);
  const needed = new Set<InlineMap>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const m of maps) {
      if (needed.has(m) || !wanted.has(m.variable)) continue;
      needed.add(m);
      for (const r of m.reads) wanted.add(r);
      grew = true;
    }
  }
  return maps.filter((m) => needed.has(m));
}
