import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { fileManifestLoader } from '../../src/adapters/manifests/file-manifest-loader.js';
import { loadManifests } from '../../src/use-cases/plan/load-manifests.js';
import { withStableOrigins } from '../../src/domain/manifests/origin-names.js';
import { originNamesFor } from '../../src/adapters/fs/read-manifest-sources.js';
import { SqliteStateStore } from '../../src/adapters/sqlite/state-store.js';
import { sha256 } from '../../src/domain/plan/make-plan.js';
import { renderStatusFile, statusToken, STATUS_FILE_PATH } from '../../src/domain/render/render-status.js';
import { renderTree } from '../../src/domain/render/render-tree.js';
import { nginxFeaturesFor } from '../../src/domain/render/rendered-tree.js';
import { REPO_ROOT, runCli, STACK_LINE, type CliResult } from '../helpers/cli.js';
import { expectContract } from '../helpers/json-contract.js';
import { fleetManifests } from '../helpers/fleet-manifests.js';
import { wrapperConf } from '../helpers/nginx.js';

/**
 * `orch rebuild-db` through the built CLI, against real files, a real SQLite database and the real
 * nginx binary (apply validates with `nginx -t`; reloads are off: no nginx needs to run). For every
 * example and a generated fleet: apply (or put the rendered tree in place), lose the database,
 * rebuild it, and `plan --detailed-exitcode` exits 0. A database of random bytes is reported
 * clearly (exit 1, no stack trace) and `rebuild-db --force` recovers from it; --dry-run writes nothing.
 */
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

class Workspace {
  readonly root = mkdtempSync(join(tmpdir(), 'orch-rebuild-'));
  readonly manifests = join(this.root, 'manifests');
  readonly nginxDir = join(this.root, 'nginx');
  readonly stateDir = join(this.root, 'state');
  readonly prefix = join(this.root, 'prefix');
  readonly dbPath = join(this.stateDir, 'orch.db');
  constructor() {
    roots.push(this.root);
    for (const d of [
      this.manifests,
      join(this.nginxDir, 'pools'),
      join(this.nginxDir, 'vhosts'),
      join(this.prefix, 'logs'),
      join(this.prefix, 'temp'),
    ])
      mkdirSync(d, { recursive: true });
    writeFileSync(join(this.prefix, 'nginx.conf'), wrapperConf(this.prefix, this.nginxDir));
  }
  get env(): Record<string, string> {
    return {
      ORCH_MANIFESTS: 'manifests',
      ORCH_NGINX_DIR: this.nginxDir,
      ORCH_STATE_DIR: this.stateDir,
      ORCH_NGINX_CONF: join(this.prefix, 'nginx.conf'),
      ORCH_NGINX_PREFIX: this.prefix,
      ORCH_STATUS_LISTEN: '127.0.0.1:18999',
      // Nothing serves this tree: nginx -t validates it, no reload is sent.
      ORCH_RELOAD: 'none',
    };
  }
  cli(...args: string[]): Promise<CliResult> {
    return runCli(args, { env: this.env, cwd: this.root });
  }
  write(rel: string, text: string): void {
    const p = join(this.root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
  dropDatabase(): void {
    for (const ext of ['', '-wal', '-shm']) rmSync(`${this.dbPath}${ext}`, { force: true });
  }
  /** Every file under the root except the manifests, with its content hash. */
  snapshot(): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else out[p.slice(this.root.length)] = sha256(readFileSync(p, 'latin1'));
      }
    };
    for (const d of [this.nginxDir, this.stateDir]) if (existsSync(d)) walk(d);
    return out;
  }
  migrationState(file: string, body: Record<string, unknown>): void {
    this.write(`state/migrations/${file}`, `${JSON.stringify({ formatVersion: 1, ...body }, null, 2)}\n`);
  }
}

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** The plan, as JSON, with its exit code under --detailed-exitcode. */
async function plan(
  ws: Workspace,
): Promise<{ code: number | null; json: { summary: Record<string, number>; drift: unknown[]; changes: unknown[] } }> {
  const r = await ws.cli('plan', '--detailed-exitcode', '--json');
  if (r.code !== 0 && r.code !== 2) throw new Error(`plan failed: ${r.stdout}\n${r.stderr}`);
  return { code: r.code, json: JSON.parse(r.stdout) };
}

