import { UserError } from '../../domain/errors.js';
import { makePlan, resourceOfPath, sha256 } from '../../domain/plan/make-plan.js';
import { planHasChanges, type Plan } from '../../domain/plan/plan-types.js';
import { hasErrors } from '../../domain/diagnostics.js';
import { computePlan } from '../plan/compute-plan.js';
import type { StateStore } from '../../ports/state-store.js';
import { STATUS_FILE_PATH } from '../../domain/render/render-status.js';
import type { RenderedFile } from '../../domain/render/rendered-tree.js';
import { applyTree, type ApplyOutcome } from './apply-tree.js';
import type { EmitApplyEvent } from '../../domain/apply/apply-events.js';
import { recoverJournal } from './recover-journal.js';
import { checkNginxConf } from './apply-gateway.js';
import { stateViewOf } from '../state/open-state.js';
import { withWriterSession } from './writer-session.js';
import type { ApplyPorts } from './apply-ports.js';

export interface RollbackResult {
  target: number;
  plan: Plan;
  outcome: ApplyOutcome | null;
  /**
   * Whether the manifests describe the restored files (then the next apply changes nothing), or
   * why that could not be told (manifests that do not validate, a pool unreachable, ...).
   */
  manifests: { match: true } | { match: false } | { match: null; why: string };
}

export interface RollbackOptions {
  /** Generation to restore; default: the one before the current. */
  target: number | null;
  confirm: ((plan: Plan, target: number) => Promise<boolean>) | null;
  emit: EmitApplyEvent;
}

/**
 * Restores a kept generation's files through the same stage -> validate -> promote -> reload path,
 * recorded as a new generation. The manifests are not changed: the next plan shows the way back.
 */
export async function rollbackTo(ports: ApplyPorts, opts: RollbackOptions): Promise<RollbackResult> {
  const { settings, contents } = ports;
  checkNginxConf(ports);
  return withWriterSession(ports, 'rollback', async ({ store }) => {
    await recoverJournal(ports, store);
    const current = store.currentGeneration();
    if (current === null)
      throw new UserError('rollback.no-history', 'There is no applied generation to roll back to.', { hint: "See 'orch history'." });
    const target =
      opts.target ??
      previousApplied(
        store.generations(100).map((g) => g.number),
        current,
      );
    if (target === null)
      throw new UserError('rollback.no-previous', 'There is no earlier generation to roll back to.', { hint: "See 'orch history'." });
    const fileList = store.generationFiles(target);
    if (Object.keys(fileList).length === 0) {
      throw new UserError(
        'rollback.not-kept',
        `The files of generation ${target} are no longer kept (orch keeps the last ${settings.keepGenerations}).`,
        {
          hint: "See 'orch history' for the generations that can be restored; raise keepGenerations to keep more.",
        },
      );
    }
    const files: RenderedFile[] = [];
    for (const [path, sha] of Object.entries(fileList)) {
      if (path === STATUS_FILE_PATH) continue;
      const content = contents.get(sha);
      if (content === null)
        throw new UserError(
          'rollback.content-missing',
          `The stored content of ${path} in generation ${target} is missing from ${contents.dir}.`,
        );
      files.push({ path, content, resource: resourceOfPath(path), role: path.endsWith('.meta.json') ? 'sidecar' : 'config', lineMap: [] });
    }
    files.sort((a, b) => (a.path < b.path ? -1 : 1));
    const plan = makePlan({ desired: { files }, observed: ports.tree.read(), inventory: stateViewOf(store).inventory, migrations: [] });
    if (opts.confirm && !(await opts.confirm(plan, target)))
      throw new UserError('rollback.cancelled', 'Rollback cancelled; nothing was changed.');
    const outcome = await applyTree(
      { ports, store, emit: opts.emit, command: 'rollback' },
      {
        files,
        changes: plan.changes.flatMap((c) => c.files),
        fingerprint: `sha256:${sha256(JSON.stringify(fileList))}`,
        summary: { add: plan.summary.add, change: plan.summary.change, destroy: plan.summary.destroy },
        dryRun: false,
        note: `rollback to generation ${target}`,
        mapNginxOutput: (output) => [{ severity: 'error', code: 'nginx.test', message: `nginx: ${output}` }],
      },
    );
    return { target, plan, outcome, manifests: await manifestsAfter(ports, store) };
  });
}

function previousApplied(numbers: number[], current: number): number | null {
  const older = numbers.filter((n) => n < current).sort((a, b) => b - a);
  return older[0] ?? null;
}

/** Plans the manifests against the restored tree (offline: files only) to tell whether they still describe another state. */
async function manifestsAfter(ports: ApplyPorts, store: StateStore): Promise<RollbackResult['manifests']> {
  try {
    const { plan } = await computePlan(ports, stateViewOf(store), { refresh: false });
    if (hasErrors(plan.diagnostics)) return { match: null, why: 'the manifests do not validate' };
    return { match: !planHasChanges(plan) };
  } catch (e) {
    return { match: null, why: (e instanceof Error ? e.message : String(e)).split('\n')[0]! };
  }
}
