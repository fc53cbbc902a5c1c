import { UserError } from '../errors.js';

/**
 * Telling "never applied here" from "the state was lost", as pure decisions.
 *
 * The state database is what lets orch tell its own files from hand edits, and which files it
 * wrote at all. Without it, an apply would overwrite hand edits unnoticed, delete files orch's
 * marker claims but no inventory lists, restart the generation numbers and rotate good backups
 * away. So when the database is missing, empty or unusable while the disk shows that orch applied
 * here before (its files, its generation directories, database backups, a journal, migration state
 * files), plan, apply, drift, status, history and watch stop, say what they found, and give the
 * exact command that restores the state. They never guess.
 */

/** What the disk shows of earlier applies (gathered by src/use-cases/state/state-health.ts). */
export interface StateEvidence {
  nginxDir: string;
  /** Files in the live pools/ and vhosts/ carrying orch's marker. */
  orchFiles: number;
  /** The generation live in the managed directory (`current`, or the status file's token), or null. */
  liveGeneration: number | null;
  /** Generation directories numbered 1 or more. */
  generationDirs: number;
  backups: Array<{ path: string; writtenAt: number; generation: number | null; usable: boolean }>;
  journal: boolean;
  migrationFiles: number;
}

/** A database file orch cannot use, and why (each reported as such, never as an internal error). */
export type UnusableDatabase =
  | { kind: 'zero-bytes' }
  | { kind: 'truncated'; size: number; expected: number }
  | { kind: 'not-sqlite' }
  | { kind: 'foreign'; detail: string }
  | { kind: 'corrupt'; detail: string }
  | { kind: 'too-new'; schema: number; known: number }
  | { kind: 'unreadable'; code: string };

export type DatabaseProblem = { kind: 'missing' } | { kind: 'no-generation' } | UnusableDatabase;

export function hasEvidence(e: StateEvidence): boolean {
  return e.orchFiles > 0 || e.generationDirs > 0 || e.backups.length > 0 || e.journal || e.migrationFiles > 0;
}

