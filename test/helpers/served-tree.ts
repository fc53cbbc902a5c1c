import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { nginxBinary } from './nginx.js';

/**
 * A directory of nginx files served by a real, private nginx (own prefix, pid, logs, temp paths,
 * loopback ports), with small node HTTP servers as upstream members that answer with their label
 * (the pool they stand for) and the URI they received, so a test can tell which pool answered.
 * A missing nginx fails the test.
 */

export interface EchoServers {
  close(): Promise<void>;
}

/** One HTTP server per port, answering `pool=<label> uri=<uri>`; 404 for URIs containing `/missing`. */
export async function startEchoServers(byPort: ReadonlyMap<number, string>): Promise<EchoServers> {
  const servers: Server[] = [];
  for (const [port, label] of byPort) {
    const s = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(req.url?.includes('/missing') ? 404 : 200, { 'content-type': 'text/plain', 'x-upstream': label });
        res.end(`pool=${label} uri=${req.url} method=${req.method}\n`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    servers.push(s);
  }
  return { close: () => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))).then(() => undefined) };
}

/** Copies a fixture tree without its notes (`*.md`), filling `{{NAME}}` placeholders. */
export function copyTemplateTree(from: string, to: string, values: Record<string, string>): void {
  cpSync(from, to, { recursive: true });
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.md')) rmSync(p);
      else {
        const text = readFileSync(p, 'utf8');
        const filled = text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
          if (!(k in values)) throw new Error(`no value for {{${k}}} in ${p}`);
          return values[k]!;
        });
        if (filled !== text) writeFileSync(p, filled);
      }
    }
  };
  walk(to);
}

function run(file: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error === null) return resolve({ code: 0, output: stdout + stderr });
      if (typeof error.code === 'number') return resolve({ code: error.code, output: stdout + stderr });
      reject(new Error(`cannot run ${file}: ${error.message}`));
    });
  });
}

export class ServedTree {
  private constructor(
    readonly prefix: string,
    readonly conf: string,
  ) {}

  /** Starts nginx with a main configuration including `<treeDir>/pools/*.conf` and `<treeDir>/vhosts/*.conf`. */
  static async start(treeDir: string, prefix: string): Promise<ServedTree> {
    for (const d of ['logs', 'temp']) mkdirSync(join(prefix, d), { recursive: true });
    chmodSync(prefix, 0o755);
    const t = (n: string) => join(prefix, 'temp', n);
    const conf = join(prefix, 'nginx.conf');
    writeFileSync(
      conf,
      [
        'worker_processes 1;',
        `pid ${join(prefix, 'nginx.pid')};`,
        `error_log ${join(prefix, 'logs', 'error.log')} notice;`,
        'events { worker_connections 256; }',
        'http {',
        '    access_log off;',
        `    client_body_temp_path ${t('client_body')};`,
        `    proxy_temp_path ${t('proxy')};`,
        `    fastcgi_temp_path ${t('fastcgi')};`,
        `    uwsgi_temp_path ${t('uwsgi')};`,
        `    scgi_temp_path ${t('scgi')};`,
        '    server_names_hash_bucket_size 128;',
        `    include ${join(treeDir, 'pools')}/*.conf;`,
        `    include ${join(treeDir, 'vhosts')}/*.conf;`,
        '}',
        '',
      ].join('\n'),
    );
    const r = await run(nginxBinary(), ['-p', prefix, '-c', conf, '-e', join(prefix, 'logs', 'error.log')]);
    if (r.code !== 0) throw new Error(`nginx did not start:\n${r.output}`);
    const served = new ServedTree(prefix, conf);
    for (let i = 0; i < 100; i++) {
      if (served.pid() !== null) return served;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error('nginx wrote no pid file');
  }

  pid(): number | null {
    try {
      const pid = Number(readFileSync(join(this.prefix, 'nginx.pid'), 'utf8').trim());
      return pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }

  async stop(): Promise<void> {
    const pid = this.pid();
    if (pid === null) return;
    await run(nginxBinary(), ['-p', this.prefix, '-c', this.conf, '-e', join(this.prefix, 'logs', 'error.log'), '-s', 'quit']);
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    process.kill(pid, 'SIGKILL');
  }
}

export interface Probe {
  port: number;
  host: string;
  path: string;
  method?: string;
  https?: boolean;
  headers?: Record<string, string>;
  /** The client address to send from (any 127.x.y.z works on loopback); default 127.0.0.1. */
  from?: string;
}

/** What answered a request: the status, the upstream label (null: nginx answered itself), the URI it got, a redirect target. */
export interface Answer {
  status: number;
  pool: string | null;
  uri: string | null;
  location: string | null;
}

export function send(p: Probe): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = {
      host: '127.0.0.1',
      port: p.port,
      path: p.path,
      method: p.method ?? 'GET',
      agent: false as const,
      timeout: 5000,
      headers: { host: p.host, ...(p.headers ?? {}) },
      ...(p.from ? { localAddress: p.from } : {}),
      ...(p.https ? { servername: p.host, rejectUnauthorized: false } : {}),
    };
    const req = (p.https ? httpsRequest : httpRequest)(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        const m = /^pool=(\S+) uri=(\S+) method=/.exec(body);
        resolve({
          status: res.statusCode ?? 0,
          pool: m?.[1] ?? null,
          uri: m?.[2] ?? null,
          location: typeof res.headers.location === 'string' ? res.headers.location.replace(/^https?:\/\/[^/]+/, '') : null,
        });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${p.method ?? 'GET'} ${p.path}`)));
    req.on('error', reject);
    req.end();
  });
}
