import { describe, expect, it } from 'vitest';
import type { ApplyEvent } from '../../src/domain/apply/apply-events.js';
import { ExitCode, UserError } from '../../src/domain/errors.js';
import { StorageError } from '../../src/domain/apply/storage-failure.js';
import { sha256 } from '../../src/domain/plan/make-plan.js';
import type { FileChange } from '../../src/domain/plan/plan-types.js';
import { STATUS_FILE_PATH, statusToken } from '../../src/domain/render/render-status.js';
import type { RenderedFile } from '../../src/domain/render/rendered-tree.js';
import { applyTree, NginxRejectedError, type ApplyRequest } from '../../src/use-cases/apply/apply-tree.js';
import { recoverJournal } from '../../src/use-cases/apply/recover-journal.js';
import { rollbackTo } from '../../src/use-cases/apply/rollback.js';
import { Crash, fakePorts, onVirtualTime, type FakePorts } from '../helpers/apply-fakes.js';

/**
 * The apply engine (the loop of src/use-cases/apply/apply-tree.ts over the pure sequence) on fake
 * ports and a virtual clock: the live tree is one generation at every instant, every outcome leaves
 * it exactly old or exactly new, the state committed only for what nginx serves, and recovery
 * finishing or undoing a crash.
 */

const file = (path: string, content: string): RenderedFile => ({
  path,
  content,
  resource: { kind: path.startsWith('pools/') ? 'Pool' : 'VirtualHost', name: path.replace(/^.*\/|\..*$/g, '') },
  role: path.endsWith('.meta.json') ? 'sidecar' : 'config',
  lineMap: [],
});

const GEN_A = [
  file('pools/hot.conf', 'upstream hot {}\n'),
  file('vhosts/s3.conf', 'server { a }\n'),
  file('vhosts/old.conf', 'server { old }\n'),
];
const GEN_B = [
  file('pools/fresh.conf', 'upstream fresh {}\n'),
  file('pools/hot.conf', 'upstream hot {}\n'),
  file('vhosts/s3.conf', 'server { b }\n'),
];

/** What a plan from `live` to `files` would list. */
function changesTo(ports: FakePorts, files: RenderedFile[]): FileChange[] {
  const want = new Map(files.map((f) => [f.path, f.content]));
  const paths = new Set([...want.keys(), ...[...ports.tree.files.keys()].filter((p) => p !== STATUS_FILE_PATH)]);
  const changes: FileChange[] = [];
  for (const path of [...paths].sort()) {
    const before = ports.tree.files.get(path) ?? null;
    const after = want.get(path) ?? null;
    if (before === after) continue;
    changes.push({
      path,
      role: 'config',
      action: before === null ? 'create' : after === null ? 'delete' : 'update',
      before,
      after,
      beforeSha256: before === null ? null : sha256(before),
      afterSha256: after === null ? null : sha256(after),
      drift: false,
      adopt: false,
    } as FileChange);
  }
  return changes;
}

function request(ports: FakePorts, files: RenderedFile[], over: Partial<ApplyRequest> = {}): ApplyRequest {
  return {
    files,
    changes: changesTo(ports, files),
    fingerprint: `sha256:${sha256(JSON.stringify(files.map((f) => [f.path, f.content])))}`,
    summary: { add: 1, change: 1, destroy: 1 },
    dryRun: false,
    mapNginxOutput: (output) => [{ severity: 'error', code: 'nginx.test', message: `nginx: ${output}` }],
    ...over,
  };
}

async function apply(ports: FakePorts, files: RenderedFile[], over: Partial<ApplyRequest> = {}, events: ApplyEvent[] = []) {
  const store = ports.state.open();
  return onVirtualTime(
    ports.clock,
    applyTree({ ports, store, emit: (e) => events.push(e), command: 'apply' }, request(ports, files, over)),
  );
}

const managed = (ports: FakePorts) => Object.fromEntries(Object.entries(ports.tree.snapshot()).filter(([p]) => p !== STATUS_FILE_PATH));
const asTree = (files: RenderedFile[]) => Object.fromEntries(files.map((f) => [f.path, f.content]).sort(([a], [b]) => (a! < b! ? -1 : 1)));

/** Gateway at generation 1 = GEN_A, served by nginx. */
async function atGenerationA(over: Parameters<typeof fakePorts>[0] = {}): Promise<FakePorts> {
  const ports = fakePorts(over);
  await apply(ports, GEN_A);
  expect(ports.state.rows.map((r) => r.number)).toEqual([1]);
  ports.faults.length = 0;
  ports.journal.phases.length = 0;
  ports.tree.touched.length = 0;
  return ports;
}

