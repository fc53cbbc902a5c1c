import { request } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type { GenerationTestResult, Nginx, ReloadResult } from '../../ports/nginx.js';
import { parseNginxBuildPaths, type NginxBuildPaths } from '../../domain/install/nginx-dump.js';
import { signalMaster } from './signal-master.js';
import { nginxArgs, nginxMissingError, nginxTest, nginxVersion, runCommand, type NginxInvocation } from './nginx-cli.js';
import { prepareGenerationTest } from './test-config.js';

/** How orch runs the operator's nginx (built from the settings in the composition root). */
export interface NginxOptions {
  /** The binary (ORCH_NGINX). */
  bin: string;
  /** Main configuration, passed with -c (ORCH_NGINX_CONF); null: nginx's built-in path. */
  conf: string | null;
  /** Prefix, passed with -p (ORCH_NGINX_PREFIX). */
  prefix: string | null;
  reload: 'nginx' | 'systemctl' | 'command' | 'none';
  /** The shell command of `reload: command`. */
  reloadCommand: string | null;
  /** The loopback address of the status location, or 'off'. */
  statusListen: string;
  /** The managed directory (its includes are pointed at a new generation for the test). */
  nginxDir: string;
  /** A private directory for the test's configuration (removed after each test). */
  stagingDir: string;
  /**
   * `reload: nginx` signals the master directly when it is certain (signal-master.ts) instead of
   * running `nginx -s reload`; false (ORCH_RELOAD_SIGNAL=0, for `npm run bench`) always runs the command.
   */
  signalReload?: boolean;
}

/** How orch invokes the operator's nginx: the binary, -c and -p (and -e under a private prefix). */
export function liveInvocation(options: Pick<NginxOptions, 'bin' | 'conf' | 'prefix'>): NginxInvocation {
  return {
    bin: options.bin,
    conf: options.conf,
    prefix: options.prefix,
    errorLog: options.prefix ? join(options.prefix, 'logs', 'error.log') : null,
  };
}

export function nginxControl(options: NginxOptions): Nginx {
  return {
    version: () => nginxVersion(options.bin),
    mainConfigExists: () => options.conf === null || existsSync(options.conf),
    testGeneration: (generationDir) => testGeneration(options, generationDir),
    testTree: (files) => testTree(options, files),
    reload: () => reloadNginx(options),
    servedGeneration: () => (options.statusListen === 'off' ? Promise.resolve(null) : probeStatus(options.statusListen)),
    errorLogTail: (lines) => tailErrorLog(options.prefix, lines),
  };
}

/**
 * One `nginx -t` of the operator's main configuration as it will be once `generationDir` is live
 * (its managed includes pointed there), under the operator's prefix: what the switch will give
 * nginx is validated before the switch, conflicts with files orch does not manage included.
 */
async function testGeneration(options: NginxOptions, generationDir: string): Promise<GenerationTestResult> {
  const live = liveInvocation(options);
  const mainConf = options.conf ?? (await defaultConfPath(options.bin, options.prefix));
  try {
    const prepared = prepareGenerationTest({
      stagingDir: options.stagingDir,
      mainConf,
      prefix: live.prefix,
      errorLog: live.errorLog ?? null,
      nginxDir: options.nginxDir,
      generationDir,
    });
    const r = await nginxTest({ bin: options.bin, conf: prepared.conf, prefix: prepared.prefix, errorLog: prepared.errorLog });
    return { ...r, output: prepared.mapOutput(r.output), scope: prepared.scope };
  } finally {
    rmSync(options.stagingDir, { recursive: true, force: true });
  }
}

