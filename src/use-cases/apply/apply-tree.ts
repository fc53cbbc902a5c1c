import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContentStore } from '../../adapters/fs/content-store.js';
import { nginxTest } from '../../adapters/nginx/nginx-cli.js';
import { confirmServed, liveInvocation, reloadNginx, tailErrorLog } from '../../adapters/nginx/nginx-control.js';
import type { GenerationCommit, InventoryRow, StateStore } from '../../ports/state-store.js';
import type { Settings } from '../../config/settings.js';
import type { Diagnostic } from '../../domain/diagnostics.js';
import type { Origin } from '../../domain/model/desired-state.js';
import { ExitCode, UserError, ValidationError } from '../../domain/errors.js';
import { resourceOfPath, sha256 } from '../../domain/plan/make-plan.js';
import type { FileChange } from '../../domain/plan/plan-types.js';
import { renderStatusFile, STATUS_FILE_PATH, statusToken } from '../../domain/render/render-status.js';
import type { RenderedFile } from '../../domain/render/rendered-tree.js';
import type { EmitApplyEvent } from '../../domain/apply/apply-events.js';
import { removeJournal, setJournalPhase, writeJournal, type Journal, type JournalOp } from '../../adapters/fs/journal.js';
import { liveSha, replaceFile, removeFile, fsyncManagedDirs, restorePrevious } from '../../adapters/fs/live-files.js';
import { removeStaging, stageTree, testStagedTree, type StagedFile } from '../../adapters/fs/staging.js';

export interface ExecutorDeps {
  settings: Settings;
  store: StateStore;
  contents: ContentStore;
  emit: EmitApplyEvent;
  command: string;
  fault: (point: string) => void;
}

/** Maps nginx's output (file:line of a staged or live file) back to manifest diagnostics. */
export type NginxOutputMapper = (output: string, treeRoot: string) => Diagnostic[];

export interface ApplyRequest {
  /** The complete desired set of resource files. */
  files: readonly RenderedFile[];
  /** File changes from the plan (what differs from disk). */
  changes: readonly FileChange[];
  fingerprint: string;
  summary: Record<string, number>;
  dryRun: boolean;
  mapNginxOutput: NginxOutputMapper;
  /** Recorded in the generation row (e.g. `rollback to 4`). */
  note?: string;
  /** Manifest origin per resource (`Pool/a`), recorded in the inventory. */
  origins?: ReadonlyMap<string, Origin>;
  /**
   * Runs after the staged tree passed `nginx -t` and before anything live is touched (the
   * 'buckets' step: creating the buckets new routes need, so a route never goes live before its
   * bucket exists). A throw aborts the apply with nothing live changed.
   */
  beforePromote?: () => Promise<string | null>;
}

export interface ApplyOutcome {
  generation: number | null;
  dryRun: boolean;
  filesWritten: number;
  filesDeleted: number;
  nginxTests: number;
  reloads: number;
  timings: { stagedTestMs: number; liveTestMs: number; reloadMs: number; confirmMs: number };
}

