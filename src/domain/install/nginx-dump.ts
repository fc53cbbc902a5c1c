import { posix } from 'node:path';
import type { IncludedText, NginxDirective, NginxInclude } from '../nginx-config/nginx-ast.js';
import { parseNginxConfig } from '../nginx-config/parse-nginx-config.js';
import { globRegExp } from '../nginx-config/glob.js';
import type { NginxWritablePaths } from './render-unit.js';

/**
 * Reading what `nginx -T` printed: every configuration file nginx opened, in order, the main one
 * first. nginx writes, for each file, `# configuration file NAME:` on a line of its own, the
 * file's bytes, and one more line feed.
 */
export interface NginxDump {
  files: IncludedText[];
}

const HEADER = /^# configuration file (.+):\n/gm;

export function parseNginxDump(stdout: string): NginxDump {
  const heads = [...stdout.matchAll(HEADER)];
  const files = heads.map((m, i) => {
    const start = m.index + m[0].length;
    const end = i + 1 < heads.length ? heads[i + 1]!.index : stdout.length;
    let text = stdout.slice(start, end);
    // nginx writes one line feed after each file's bytes.
    if (text.endsWith('\n')) text = text.slice(0, -1);
    return { file: m[1]!, text };
  });
  return { files };
}

/** Compiled-in paths, from `nginx -V` (`configure arguments: --prefix=... --pid-path=...`). */
export interface NginxBuildPaths {
  prefix: string | null;
  confPath: string | null;
  pidPath: string | null;
  errorLogPath: string | null;
  httpLogPath: string | null;
}

export function parseNginxBuildPaths(versionOutput: string): NginxBuildPaths {
  const arg = (name: string) => new RegExp(`--${name}=(\\S+)`).exec(versionOutput)?.[1] ?? null;
  return {
    prefix: arg('prefix'),
    confPath: arg('conf-path'),
    pidPath: arg('pid-path'),
    errorLogPath: arg('error-log-path'),
    httpLogPath: arg('http-log-path'),
  };
}

/** Where nginx's relative include paths are resolved: the directory of the main configuration. */
function absoluteFrom(base: string, p: string): string {
  return posix.isAbsolute(p) ? posix.normalize(p) : posix.normalize(posix.join(base, p));
}

export interface ParsedDump {
  mainFile: string;
  directives: NginxDirective[];
  /** Every include met, followed or not, with its position. */
  includes: NginxInclude[];
}

/**
 * Parses the main file of a dump, following its includes through the dumped files (exactly what
 * nginx read). The includes in `keep` (absolute patterns) are not followed: they stay in the tree
 * as `include` directives, so their position in the block structure can be checked.
 */