/** Loses the database, rebuilds it, and checks the plan is what it was before (no change). */
async function loseAndRebuild(ws: Workspace): Promise<void> {
  const before = await plan(ws);
  ws.dropDatabase();
  const r = ok(await ws.cli('rebuild-db'));
  expect(r.stderr).toBe('');
  expect(r.stdout).toContain('Rebuilt the state database');
  const after = await plan(ws);
  expect(after.json.summary).toEqual(before.json.summary);
  expect(after.code).toBe(0);
  expect(after.json.drift).toEqual([]);
}

async function corruptAndRecover(ws: Workspace, commands: string[][] = [['plan']]): Promise<void> {
  const garbage = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 7919 + 13) % 251));
  ws.dropDatabase();
  writeFileSync(ws.dbPath, garbage);
  for (const args of commands) {
    const r = await ws.cli(...args);
    expect(r.code, args.join(' ')).toBe(1);
    // Reported as what it is (not a SQLite database), with what the disk shows and the commands that fix it.
    expect(r.stderr, args.join(' ')).toMatch(/orch\.db is not a SQLite database .*, but orch has applied here before/);
    expect(r.stderr, args.join(' ')).toContain('orch rebuild-db --force');
    expect(r.stderr, args.join(' ')).not.toMatch(STACK_LINE);
  }
  const refused = await ws.cli('rebuild-db');
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('will not overwrite it without --force');
  expect(refused.stderr).not.toMatch(STACK_LINE);
  expect(readFileSync(ws.dbPath)).toEqual(garbage);

  const forced = ok(await ws.cli('rebuild-db', '--force'));
  const kept = /kept as (\S+orch\.db\.before-rebuild-\d{8}T\d{6}Z)\./.exec(forced.stdout)?.[1];
  expect(kept).toBeDefined();
  expect(readFileSync(kept!)).toEqual(garbage);
  expect((await plan(ws)).code).toBe(0);
}