/** Whether a database in this condition can be replaced without losing anything (a new one created, or rebuild-db without --force). */
function emptyish(p: DatabaseProblem): boolean {
  return p.kind === 'missing' || p.kind === 'no-generation' || p.kind === 'zero-bytes';
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

function describeProblem(dbPath: string, p: DatabaseProblem): string {
  switch (p.kind) {
    case 'missing':
      return `The state database ${dbPath} is missing`;
    case 'no-generation':
      return `The state database ${dbPath} records no generation`;
    case 'zero-bytes':
      return `The state database ${dbPath} is empty (0 bytes)`;
    case 'truncated':
      return `The state database ${dbPath} is truncated (${plural(p.size, 'byte')}; its header says ${plural(p.expected, 'byte')})`;
    case 'not-sqlite':
      return `${dbPath} is not a SQLite database (it does not start with SQLite's header: random or foreign bytes)`;
    case 'foreign':
      return `${dbPath} is a SQLite database, but not orch's: ${p.detail}`;
    case 'corrupt':
      return `The state database ${dbPath} is corrupt (${p.detail})`;
    case 'too-new':
      return `The state database ${dbPath} was written by a newer orch (schema ${p.schema}, this orch knows ${p.known})`;
    case 'unreadable':
      return `The state database ${dbPath} cannot be read (${p.code})`;
  }
}

function describeEvidence(e: StateEvidence): string[] {
  const found: string[] = [];
  if (e.orchFiles > 0)
    found.push(
      `${plural(e.orchFiles, 'file')} carrying orch's marker in ${e.nginxDir}${e.liveGeneration !== null ? ` (generation ${e.liveGeneration} is live)` : ''}`,
    );
  else if (e.liveGeneration !== null) found.push(`generation ${e.liveGeneration} live in ${e.nginxDir}`);
  if (e.generationDirs > 0) found.push(`${plural(e.generationDirs, 'generation directory', 'generation directories')}`);
  const usable = e.backups.filter((b) => b.usable);
  if (e.backups.length > 0) {
    const newest = usable[0];
    found.push(
      `${plural(e.backups.length, 'database backup')}${newest ? ` (newest usable: ${newest.path}, generation ${newest.generation ?? 'none'}, written ${new Date(newest.writtenAt).toISOString()})` : ' (none usable)'}`,
    );
  }
  if (e.journal) found.push("an interrupted apply's journal");
  if (e.migrationFiles > 0) found.push(plural(e.migrationFiles, 'migration state file'));
  return found;
}

/** The command that brings the state back, best first. */
function recoveryHint(dbPath: string, p: DatabaseProblem, e: StateEvidence): string {
  return `${restoreHint(dbPath, p, e)} (A plan against a copy of the managed tree without its state, as in CI: 'orch plan --no-state'.)`;
}

function restoreHint(dbPath: string, p: DatabaseProblem, e: StateEvidence): string {
  const rebuild = emptyish(p) && p.kind !== 'zero-bytes' ? 'orch rebuild-db' : 'orch rebuild-db --force';
  const rebuildLine = `rebuild it from the files: '${rebuild}'${rebuild.endsWith('--force') ? ' (the damaged file is kept beside it)' : ''}, then check with 'orch plan'.`;
  const newest = e.backups.find((b) => b.usable && b.generation !== null);
  const restore =
    p.kind === 'missing'
      ? `cp -p ${newest?.path} ${dbPath}`
      : `mv ${dbPath} ${dbPath}.damaged && cp -p ${newest?.path} ${dbPath}  (with orch stopped: also move ${dbPath}-wal and ${dbPath}-shm aside)`;
  if (newest && (e.liveGeneration === null || newest.generation === e.liveGeneration)) {
    return `Restore the newest backup${e.liveGeneration !== null ? `, which records generation ${newest.generation}, the one live` : ''}: ${restore}. Or ${rebuildLine}`;
  }
  if (newest) {
    return `Rebuild the state from the files: '${rebuild}', then check with 'orch plan'. The newest backup (${newest.path}) records generation ${newest.generation}, older than the live generation ${e.liveGeneration}: restored, it would report the later generations' files as hand edits.`;
  }
  return `Rebuild the state from the files: '${rebuild}', then check with 'orch plan'.`;
}

/** Why a command stops: the state database is missing, empty or unusable. */
export class StateLostError extends UserError {
  readonly problem: DatabaseProblem;
  readonly evidence: StateEvidence | null;
  constructor(problem: DatabaseProblem, evidence: StateEvidence | null, dbPath: string) {
    const what = describeProblem(dbPath, problem);
    const lost = evidence !== null && hasEvidence(evidence);
    super(
      lost && emptyish(problem) ? 'state.lost' : `state.${problem.kind}`,
      lost
        ? `${what}, but orch has applied here before: ${describeEvidence(evidence).join('; ')}. Nothing was changed: without its state orch cannot tell its own files from hand edits (an apply would overwrite edits unnoticed, delete files and restart the generation numbers).`
        : `${what}. Nothing was changed.`,
      {
        hint: lost
          ? recoveryHint(dbPath, problem, evidence)
          : `Move it aside (mv ${dbPath} ${dbPath}.damaged) or run 'orch rebuild-db --force' (it keeps the damaged file): the database is a cache of the files on disk.`,
      },
    );
    this.problem = problem;
    this.evidence = evidence;
  }
}

/** The database records an older generation than the one live: restored from an old backup, or copied from elsewhere. */
export class StateBehindError extends UserError {
  constructor(dbPath: string, recorded: number, live: number, nginxDir: string) {
    super(
      'state.behind',
      `The state database ${dbPath} records generation ${recorded}, but generation ${live} is live in ${nginxDir}: the database is older than the files (restored from an old backup?). Nothing was changed: with it, orch would report the files of generations ${recorded + 1}-${live} as hand edits and number the next generation ${recorded + 1} again.`,
      {
        hint: `Restore a newer backup if there is one, or rebuild the state from the files: 'orch rebuild-db --force' (the current database is kept beside it), then check with 'orch plan'.`,
      },
    );
  }
}

/**
 * The decision for a database in condition `problem` (null: usable, recording `recordedGeneration`)
 * and what the disk shows: go on (`ok`, or `fresh`: never applied here), or stop. `liveGeneration`
 * is cheap (a symlink, the status file); `evidence` reads the tree and is asked only when needed.
 */
export function judgeState(
  dbPath: string,
  problem: DatabaseProblem | null,
  recordedGeneration: number | null,
  facts: { nginxDir: string; liveGeneration: () => number | null; evidence: () => StateEvidence; journalPresent: boolean },
): { verdict: 'ok' } | { verdict: 'fresh' } | { verdict: 'stop'; error: UserError } {
  if (problem === null) {
    if (recordedGeneration !== null && !facts.journalPresent) {
      const live = facts.liveGeneration();
      if (live !== null && live > recordedGeneration)
        return { verdict: 'stop', error: new StateBehindError(dbPath, recordedGeneration, live, facts.nginxDir) };
    }
    return { verdict: 'ok' };
  }
  const e = facts.evidence();
  if (emptyish(problem) && !hasEvidence(e)) return { verdict: 'fresh' };
  return { verdict: 'stop', error: new StateLostError(problem, e, dbPath) };
}