export function parseDump(dump: NginxDump, keep: readonly string[] = []): ParsedDump {
  const main = dump.files[0];
  if (!main) throw new Error('nginx -T printed no configuration file');
  const confDir = posix.dirname(main.file);
  const resolver = (pattern: string): IncludedText[] | null => {
    const abs = absoluteFrom(confDir, pattern);
    if (keep.includes(abs)) return null;
    if (!/[*?[]/.test(abs)) return dump.files.filter((f) => f.file === abs).slice(0, 1);
    const re = globRegExp(abs, { component: false });
    return dump.files.filter((f) => re.test(f.file)).sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  };
  const parsed = parseNginxConfig(main.text, { file: main.file, includeResolver: resolver });
  return { mainFile: main.file, directives: parsed.directives, includes: parsed.includes };
}

export interface IncludePosition {
  file: string;
  line: number;
}

export interface IncludeCheck {
  ok: boolean;
  /** The include lines orch needs, in order. */
  lines: [string, string];
  /** One sentence per problem found. */
  problems: string[];
  /** Where to add the lines: the http block (opening line, closing brace), or null when there is none. */
  http: { file: string; line: number; endLine: number } | null;
}

/**
 * Checks that the main configuration includes `<nginxDir>/pools/*.conf` and then
 * `<nginxDir>/vhosts/*.conf` directly inside `http { }` (possibly through an included file).
 */
export function checkManagedIncludes(dump: NginxDump, nginxDir: string): IncludeCheck {
  const pools = posix.join(nginxDir, 'pools/*.conf');
  const vhosts = posix.join(nginxDir, 'vhosts/*.conf');
  const lines: [string, string] = [`include ${pools};`, `include ${vhosts};`];
  const { mainFile, directives, includes } = parseDump(dump, [pools, vhosts]);
  const confDir = posix.dirname(mainFile);
  const problems: string[] = [];
  const httpBlocks = directives.filter((d) => d.name === 'http' && d.block);
  const http = httpBlocks[0] ?? null;
  const where = (d: NginxDirective) => `${d.file}:${d.line}`;
  const isOurs = (d: NginxDirective, want: string) =>
    d.name === 'include' && d.args.length === 1 && absoluteFrom(confDir, d.args[0]!) === want;

  // Our includes anywhere else than directly in http {} (top level, inside server {}, ...).
  const misplaced: string[] = [];
  const walk = (list: NginxDirective[], inHttp: boolean) => {
    for (const d of list) {
      if (!inHttp && (isOurs(d, pools) || isOurs(d, vhosts)))
        misplaced.push(`"${d.name} ${d.args[0]}" at ${where(d)} is not directly inside http { }`);
      if (d.block) walk(d.block, false);
    }
  };
  for (const d of directives) {
    if (d !== http) {
      walk([d], false);
      continue;
    }
    // Directly inside http {} is the right place; anything deeper (server {}, location {}) is not.
    for (const c of d.block ?? []) if (c.block) walk(c.block, false);
  }
  // Close but wrong: an include of the managed directory with another pattern (`pools/*` would
  // load the .meta.json sidecars as nginx configuration).
  const near: string[] = [];
  for (const inc of includes) {
    const abs = absoluteFrom(confDir, inc.pattern);
    if (abs !== pools && abs !== vhosts && abs.startsWith(`${posix.normalize(nginxDir)}/`)) {
      near.push(
        `"include ${inc.pattern}" at ${inc.file}:${inc.line} must be exactly "include ${abs.includes('/vhosts/') ? vhosts : pools}" (only the .conf files)`,
      );
    }
  }

  if (!http) {
    problems.push(`${mainFile} has no http { } block.`);
  } else {
    const body = http.block ?? [];
    const p = body.findIndex((d) => isOurs(d, pools));
    const v = body.findIndex((d) => isOurs(d, vhosts));
    if (p === -1) problems.push(`http { } (${where(http)}) does not include ${pools}.`);
    if (v === -1) problems.push(`http { } (${where(http)}) does not include ${vhosts}.`);
    if (p !== -1 && v !== -1 && p > v)
      problems.push(
        `${pools} is included after ${vhosts} (${where(body[p]!)}, ${where(body[v]!)}): the pools (upstreams) must come first.`,
      );
  }
  problems.push(...misplaced, ...near);
  return {
    ok: problems.length === 0,
    lines,
    problems,
    http: http ? { file: http.file, line: http.line, endLine: http.end.line } : null,
  };
}

/** The exact instructions printed when the check fails. */
export function includeInstructions(check: IncludeCheck, mainConf: string): string {
  const add = check.lines.map((l) => `    ${l}`).join('\n');
  if (!check.http) {
    return `Add an http block with these lines to ${mainConf}:\n\nhttp {\n${add}\n}`;
  }
  return `Add these lines inside the http { } block of ${check.http.file} (opened at line ${check.http.line}), before its closing brace at line ${check.http.endLine}, in this order, and remove any other include of the managed directory:\n\n${add}`;
}

function logTarget(arg: string | undefined): string | null {
  if (!arg || arg === 'off' || arg === 'stderr' || arg.startsWith('syslog:') || arg.startsWith('memory:') || arg.startsWith('/dev/'))
    return null;
  // A path with variables is opened by the workers at request time, never by nginx -t.
  if (arg.includes('$')) return null;
  return arg;
}

/**
 * What the live `nginx -t` opens for writing: the pid file and the log files (their
 * directories, since logrotate replaces the files). Compiled-in defaults apply where the
 * configuration does not say: the pid path, the error log (or the `-e` one), and the access log
 * when the http block sets none.
 */
export function nginxWritablePaths(
  dump: NginxDump,
  build: NginxBuildPaths,
  opts: { prefix: string | null; errorLogFlag: string | null },
): NginxWritablePaths {
  const { directives } = parseDump(dump);
  const prefix = opts.prefix ?? build.prefix ?? '/usr/share/nginx';
  const abs = (p: string) => absoluteFrom(prefix, p);
  let pid: string | null = null;
  let mainErrorLog = false;
  let httpAccessLog = false;
  const logs = new Set<string>();
  for (const d of directives) {
    if (d.name === 'pid' && d.args[0]) pid = abs(d.args[0]);
    if (d.name === 'error_log') mainErrorLog = true;
    if (d.name === 'http') for (const c of d.block ?? []) if (c.name === 'access_log') httpAccessLog = true;
  }
  const walk = (list: NginxDirective[]) => {
    for (const d of list) {
      if (d.name === 'error_log' || d.name === 'access_log') {
        const t = logTarget(d.args[0]);
        if (t) logs.add(abs(t));
      }
      if (d.block) walk(d.block);
    }
  };
  walk(directives);
  if (!mainErrorLog) {
    const t = logTarget(opts.errorLogFlag ?? build.errorLogPath ?? 'logs/error.log');
    if (t) logs.add(abs(t));
  }
  if (!httpAccessLog && directives.some((d) => d.name === 'http')) {
    const t = logTarget(build.httpLogPath ?? 'logs/access.log');
    if (t) logs.add(abs(t));
  }
  pid ??= build.pidPath ? abs(build.pidPath) : abs('logs/nginx.pid');
  const dirs = [...new Set([...logs].map((f) => posix.dirname(f)))].sort();
  return { pidFile: pid, logDirs: dirs };
}
