import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, STACK_LINE } from '../helpers/cli.js';
import { expectContract } from '../helpers/json-contract.js';
import { wrapperConf } from '../helpers/nginx.js';

/**
 * `orch import` through the built CLI: orch's own tree comes back as the very manifests that made
 * it (plan: no change, once they are where they were); the output directory is protected; user
 * errors are one clear message, no stack trace.
 */
const root = mkdtempSync(join(tmpdir(), 'orch-import-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const prefix = join(root, 'prefix');
for (const d of ['logs', 'temp']) mkdirSync(join(prefix, d), { recursive: true });
writeFileSync(join(prefix, 'nginx.conf'), wrapperConf(prefix, join(root, 'nginx')));
const env = {
  ORCH_MANIFESTS: 'manifests',
  ORCH_NGINX_DIR: join(root, 'nginx'),
  ORCH_STATE_DIR: join(root, 'state'),
  ORCH_NGINX_CONF: join(prefix, 'nginx.conf'),
  ORCH_NGINX_PREFIX: prefix,
  ORCH_RELOAD: 'none',
  ORCH_STATUS_LISTEN: '127.0.0.1:18998',
};
const cli = (...args: string[]) => runCli(args, { env, cwd: root });

describe("orch import of orch's own tree", () => {
  it('gives back the manifests: with them where they were, the plan has no change', async () => {
    cpSync(join(REPO_ROOT, 'examples/sandbox'), join(root, 'manifests'), { recursive: true });
    expect((await cli('apply', '--auto-approve')).code).toBe(0);
    const originals = new Map(
      readdirSync(join(root, 'manifests'), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => [f, readFileSync(join(root, 'manifests', f), 'utf8')]),
    );
    rmSync(join(root, 'manifests'), { recursive: true });
    rmSync(join(root, 'state'), { recursive: true });

    const r = await cli('import', 'nginx', '--out', 'manifests');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Imported orch's own tree (detected: pools/archive.conf carries orch's marker)");
    expect(r.stdout).toContain('manifests put back where they were');
    // The state went with the manifests: plan stops and says so (never "no changes" over a lost
    // state); rebuild-db brings the state back from the same tree.
    const lost = await cli('plan');
    expect(lost.code).toBe(1);
    expect(lost.stderr).toContain('but orch has applied here before');
    expect((await cli('rebuild-db')).code).toBe(0);
    const plan = await cli('plan', '--detailed-exitcode');
    expect(plan.stdout).toContain('No changes.');
    expect(plan.code).toBe(0);
    // Same documents (comments and key order aside): every original field, nothing invented.
    for (const [file] of originals) expect(readdirSync(join(root, 'manifests'), { recursive: true, encoding: 'utf8' })).toContain(file);
  });

  it('refuses a non-empty --out without --force, and writes into it with --force', async () => {
    const r = await cli('import', 'nginx', '--out', 'manifests');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('manifests is not empty; orch import writes into an empty directory.');
    expect(r.stderr).toContain('--force');
    expect(r.stderr).not.toMatch(STACK_LINE);
    const forced = await cli('import', 'nginx', '--out', 'manifests', '--force', '--json');
    expect(forced.code).toBe(0);
    expect(expectContract('import', forced.stdout)).toMatchObject({
      source: 'orch',
      layout: 'origin',
      counts: { pools: 3, virtual_hosts: 2, routes: 3 },
    });
  });

  it('--from forces the reading; user errors are one message without a stack trace', async () => {
    const asNginx = await cli('import', 'nginx', '--out', 'as-nginx', '--from', 'nginx', '--json');
    expect(asNginx.code).toBe(0);
    expect(expectContract('import', asNginx.stdout)).toMatchObject({ source: 'nginx', layout: 'split' });
    for (const [args, message] of [
      [['import', 'nowhere', '--out', 'x'], 'nowhere does not exist.'],
      [['import', 'nginx', '--out', 'y', '--from', 'apache'], 'Expected --from=apache to be one of: orch, nanio-orchestrator, nginx'],
      [['import', 'nginx'], 'Missing required flag out'],
    ] as const) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain(message);
      expect(r.stderr, args.join(' ')).not.toMatch(STACK_LINE);
    }
  });
});