const servedToken = async (ports: FakePorts) => ports.nginx.servedGeneration();
const tokenOfRow = (ports: FakePorts) => {
  const row = ports.state.rows.at(-1)!;
  return statusToken(row.number, row.fingerprint!);
};

describe('apply engine on fakes and a virtual clock', () => {
  it('success: one build, ONE nginx -t, ONE switch, nginx confirmed serving it, then the state committed and backed up', async () => {
    const ports = await atGenerationA();
    const events: ApplyEvent[] = [];
    const started = ports.clock.now();
    const tests = ports.nginx.tests;
    const outcome = await apply(ports, GEN_B, {}, events);
    expect(outcome).toMatchObject({ generation: 2, filesWritten: 3, filesDeleted: 1, nginxTests: 1, reloads: 1, warnings: [] });
    expect(ports.nginx.tests - tests).toBe(1);
    expect(managed(ports)).toEqual(asTree(GEN_B));
    expect(ports.tree.touched).toEqual(['build 2', 'switch 2']);
    expect(ports.tree.current).toBe(2);
    expect(await servedToken(ports)).toBe(tokenOfRow(ports));
    expect(ports.journal.text).toBe(null);
    expect(ports.journal.phases).toEqual(['prepared', 'reloaded']);
    expect(ports.state.backupsWritten).toBe(2);
    // Confirmation waited for nginx to load (40 ms) and the settle window (200 ms), on virtual time.
    expect(outcome.timings.confirmMs).toBeGreaterThanOrEqual(240);
    expect(ports.clock.now() - started).toBeLessThan(1000);
    expect(events.filter((e) => e.status !== 'start').map((e) => `${e.step}:${e.status}`)).toEqual([
      'stage:done',
      'validate:done',
      'buckets:skip',
      'switch:done',
      'reload:done',
      'commit:done',
      'backup:done',
    ]);
    expect(ports.state.inventoryRows.has('vhosts/old.conf')).toBe(false);
    // The previous generation is kept for rollback; the generation numbers go on.
    expect(ports.tree.generations()).toEqual([1, 2]);
  });

  it('nginx -t rejects the new generation: NginxRejectedError, nothing live touched, nothing left, no state change', async () => {
    const ports = await atGenerationA();
    ports.nginx.testOk = (files) => !files.has('pools/fresh.conf');
    const before = ports.tree.snapshot();
    const err = await apply(ports, GEN_B).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NginxRejectedError);
    expect((err as NginxRejectedError).exitCode).toBe(ExitCode.nginxValidationFailed);
    expect((err as Error).message).toMatch(
      /^nginx -t rejected the new generation with nginx's main configuration; nothing live was touched\./,
    );
    expect(ports.tree.snapshot()).toEqual(before);
    expect(ports.tree.current).toBe(1);
    expect(ports.tree.generations()).toEqual([1]);
    expect(ports.journal.phases).toEqual([]);
    expect(ports.state.rows).toHaveLength(1);
  });

  it('dry run: built and tested only, then removed', async () => {
    const ports = await atGenerationA();
    const before = ports.tree.snapshot();
    const outcome = await apply(ports, GEN_B, { dryRun: true });
    expect(outcome).toMatchObject({ generation: null, dryRun: true, nginxTests: 1, reloads: 0 });
    expect(ports.tree.snapshot()).toEqual(before);
    expect(ports.tree.generations()).toEqual([1]);
    expect(ports.state.rows).toHaveLength(1);
  });

  it('reload not confirmed within the timeout: switched back, nginx reloaded with the previous generation, exit code 6', async () => {
    const ports = await atGenerationA({ reloadTimeoutSeconds: 3 });
    const oldToken = await servedToken(ports);
    ports.nginx.loadsOnReload = false; // e.g. a port the new files listen on is taken
    const before = ports.tree.snapshot();
    const started = ports.clock.now();
    const err = await apply(ports, GEN_B).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err).toMatchObject({ code: 'nginx.reload-not-confirmed', exitCode: ExitCode.reloadNotConfirmed });
    expect((err as Error).message).toContain(`nginx still serves generation "${oldToken}" after 3s`);
    expect((err as Error).message).toContain('Nothing live changed: orch switched back to generation 1 and nginx serves it again');
    expect((err as Error).message).toContain('Address already in use');
    expect(ports.clock.now() - started).toBeGreaterThanOrEqual(3000);
    expect(ports.tree.snapshot()).toEqual(before);
    expect(ports.tree.touched).toEqual(['build 2', 'switch 2', 'switch 1', 'discard 2']);
    expect(ports.nginx.reloads).toBe(3); // generation 1's, the new one, the one back to the previous generation
    expect(ports.journal.text).toBe(null);
    expect(ports.state.rows).toHaveLength(1);
    expect(ports.state.audits.at(-1)).toMatchObject({ action: 'apply-failed', subject: 'generation 2' });
  });

  it('the state directory is full at the commit: a user error naming it; switched back, nginx on the previous generation, nothing left', async () => {
    const ports = await atGenerationA();
    ports.state.failCommit = true;
    const oldToken = await servedToken(ports);
    const before = ports.tree.snapshot();
    const err = await apply(ports, GEN_B).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({ code: 'storage.full', exitCode: ExitCode.error });
    expect((err as Error).message).toContain('No space left on the file system holding /fake/state/orch.db (ENOSPC)');
    expect((err as Error).message).toContain('recording generation 2 in the state database');
    expect((err as Error).message).toContain('Nothing live changed: orch switched back to generation 1 and nginx serves it again');
    expect((err as StorageError).hint).toContain('df -h /fake/state');
    expect(ports.tree.snapshot()).toEqual(before);
    expect(ports.tree.generations()).toEqual([1]);
    expect(ports.journal.text).toBe(null);
    expect(await servedToken(ports)).toBe(oldToken);
  });

  it('the managed directory is full while building: nothing live changed, nothing left (contents stored by it removed too)', async () => {
    const ports = await atGenerationA();
    const objects = new Set(ports.contents.items.keys());
    ports.tree.build = () => {
      throw Object.assign(new Error("ENOSPC: no space left on device, write '/fake/nginx/generations/.2.partial/pools/fresh.conf'"), {
        code: 'ENOSPC',
        path: '/fake/nginx/generations/.2.partial/pools/fresh.conf',
      });
    };
    const err = await apply(ports, GEN_B).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'storage.full' });
    expect((err as Error).message).toContain(
      'Nothing live changed: generation 1 is live, as before, and nothing of this apply was left behind.',
    );
    expect(ports.tree.current).toBe(1);
    expect(new Set(ports.contents.items.keys())).toEqual(objects);
    expect(ports.journal.text).toBe(null);
  });

  it('a backup that cannot be written after the commit: the apply is complete, with a warning', async () => {
    const ports = await atGenerationA();
    ports.state.failBackup = true;
    const outcome = await apply(ports, GEN_B);
    expect(outcome.generation).toBe(2);
    expect(outcome.warnings).toEqual(['the database backup was not written: ENOSPC: no space left on device']);
    expect(ports.journal.text).toBe(null);
  });

  it('an older layout (real pools/ and vhosts/) is converted as its own generation, then switched from', async () => {
    const ports = fakePorts();
    await apply(ports, GEN_A);
    // As orch before generations left it: the same files in real directories, no generations.
    ports.tree.legacy = new Map(ports.tree.files);
    ports.tree.gens.clear();
    ports.tree.current = null;
    ports.tree.touched.length = 0;
    await apply(ports, GEN_B);
    expect(ports.tree.touched).toEqual(['build 2', 'convert 1', 'switch 2']);
    expect(managed(ports)).toEqual(asTree(GEN_B));
    expect(Object.fromEntries([...ports.tree.gens.get(1)!].filter(([p]) => p !== STATUS_FILE_PATH))).toEqual(asTree(GEN_A));
  });

  // Where each fault point is, and what recovery makes of it (as test/integration/apply-faults).
  const POINTS: Array<{ point: string; lands: 'old' | 'new'; journal: boolean; switched: boolean }> = [
    { point: 'after-stage', lands: 'old', journal: false, switched: false },
    { point: 'after-validate', lands: 'old', journal: false, switched: false },
    { point: 'after-journal', lands: 'old', journal: true, switched: false },
    { point: 'after-switch', lands: 'old', journal: true, switched: true },
    { point: 'after-reload', lands: 'new', journal: true, switched: true },
    { point: 'after-confirm', lands: 'new', journal: true, switched: true },
    { point: 'before-commit', lands: 'new', journal: true, switched: true },
    { point: 'after-commit', lands: 'new', journal: true, switched: true },
  ];
  for (const p of POINTS) {
    it(`crash at ${p.point}: the live tree is exactly one generation; recovery ${p.lands === 'old' ? 'undoes' : 'finishes'} the apply`, async () => {
      const ports = await atGenerationA();
      ports.crashAt = p.point;
      await expect(apply(ports, GEN_B)).rejects.toBeInstanceOf(Crash);
      expect(ports.journal.text !== null).toBe(p.journal);
      expect(managed(ports)).toEqual(asTree(p.switched ? GEN_B : GEN_A));
      // A reload sent before the crash takes effect whether orch lives or not.
      await ports.clock.advance(100);

      const report = await onVirtualTime(ports.clock, recoverJournal(ports, ports.state.open()));
      expect(report?.action ?? null).toBe(p.journal ? (p.lands === 'old' ? 'rolled-back' : 'rolled-forward') : null);
      expect(ports.journal.text).toBe(null);
      const generation = ports.state.rows.at(-1)!;
      expect(managed(ports)).toEqual(asTree(p.lands === 'old' ? GEN_A : GEN_B));
      expect(generation.number).toBe(p.lands === 'old' ? 1 : 2);
      expect(ports.tree.current).toBe(generation.number);
      // Nothing a dead writer built is left: no generation newer than the live one.
      expect(ports.tree.generations().filter((n) => n > generation.number)).toEqual([]);
      // nginx serves what is live and what the state says.
      expect(await servedToken(ports)).toBe(statusToken(generation.number, generation.fingerprint!));
      expect(Object.keys(ports.state.files.get(generation.number)!).sort()).toEqual(
        [...Object.keys(asTree(p.lands === 'old' ? GEN_A : GEN_B)), STATUS_FILE_PATH].sort(),
      );
    });
  }

  it('crash after the switch, before the reload: recovery switches back and reloads nginx onto the previous generation (confirmed)', async () => {
    const ports = await atGenerationA();
    ports.crashAt = 'after-switch';
    await expect(apply(ports, GEN_B)).rejects.toBeInstanceOf(Crash);
    const report = await onVirtualTime(ports.clock, recoverJournal(ports, ports.state.open()));
    expect(report).toMatchObject({ action: 'rolled-back', reloaded: true });
    expect(ports.state.audits.at(-1)).toMatchObject({
      action: 'recovered',
      details: 'switched back from an apply interrupted in phase prepared',
    });
  });

  it('a journal of an older orch (file by file) is still recovered in place', async () => {
    const ports = fakePorts();
    await apply(ports, GEN_A);
    ports.tree.legacy = new Map(ports.tree.files);
    ports.tree.gens.clear();
    ports.tree.current = null;
    // The old orch died after renaming vhosts/s3.conf to its new content.
    const before = ports.tree.legacy.get('vhosts/s3.conf')!;
    const after = 'server { b }\n';
    ports.contents.put(sha256(before), before);
    ports.contents.put(sha256(after), after);
    ports.tree.legacy.set('vhosts/s3.conf', after);
    ports.journal.text = JSON.stringify({
      version: 1,
      generation: 2,
      pid: 1,
      command: 'apply',
      startedAt: '2026-01-01T00:00:00Z',
      phase: 'prepared',
      nginxDir: '/fake/nginx',
      ops: [{ path: 'vhosts/s3.conf', action: 'write', beforeSha256: sha256(before), afterSha256: sha256(after) }],
      commit: {
        generation: { number: 2, command: 'apply', fingerprint: 'x', outcome: 'applied', summary: '{}', nginxOutput: null },
        upsert: [],
        remove: [],
        files: {},
        audit: [],
      },
    });
    const report = await onVirtualTime(ports.clock, recoverJournal(ports, ports.state.open()));
    expect(report).toMatchObject({ action: 'rolled-back' });
    expect(ports.tree.legacy.get('vhosts/s3.conf')).toBe(before);
    expect(ports.journal.text).toBe(null);
  });

  it('rollback to generation N: its kept files through the same path, as a new generation', async () => {
    const ports = await atGenerationA();
    await apply(ports, GEN_B);
    expect(managed(ports)).toEqual(asTree(GEN_B));
    const events: ApplyEvent[] = [];
    const result = await onVirtualTime(ports.clock, rollbackTo(ports, { target: 1, confirm: null, emit: (e) => events.push(e) }));
    expect(result).toMatchObject({ target: 1, outcome: { generation: 3, nginxTests: 1 } });
    expect(managed(ports)).toEqual(asTree(GEN_A));
    const row = ports.state.rows.at(-1)!;
    expect(row).toMatchObject({ number: 3, command: 'rollback' });
    expect(JSON.parse(row.summary)).toMatchObject({ note: 'rollback to generation 1' });
    expect(await servedToken(ports)).toBe(statusToken(3, row.fingerprint!));
    expect(ports.tree.current).toBe(3);
    expect(events.at(-1)).toEqual({ step: 'backup', status: 'done' });
  });

  it('rollback without an earlier generation, or with its files no longer kept, is refused', async () => {
    const ports = await atGenerationA();
    await expect(rollbackTo(ports, { target: null, confirm: null, emit: () => {} })).rejects.toMatchObject({
      code: 'rollback.no-previous',
    });
    await expect(rollbackTo(ports, { target: 7, confirm: null, emit: () => {} })).rejects.toMatchObject({ code: 'rollback.not-kept' });
  });
});
