import { describe, expect, it } from 'vitest';
import type { ApplyEvent } from '../../src/domain/apply/apply-events.js';
import { ExitCode, UserError } from '../../src/domain/errors.js';
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
 * ports and a virtual clock: every outcome leaves the live files exactly old or exactly new, the
 * state committed only for what nginx serves, and recovery finishing or undoing a crash.
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
  return ports;
}

describe('apply engine on fakes and a virtual clock', () => {
  it('success: the new files live, nginx confirmed serving them, then the state committed and backed up', async () => {
    const ports = await atGenerationA();
    const events: ApplyEvent[] = [];
    const started = ports.clock.now();
    const outcome = await apply(ports, GEN_B, {}, events);
    expect(outcome).toMatchObject({ generation: 2, filesWritten: 3, filesDeleted: 1, nginxTests: 2, reloads: 1 });
    expect(managed(ports)).toEqual(asTree(GEN_B));
    const row = ports.state.rows.at(-1)!;
    expect(await ports.nginx.servedGeneration()).toBe(statusToken(2, row.fingerprint!));
    expect(ports.journal.text).toBe(null);
    expect(ports.journal.phases).toEqual(['prepared', 'renamed', 'validated', 'reloading', 'reloaded']);
    expect(ports.state.backups).toBe(2);
    // Confirmation waited for nginx to load (40 ms) and the settle window (200 ms), on virtual time.
    expect(outcome.timings.confirmMs).toBeGreaterThanOrEqual(240);
    expect(ports.clock.now() - started).toBeLessThan(1000);
    expect(events.filter((e) => e.status !== 'start').map((e) => `${e.step}:${e.status}`)).toEqual([
      'stage:done',
      'validate-staged:done',
      'buckets:skip',
      'promote:done',
      'validate-live:done',
      'reload:done',
      'commit:done',
      'backup:done',
    ]);
    expect(ports.state.inventoryRows.has('vhosts/old.conf')).toBe(false);
  });

  it('staged nginx -t fails: NginxRejectedError, nothing live touched, no journal, no state change', async () => {
    const ports = await atGenerationA();
    ports.nginx.stagedOk = (staged) => !staged.has('pools/fresh.conf');
    const before = ports.tree.snapshot();
    const err = await apply(ports, GEN_B).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NginxRejectedError);
    expect((err as NginxRejectedError).exitCode).toBe(ExitCode.nginxValidationFailed);
    expect((err as Error).message).toMatch(/^nginx -t rejected the new configuration; nothing live was touched\./);
    expect(ports.tree.snapshot()).toEqual(before);
    expect(ports.journal.phases).toEqual([]);
    expect(ports.state.rows).toHaveLength(1);
    expect(ports.tree.staged).toBe(null);
  });

  it('dry run: staged and tested only', async () => {
    const ports = await atGenerationA();
    const before = ports.tree.snapshot();
    const outcome = await apply(ports, GEN_B, { dryRun: true });
    expect(outcome).toMatchObject({ generation: null, dryRun: true, nginxTests: 1, reloads: 0 });
    expect(ports.tree.snapshot()).toEqual(before);
    expect(ports.state.rows).toHaveLength(1);
  });

  it('live nginx -t fails: every file restored, journal removed, failure audited, no reload', async () => {
    const ports = await atGenerationA();
    ports.nginx.liveOk = (live) => !live.has('pools/fresh.conf');
    const before = ports.tree.snapshot();
    const reloads = ports.nginx.reloads;
    const err = await apply(ports, GEN_B).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NginxRejectedError);
    expect((err as Error).message).toMatch(/every file was rolled back/);
    expect(ports.tree.snapshot()).toEqual(before);
    expect(ports.journal.text).toBe(null);
    expect(ports.nginx.reloads).toBe(reloads);
    expect(ports.state.audits.at(-1)).toMatchObject({
      action: 'apply-failed',
      subject: 'generation 2',
      details: 'live nginx -t failed; files rolled back',
    });
  });

  it('reload not confirmed within the timeout: rolled back, nginx reloaded with the old files, exit code 6', async () => {
    const ports = await atGenerationA({ reloadTimeoutSeconds: 3 });
    const oldToken = await ports.nginx.servedGeneration();
    ports.nginx.loadsOnReload = false; // e.g. a port the new files listen on is taken
    const before = ports.tree.snapshot();
    const started = ports.clock.now();
    const err = await apply(ports, GEN_B).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err).toMatchObject({ code: 'nginx.reload-not-confirmed', exitCode: ExitCode.reloadNotConfirmed });
    expect((err as Error).message).toContain(`nginx still serves generation "${oldToken}" after 3s`);
    expect((err as Error).message).toContain('Address already in use');
    expect(ports.clock.now() - started).toBeGreaterThanOrEqual(3000);
    expect(ports.tree.snapshot()).toEqual(before);
    expect(ports.nginx.reloads).toBe(3); // generation 1's, the new one, the one back to the old files
    expect(ports.journal.text).toBe(null);
    expect(ports.state.rows).toHaveLength(1);
  });

  it('commit fails: the error surfaces, the journal stays; recovery rolls forward and replays the commit', async () => {
    const ports = await atGenerationA();
    ports.state.failCommit = true;
    await expect(apply(ports, GEN_B)).rejects.toThrow('database is locked');
    expect(ports.journal.read()?.phase).toBe('reloaded');
    expect(managed(ports)).toEqual(asTree(GEN_B));
    ports.state.failCommit = false;
    const report = await onVirtualTime(ports.clock, recoverJournal(ports, ports.state.open()));
    expect(report).toMatchObject({ action: 'rolled-forward', journal: { generation: 2 } });
    expect(ports.state.rows.map((r) => r.number)).toEqual([1, 2]);
    expect(ports.journal.text).toBe(null);
  });

  // Where each fault point is, and what recovery makes of it (as test/integration/apply-faults).
  const POINTS: Array<{ point: string; lands: 'old' | 'new'; journal: boolean }> = [
    { point: 'after-stage', lands: 'old', journal: false },
    { point: 'after-staged-validate', lands: 'old', journal: false },
    { point: 'after-journal', lands: 'old', journal: true },
    { point: 'after-rename-1', lands: 'old', journal: true },
    { point: 'after-rename-2', lands: 'old', journal: true },
    { point: 'after-rename-3', lands: 'old', journal: true },
    { point: 'after-rename-4', lands: 'old', journal: true },
    { point: 'after-renames', lands: 'old', journal: true },
    { point: 'after-live-validate', lands: 'old', journal: true },
    { point: 'after-reload', lands: 'new', journal: true },
    { point: 'after-confirm', lands: 'new', journal: true },
    { point: 'before-commit', lands: 'new', journal: true },
    { point: 'after-commit', lands: 'new', journal: true },
  ];
  for (const p of POINTS) {
    it(`crash at ${p.point}, then recovery ${p.lands === 'old' ? 'undoes' : 'finishes'} the apply`, async () => {
      const ports = await atGenerationA();
      ports.crashAt = p.point;
      await expect(apply(ports, GEN_B)).rejects.toBeInstanceOf(Crash);
      expect(ports.journal.text !== null).toBe(p.journal);
      // A reload sent before the crash takes effect whether orch lives or not.
      await ports.clock.advance(100);

      const report = await onVirtualTime(ports.clock, recoverJournal(ports, ports.state.open()));
      expect(report?.action ?? null).toBe(p.journal ? (p.lands === 'old' ? 'rolled-back' : 'rolled-forward') : null);
      expect(ports.journal.text).toBe(null);
      const generation = ports.state.rows.at(-1)!;
      expect(managed(ports)).toEqual(asTree(p.lands === 'old' ? GEN_A : GEN_B));
      expect(generation.number).toBe(p.lands === 'old' ? 1 : 2);
      // nginx serves what is on disk and what the state says.
      expect(await ports.nginx.servedGeneration()).toBe(statusToken(generation.number, generation.fingerprint!));
      expect(Object.keys(ports.state.files.get(generation.number)!).sort()).toEqual(
        [...Object.keys(asTree(p.lands === 'old' ? GEN_A : GEN_B)), STATUS_FILE_PATH].sort(),
      );
    });
  }

  it('crash after the reload was sent but before it was recorded: nginx serves the new token, so recovery follows nginx', async () => {
    const ports = await atGenerationA();
    ports.crashAt = 'after-reload';
    await expect(apply(ports, GEN_B)).rejects.toBeInstanceOf(Crash);
    expect(ports.journal.read()?.phase).toBe('reloading');
    await ports.clock.advance(100);
    const report = await onVirtualTime(ports.clock, recoverJournal(ports, ports.state.open()));
    expect(report).toMatchObject({ action: 'rolled-forward', reloaded: false });
  });

  it('crash after the live test: recovery restores the old files and reloads nginx onto them (confirmed)', async () => {
    const ports = await atGenerationA();
    ports.crashAt = 'after-live-validate';
    await expect(apply(ports, GEN_B)).rejects.toBeInstanceOf(Crash);
    const report = await onVirtualTime(ports.clock, recoverJournal(ports, ports.state.open()));
    expect(report).toMatchObject({ action: 'rolled-back', reloaded: true });
    expect(ports.state.audits.at(-1)).toMatchObject({
      action: 'recovered',
      details: 'rolled back an apply interrupted in phase validated',
    });
  });

  it('rollback to generation N: its kept files through the same path, as a new generation', async () => {
    const ports = await atGenerationA();
    await apply(ports, GEN_B);
    expect(managed(ports)).toEqual(asTree(GEN_B));
    const events: ApplyEvent[] = [];
    const result = await onVirtualTime(ports.clock, rollbackTo(ports, { target: 1, confirm: null, emit: (e) => events.push(e) }));
    expect(result).toMatchObject({ target: 1, outcome: { generation: 3 } });
    expect(managed(ports)).toEqual(asTree(GEN_A));
    const row = ports.state.rows.at(-1)!;
    expect(row).toMatchObject({ number: 3, command: 'rollback' });
    expect(JSON.parse(row.summary)).toMatchObject({ note: 'rollback to generation 1' });
    expect(await ports.nginx.servedGeneration()).toBe(statusToken(3, row.fingerprint!));
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