export class NginxRejectedError extends ValidationError {
  constructor(diagnostics: Diagnostic[], where: 'staged' | 'live', output: string) {
    super(
      diagnostics,
      where === 'staged'
        ? `nginx -t rejected the new configuration; nothing live was touched.\n${indent(output)}`
        : `nginx -t rejected the live configuration with the new files; every file was rolled back.\n${indent(output)}`,
      { exitCode: ExitCode.nginxValidationFailed, code: 'nginx.test-failed' },
    );
  }
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

/**
 * stage -> validate as a whole -> journaled promote -> live validate -> confirmed reload -> commit.
 * Invariant: on any failure the live files are those of the previous generation again, and the
 * state is committed only after nginx serves the new generation.
 */
export async function applyTree(deps: ExecutorDeps, req: ApplyRequest): Promise<ApplyOutcome> {
  const { settings, store, contents, emit, fault } = deps;
  const generation = (store.currentGeneration() ?? 0) + 1;
  const outcome: ApplyOutcome = {
    generation: null,
    dryRun: req.dryRun,
    filesWritten: 0,
    filesDeleted: 0,
    nginxTests: 0,
    reloads: 0,
    timings: { stagedTestMs: 0, liveTestMs: 0, reloadMs: 0, confirmMs: 0 },
  };

  // The status file carries the generation token that confirms the reload.
  const token = statusToken(generation, req.fingerprint);
  const statusContent = settings.statusListen === 'off' ? null : renderStatusFile(settings.statusListen, token);
  // Files this apply does not change are identical to the live ones (the plan compared them): the
  // staging links them instead of writing them again (a 1,000-vhost tree is 2,400 files).
  const changed = new Set(req.changes.map((c) => c.path));
  const allFiles: StagedFile[] = [...req.files.map((f) => ({ path: f.path, content: f.content })), ...(statusContent ? [{ path: STATUS_FILE_PATH, content: statusContent }] : [])].map((f) => ({
    ...f,
    sha256: sha256(f.content),
    ...(f.path !== STATUS_FILE_PATH && !changed.has(f.path) ? { linkFrom: join(settings.nginxDir, f.path) } : {}),
  }));

  emit({ step: 'stage', status: 'start' });
  const staged = stageTree(settings.stateDir, allFiles);
  for (const f of allFiles) contents.put(f.sha256!, f.content);
  emit({ step: 'stage', status: 'done', message: `${allFiles.length} files` });
  fault('after-stage');

  emit({ step: 'validate-staged', status: 'start' });
  const stagedTest = await testStagedTree(settings.nginxBin, staged);
  outcome.nginxTests++;
  outcome.timings.stagedTestMs = stagedTest.durationMs;
  if (!stagedTest.ok) {
    emit({ step: 'validate-staged', status: 'fail', message: stagedTest.output });
    const diagnostics = req.mapNginxOutput(stagedTest.output, staged.treeDir);
    removeStaging(staged);
    throw new NginxRejectedError(diagnostics, 'staged', stagedTest.output);
  }
  emit({ step: 'validate-staged', status: 'done', durationMs: stagedTest.durationMs });
  removeStaging(staged);
  fault('after-staged-validate');

  if (req.dryRun) {
    for (const s of ['buckets', 'promote', 'validate-live', 'reload', 'commit', 'backup'] as const) emit({ step: s, status: 'skip', message: 'dry run' });
    return outcome;
  }

  if (req.beforePromote) {
    emit({ step: 'buckets', status: 'start' });
    let message: string | null;
    try {
      message = await req.beforePromote();
    } catch (e) {
      emit({ step: 'buckets', status: 'fail', message: e instanceof Error ? e.message : String(e) });
      throw e;
    }
    emit({ step: 'buckets', status: message === null ? 'skip' : 'done', message: message ?? 'none to create' });
    fault('after-buckets');
  } else {
    emit({ step: 'buckets', status: 'skip', message: 'none to create' });
  }

  // Journal every rename and delete before touching anything live.
  const ops = buildOps(settings.nginxDir, req.changes, statusContent);
  for (const op of ops) {
    if (op.beforeSha256 !== null && !contents.has(op.beforeSha256)) {
      contents.put(op.beforeSha256, readFileSync(join(settings.nginxDir, op.path), 'utf8'));
    }
  }
  const commit = buildCommit(deps, req, generation, ops, allFiles);
  const journal: Journal = {
    version: 1,
    generation,
    pid: process.pid,
    command: deps.command,
    startedAt: new Date().toISOString(),
    phase: 'prepared',
    nginxDir: settings.nginxDir,
    ops,
    commit,
  };
  emit({ step: 'promote', status: 'start' });
  writeJournal(settings.stateDir, journal);
  fault('after-journal');
  let n = 0;
  for (const op of ops) {
    if (op.action === 'write') {
      replaceFile(settings.nginxDir, op.path, contents.get(op.afterSha256!)!);
      outcome.filesWritten++;
    } else {
      removeFile(settings.nginxDir, op.path);
      outcome.filesDeleted++;
    }
    fault(`after-rename-${++n}`);
  }
  fsyncManagedDirs(settings.nginxDir, ops);
  setJournalPhase(settings.stateDir, journal, 'renamed');
  emit({ step: 'promote', status: 'done', message: `${outcome.filesWritten} written, ${outcome.filesDeleted} deleted` });
  fault('after-renames');

  const rollback = async (reloadAfter: boolean) => {
    restorePrevious(settings.nginxDir, ops, contents);
    if (reloadAfter) {
      await reloadNginx(settings);
      outcome.reloads++;
    }
    removeJournal(settings.stateDir);
  };

  emit({ step: 'validate-live', status: 'start' });
  const liveTest = await nginxTest(liveInvocation(settings));
  outcome.nginxTests++;
  outcome.timings.liveTestMs = liveTest.durationMs;
  if (!liveTest.ok) {
    emit({ step: 'validate-live', status: 'fail', message: liveTest.output });
    const diagnostics = req.mapNginxOutput(liveTest.output, settings.nginxDir);
    await rollback(false);
    store.audit([{ command: deps.command, action: 'apply-failed', subject: `generation ${generation}`, details: 'live nginx -t failed; files rolled back' }]);
    throw new NginxRejectedError(diagnostics, 'live', liveTest.output);
  }
  setJournalPhase(settings.stateDir, journal, 'validated');
  emit({ step: 'validate-live', status: 'done', durationMs: liveTest.durationMs });
  fault('after-live-validate');

  emit({ step: 'reload', status: 'start' });
  setJournalPhase(settings.stateDir, journal, 'reloading');
  const reload = await reloadNginx(settings);
  outcome.reloads++;
  outcome.timings.reloadMs = reload.durationMs;
  fault('after-reload');
  let confirmed = reload.ok;
  let detail = reload.output;
  if (reload.ok && settings.reload !== 'none' && statusContent) {
    const c = await confirmServed(settings.statusListen, token, settings.reloadTimeoutSeconds);
    outcome.timings.confirmMs = c.waitedMs;
    confirmed = c.confirmed;
    if (!c.confirmed) {
      detail = c.lastSeen
        ? `nginx still serves generation "${c.lastSeen}" after ${settings.reloadTimeoutSeconds}s, not "${token}"`
        : `nothing answered on the status address ${settings.statusListen} within ${settings.reloadTimeoutSeconds}s`;
    }
  }
  if (!confirmed) {
    emit({ step: 'reload', status: 'fail', message: detail });
    await rollback(true);
    const log = tailErrorLog(settings);
    store.audit([{ command: deps.command, action: 'apply-failed', subject: `generation ${generation}`, details: `reload not confirmed: ${detail}` }]);
    throw new UserError('nginx.reload-not-confirmed', `nginx did not load the new configuration: ${detail}. Every file was rolled back and nginx reloaded with the previous generation.${log ? `\nnginx error log (last lines):\n${indent(log)}` : ''}`, {
      hint: `Check nginx's error log (a port already in use, a missing certificate), that nginx is running, and that its main configuration includes ${join(settings.nginxDir, 'vhosts')}/*.conf.`,
      exitCode: ExitCode.reloadNotConfirmed,
    });
  }
  setJournalPhase(settings.stateDir, journal, 'reloaded');
  emit({ step: 'reload', status: 'done', durationMs: reload.durationMs + outcome.timings.confirmMs });
  fault('after-confirm');

  fault('before-commit');
  emit({ step: 'commit', status: 'start' });
  store.commitGeneration(commit);
  fault('after-commit');
  removeJournal(settings.stateDir);
  emit({ step: 'commit', status: 'done', message: `generation ${generation}` });
  outcome.generation = generation;

  emit({ step: 'backup', status: 'start' });
  await afterCommitHousekeeping(deps);
  emit({ step: 'backup', status: 'done' });
  return outcome;
}

/** Database backup, and forgetting generations beyond the configured number. */
export async function afterCommitHousekeeping(deps: Pick<ExecutorDeps, 'settings' | 'store' | 'contents'>): Promise<void> {
  await deps.store.backup(deps.settings.backupRotate);
  deps.store.pruneGenerationFiles(Math.max(1, deps.settings.keepGenerations));
  deps.contents.collectGarbage(deps.store.referencedContents());
}

function buildOps(nginxDir: string, changes: readonly FileChange[], statusContent: string | null): JournalOp[] {
  const ops: JournalOp[] = [];
  // Pools first: a vhost may reference a new upstream; nginx loads all files at once anyway.
  for (const c of [...changes].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    ops.push({
      path: c.path,
      action: c.action === 'delete' ? 'delete' : 'write',
      beforeSha256: liveSha(nginxDir, c.path),
      afterSha256: c.afterSha256,
    });
  }
  if (statusContent) {
    ops.push({ path: STATUS_FILE_PATH, action: 'write', beforeSha256: liveSha(nginxDir, STATUS_FILE_PATH), afterSha256: sha256(statusContent) });
  }
  return ops;
}

function buildCommit(deps: ExecutorDeps, req: ApplyRequest, generation: number, ops: JournalOp[], allFiles: StagedFile[]): GenerationCommit {
  const byPath = new Map(req.files.map((f) => [f.path, f]));
  const upsert: InventoryRow[] = [];
  const remove: string[] = [];
  for (const op of ops) {
    if (op.action === 'delete') {
      remove.push(op.path);
      continue;
    }
    const file = byPath.get(op.path);
    const content = file?.content ?? allFiles.find((f) => f.path === op.path)!.content;
    const ref = file ? file.resource : null;
    const origin = ref ? req.origins?.get(`${ref.kind}/${ref.name}`) : undefined;
    upsert.push({
      path: op.path,
      resourceKind: ref?.kind ?? 'Status',
      resourceName: ref?.name ?? 'orch-status',
      role: file ? file.role : 'status',
      sha256: op.afterSha256!,
      size: Buffer.byteLength(content),
      generation,
      originFile: origin?.file ?? null,
      originIndex: origin?.index ?? null,
    });
  }
  // Files unchanged by this apply but missing from the inventory (first apply after adoption).
  const known = new Set(deps.store.inventory().map((r) => r.path));
  for (const f of req.files) {
    if (known.has(f.path) || upsert.some((u) => u.path === f.path)) continue;
    const origin = req.origins?.get(`${f.resource.kind}/${f.resource.name}`);
    upsert.push({
      path: f.path,
      resourceKind: f.resource.kind,
      resourceName: f.resource.name,
      role: f.role,
      sha256: sha256(f.content),
      size: Buffer.byteLength(f.content),
      generation,
      originFile: origin?.file ?? null,
      originIndex: origin?.index ?? null,
    });
  }
  return {
    generation: {
      number: generation,
      command: deps.command,
      fingerprint: req.fingerprint,
      outcome: 'applied',
      summary: JSON.stringify({ ...req.summary, ...(req.note ? { note: req.note } : {}) }),
      nginxOutput: null,
    },
    upsert,
    remove,
    files: Object.fromEntries(allFiles.map((f) => [f.path, f.sha256 ?? sha256(f.content)])),
    audit: ops.map((op) => ({
      command: deps.command,
      action: op.action === 'delete' ? 'delete' : op.beforeSha256 === null ? 'create' : 'update',
      subject: op.path,
      beforeSha256: op.beforeSha256,
      afterSha256: op.afterSha256,
      details: `${resourceOfPath(op.path).kind}/${resourceOfPath(op.path).name}`,
    })),
  };
}
