import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, STACK_LINE } from '../helpers/cli.js';
import { expectContract } from '../helpers/json-contract.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const free = (port: number) =>
  new Promise<boolean>((ok) => {
    const s = createServer();
    s.once('error', () => ok(false));
    s.listen(port, '127.0.0.1', () => s.close(() => ok(true)));
  });

/**
 * Issue 21: the npm package as an operator installs it. `npm pack` of this checkout, installed into
 * a scratch prefix (`npm install -g --prefix`), then, from an empty working directory with only that
 * prefix's bin on PATH: `orch sandbox up` (which copies the shipped example: examples/ must be in the
 * package), `orch plan`, `orch sandbox down`. The sandbox's own ports are used, as the quick start does.
 */
describe('the packed tarball, installed into a scratch prefix', () => {
  const root = mkdtempSync(join(tmpdir(), 'orch-packed-'));
  const prefix = join(root, 'prefix');
  const work = join(root, 'work');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('npm_') && !k.startsWith('ORCH_') && k !== 'INIT_CWD') env[k] = v;
  env['NO_COLOR'] = '1';
  env['PATH'] = `${join(prefix, 'bin')}:${process.env['PATH'] ?? ''}`;
  let installed: Run | null = null;

  beforeAll(async () => {
    mkdirSync(work, { recursive: true });
    const pack = await run('npm', ['pack', '--pack-destination', root], { cwd: REPO_ROOT, env, timeoutMs: 120_000 });
    expect(pack.code, pack.stderr).toBe(0);
    const tgz = readdirSync(root).find((f) => f.endsWith('.tgz'));
    expect(tgz).toBeDefined();
    // better-sqlite3 installs a prebuilt binary (prebuild-install) or compiles one (minutes). This
    // machine reaches no GitHub release, so the binary this checkout built is offered as a local
    // prebuild, as a mirror would (npm_config_better_sqlite3_local_prebuilds): the install path is
    // prebuild-install's own.
    const sqlite = join(REPO_ROOT, 'node_modules', 'better-sqlite3');
    const sqliteVersion = (JSON.parse(readFileSync(join(sqlite, 'package.json'), 'utf8')) as { version: string }).version;
    const prebuilds = join(root, 'prebuilds');
    mkdirSync(prebuilds);
    const tarball = join(
      prebuilds,
      `better-sqlite3-v${sqliteVersion}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`,
    );
    const tar = await run('tar', ['-czf', tarball, 'build/Release/better_sqlite3.node'], { cwd: sqlite, env, timeoutMs: 60_000 });
    expect(tar.code, tar.stderr).toBe(0);
    env['npm_config_better_sqlite3_local_prebuilds'] = prebuilds;
    // From npm's cache where it can (CI ran npm ci before): the network only for what is missing.
    installed = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(root, tgz!)], {
      cwd: root,
      env,
      timeoutMs: 600_000,
    });
  }, 720_000);

  afterAll(async () => {
    if (existsSync(join(prefix, 'bin', 'orch'))) await run('orch', ['sandbox', 'down'], { cwd: work, env, timeoutMs: 60_000 });
    rmSync(root, { recursive: true, force: true });
  });

  it('ships what its commands need: sandbox up, plan and sandbox down work from the installed orch', async () => {
    expect(installed?.code, `${installed?.stdout}${installed?.stderr}`).toBe(0);
    const pkg = join(prefix, 'lib', 'node_modules', 'orch');
    for (const f of [
      'LICENSE',
      'README.md',
      'docs/apply.md',
      'examples/sandbox/pools.yaml',
      'schemas/pool.schema.json',
      'dist/bundle/cli.cjs',
    ])
      expect(existsSync(join(pkg, f)), f).toBe(true);
    // The sandbox's fixed ports (examples/sandbox) must be free: another sandbox on this machine would answer instead.
    for (const port of [18080, 18081, 19101, 19102, 19111, 19121, 19122]) expect(await free(port), `port ${port} is in use`).toBe(true);

    const version = await run('orch', ['version'], { cwd: work, env, timeoutMs: 60_000 });
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout).toMatch(/^orch\/\d+\.\d+\.\d+ /);

    const up = await run('orch', ['sandbox', 'up', '--json'], { cwd: work, env, timeoutMs: 180_000 });
    expect(up.stderr).not.toMatch(STACK_LINE);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stderr).toContain('Copied the example');
    const result = expectContract<{ copied_example: boolean; generation: number | null; probes: Array<{ status: number | null }> }>(
      'sandbox-up',
      up.stdout,
    );
    expect(result.copied_example).toBe(true);
    expect(result.generation).toBe(1);
    expect(result.probes.length).toBeGreaterThan(0);
    expect(result.probes.every((p) => p.status !== null)).toBe(true);
    expect(existsSync(join(work, 'manifests', 'pools.yaml'))).toBe(true);

    const plan = await run('orch', ['plan', '--detailed-exitcode'], { cwd: work, env, timeoutMs: 120_000 });
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    expect(plan.stdout).toContain('No changes');

    const down = await run('orch', ['sandbox', 'down', '--json'], { cwd: work, env, timeoutMs: 60_000 });
    expect(down.code, down.stdout + down.stderr).toBe(0);
    expect(expectContract('sandbox-down', down.stdout)).toMatchObject({ stopped: true });
    for (const port of [18080, 19101]) expect(await free(port), `port ${port} still in use after sandbox down`).toBe(true);
  });
});
