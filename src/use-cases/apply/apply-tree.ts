import type { SwitchJournal } from '../../ports/apply-journal.js';
import type { GenerationCommit, GenerationProvenance, InventoryRow, StateStore } from '../../ports/state-store.js';
import type { BuiltGeneration } from '../../ports/managed-tree.js';
import type { Diagnostic } from '../../domain/diagnostics.js';
import type { Origin } from '../../domain/model/desired-state.js';
import { ExitCode, UserError, ValidationError } from '../../domain/errors.js';
import { resourceOfPath, sha256 } from '../../domain/plan/make-plan.js';
import type { FileChange } from '../../domain/plan/plan-types.js';
import { renderStatusFile, STATUS_FILE_PATH, statusToken } from '../../domain/render/render-status.js';
import type { RenderedFile } from '../../domain/render/rendered-tree.js';
import type { EmitApplyEvent } from '../../domain/apply/apply-events.js';
import type { JournalPhase } from '../../domain/apply/journal.js';
import { asStorageError } from '../../domain/apply/storage-failure.js';
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
import { liveGenerationOf } from '../state/state-health.js';

export interface ApplyTreeDeps {
  ports: ApplyPorts;
  store: StateStore;
  emit: EmitApplyEvent;
  command: string;
}

/** Maps nginx's output (file:line of a file of the new generation) back to manifest diagnostics. */
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
   * Runs after the new generation passed `nginx -t` and before anything live is touched (the
   * 'buckets' step: creating the buckets new routes need, so a route never goes live before its
   * bucket exists). A throw aborts the apply with nothing live changed.
   */
  beforePromote?: () => Promise<string | null>;
}

/** What an apply did: the counts of the sequence when it ended (a copy, detached from the engine's state). */
export type ApplyOutcome = ApplyCounts;

