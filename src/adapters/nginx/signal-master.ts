import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import type { NginxBuildPaths } from '../../domain/install/nginx-dump.js';
import { nginxWritablePaths } from '../../domain/install/nginx-dump.js';
import { parseNginxConfig } from '../../domain/nginx-config/parse-nginx-config.js';
import type { IncludedText } from '../../domain/nginx-config/nginx-ast.js';
import { nginxGlob } from './test-config.js';

/**
 * The reload as a signal: SIGHUP to the master process of the nginx orch manages, found through
 * its pid file. `nginx -s reload` sends the same signal, but only after parsing the whole
 * configuration (as costly as `nginx -t`: about 0.8 s for 1,000 virtual hosts) — a parse orch has
 * just done with `nginx -t` of the same files. The master then re-reads its configuration exactly
 * as after `nginx -s reload`, and the apply confirms the reload by probing the status location, as
 * always.
 *
 * Used only when the master is certain: the pid file named by the main configuration (or nginx's
 * compiled-in one), a live process whose title says it is an nginx master started with the same
 * -c and -p orch uses. Anything uncertain answers null, and the caller runs `nginx -s reload`.
 */
export interface MasterTarget {
  /** nginx's main configuration as orch runs it (-c), resolved. */
  mainConf: string;
  /** The prefix orch runs nginx with (-p), or null for the compiled-in one. */
  prefix: string | null;
  /** nginx's compiled-in paths (`nginx -V`). */
  build: NginxBuildPaths;
}

export type SignalOutcome = { ok: true; output: string } | { ok: false; why: string };

/** Top-level includes followed this deep looking for `pid` (Debian's modules-enabled/*.conf is one). */
const MAX_DEPTH = 3;
const MAX_CONF_BYTES = 4 * 1024 * 1024;

export function signalMaster(target: MasterTarget): SignalOutcome {
  const pidFile = pidFileOf(target);
  if (!pidFile) return { ok: false, why: 'pid file not known from the main configuration' };
  let pid: number;
  try {
    const text = readFileSync(pidFile, 'utf8');
    if (!/^\d{1,10}\s*$/.test(text)) return { ok: false, why: `${pidFile} holds no pid` };
    pid = Number(text.trim());
  } catch {
    return { ok: false, why: `${pidFile} unreadable` };
  }
  const title = processTitle(pid);
  if (title === null) return { ok: false, why: `no process ${pid}` };
  const mismatch = masterMismatch(title, target);
  if (mismatch) return { ok: false, why: mismatch };
  try {
    process.kill(pid, 'SIGHUP');
  } catch (e) {
    return { ok: false, why: `kill(${pid}, SIGHUP): ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
  }
  return { ok: true, output: `signalled nginx's master process (pid ${pid}) to reload` };
}

/** The pid file nginx writes: the `pid` directive of the main context, else the compiled-in path. */
export function pidFileOf(target: MasterTarget): string | null {
  const files: IncludedText[] = [];
  const seen = new Set<string>();
  const confDir = posix.dirname(target.mainConf);
  const add = (file: string, depth: number): boolean => {
    if (seen.has(file)) return true;
    seen.add(file);
    let text: string;
    try {
      const buf = readFileSync(file);
      if (buf.length > MAX_CONF_BYTES) return false;
      text = buf.toString('utf8');
    } catch {
      return false;
    }
    files.push({ file, text });
    let directives;
    try {
      directives = parseNginxConfig(text, { file }).directives;
    } catch {
      return false;
    }
    // Only includes of the main context can hold `pid`; blocks (http, events, ...) cannot.
    for (const d of directives) {
      if (d.name !== 'include') continue;
      if (depth >= MAX_DEPTH || d.args.length !== 1) return false;
      const pattern = posix.isAbsolute(d.args[0]!) ? d.args[0]! : posix.join(confDir, d.args[0]!);
      for (const m of /[*?[]/.test(pattern) ? nginxGlob(pattern) : [pattern]) if (!add(m, depth + 1)) return false;
    }
    return true;
  };
  if (!add(target.mainConf, 0)) return null;
  try {
    return nginxWritablePaths({ files }, target.build, { prefix: target.prefix, errorLogFlag: null }).pidFile;
  } catch {
    return null;
  }
}

/** The process title (`nginx: master process /usr/sbin/nginx -c ...`), or null when there is no such process. */
function processTitle(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
  } catch {
    return null;
  }
}

/** Why the process is not the master orch manages, or null when it is. */
export function masterMismatch(title: string, target: MasterTarget): string | null {
  const head = 'nginx: master process ';
  if (!title.startsWith(head)) return `the pid file names a process that is not an nginx master (${title.slice(0, 60)})`;
  const words = title.slice(head.length).split(' ').filter(Boolean);
  let conf: string | null = null;
  let prefix: string | null = null;
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-c') conf = words[++i] ?? null;
    else if (w === '-p') prefix = words[++i] ?? null;
    else if (w === '-g') {
      // `-g 'daemon on; master_process on;'` (Debian's unit): fine unless it sets the pid file.
      if (words.slice(i + 1).some((x) => x.startsWith('pid'))) return 'the master was started with -g pid ...';
    } else if (w.startsWith('-c') || w.startsWith('-p')) return 'the master was started with options orch cannot compare';
  }
  const norm = (p: string | null) => (p === null ? null : posix.normalize(p).replace(/(.)\/+$/, '$1'));
  const masterPrefix = norm(prefix ?? target.build.prefix);
  const ourPrefix = norm(target.prefix ?? target.build.prefix);
  if (masterPrefix !== ourPrefix) return `the master runs with prefix ${String(masterPrefix)}, orch with ${String(ourPrefix)}`;
  const resolveConf = (c: string) => (posix.isAbsolute(c) ? posix.normalize(c) : posix.join(masterPrefix ?? '/', c));
  const masterConf = conf !== null ? resolveConf(conf) : target.build.confPath ? resolveConf(target.build.confPath) : null;
  if (masterConf !== posix.normalize(target.mainConf)) return `the master runs ${String(masterConf)}, orch manages ${target.mainConf}`;
  return null;
}
