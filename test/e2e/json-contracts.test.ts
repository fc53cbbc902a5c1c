import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_LINE } from '../helpers/cli.js';
import { docs, Gateway, poolYaml, routeYaml, vhostYaml } from '../helpers/gateway.js';
import { expectContract } from '../helpers/json-contract.js';

interface StatusJson {
  healthy: boolean;
  problems: Array<{ reason: string; message: string }>;
  served: { checked: boolean; token: string | null; current: boolean };
  drift: { count: number };
  generation: { number: number; summary: Record<string, unknown> } | null;
  resources: Array<{ kind: string; name: string; conditions: Array<{ type: string; status: string; reason: string }> }>;
}

/** The condition holding (status True) of each resource, as "Kind/name Type:Reason". */
const holding = (s: StatusJson) =>
  s.resources.map((r) => {
    const c = r.conditions.find((x) => x.status === 'True');
    return `${r.kind}/${r.name} ${c ? `${c.type}:${c.reason}` : 'none'}`;
  });

/**
 * The JSON contracts of docs/json.md, on the built CLI against a real nginx: outputs checked
 * against their schema in schemas/cli/ (ajv, strict; the other outputs are checked where their
 * tests already run them: plan-markdown, import-cli, node-config-cli, cli-conventions, rebuild-db,
 * buckets-s3, migration-streamed), and `orch status` for scripts: the health
 * verdict, --detailed-exitcode and the per-resource conditions, with nginx running, stopped and
 * started again, drift, and another state directory.
 */