/** `orch validate --nginx-test`: the files in a private temporary tree, tested like a new generation, then removed. */
async function testTree(
  options: NginxOptions,
  files: ReadonlyArray<{ path: string; content: string }>,
): Promise<GenerationTestResult & { treeRoot: string }> {
  const root = mkdtempSync(join(tmpdir(), 'orch-validate-'));
  try {
    const tree = join(root, 'tree');
    for (const sub of ['pools', 'vhosts']) mkdirSync(join(tree, sub), { recursive: true });
    for (const f of files) {
      if (isAbsolute(f.path) || f.path.split('/').includes('..')) throw new Error(`rendered path outside the tree: ${f.path}`);
      mkdirSync(dirname(join(tree, f.path)), { recursive: true });
      writeFileSync(join(tree, f.path), f.content);
    }
    const r = await testGeneration({ ...options, stagingDir: join(root, 'staging') }, tree);
    return { ...r, treeRoot: tree };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const buildPaths = new Map<string, NginxBuildPaths>();

/** nginx's compiled-in paths (`nginx -V`), once per binary. */
async function nginxBuildPaths(bin: string): Promise<NginxBuildPaths> {
  const known = buildPaths.get(bin);
  if (known) return known;
  let out: string;
  try {
    const r = await runCommand(bin, ['-V'], { timeoutMs: 10_000 });
    out = r.stderr + r.stdout;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw nginxMissingError(bin);
    throw e;
  }
  const build = parseNginxBuildPaths(out);
  buildPaths.set(bin, build);
  return build;
}

/** nginx's compiled-in main configuration (`nginx -V`: --conf-path, relative to the prefix). */
async function defaultConfPath(bin: string, prefix: string | null): Promise<string> {
  const build = await nginxBuildPaths(bin);
  const conf = build.confPath ?? 'conf/nginx.conf';
  return isAbsolute(conf) ? conf : join(prefix ?? build.prefix ?? '/usr/share/nginx', conf);
}

/** Sends the configured reload. Exit 0 does NOT mean nginx loaded the config: confirm separately. */
async function reloadNginx(options: NginxOptions): Promise<ReloadResult> {
  const started = performance.now();
  let cmd: string;
  let args: string[];
  switch (options.reload) {
    case 'none':
      return { ok: true, output: 'reload disabled (reload: none)', durationMs: 0 };
    case 'systemctl':
      cmd = 'systemctl';
      args = ['reload', 'nginx'];
      break;
    case 'command':
      cmd = '/bin/sh';
      args = ['-c', options.reloadCommand ?? 'false'];
      break;
    default: {
      // SIGHUP straight to the master when it is certain (see signal-master.ts): `nginx -s reload`
      // would first parse the whole configuration again, as costly as the `nginx -t` just run.
      const signalled = await signalKnownMaster(options);
      if (signalled) return { ok: true, output: signalled, durationMs: performance.now() - started };
      cmd = options.bin;
      args = [...nginxArgs(liveInvocation(options)), '-s', 'reload'];
    }
  }
  try {
    const r = await runCommand(cmd, args, { timeoutMs: 120_000 });
    return { ok: r.code === 0, output: (r.stderr + r.stdout).trim(), durationMs: performance.now() - started };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && options.reload === 'nginx') throw nginxMissingError(options.bin);
    throw e;
  }
}

async function signalKnownMaster(options: NginxOptions): Promise<string | null> {
  if (!options.signalReload) return null;
  try {
    const build = await nginxBuildPaths(options.bin);
    const mainConf = options.conf ?? (await defaultConfPath(options.bin, options.prefix));
    const r = signalMaster({ mainConf, prefix: options.prefix, build });
    return r.ok ? r.output : null;
  } catch {
    return null;
  }
}

/**
 * One GET of the status location on a fresh connection (`agent: false`: Node's global agent keeps
 * connections alive, and a reused connection stays with the worker that accepted it, old or new,
 * so it cannot tell what a new client connection gets); null when nothing answers.
 */
export function probeStatus(listen: string, timeoutMs = 1000, path = '/orch/generation'): Promise<string | null> {
  const { host, port } = splitListen(listen);
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', timeout: timeoutMs, agent: false, headers: { host: 'orch-status' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : null));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

export function splitListen(listen: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d+)$/.exec(listen);
  if (!m) return { host: '127.0.0.1', port: Number(listen) };
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** The last lines of nginx's error log, for explaining a reload that did not take effect. */
function tailErrorLog(prefix: string | null, lines = 5): string | null {
  const candidates = [prefix ? join(prefix, 'logs', 'error.log') : null, '/var/log/nginx/error.log'];
  for (const file of candidates) {
    if (!file) continue;
    try {
      const text = readFileSync(file, 'utf8');
      return text.trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      /* try the next */
    }
  }
  return null;
}
