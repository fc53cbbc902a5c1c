import type { Journal } from '../../ports/apply-journal.js';
import type { GenerationCommit, InventoryRow, StateStore } from '../../ports/state-store.js';
import type { StagedFile, StagedTree } from '../../ports/managed-tree.js';
import type { Diagnostic } from '../../domain/diagnostics.js';
import type { Origin } from '../../domain/model/desired-state.js';
import { ExitCode, UserError, ValidationError } from '../../domain/errors.js';
import { resourceOfPath, sha256 } from '../../domain/plan/make-plan.js';
import type { FileChange } from '../../domain/plan/plan-types.js';
import { renderStatusFile, STATUS_FILE_PATH, statusToken } from '../../domain/render/render-status.js';
import type { RenderedFile } from '../../domain/render/rendered-tree.js';
import type { EmitApplyEvent } from '../../domain/apply/apply-events.js';
import type { JournalOp, JournalPhase } from '../../domain/apply/journal.js';
import {
  isFinished,
  nextApplyStep,
  startApply,
  type ApplyCounts,
  type ApplyEffect,
  type ApplyFailure,
  type ApplyObservation,
  type ApplySequenceInput,
} from '../../domain/apply/apply-sequence.js';
import type { ApplyPorts } from './apply-ports.js';
import { awaitServed } from './await-served.js';