describe.sequential('JSON contracts and orch status for scripts (real nginx)', () => {
  let gw: Gateway;
  let port: number;
  const scratch = mkdtempSync(join(tmpdir(), 'orch-json-'));
  const photos = (pool: string) => routeYaml('s3-photos', { virtualHost: 's3', path: '/photos/', pool });

  beforeAll(async () => {
    gw = await Gateway.start({ pools: { hot: 1, archive: 1 }, vhostPorts: 1 });
    port = gw.ports[0]!;
    gw.setManifests({
      'pools.yaml': docs(poolYaml('hot', gw.membersOf('hot'), 'http'), poolYaml('archive', gw.membersOf('archive'), 'http')),
      'vhosts/s3.yaml': vhostYaml('s3', { serverNames: ['s3.test'], port, defaultPool: 'hot' }),
      'routes/photos.yaml': photos('archive'),
    });
  });
  afterAll(async () => {
    await gw?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('before the first apply: not healthy (exit 2), the status address not asked; validate and errors', async () => {
    const text = await gw.orch(['status', '--detailed-exitcode']);
    expect(text.code, text.stderr).toBe(2);
    expect(text.stdout).toContain('nginx serves:  not checked (no generation applied from this state directory)');
    expect(text.stdout).toMatch(/Health: {8}NOT healthy\n {15}- no generation has been applied from this state directory \(orch apply\)/);
    const json = await gw.orch(['status', '--json']);
    expect(json.code, 'without --detailed-exitcode: 0').toBe(0);
    const s = expectContract<StatusJson>('status', json.stdout);
    expect(s).toMatchObject({
      healthy: false,
      problems: [{ reason: 'NoGeneration' }],
      served: { checked: false, token: null },
      resources: [],
    });

    const valid = await gw.orch(['validate', '--json']);
    expect(valid.code, valid.stderr).toBe(0);
    expect(expectContract('validate', valid.stdout)).toMatchObject({ valid: true, counts: { pools: 2, virtual_hosts: 1, routes: 1 } });

    // Errors with --json: one JSON document on stdout (usage, validation with diagnostics), exit 1.
    const usage = await gw.orch(['status', '--json', '--no-such-flag']);
    expect(usage.code).toBe(1);
    expect(expectContract('error', usage.stdout)).toMatchObject({ error: { code: 'usage', diagnostics: [] } });
    gw.writeManifest('routes/broken.yaml', routeYaml('s3-broken', { virtualHost: 's3', path: '/broken/', pool: 'nowhere' }));
    const invalid = await gw.orch(['validate', '--json']);
    gw.removeManifest('routes/broken.yaml');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).not.toMatch(STACK_LINE);
    const e = expectContract<{ error: { code: string; diagnostics: Array<Record<string, unknown>> } }>('error', invalid.stdout);
    expect(e.error.code).toBe('validation.failed');
    expect(e.error.diagnostics).toContainEqual(expect.objectContaining({ kind: 'Route', name: 's3-broken', field: 'spec.pool' }));
  });

  it('applied and served: healthy (exit 0), every resource Ready; apply, drift, suspend, resume, migrations, install', async () => {
    const apply = await gw.orch(['apply', '--auto-approve', '--json']);
    expect(apply.code, apply.stderr).toBe(0);
    const a = expectContract<{ generation: number; timings: Record<string, number> }>('apply', apply.stdout);
    expect(Object.keys(a.timings)).toEqual(['nginx_test_ms', 'reload_ms', 'confirm_ms']);

    // Independent reads, run side by side.
    const [text, sjson, driftJson] = await Promise.all([
      gw.orch(['status', '--detailed-exitcode']),
      gw.orch(['status', '--json']),
      gw.orch(['drift', '--json']),
    ]);
    expect(text.code, text.stdout + text.stderr).toBe(0);
    expect(text.stdout).toContain(`nginx serves:  generation ${a.generation} (current)`);
    expect(text.stdout).toContain(`Health:        healthy (generation ${a.generation} served, no drift)`);
    const s = expectContract<StatusJson>('status', sjson.stdout);
    expect(s).toMatchObject({ healthy: true, problems: [], served: { checked: true, current: true } });
    expect(s.generation!.summary).toMatchObject({ add: 3 });
    expect(holding(s)).toEqual([
      'Pool/archive Ready:Current',
      'Pool/hot Ready:Current',
      'VirtualHost/s3 Ready:Current',
      'Route/s3-photos Ready:Current',
    ]);

    const noDrift = expectContract<{ drift: unknown[] }>('drift', driftJson.stdout);
    expect(noDrift.drift).toEqual([]);
    const sus = await gw.orch(['suspend', '--json', '--reason', 'json test']);
    expect(expectContract('suspend', sus.stdout)).toMatchObject({ suspended: { reason: 'json test' }, already_suspended: false });
    expect(expectContract('resume', (await gw.orch(['resume', '--json'])).stdout)).toMatchObject({ resumed: true });
    const [migrations, orphaned, install] = await Promise.all([
      gw.orch(['migrations', '--json']),
      gw.orch(['migrations', 'orphaned', '--json']),
      gw.orch(['install', '--prefix', join(scratch, 'root'), '--dry-run', '--skip-nginx-check', '--json']),
    ]);
    expect(expectContract('migrations', migrations.stdout)).toMatchObject({ migrations: [] });
    expect(expectContract('migrations-orphaned', orphaned.stdout)).toMatchObject({ orphaned: [] });
    expect(install.code, install.stderr).toBe(0);
    expect(expectContract('install', install.stdout)).toMatchObject({ dry_run: true, changed: true });
  });

  it('drift: not healthy (exit 2), the edited virtual host and its route Stalled (Drifted)', async () => {
    const before = gw.readManaged('vhosts/s3.conf');
    gw.writeManaged('vhosts/s3.conf', `${before}# edited by hand\n`);
    try {
      const [driftJson, text, sjson] = await Promise.all([
        gw.orch(['drift', '--json']),
        gw.orch(['status', '--detailed-exitcode']),
        gw.orch(['status', '--json', '--detailed-exitcode']),
      ]);
      const drift = expectContract<{ drift: Array<{ path: string; kind: string; diff: string }> }>('drift', driftJson.stdout);
      expect(drift.drift).toEqual([
        expect.objectContaining({ path: 'vhosts/s3.conf', kind: 'modified', diff: expect.stringContaining('+# edited by hand') }),
      ]);
      expect(text.code).toBe(2);
      expect(text.stdout).toContain('Health:        NOT healthy\n               - 1 managed file(s) changed outside orch (orch drift)');
      expect(sjson.code).toBe(2);
      const s = expectContract<StatusJson>('status', sjson.stdout);
      expect(s.problems.map((p) => p.reason)).toEqual(['Drifted']);
      expect(holding(s)).toEqual([
        'Pool/archive Ready:Current',
        'Pool/hot Ready:Current',
        'VirtualHost/s3 Stalled:Drifted',
        'Route/s3-photos Stalled:Drifted',
      ]);
    } finally {
      gw.writeManaged('vhosts/s3.conf', before);
    }
    expect((await gw.orch(['status', '--detailed-exitcode'])).code).toBe(0);
  });

  it('nginx stopped: not healthy (exit 2), every resource Stalled (NginxNotAnswering); started again: healthy', async () => {
    const pid = gw.masterPid()!;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 200 && (await gw.served()) !== null; i++) await new Promise((r) => setTimeout(r, 25));
    try {
      const [text, sjson] = await Promise.all([gw.orch(['status', '--detailed-exitcode']), gw.orch(['status', '--json'])]);
      expect(text.code, text.stdout).toBe(2);
      expect(text.stdout).toContain(`nginx serves:  no answer on the status address ${gw.statusListen}`);
      expect(text.stdout).toContain(
        `Health:        NOT healthy\n               - nothing answers on the status address ${gw.statusListen}: nginx is not running`,
      );
      const s = expectContract<StatusJson>('status', sjson.stdout);
      expect(s).toMatchObject({ healthy: false, served: { checked: true, token: null, current: false } });
      expect(new Set(holding(s).map((h) => h.split(' ')[1]))).toEqual(new Set(['Stalled:NginxNotAnswering']));
    } finally {
      expect((await gw.restartNginx()).ok).toBe(true);
    }
    const again = await gw.orch(['status', '--detailed-exitcode']);
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toContain('Health:        healthy');
  });

  it('another (empty) state directory never reads this gateway as its own', async () => {
    const other = ['--state-dir', join(scratch, 'other-state'), '--nginx-dir', join(scratch, 'other-nginx')];
    const [text, sjson] = await Promise.all([
      gw.orch(['status', '--detailed-exitcode', ...other]),
      gw.orch(['status', '--json', ...other]),
    ]);
    expect(text.code, text.stdout + text.stderr).toBe(2);
    expect(text.stdout).toContain('nginx serves:  not checked (no generation applied from this state directory)');
    expect(text.stdout).not.toContain('(current)');
    const s = expectContract<StatusJson>('status', sjson.stdout);
    expect(s).toMatchObject({ generation: null, served: { checked: false, token: null }, resources: [] });
  });

  it('rollback --json: the restored generation; without --auto-approve, a JSON error', async () => {
    gw.writeManifest('routes/photos.yaml', photos('hot'));
    const apply = await gw.orch(['apply', '--auto-approve']);
    expect(apply.code, apply.stderr).toBe(0);
    const refused = await gw.orch(['rollback', '--json']);
    expect(refused.code).toBe(1);
    expect(expectContract('error', refused.stdout)).toMatchObject({ error: { code: 'rollback.needs-approval' } });
    const rb = await gw.orch(['rollback', '--auto-approve', '--json']);
    expect(rb.code, rb.stderr).toBe(0);
    const r = expectContract<{ restored: number; generation: number; reloads: number }>('rollback', rb.stdout);
    expect(r.generation).toBe(r.restored + 2);
    expect(r.reloads).toBe(1);
    expect((await gw.request(port, 's3.test', '/photos/a'))?.pool).toBe('archive');
    writeFileSync(join(gw.manifestsDir, 'routes', 'photos.yaml'), photos('archive'));
  });
});
