import type { DesiredMigration } from '../model/desired-state.js';
import { MIGRATION_STATE_FORMAT_VERSION, type MigrationState, type OrphanedSource } from '../rebuild/migration-state.js';
import { MIGRATION_ROUTINGS, type MigrationRouting } from './routing.js';

/**
 * The migration engine's record of one migration: the body of `<name>.state.json` (and, once
 * finished, `<name>.done.json`), mirrored in the `migrations` table. It extends the minimal shape
 * of src/domain/rebuild/migration-state.ts (formatVersion 1) with the engine's fields; a reader that
 * only knows the minimal shape keeps these verbatim.
 *
 * Phases: pending -> copying -> write_routing -> verifying -> switching -> done, plus error and
 * cancelled. `routing` is what the route must serve (see routing.ts); `routingLive` what orch last
 * confirmed nginx serves.
 */
export type MigrationPhase = 'pending' | 'copying' | 'write_routing' | 'verifying' | 'switching' | 'done' | 'error' | 'cancelled';
export const MIGRATION_PHASES: readonly MigrationPhase[] = ['pending', 'copying', 'write_routing', 'verifying', 'switching', 'done', 'error', 'cancelled'];
/** Phases in which the migration owns its route and a driver has work to do (error: waits for an operator). */
export const ACTIVE_PHASES: ReadonlySet<MigrationPhase> = new Set(['pending', 'copying', 'write_routing', 'verifying', 'switching', 'error']);
export const FINISHED_PHASES: ReadonlySet<MigrationPhase> = new Set(['done', 'cancelled']);

export interface MigrationProgress {
  /** Copy passes started (the final delta in the freeze counts as one). */
  pass: number;
  /** From the last listing of the source. */
  objectsTotal: number | null;
  bytesTotal: number | null;
  /** Already equal at the destination, as of the last diff. */
  objectsInSync: number;
  bytesInSync: number;
  /** Copied by orch over the whole migration (a recopy counts again). */
  objectsCopied: number;
  bytesCopied: number;
  objectsDeleted: number;
  /** Copy rate of the current or last pass. */
  rateBytesPerSecond: number | null;
  etaSeconds: number | null;
  /** Objects the last full pass had to copy, compare or delete: the delta that decides the freeze. */
  lastPassDelta: number | null;
}

export interface FreezeRecord {
  /** When nginx started refusing writes (the freeze generation was confirmed). */
  startedAt: string;
  /** When writes were accepted again (cutover to destination, or unfrozen). */
  endedAt: string | null;
  windowMs: number | null;
  outcome: 'switched' | 'aborted' | null;
  reason: string | null;
}

export interface MigrationDoc {
  formatVersion: typeof MIGRATION_STATE_FORMAT_VERSION;
  name: string;
  virtualHost: string;
  bucket: string;
  from: string;
  to: string;
  mode: 'copy' | 'sync';
  phase: MigrationPhase;
  startedAt: string | null;
  updatedAt: string | null;
  finishedAt: string | null;
  orphanedSource: OrphanedSource | null;
  concurrency: number;
  bandwidthLimit: number | null;
  freezeBudgetSeconds: number;
  routing: MigrationRouting;
  routingLive: MigrationRouting;
  /** Epoch seconds: the end of the current freeze, written into nginx. */
  freezeUntil: number | null;
  progress: MigrationProgress;
  freezes: FreezeRecord[];
  lastError: string | null;
  errorAt: string | null;
  /** `orch migrate cancel` asked a running driver to stop and restore the route. */
  cancelRequested: boolean;
}

export function emptyProgress(): MigrationProgress {
  return { pass: 0, objectsTotal: null, bytesTotal: null, objectsInSync: 0, bytesInSync: 0, objectsCopied: 0, bytesCopied: 0, objectsDeleted: 0, rateBytesPerSecond: null, etaSeconds: null, lastPassDelta: null };
}