export interface ApplyTreeDeps {
  ports: ApplyPorts;
  store: StateStore;
  emit: EmitApplyEvent;
  command: string;
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

/** What an apply did: the counts of the sequence when it ended (a copy, detached from the engine's state). */
export type ApplyOutcome = ApplyCounts;

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
 * The decisions are src/domain/apply/apply-sequence.ts; this loop performs the effects they ask for
 * through the ports and feeds back what each observed. Invariant: on any failure the live files are
 * those of the previous generation again, and the state is committed only after nginx serves the
 * new generation.
 */
export async function applyTree(deps: ApplyTreeDeps, req: ApplyRequest): Promise<ApplyOutcome> {
  const { ports, store, emit } = deps;
  const { settings, tree, contents, nginx } = ports;
  const generation = (store.currentGeneration() ?? 0) + 1;

  // The status file carries the generation token that confirms the reload.
  const token = statusToken(generation, req.fingerprint);
  const statusContent = settings.statusListen === 'off' ? null : renderStatusFile(settings.statusListen, token);
  // Files this apply does not change are identical to the live ones (the plan compared them): the
  // staging may link them instead of writing them again (a 1,000-vhost tree is 2,400 files).
  const changed = new Set(req.changes.map((c) => c.path));
  const allFiles: StagedFile[] = [
    ...req.files.map((f) => ({ path: f.path, content: f.content })),
    ...(statusContent ? [{ path: STATUS_FILE_PATH, content: statusContent }] : []),
  ].map((f) => ({ ...f, sha256: sha256(f.content), unchanged: f.path !== STATUS_FILE_PATH && !changed.has(f.path) }));

  // Every rename and delete, journaled before anything live is touched.
  const ops = buildOps(deps, req.changes, statusContent);
  const input: ApplySequenceInput = {
    generation,
    ops,
    stagedFiles: allFiles.length,
    dryRun: req.dryRun,
    beforePromote: req.beforePromote !== undefined,
    confirm:
      settings.reload !== 'none' && statusContent
        ? { listen: settings.statusListen, token, timeoutSeconds: settings.reloadTimeoutSeconds }
        : null,
  };
  let journal: Omit<Journal, 'pid'> | null = null;
  const writeJournal = (phase: JournalPhase): void => {
    journal ??= {
      version: 1,
      generation,
      command: deps.command,
      startedAt: new Date(ports.clock.now()).toISOString(),
      phase,
      nginxDir: settings.nginxDir,
      ops,
      commit: buildCommit(deps, req, generation, ops, allFiles),
    };
    journal.phase = phase;
    ports.journal.write(journal);
  };
  let staged: StagedTree | null = null;

  const perform = async (effect: Exclude<ApplyEffect, { kind: 'fault' }>): Promise<ApplyObservation> => {
    switch (effect.kind) {
      case 'emit':
        emit(effect.event);
        break;
      case 'stage':
        staged = tree.stage(allFiles);
        for (const f of allFiles) contents.put(f.sha256, f.content);
        break;
      case 'test-staged':
        return { kind: 'tested', ...(await nginx.testStaged(staged!)) };
      case 'unstage':
        tree.unstage();
        break;
      case 'create-buckets':
        return { kind: 'buckets', message: await req.beforePromote!() };
      case 'keep-previous':
        for (const op of ops) {
          if (op.beforeSha256 !== null && !contents.has(op.beforeSha256)) contents.put(op.beforeSha256, tree.readLive(op.path)!);
        }
        break;
      case 'write-journal':
        writeJournal(effect.phase);
        break;
      case 'promote': {
        const op = ops[effect.index]!;
        if (op.action === 'write') tree.write(op.path, contents.get(op.afterSha256!)!);
        else tree.remove(op.path);
        break;
      }
      case 'sync':
        tree.sync(ops);
        break;
      case 'test-live':
        return { kind: 'tested', ...(await nginx.testLive()) };
      case 'reload':
        return { kind: 'reloaded', ...(await nginx.reload()) };
      case 'confirm':
        return { kind: 'confirmed', ...(await awaitServed(nginx, ports.clock, token, settings.reloadTimeoutSeconds)) };
      case 'restore':
        tree.restorePrevious(ops, contents);
        break;
      case 'remove-journal':
        ports.journal.remove();
        break;
      case 'audit-failure':
        store.audit([{ command: deps.command, action: 'apply-failed', subject: `generation ${generation}`, details: effect.details }]);
        break;
      case 'commit':
        store.commitGeneration(journal!.commit);
        break;
      case 'housekeeping':
        await afterCommitHousekeeping(ports, store);
        break;
    }
    return { kind: 'done' };
  };

  let step = startApply(input);
  for (;;) {
    let observed: ApplyObservation = { kind: 'done' };
    for (const effect of step.effects) {
      // A fault point is not an effect that can fail: the test hook kills the process there.
      if (effect.kind === 'fault') {
        ports.fault(effect.point);
        continue;
      }
      if (isFinished(step.state)) {
        // The last effects of a failure (restoring the files) report their own errors.
        await perform(effect);
        continue;
      }
      try {
        observed = await perform(effect);
      } catch (error) {
        observed = { kind: 'failed', error };
        break;
      }
    }
    if (isFinished(step.state)) break;
    step = nextApplyStep(input, step, observed);
  }
  if (step.state.at === 'failed') throw failureError(step.state.failure, req, staged, deps);
  return outcomeOf(step.counts);
}

function outcomeOf(counts: ApplyCounts): ApplyOutcome {
  return { ...counts, timings: { ...counts.timings } };
}

function failureError(failure: ApplyFailure, req: ApplyRequest, staged: StagedTree | null, deps: ApplyTreeDeps): unknown {
  const { settings, nginx, tree } = deps.ports;
  switch (failure.kind) {
    case 'error':
      return failure.error;
    case 'staged-rejected':
      return new NginxRejectedError(req.mapNginxOutput(failure.output, staged!.treeDir), 'staged', failure.output);
    case 'live-rejected':
      return new NginxRejectedError(req.mapNginxOutput(failure.output, tree.dir), 'live', failure.output);
    case 'reload-not-confirmed': {
      const log = nginx.errorLogTail();
      return new UserError(
        'nginx.reload-not-confirmed',
        `nginx did not load the new configuration: ${failure.detail}. Every file was rolled back and nginx reloaded with the previous generation.${log ? `\nnginx error log (last lines):\n${indent(log)}` : ''}`,
        {
          hint: `Check nginx's error log (a port already in use, a missing certificate), that nginx is running, and that its main configuration includes ${settings.nginxDir}/vhosts/*.conf.`,
          exitCode: ExitCode.reloadNotConfirmed,
        },
      );
    }
  }
}

/** Database backup, and forgetting generations beyond the configured number. */
export async function afterCommitHousekeeping(ports: Pick<ApplyPorts, 'settings' | 'contents'>, store: StateStore): Promise<void> {
  await store.backup(ports.settings.backupRotate);
  store.pruneGenerationFiles(Math.max(1, ports.settings.keepGenerations));
  ports.contents.collectGarbage(store.referencedContents());
}

function buildOps(deps: ApplyTreeDeps, changes: readonly FileChange[], statusContent: string | null): JournalOp[] {
  const { tree } = deps.ports;
  const ops: JournalOp[] = [];
  // Pools first: a vhost may reference a new upstream; nginx loads all files at once anyway.
  for (const c of [...changes].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    ops.push({
      path: c.path,
      action: c.action === 'delete' ? 'delete' : 'write',
      beforeSha256: tree.liveSha(c.path),
      afterSha256: c.afterSha256,
    });
  }
  if (statusContent) {
    ops.push({ path: STATUS_FILE_PATH, action: 'write', beforeSha256: tree.liveSha(STATUS_FILE_PATH), afterSha256: sha256(statusContent) });
  }
  return ops;
}

function buildCommit(
  deps: ApplyTreeDeps,
  req: ApplyRequest,
  generation: number,
  ops: JournalOp[],
  allFiles: readonly StagedFile[],
): GenerationCommit {
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