export class NginxRejectedError extends ValidationError {
  constructor(diagnostics: Diagnostic[], output: string) {
    super(
      diagnostics,
      `nginx -t rejected the new generation with nginx's main configuration; nothing live was touched.\n${indent(output)}`,
      {
        exitCode: ExitCode.nginxValidationFailed,
        code: 'nginx.test-failed',
      },
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
 * build the new generation -> validate it once with nginx's main configuration -> journal -> switch
 * (one rename) -> confirmed reload -> commit. The decisions are src/domain/apply/apply-sequence.ts;
 * this loop performs the effects they ask for through the ports and feeds back what each observed.
 * Invariant: the live tree is one generation at every instant; on any failure it is the previous
 * one again (or, when nginx could not go back, the new one nginx serves, with the journal kept),
 * and the state is committed only after nginx serves the new generation.
 */
export async function applyTree(deps: ApplyTreeDeps, req: ApplyRequest): Promise<ApplyOutcome> {
  const { ports, store, emit } = deps;
  const { settings, tree, contents, nginx } = ports;
  const layout = tree.layout();
  if (layout.kind === 'unexpected') {
    throw new UserError('tree.unexpected-layout', `The managed directory ${tree.dir} has an unexpected layout: ${layout.detail}.`, {
      hint: 'orch keeps pools/ and vhosts/ as symlinks into current/, which names generations/<N> (see docs/apply.md). Put back what was moved, or move the managed directory aside and run orch rebuild-db / orch apply.',
    });
  }
  const onGenerations = layout.kind === 'generations' || layout.kind === 'converting';
  const recorded = store.currentGeneration() ?? 0;
  const liveNumber = liveGenerationOf(tree) ?? 0;
  // The generation live now: the one `current` names, or (an older layout, converted before the
  // switch) the number recorded for the files as they are.
  const previous = onGenerations ? layout.current : Math.max(recorded, liveNumber);
  // Never a number used before: not the state's, not the live one's, not a kept directory's.
  const generation = Math.max(recorded, liveNumber, previous, ...tree.generations()) + 1;

  // The status file carries the generation token that confirms the reload.
  const token = statusToken(generation, req.fingerprint);
  const statusContent = settings.statusListen === 'off' ? null : renderStatusFile(settings.statusListen, token);
  const previousToken = tokenIn(tree.readLive(STATUS_FILE_PATH));
  const byPath = new Map(req.files.map((f) => [f.path, f]));
  const writes = new Map<string, string>();
  const deletes = new Set<string>();
  for (const c of req.changes) {
    if (c.action === 'delete') deletes.add(c.path);
    else writes.set(c.path, byPath.get(c.path)?.content ?? c.after ?? '');
  }
  if (statusContent !== null) writes.set(STATUS_FILE_PATH, statusContent);
  const allFiles = [
    ...req.files.map((f) => ({ path: f.path, content: f.content })),
    ...(statusContent ? [{ path: STATUS_FILE_PATH, content: statusContent }] : []),
  ];
  const shas = new Map(allFiles.map((f) => [f.path, sha256(f.content)]));

  const reloadConfigured = settings.reload !== 'none';
  const input: ApplySequenceInput = {
    generation,
    writes: writes.size,
    deletes: deletes.size,
    stagedFiles: allFiles.length,
    dryRun: req.dryRun,
    beforePromote: req.beforePromote !== undefined,
    convert: layout.kind !== 'generations',
    reloadConfigured,
    confirm:
      reloadConfigured && statusContent
        ? { listen: settings.statusListen, token, previousToken, timeoutSeconds: settings.reloadTimeoutSeconds }
        : null,
  };
  // Who applies, from which revision of the manifests (`orch history`); git is asked only for a real generation.
  const provenance = req.dryRun ? {} : await ports.provenance.current();
  const commit = buildCommit(deps, req, generation, writes, deletes, allFiles, shas, provenance);
  let journal: Omit<SwitchJournal, 'pid'> | null = null;
  const writeJournal = (phase: JournalPhase): void => {
    journal ??= {
      version: 2,
      generation,
      previous,
      previousToken,
      token: statusContent ? token : null,
      command: deps.command,
      startedAt: new Date(ports.clock.now()).toISOString(),
      phase,
      nginxDir: settings.nginxDir,
      commit,
    };
    journal.phase = phase;
    ports.journal.write(journal);
  };
  let built: BuiltGeneration | null = null;
  const storedHere: string[] = [];
  let converted: { atomic: boolean } | null = null;

  const perform = async (effect: Exclude<ApplyEffect, { kind: 'fault' }>): Promise<ApplyObservation> => {
    switch (effect.kind) {
      case 'emit':
        emit(effect.event);
        break;
      case 'stage': {
        // Every content of the generation is kept (rollback, drift diffs); most are stored already.
        const missing = new Map<string, string>();
        for (const f of allFiles) {
          const h = shas.get(f.path)!;
          if (!missing.has(h) && !contents.has(h)) missing.set(h, f.content);
        }
        storedHere.push(...missing.keys());
        contents.putMany(missing);
        built = tree.build(generation, writes, deletes);
        break;
      }
      case 'test':
        return { kind: 'tested', ...(await nginx.testGeneration(built!.dir)) };
      case 'discard':
        discard();
        break;
      case 'create-buckets':
        return { kind: 'buckets', message: await req.beforePromote!() };
      case 'convert':
        converted = tree.convert(previous);
        break;
      case 'write-journal':
        writeJournal(effect.phase);
        break;
      case 'switch':
        try {
          tree.prepareSwitch(generation, previous);
          tree.switchTo(generation);
        } catch (e) {
          // rename(2) is atomic: unless `current` names the new generation, the switch did not happen.
          if (currentOf() !== generation) throw e;
        }
        break;
      case 'reload':
        return { kind: 'reloaded', ...(await nginx.reload()) };
      case 'confirm':
        return { kind: 'confirmed', ...(await awaitServed(nginx, ports.clock, token, settings.reloadTimeoutSeconds)) };
      case 'switch-back':
        tree.switchTo(previous);
        break;
      case 'reload-back':
        return { kind: 'reloaded', ...(await nginx.reload().catch((e: unknown) => ({ ok: false, output: String(e), durationMs: 0 }))) };
      case 'confirm-previous':
        return { kind: 'confirmed', ...(await awaitServed(nginx, ports.clock, previousToken!, settings.reloadTimeoutSeconds)) };
      case 'switch-forward':
        tree.switchTo(generation);
        break;
      case 'remove-journal':
        ports.journal.remove();
        break;
      case 'audit-failure':
        try {
          store.audit([{ command: deps.command, action: 'apply-failed', subject: `generation ${generation}`, details: effect.details }]);
        } catch {
          /* a full state directory: the failure is reported to the operator all the same */
        }
        break;
      case 'commit':
        store.commitGeneration(commit);
        break;
      case 'housekeeping':
        await afterCommitHousekeeping(ports, store);
        break;
    }
    return { kind: 'done' };
  };

  const currentOf = (): number | null => {
    const l = tree.layout();
    return l.kind === 'generations' || l.kind === 'converting' ? l.current : null;
  };
  /** Best effort, never throws: what this apply made and nobody uses. */
  const discard = (): void => {
    const quiet = (f: () => void) => {
      try {
        f();
      } catch {
        /* best effort */
      }
    };
    if (currentOf() !== generation) quiet(() => tree.discard(generation));
    quiet(() => tree.removeSwitchLinks());
    if (journal) quiet(() => ports.journal.remove());
    for (const h of storedHere) quiet(() => contents.remove(h));
  };

  let step = startApply(input);
  let failedEffect: ApplyEffect['kind'] | null = null;
  for (;;) {
    let observed: ApplyObservation = { kind: 'done' };
    for (const effect of step.effects) {
      // A fault point is not an effect that can fail: the test hook kills the process there.
      if (effect.kind === 'fault') {
        ports.fault(effect.point);
        continue;
      }
      try {
        observed = await perform(effect);
      } catch (error) {
        // The last effects of a finished apply (removing the journal after a failure) are best
        // effort: the failure reported is the one that ended the apply; a journal left behind is
        // recovered by the next writer.
        if (isFinished(step.state)) continue;
        failedEffect = effect.kind;
        observed = { kind: 'failed', error };
        break;
      }
    }
    if (isFinished(step.state)) break;
    step = nextApplyStep(input, step, observed);
  }
  const outcome = outcomeOf(step.counts);
  if (converted && !(converted as { atomic: boolean }).atomic)
    outcome.warnings.push(
      `${tree.dir} was converted to generation directories without renameat2(RENAME_EXCHANGE) (no perl?): pools/ and vhosts/ were each missing for a moment`,
    );
  if (step.state.at === 'failed') throw failureError(step.state.failure, failedEffect, { req, built, deps, generation, previous });
  return outcome;
}

function tokenIn(status: string | null): string | null {
  return status === null ? null : (/return 200 "([^"]+)"/.exec(status)?.[1] ?? null);
}

function outcomeOf(counts: ApplyCounts): ApplyOutcome {
  return { ...counts, timings: { ...counts.timings }, warnings: [...counts.warnings] };
}

function failureError(
  failure: ApplyFailure,
  failedEffect: ApplyEffect['kind'] | null,
  ctx: { req: ApplyRequest; built: BuiltGeneration | null; deps: ApplyTreeDeps; generation: number; previous: number },
): unknown {
  const { settings, nginx, tree } = ctx.deps.ports;
  const { generation, previous } = ctx;
  const backText = (back: Extract<ApplyFailure, { kind: 'reload-not-confirmed' }>['back']): string => {
    switch (back.kind) {
      case 'done':
        return `Nothing live changed: orch switched back to generation ${previous}${settings.reload !== 'none' ? ' and nginx serves it again' : ''}, and nothing of this apply was left behind.`;
      case 'unconfirmed':
        return `Nothing live changed on disk: orch switched back to generation ${previous} and asked nginx to reload it, but nginx did not confirm serving it (is nginx running? see its error log); nothing of this apply was left behind.`;
      case 'nginx-stuck':
        return `nginx kept generation ${generation} and could not go back to ${previous}, so generation ${generation} stays live (its files are what nginx serves); the next orch run records it.`;
      case 'failed':
        return `Switching back to generation ${previous} failed (${back.error instanceof Error ? back.error.message : String(back.error)}): the journal stays, and the next orch run switches back or records generation ${generation}.`;
    }
  };
  switch (failure.kind) {
    case 'error': {
      const outcome =
        failure.switched && failure.back
          ? backText(failure.back)
          : `Nothing live changed: generation ${previous} is live, as before, and nothing of this apply was left behind.`;
      return asStorageError(failure.error, { doing: doingOf(failedEffect, generation, tree.dir), outcome });
    }
    case 'rejected':
      return new NginxRejectedError(ctx.req.mapNginxOutput(failure.output, ctx.built!.dir), failure.output);
    case 'reload-not-confirmed': {
      const log = nginx.errorLogTail();
      const down = nginxNotRunning(failure.detail);
      return new UserError(
        'nginx.reload-not-confirmed',
        `${down ? 'nginx is not running: the reload reached no nginx' : 'nginx did not load the new configuration'}: ${failure.detail}. ${backText(failure.back)}${log ? `\nnginx error log (last lines):\n${indent(log)}` : ''}`,
        {
          hint: down
            ? `Start nginx (it loads generation ${previous}, the live one), then run the apply again.`
            : `Check nginx's error log (a port already in use, a missing certificate), that nginx is running, and that its main configuration includes ${settings.nginxDir}/vhosts/*.conf.`,
          exitCode: ExitCode.reloadNotConfirmed,
        },
      );
    }
  }
}

/** `nginx -s reload` without a running master: its pid file is missing, empty, or names no process. */
function nginxNotRunning(output: string): boolean {
  return /nginx\.pid" failed \(2:|invalid PID number|kill\(\d+, \d+\) failed \(3: No such process\)/.test(output);
}

function doingOf(effect: ApplyEffect['kind'] | null, generation: number, dir: string): string {
  switch (effect) {
    case 'stage':
      return `preparing generation ${generation} (its directory under ${dir}/generations, its contents in the state directory)`;
    case 'test':
      return `validating generation ${generation} with nginx -t`;
    case 'convert':
      return `converting ${dir} to generation directories`;
    case 'write-journal':
      return 'writing the apply journal';
    case 'switch':
      return `switching ${dir} to generation ${generation}`;
    case 'commit':
      return `recording generation ${generation} in the state database`;
    case 'create-buckets':
      return 'creating the buckets new routes need';
    default:
      return `applying generation ${generation}`;
  }
}

/**
 * After a commit: forget generations beyond the configured number (their directories, file lists
 * and unreferenced contents: space first), then back the database up.
 */
export async function afterCommitHousekeeping(ports: Pick<ApplyPorts, 'settings' | 'contents' | 'tree'>, store: StateStore): Promise<void> {
  const keep = Math.max(1, ports.settings.keepGenerations);
  store.pruneGenerationFiles(keep);
  ports.tree.prune(new Set(store.generations(keep).map((g) => g.number)));
  ports.tree.removeSwitchLinks();
  ports.contents.collectGarbage(store.referencedContents());
  await store.backup(ports.settings.backupRotate);
}

function buildCommit(
  deps: ApplyTreeDeps,
  req: ApplyRequest,
  generation: number,
  writes: ReadonlyMap<string, string>,
  deletes: ReadonlySet<string>,
  allFiles: ReadonlyArray<{ path: string; content: string }>,
  shas: ReadonlyMap<string, string>,
  provenance: Partial<GenerationProvenance>,
): GenerationCommit {
  const byPath = new Map(req.files.map((f) => [f.path, f]));
  const upsert: InventoryRow[] = [];
  const remove = [...deletes].sort();
  const liveSha = (path: string) => deps.ports.tree.liveSha(path);
  const audit: GenerationCommit['audit'] = [];
  for (const path of [...writes.keys()].sort()) {
    const content = writes.get(path)!;
    const file = byPath.get(path);
    const ref = file ? file.resource : null;
    const origin = ref ? req.origins?.get(`${ref.kind}/${ref.name}`) : undefined;
    const after = shas.get(path) ?? sha256(content);
    upsert.push({
      path,
      resourceKind: ref?.kind ?? 'Status',
      resourceName: ref?.name ?? 'orch-status',
      role: file ? file.role : 'status',
      sha256: after,
      size: Buffer.byteLength(content),
      generation,
      originFile: origin?.file ?? null,
      originIndex: origin?.index ?? null,
    });
    const before = liveSha(path);
    audit.push({
      command: deps.command,
      action: before === null ? 'create' : 'update',
      subject: path,
      beforeSha256: before,
      afterSha256: after,
      details: `${resourceOfPath(path).kind}/${resourceOfPath(path).name}`,
    });
  }
  for (const path of remove) {
    audit.push({
      command: deps.command,
      action: 'delete',
      subject: path,
      beforeSha256: liveSha(path),
      afterSha256: null,
      details: `${resourceOfPath(path).kind}/${resourceOfPath(path).name}`,
    });
  }
  // Files unchanged by this apply but missing from the inventory (first apply after adoption).
  const known = new Set(deps.store.inventory().map((r) => r.path));
  for (const f of req.files) {
    if (known.has(f.path) || writes.has(f.path)) continue;
    const origin = req.origins?.get(`${f.resource.kind}/${f.resource.name}`);
    upsert.push({
      path: f.path,
      resourceKind: f.resource.kind,
      resourceName: f.resource.name,
      role: f.role,
      sha256: shas.get(f.path)!,
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
      ...provenance,
    },
    upsert,
    remove,
    files: Object.fromEntries(allFiles.map((f) => [f.path, shas.get(f.path)!])),
    audit,
  };
}