/** A new migration from its manifest, in phase pending. */
export function newMigrationDoc(m: DesiredMigration, now: Date): MigrationDoc {
  const at = now.toISOString();
  return {
    formatVersion: MIGRATION_STATE_FORMAT_VERSION,
    name: m.name,
    virtualHost: m.virtualHost,
    bucket: m.bucket,
    from: m.from,
    to: m.to,
    mode: m.mode,
    phase: 'pending',
    startedAt: at,
    updatedAt: at,
    finishedAt: null,
    orphanedSource: null,
    concurrency: m.concurrency,
    bandwidthLimit: m.bandwidthLimit,
    freezeBudgetSeconds: m.freezeBudgetSeconds,
    routing: 'source',
    routingLive: 'source',
    freezeUntil: null,
    progress: emptyProgress(),
    freezes: [],
    lastError: null,
    errorAt: null,
    cancelRequested: false,
  };
}

const num = (v: unknown, dflt: number | null): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : dflt);
const routingOf = (v: unknown, dflt: MigrationRouting): MigrationRouting => ((MIGRATION_ROUTINGS as readonly unknown[]).includes(v) ? (v as MigrationRouting) : dflt);

/**
 * The engine's view of a state file read by readMigrationState. Fields a file lacks (a record
 * restored from an older or hand-made file) get safe defaults: routing `source`, no progress.
 */
export function docOfState(s: MigrationState): MigrationDoc {
  const d = s.document;
  const phase = (MIGRATION_PHASES as readonly string[]).includes(s.phase) ? (s.phase as MigrationPhase) : 'error';
  const p = typeof d['progress'] === 'object' && d['progress'] !== null ? (d['progress'] as Record<string, unknown>) : {};
  const e = emptyProgress();
  const defaultRouting: MigrationRouting = phase === 'done' ? 'destination' : 'source';
  return {
    formatVersion: MIGRATION_STATE_FORMAT_VERSION,
    name: s.name,
    virtualHost: s.virtualHost,
    bucket: s.bucket,
    from: s.from,
    to: s.to,
    mode: s.mode,
    phase,
    startedAt: s.startedAt,
    updatedAt: s.updatedAt,
    finishedAt: s.finishedAt,
    orphanedSource: s.orphanedSource,
    concurrency: num(d['concurrency'], 16)!,
    bandwidthLimit: num(d['bandwidthLimit'], null),
    freezeBudgetSeconds: num(d['freezeBudgetSeconds'], 10)!,
    routing: routingOf(d['routing'], defaultRouting),
    routingLive: routingOf(d['routingLive'], defaultRouting),
    freezeUntil: num(d['freezeUntil'], null),
    progress: {
      pass: num(p['pass'], e.pass)!,
      objectsTotal: num(p['objectsTotal'], null),
      bytesTotal: num(p['bytesTotal'], null),
      objectsInSync: num(p['objectsInSync'], 0)!,
      bytesInSync: num(p['bytesInSync'], 0)!,
      objectsCopied: num(p['objectsCopied'], 0)!,
      bytesCopied: num(p['bytesCopied'], 0)!,
      objectsDeleted: num(p['objectsDeleted'], 0)!,
      rateBytesPerSecond: num(p['rateBytesPerSecond'], null),
      etaSeconds: num(p['etaSeconds'], null),
      lastPassDelta: num(p['lastPassDelta'], null),
    },
    freezes: Array.isArray(d['freezes']) ? (d['freezes'] as FreezeRecord[]) : [],
    lastError: typeof d['lastError'] === 'string' ? d['lastError'] : null,
    errorAt: typeof d['errorAt'] === 'string' ? d['errorAt'] : null,
    cancelRequested: d['cancelRequested'] === true,
  };
}

/** The state file text: 2-space JSON with a trailing newline. */
export function migrationDocJson(doc: MigrationDoc): string {
  return JSON.stringify(doc, null, 2) + '\n';
}

export function isActive(doc: Pick<MigrationDoc, 'phase'>): boolean {
  return ACTIVE_PHASES.has(doc.phase);
}
