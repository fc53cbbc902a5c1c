import { mkdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { UserError } from '../../domain/errors.js';
import type { SandboxLocation, SandboxNginx } from '../../ports/sandbox-nginx.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { nginxArgs, nginxMissingError, nginxVersion, runCommand, type NginxInvocation } from './nginx-cli.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The sandbox nginx: a process of its own, found by the pid file in its prefix. */
export function sandboxNginx(bin: string): SandboxNginx {
  const invocation = (o: SandboxLocation): NginxInvocation => ({
    bin,
    conf: o.conf,
    prefix: o.prefix,
    errorLog: join(o.prefix, 'logs', 'error.log'),
  });
  const running = (o: SandboxLocation): number | null => {
    // Read, not checked then read: a quitting nginx removes its pid file at any moment (sandbox down).
    let text: string;
    try {
      text = readFileSync(join(o.prefix, 'nginx.pid'), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    try {
      process.kill(pid, 0);
      return pid;
    } catch {
      return null;
    }
  };
  return {
    async requireBinary() {
      if (!(await nginxVersion(bin))) throw nginxMissingError(bin);
    },
    async start(o, mainConf) {
      const inv = invocation(o);
      for (const d of ['logs', 'temp']) mkdirSync(join(o.prefix, d), { recursive: true });
      mkdirSync(join(o.nginxDir, 'pools'), { recursive: true });
      mkdirSync(join(o.nginxDir, 'vhosts'), { recursive: true });
      writeFileAtomic(o.conf, mainConf);
      const was = running(o);
      const r = await runCommand(bin, was ? [...nginxArgs(inv), '-s', 'reload'] : nginxArgs(inv), { timeoutMs: 60_000 });
      if (r.code !== 0) {
        throw new UserError(
          'sandbox.nginx-failed',
          `The sandbox nginx did not ${was ? 'reload' : 'start'}: ${(r.stderr + r.stdout).trim()}`,
          {
            hint: `A port may already be in use; see ${join(o.prefix, 'logs', 'error.log')}. Stop a previous sandbox with 'orch sandbox down'.`,
          },
        );
      }
      for (let i = 0; i < 100; i++) {
        const pid = running(o);
        if (pid) return { pid, started: !was };
        await sleep(50);
      }
      throw new UserError('sandbox.nginx-failed', `The sandbox nginx did not start; see ${join(o.prefix, 'logs', 'error.log')}.`);
    },
    async stop(o) {
      if (!running(o)) return false;
      await runCommand(bin, [...nginxArgs(invocation(o)), '-s', 'quit'], { timeoutMs: 30_000 });
      for (let i = 0; i < 100 && running(o); i++) await sleep(50);
      return true;
    },
    probe(host, port, hostHeader, path) {
      return new Promise((resolveP) => {
        const req = request({ host, port, path, method: 'GET', timeout: 3000, headers: { host: hostHeader } }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolveP({ status: res.statusCode ?? 0, body: body.trim() }));
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => resolveP(null));
        req.end();
      });
    },
  };
}
