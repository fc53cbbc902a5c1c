import type { Settings } from '../../config/settings.js';
import { isCorruptState } from '../../domain/errors.js';
import { judgeState, type DatabaseProblem, type StateEvidence } from '../../domain/apply/state-loss.js';
import { STATUS_FILE_PATH } from '../../domain/render/render-status.js';
import type { ApplyJournal } from '../../ports/apply-journal.js';
import type { ManagedTree } from '../../ports/managed-tree.js';
import type { MigrationFiles } from '../../ports/migration-files.js';
import type { DatabaseCondition, StateDatabase, StateStore } from '../../ports/state-store.js';
import { checkManagedDir } from './open-state.js';

/**
 * Opening the state only after telling "never applied here" from "the state was lost" (the
 * decisions are src/domain/apply/state-loss.ts): every command that reads or writes the state goes
 * through here, so none of them mistakes a lost database for a fresh start.
 */
export interface StateHealthPorts {
  settings: Settings;
  state: StateDatabase;
  tree: Pick<ManagedTree, 'read' | 'readLive' | 'layout' | 'generations'>;
  journal: Pick<ApplyJournal, 'read'>;
  migrationFiles?: Pick<MigrationFiles, 'readAll'>;
}

/** The generation live in the managed directory: the one `current` names, or the status file's token. */
export function liveGenerationOf(tree: Pick<ManagedTree, 'layout' | 'readLive'>): number | null {
  const layout = tree.layout();
  if (layout.kind === 'generations' || layout.kind === 'converting') return layout.current > 0 ? layout.current : null;
  const status = tree.readLive(STATUS_FILE_PATH);
  const m = status === null ? null : /return 200 "(\d+) /.exec(status);
  return m ? Number(m[1]) : null;
}

/** What the disk shows of earlier applies. */
export function gatherEvidence(ports: StateHealthPorts): StateEvidence {
  let migrationFiles = 0;
  try {
    migrationFiles = ports.migrationFiles?.readAll().length ?? 0;
  } catch {
    /* unreadable: not counted */
  }
  return {
    nginxDir: ports.settings.nginxDir,
    orchFiles: safe(() => ports.tree.read().files.filter((f) => f.managed).length, 0),
    liveGeneration: safe(() => liveGenerationOf(ports.tree), null),
    generationDirs: safe(() => ports.tree.generations().filter((n) => n > 0).length, 0),
    backups: ports.state.backups().map((b) => ({
      path: b.path,
      writtenAt: b.writtenAt,
      generation: b.condition.kind === 'usable' ? b.condition.generation : null,
      usable: b.condition.kind === 'usable',
    })),
    journal: safe(() => ports.journal.read() !== null, true),
    migrationFiles,
  };
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

export function problemOf(c: DatabaseCondition): DatabaseProblem | null {
  if (c.kind === 'usable') return c.generation === null ? { kind: 'no-generation' } : null;
  return c;
}

function facts(ports: StateHealthPorts) {
  return {
    nginxDir: ports.settings.nginxDir,
    liveGeneration: () => safe(() => liveGenerationOf(ports.tree), null),
    evidence: () => gatherEvidence(ports),
    journalPresent: safe(() => ports.journal.read() !== null, true),
  };
}

/**
 * For readers (plan, drift, status, history, watch): the state read-only, or null when orch never
 * applied here. Throws a user error naming what was found and the command to run when the state
 * was lost, is unusable, or is older than the live files. Never writes anything.
 */
export function openStateForReading(ports: StateHealthPorts): StateStore | null {
  const dbPath = ports.state.path;
  let store: StateStore | null = null;
  let problem: DatabaseProblem | null = null;
  try {
    store = ports.state.openIfExists();
  } catch (e) {
    if (!isCorruptState(e)) throw e;
    problem = problemOf(ports.state.condition()) ?? { kind: 'corrupt', detail: (e as Error).message };
  }
  if (store === null && problem === null) problem = { kind: 'missing' };
  let recorded: number | null = null;
  try {
    if (store) {
      checkManagedDir(store, ports.settings);
      recorded = store.currentGeneration();
      if (recorded === null) problem = { kind: 'no-generation' };
    }
    const verdict = judgeState(dbPath, problem, recorded, facts(ports));
    if (verdict.verdict === 'stop') throw verdict.error;
    return store;
  } catch (e) {
    store?.close();
    throw e;
  }
}

/**
 * For writers holding the lock: the checks first (a zero-byte or foreign file is never initialized
 * over, a lost state never restarted), then the database opened for writing.
 */
export function checkStateForWriting(ports: StateHealthPorts): void {
  const condition = ports.state.condition();
  const problem = problemOf(condition);
  const recorded = condition.kind === 'usable' ? condition.generation : null;
  const verdict = judgeState(ports.state.path, problem, recorded, facts(ports));
  if (verdict.verdict === 'stop') throw verdict.error;
}

/** A database that opening found corrupt (quick_check), as a stop with what the disk shows. */
export function corruptionStop(ports: StateHealthPorts, e: unknown): unknown {
  if (!isCorruptState(e)) return e;
  const problem = problemOf(ports.state.condition()) ?? { kind: 'corrupt' as const, detail: (e as Error).message };
  const verdict = judgeState(ports.state.path, problem, null, facts(ports));
  return verdict.verdict === 'stop' ? verdict.error : e;
}