describe('orch rebuild-db on examples/sandbox (applied with the real nginx -t)', () => {
  const ws = new Workspace();
  cpSync(join(REPO_ROOT, 'examples/sandbox'), ws.manifests, { recursive: true });

  it('apply, lose the database, rebuild: the plan is empty and the generation is the one nginx serves', async () => {
    ok(await ws.cli('apply', '--auto-approve'));
    ok(await ws.cli('apply', '--auto-approve')); // a second generation: no change, nothing committed
    const status = readFileSync(join(ws.nginxDir, STATUS_FILE_PATH), 'utf8');
    const served = /return 200 "(\d+) ([0-9a-f]{12})"/.exec(status)!;
    await loseAndRebuild(ws);
    const h = JSON.parse(ok(await ws.cli('history', '--json')).stdout) as {
      generations: Array<{ number: number; outcome: string; restorable: boolean }>;
    };
    expect(h.generations).toEqual([expect.objectContaining({ number: Number(served[1]), outcome: 'rebuilt', restorable: true })]);
    const st = JSON.parse(ok(await ws.cli('status', '--json')).stdout) as { generation: { fingerprint: string }; drift: { count: number } };
    expect(st.generation.fingerprint).toBe(`sha256:${served[2]}`);
    expect(st.drift.count).toBe(0);
  });

  it('records every marked file with its sha256, resource, and manifest origin from the sidecars', () => {
    const store = SqliteStateStore.open(ws.dbPath, { readonly: true });
    try {
      const rows = store.inventory();
      const onDisk = [
        ...readdirSync(join(ws.nginxDir, 'pools')).map((n) => `pools/${n}`),
        ...readdirSync(join(ws.nginxDir, 'vhosts')).map((n) => `vhosts/${n}`),
      ].sort();
      expect(rows.map((r) => r.path)).toEqual(onDisk);
      for (const r of rows) expect(r.sha256).toBe(sha256(readFileSync(join(ws.nginxDir, r.path), 'utf8')));
      expect(rows.find((r) => r.path === 'pools/archive.conf')).toMatchObject({
        resourceKind: 'Pool',
        resourceName: 'archive',
        role: 'config',
        originFile: 'pools.yaml',
        originIndex: 1,
      });
      expect(rows.find((r) => r.path === STATUS_FILE_PATH)).toMatchObject({ role: 'status' });
      expect(store.auditLog(5)[0]).toMatchObject({ command: 'rebuild-db', action: 'rebuild' });
    } finally {
      store.close();
    }
  });

  it('rollback works to the rebuilt generation: its contents are stored', async () => {
    const store = SqliteStateStore.open(ws.dbPath, { readonly: true });
    const rebuilt = store.currentGeneration()!;
    const files = store.generationFiles(rebuilt);
    store.close();
    for (const sha of Object.values(files)) expect(existsSync(join(ws.stateDir, 'objects', sha))).toBe(true);
    const conf = join(ws.nginxDir, 'vhosts/s3-local.conf');
    const before = readFileSync(conf, 'utf8');
    const route = join(ws.manifests, 'routes/photos.yaml');
    const original = readFileSync(route, 'utf8');
    writeFileSync(route, original.replace(/pool: \S+/, 'pool: hot'));
    ok(await ws.cli('apply', '--auto-approve'));
    expect(readFileSync(conf, 'utf8')).not.toBe(before);
    ok(await ws.cli('rollback', String(rebuilt), '--auto-approve'));
    expect(readFileSync(conf, 'utf8')).toBe(before);
    writeFileSync(route, original);
    ok(await ws.cli('apply', '--auto-approve'));
    expect((await plan(ws)).code).toBe(0);
  });

  it('a corrupt database (random bytes) is reported by every command; rebuild-db --force recovers', async () => {
    await corruptAndRecover(ws, [
      ['plan'],
      ['status'],
      ['history'],
      ['drift'],
      ['apply', '--auto-approve'],
      ['rollback', '--auto-approve'],
    ]);
  });

  it('--dry-run prints what would be recovered and writes nothing, not even the lock or the database', async () => {
    ws.dropDatabase();
    const before = ws.snapshot();
    const r = ok(await ws.cli('rebuild-db', '--dry-run'));
    expect(r.stdout).toContain('Would rebuild the state database');
    expect(r.stdout).toMatch(/VirtualHost\/s3-local: from its sidecar, manifest vhosts\/s3-local\.yaml#0/);
    expect(r.stdout).toContain('Nothing was written (--dry-run).');
    expect(ws.snapshot()).toEqual(before);
    const json = expectContract<{
      dry_run: boolean;
      files: unknown[];
      database: { before: string };
    }>('rebuild-db', ok(await ws.cli('rebuild-db', '--dry-run', '--json')).stdout);
    expect([json.dry_run, json.files.length, json.database.before]).toEqual([true, 11, 'missing']);
    expect(ws.snapshot()).toEqual(before);
    ok(await ws.cli('rebuild-db'));
    // With a database there (in WAL mode, closed): read without creating -wal, -shm or the lock.
    expect(existsSync(`${ws.dbPath}-wal`)).toBe(false);
    const withDb = ws.snapshot();
    for (const args of [
      ['rebuild-db', '--dry-run'],
      ['rebuild-db', '--dry-run', '--force'],
      ['plan'],
      ['status'],
      ['drift'],
      ['history'],
    ]) {
      await ws.cli(...args);
      expect(ws.snapshot(), `${args.join(' ')} wrote nothing`).toEqual(withDb);
      for (const ext of ['-wal', '-shm', '-journal'])
        expect(existsSync(`${ws.dbPath}${ext}`), `${args.join(' ')}: orch.db${ext}`).toBe(false);
      expect(existsSync(join(ws.stateDir, 'orch.lock'))).toBe(false);
    }
  });

  it('refuses a database that is not empty without --force, and keeps the old one with --force', async () => {
    const refused = await ws.cli('rebuild-db');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is not empty; rebuild-db replaces it only with --force');
    const forced = ok(await ws.cli('rebuild-db', '--force'));
    const kept = /kept as (\S+)\./.exec(forced.stdout)![1]!;
    const old = new Database(kept, { readonly: true });
    expect((old.prepare('SELECT COUNT(*) AS n FROM generations').get() as { n: number }).n).toBe(1);
    old.close();
  });

  it('a hand-edited .conf stays drift after a rebuild: apply does not silently overwrite it', async () => {
    const conf = join(ws.nginxDir, 'vhosts/s3-local.conf');
    const original = readFileSync(conf, 'utf8');
    writeFileSync(conf, original.replace('proxy_buffering off;', 'proxy_buffering on;'));
    ws.dropDatabase();
    const r = ok(await ws.cli('rebuild-db'));
    expect(r.stdout).toContain('vhosts/s3-local.conf differs from what orch renders for its sidecar');
    expect(r.stdout).toContain('1 recorded as drift');
    const drift = JSON.parse(ok(await ws.cli('drift', '--json')).stdout) as { drift: Array<{ path: string; diff: string }> };
    expect(drift.drift.map((d) => d.path)).toEqual(['vhosts/s3-local.conf']);
    expect(drift.drift[0]!.diff).toContain('+    proxy_buffering on;');
    const apply = await ws.cli('apply', '--auto-approve');
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain('edited outside orch and would be overwritten: vhosts/s3-local.conf');
    ok(await ws.cli('apply', '--auto-approve', '--overwrite-drift'));
    expect(readFileSync(conf, 'utf8')).toBe(original);
  });

  it('a missing or corrupt sidecar is named, with what the .conf alone gives back', async () => {
    rmSync(join(ws.nginxDir, 'vhosts/files-local.meta.json'));
    writeFileSync(join(ws.nginxDir, 'pools/hot.meta.json'), '{\n  "managedBy": "orch",\n  "formatVe');
    ws.dropDatabase();
    const r = ok(await ws.cli('rebuild-db'));
    expect(r.stdout).toMatch(
      /vhosts\/files-local\.meta\.json is missing\. VirtualHost files-local is recovered from vhosts\/files-local\.conf alone: server names, .*\. Lost: disabled routes, route names/,
    );
    expect(r.stdout).toMatch(
      /pools\/hot\.meta\.json is unusable: it is not valid JSON .*Pool hot is recovered from pools\/hot\.conf alone: members .*Lost: the pool type/,
    );
    expect(r.stdout).toContain('VirtualHost/files-local: from the .conf alone');
    const p = await plan(ws);
    expect(p.code).toBe(2);
    const files = (p.json.changes as Array<{ files: Array<{ path: string; action: string }> }>).flatMap((c) =>
      c.files.map((f) => `${f.action} ${f.path}`),
    );
    expect(files.sort()).toEqual(['create vhosts/files-local.meta.json', 'update pools/hot.meta.json']);
    ok(await ws.cli('apply', '--auto-approve'));
    expect((await plan(ws)).code).toBe(0);
  });

  it("refuses while an interrupted apply's journal is present, and says how to resolve it", async () => {
    writeFileSync(join(ws.stateDir, 'journal.json'), JSON.stringify({ version: 1, generation: 9, phase: 'renamed', ops: [], commit: {} }));
    const r = await ws.cli('rebuild-db', '--force');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('An apply of generation 9 by an older orch was interrupted (phase renamed)');
    expect(r.stderr).toContain("'orch apply --dry-run'");
    rmSync(join(ws.stateDir, 'journal.json'));
  });
});

describe('orch rebuild-db on examples/gateway (rendered tree in place, as the gateway would have it)', () => {
  const ws = new Workspace();
  cpSync(join(REPO_ROOT, 'examples/gateway'), ws.manifests, { recursive: true });

  it('re-establishes the served generation, restores migration state files, and the plan is empty', async () => {
    // The example's TLS files exist only on a real gateway: put the rendered tree and a status file
    // for generation 7 in place, and record generation 7 as apply would.
    const { validation } = loadManifests(fileManifestLoader({ cwd: ws.root }), 'manifests');
    const tree = renderTree(
      withStableOrigins(validation.desired, originNamesFor('manifests', ws.root)).desired,
      nginxFeaturesFor('1.22.1'),
    );
    for (const f of tree.files) ws.write(`nginx/${f.path}`, f.content);
    const fingerprint = `sha256:${'ab12'.repeat(16)}`;
    const status = renderStatusFile('127.0.0.1:18999', statusToken(7, fingerprint));
    ws.write(`nginx/${STATUS_FILE_PATH}`, status);
    const store = SqliteStateStore.open(ws.dbPath);
    store.commitGeneration({
      generation: { number: 7, command: 'apply', fingerprint, outcome: 'applied', summary: '{}', nginxOutput: null },
      upsert: [...tree.files, { path: STATUS_FILE_PATH, content: status, resource: null, role: 'status' as const }].map((f) => ({
        path: f.path,
        resourceKind: f.resource?.kind ?? 'Status',
        resourceName: f.resource?.name ?? 'orch-status',
        role: f.role,
        sha256: sha256(f.content),
        size: Buffer.byteLength(f.content),
        generation: 7,
        originFile: null,
        originIndex: null,
      })),
      remove: [],
      files: {},
      audit: [],
    });
    store.setMeta('nginx_dir', ws.nginxDir);
    store.close();
    // The Migration manifest has no record yet: it shows as "to start", before and after.
    expect((await plan(ws)).json.summary).toMatchObject({ add: 0, change: 0, destroy: 0, migrations_to_start: 1 });

    ws.migrationState('photos-to-2026.state.json', {
      name: 'photos-to-2026',
      virtualHost: 's3-main',
      bucket: 'photos',
      from: 'pool-2025',
      to: 'pool-2026',
      mode: 'copy',
      phase: 'copying',
      startedAt: '2026-01-02T03:04:05Z',
      updatedAt: '2026-01-02T03:09:00Z',
      finishedAt: null,
      orphanedSource: null,
      cursor: 'photos/2019/',
    });
    ws.migrationState('videos-to-2025.done.json', {
      name: 'videos-to-2025',
      virtualHost: 's3-main',
      bucket: 'videos',
      from: 'pool-2024',
      to: 'pool-2025',
      mode: 'sync',
      phase: 'done',
      startedAt: '2025-06-01T00:00:00Z',
      updatedAt: '2025-06-02T00:00:00Z',
      finishedAt: '2025-06-02T00:00:00Z',
      orphanedSource: { pool: 'pool-2024', prefix: 'videos/', at: '2025-06-02T00:00:00Z' },
    });
    ws.migrationState('broken.state.json', { name: 'broken' });
    ws.dropDatabase();
    const r = ok(await ws.cli('rebuild-db'));
    expect(r.stdout).toContain('generation 7, outcome rebuilt (the generation nginx serves');
    expect(r.stdout).toContain(
      'migration photos-to-2026: photos pool-2025 -> pool-2026, phase copying, resumes (migrations/photos-to-2026.state.json)',
    );
    expect(r.stdout).toContain(
      'migration videos-to-2025: videos pool-2024 -> pool-2025, completed (source data kept on pool-2024 videos/)',
    );
    expect(r.stdout).toMatch(/migrations\/broken\.state\.json is unusable: .*that migration is not restored/);
    const after = await plan(ws);
    expect(after.json.summary).toMatchObject({ add: 0, change: 0, destroy: 0, migrations_to_start: 0 });
    expect(after.code).toBe(0);

    const rebuilt = SqliteStateStore.open(ws.dbPath, { readonly: true });
    try {
      expect(rebuilt.currentGeneration()).toBe(7);
      const migrations = rebuilt.migrations();
      expect(migrations.map((m) => [m.name, m.phase, m.completed])).toEqual([
        ['photos-to-2026', 'copying', false],
        ['videos-to-2025', 'done', true],
      ]);
      // Fields this version does not model (the engine's cursor) are kept verbatim.
      expect(JSON.parse(migrations[0]!.document)).toMatchObject({ cursor: 'photos/2019/' });
      expect(JSON.parse(migrations[1]!.orphanedSource!)).toEqual({ pool: 'pool-2024', prefix: 'videos/', at: '2025-06-02T00:00:00Z' });
    } finally {
      rebuilt.close();
    }
    await corruptAndRecover(ws);
  });
});

describe('orch rebuild-db on a generated fleet with in-progress and completed migrations', () => {
  const ws = new Workspace();
  for (const f of fleetManifests({ vhosts: 40, routesPerVhost: 10, pools: 6, migrations: 2 })) ws.write(`manifests/${f.path}`, f.text);

  it('apply, lose the database, rebuild: no change', async () => {
    ok(await ws.cli('apply', '--auto-approve'));
    ws.migrationState('move-b-0-0.state.json', {
      name: 'move-b-0-0',
      virtualHost: 'vh-0',
      bucket: 'b-0-0',
      from: 'pool-0',
      to: 'pool-1',
      mode: 'copy',
      phase: 'verifying',
      startedAt: null,
      updatedAt: null,
    });
    // A finished migration whose Route was then updated to the destination (b-0-1 is routed to pool-1).
    ws.migrationState('move-b-0-1.state.json', {
      name: 'move-b-0-1',
      virtualHost: 'vh-0',
      bucket: 'b-0-1',
      from: 'pool-0',
      to: 'pool-1',
      mode: 'copy',
      phase: 'switching',
      startedAt: null,
      updatedAt: null,
    });
    ws.migrationState('move-b-0-1.done.json', {
      name: 'move-b-0-1',
      virtualHost: 'vh-0',
      bucket: 'b-0-1',
      from: 'pool-0',
      to: 'pool-1',
      mode: 'copy',
      phase: 'done',
      startedAt: null,
      updatedAt: null,
      finishedAt: '2026-01-01T00:00:00Z',
      orphanedSource: { pool: 'pool-0', prefix: 'b-0-1/', at: '2026-01-01T00:00:00Z' },
    });
    ws.dropDatabase();
    const r = ok(await ws.cli('rebuild-db', '--json'));
    const json = expectContract<{
      files: unknown[];
      migrations: Array<{ name: string; phase: string; completed: boolean; file: string }>;
    }>('rebuild-db', r.stdout);
    expect(json.files).toHaveLength(6 * 2 + 40 * 2 + 1);
    // The done record wins over a state file the engine had not removed yet.
    expect(json.migrations.map((m) => [m.name, m.phase, m.completed, m.file])).toEqual([
      ['move-b-0-0', 'verifying', false, 'move-b-0-0.state.json'],
      ['move-b-0-1', 'done', true, 'move-b-0-1.done.json'],
    ]);
    const p = await plan(ws);
    expect(p.json.summary).toMatchObject({ add: 0, change: 0, destroy: 0, migrations_to_start: 0 });
    expect(p.code).toBe(0);
    await corruptAndRecover(ws);
  });
});
