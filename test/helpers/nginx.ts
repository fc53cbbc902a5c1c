import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Test helpers that run the REAL nginx binary (`$ORCH_NGINX`, default `nginx` on PATH).
 * A missing nginx is a failure, never a skip: the point of these tests is the real parser.
 */

export interface TreeFile {
  path: string;
  content: string;
}

export interface NginxTestResult {
  ok: boolean;
  /** stdout + stderr of `nginx -t`. */
  output: string;
  /** The directory the tree was written to (already removed when the call returns). */
  dir: string;
}

export function nginxBinary(): string {
  return process.env.ORCH_NGINX ?? 'nginx';
}

interface RunResult {
  code: number;
  output: string;
}

function run(file: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (error === null) return resolve({ code: 0, output });
      if (typeof error.code === 'number') return resolve({ code: error.code, output });
      // ENOENT, EACCES, a timeout: the tool itself could not run.
      reject(new Error(`cannot run ${file} ${args.join(' ')}: ${error.message}\n${output}`));
    });
  });
}

/** The wrapper nginx.conf: everything nginx writes stays under the private prefix. */
export function wrapperConf(prefix: string, treeDir: string): string {
  return [
    `pid ${prefix}/nginx.pid;`,
    `error_log ${prefix}/logs/error.log;`,
    'events {}',
    'http {',
    `    access_log ${prefix}/logs/access.log;`,
    `    client_body_temp_path ${prefix}/temp/client_body;`,
    `    proxy_temp_path ${prefix}/temp/proxy;`,
    `    fastcgi_temp_path ${prefix}/temp/fastcgi;`,
    `    uwsgi_temp_path ${prefix}/temp/uwsgi;`,
    `    scgi_temp_path ${prefix}/temp/scgi;`,
    '    server_names_hash_bucket_size 128;',
    '    server_names_hash_max_size 4096;',
    `    include ${treeDir}/pools/*.conf;`,
    `    include ${treeDir}/vhosts/*.conf;`,
    '}',
    '',
  ].join('\n');
}

/**
 * Writes `files` (paths relative to the managed directory) into a fresh temp dir with a wrapper
 * nginx.conf and runs `nginx -t` on the whole tree. Throws when nginx cannot be run at all.
 */
export async function nginxTestTree(files: readonly TreeFile[]): Promise<NginxTestResult> {
  const prefix = await mkdtemp(join(tmpdir(), 'orch-nginx-t-'));
  try {
    const treeDir = join(prefix, 'managed');
    await mkdir(join(prefix, 'logs'), { recursive: true });
    await mkdir(join(prefix, 'temp'), { recursive: true });
    // Both include globs must match something or be empty dirs; nginx accepts an empty glob.
    await mkdir(join(treeDir, 'pools'), { recursive: true });
    await mkdir(join(treeDir, 'vhosts'), { recursive: true });
    for (const f of files) {
      if (f.path.startsWith('/') || f.path.split('/').includes('..')) throw new Error(`bad tree path ${f.path}`);
      const target = join(treeDir, f.path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, f.content);
    }
    const conf = join(prefix, 'nginx.conf');
    await writeFile(conf, wrapperConf(prefix, treeDir));
    const result = await run(nginxBinary(), ['-t', '-p', prefix, '-c', conf, '-e', join(prefix, 'logs', 'error.log')]);
    return { ok: result.code === 0, output: result.output, dir: prefix };
  } finally {
    await rm(prefix, { recursive: true, force: true });
  }
}

export interface SelfSignedCert {
  certificate: string;
  key: string;
}

/** A throwaway self-signed certificate + key (openssl CLI), written into `dir`. */
export async function makeSelfSignedCert(dir: string, name = 'test'): Promise<SelfSignedCert> {
  const certificate = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const r = await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=test',
    '-days',
    '1',
    '-keyout',
    key,
    '-out',
    certificate,
  ]);
  if (r.code !== 0) throw new Error(`openssl failed:\n${r.output}`);
  return { certificate, key };
}
