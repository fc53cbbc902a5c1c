import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nginxControl } from '../../src/adapters/nginx/nginx-control.js';
import { masterMismatch, pidFileOf, signalMaster } from '../../src/adapters/nginx/signal-master.js';
import { parseNginxBuildPaths } from '../../src/domain/install/nginx-dump.js';
import { nginxBinary } from '../helpers/nginx.js';
import { freePorts } from '../helpers/ports.js';

// The reload as SIGHUP to the master (src/adapters/nginx/signal-master.ts), against a real nginx:
// used only when the pid file names a live nginx master run with orch's own -c and -p; anything
// else falls back to `nginx -s reload`, and a process that is not that master is never signalled.

const NGINX = nginxBinary();
const build = parseNginxBuildPaths(spawnSync(NGINX, ['-V'], { encoding: 'utf8' }).stderr);

function get(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 1000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function until(what: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await what()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe('reload by signal to the nginx master', () => {
  let dir: string;
  let prefix: string;
  let conf: string;
  let port: number;
  const confText = (body: string, pidLine = 'include main.d/*.conf;') =>
    [pidLine, 'events {}', `http { access_log off; server { listen 127.0.0.1:${port}; return 200 "${body}\\n"; } }`, ''].join('\n');
  const options = () => ({
    bin: NGINX,
    conf,
    prefix,
    reload: 'nginx' as const,
    reloadCommand: null,
    statusListen: 'off',
    nginxDir: join(dir, 'managed'),
    stagingDir: join(dir, 'staging'),
    signalReload: true,
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-sighup-'));
    prefix = join(dir, 'prefix');
    mkdirSync(join(prefix, 'logs'), { recursive: true });
    mkdirSync(join(prefix, 'conf', 'main.d'), { recursive: true });
    conf = join(prefix, 'conf', 'nginx.conf');
    [port] = (await freePorts(1)) as [number];
    // Debian's shape: the pid directive in a file the main context includes.
    writeFileSync(join(prefix, 'conf', 'main.d', '10-pid.conf'), 'pid run/master.pid;\n');
    mkdirSync(join(prefix, 'run'));
    writeFileSync(conf, confText('one'));
    const r = spawnSync(NGINX, ['-p', prefix, '-c', conf, '-e', join(prefix, 'logs', 'error.log')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(await until(async () => (await get(port)) === 'one')).toBe(true);
  });

  afterAll(() => {
    spawnSync(NGINX, ['-p', prefix, '-c', conf, '-e', join(prefix, 'logs', 'error.log'), '-s', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the pid file through the main context includes, and reloads by SIGHUP', async () => {
    expect(pidFileOf({ mainConf: conf, prefix, build })).toBe(join(prefix, 'run', 'master.pid'));
    writeFileSync(conf, confText('two'));
    const r = await nginxControl(options()).reload();
    expect(r.ok).toBe(true);
    expect(r.output).toMatch(/^signalled nginx's master process \(pid \d+\) to reload$/);
    expect(await until(async () => (await get(port)) === 'two')).toBe(true);
  });

  it('falls back to `nginx -s reload` when switched off, with the same result', async () => {
    writeFileSync(conf, confText('three'));
    const r = await nginxControl({ ...options(), signalReload: false }).reload();
    expect(r.ok).toBe(true);
    expect(r.output).not.toMatch(/signalled/);
    expect(await until(async () => (await get(port)) === 'three')).toBe(true);
  });

  it('never signals a process that is not this nginx master: a stale pid file falls back to the command', async () => {
    const pidFile = join(prefix, 'run', 'master.pid');
    const real = readFileSync(pidFile, 'utf8');
    let sleeper: ChildProcess | null = null;
    try {
      sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
      writeFileSync(pidFile, `${String(sleeper.pid)}\n`);
      const r = signalMaster({ mainConf: conf, prefix, build });
      expect(r.ok).toBe(false);
      expect(!r.ok && r.why).toMatch(/not an nginx master/);
      await new Promise((res) => setTimeout(res, 200));
      expect(sleeper.exitCode).toBeNull();
      expect(sleeper.signalCode).toBeNull();

      // A pid no process has: not signalled; the fallback command reports nginx's own failure.
      writeFileSync(pidFile, '4194000\n');
      expect(signalMaster({ mainConf: conf, prefix, build }).ok).toBe(false);
      const r2 = await nginxControl(options()).reload();
      expect(r2.ok).toBe(false);
      expect(r2.output).toMatch(/4194000/);
    } finally {
      sleeper?.kill('SIGKILL');
      writeFileSync(pidFile, real);
    }
  });

  it('does not signal a master started with another configuration or prefix', () => {
    const target = { mainConf: '/etc/orch-test/nginx.conf', prefix: '/srv/nginx', build };
    expect(masterMismatch('nginx: master process nginx -p /srv/nginx -c /etc/orch-test/nginx.conf', target)).toBeNull();
    expect(masterMismatch('nginx: master process nginx -p /srv/nginx/ -c /etc/orch-test/nginx.conf -e /x/error.log', target)).toBeNull();
    expect(masterMismatch('nginx: master process nginx -p /srv/other -c /etc/orch-test/nginx.conf', target)).toMatch(/prefix/);
    expect(masterMismatch('nginx: master process nginx -p /srv/nginx -c /etc/other.conf', target)).toMatch(/runs \/etc\/other.conf/);
    expect(masterMismatch('nginx: master process nginx -p /srv/nginx -c /etc/orch-test/nginx.conf -g pid /tmp/x.pid;', target)).toMatch(
      /-g pid/,
    );
    expect(masterMismatch('nginx: worker process', target)).toMatch(/not an nginx master/);
    // Debian's unit: no -c (the compiled-in path), -g without pid.
    const debian = { mainConf: build.confPath ?? '/etc/nginx/nginx.conf', prefix: null, build };
    expect(build.confPath).toMatch(/^\//);
    expect(masterMismatch('nginx: master process /usr/sbin/nginx -g daemon on; master_process on;', debian)).toBeNull();
  });
});
