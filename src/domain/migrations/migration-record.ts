import type { DesiredMigration } from '../model/desired-state.js';
import { MIGRATION_ROUTINGS, type MigrationRouting } from './routing.js';

/**
 * The record of one migration, under one name everywhere: the body of its state file
 * (`<stateDir>/migrations/<name>.state.json` while it runs, `<name>.done.json` forever after), the
 * `document` column of its row in the `migrations` table (whose other columns are derived from it),
 * and what the migration engine works on. The state files let a migration survive the loss of the
 * database: `orch rebuild-db` restores the table from them. One codec reads and writes them
 * (decodeMigrationStateFile, encodeMigrationRecord).
 *
 * formatVersion 1. The fields every reader may rely on:
 *
 * ```json
 * {
 *   "formatVersion": 1,
 *   "name": "photos-to-2026",        // the Migration manifest's name; also the file name
 *   "virtualHost": "s3-main",
 *   "bucket": "photos",
 *   "from": "pool-2025",
 *   "to": "pool-2026",
 *   "mode": "copy",                  // copy | sync
 *   "phase": "copying",              // the engine's phase; "done" in a .done.json
 *   "startedAt": "2026-01-02T03:04:05Z",
 *   "updatedAt": "2026-01-02T03:09:00Z",
 *   "finishedAt": null,              // set in .done.json
 *   "orphanedSource": null           // .done.json: { "pool", "prefix", "at" } where the source data stays
 * }
 * ```
 *
 * The engine's own fields (routing, progress, freezes, ...) follow; a file that lacks them (an
 * older or hand-made one) reads with safe defaults: routing `source`, no progress. Fields this
 * version does not model are kept verbatim (`extra`) and written back.
 *
 * Phases: pending -> copying -> write_routing -> verifying -> switching -> done, plus error and
 * cancelled. `routing` is what the route must serve (see routing.ts); `routingLive` what orch last
 * confirmed nginx serves.
 */
export const MIGRATION_STATE_FORMAT_VERSION = 1;
export const MIGRATION_STATE_SUFFIX = '.state.json';
export const MIGRATION_DONE_SUFFIX = '.done.json';

export type MigrationPhase = 'pending' | 'copying' | 'write_routing' | 'verifying' | 'switching' | 'done' | 'error' | 'cancelled';
export const MIGRATION_PHASES: readonly MigrationPhase[] = [
  'pending',
  'copying',
  'write_routing',
  'verifying',
  'switching',
  'done',
  'error',
  'cancelled',
];
/** Phases in which the migration owns its route and a driver has work to do (error: waits for an operator). */
export const ACTIVE_PHASES: ReadonlySet<MigrationPhase> = new Set([
  'pending',
  'copying',
  'write_routing',
  'verifying',
  'switching',
  'error',
]);
export const FINISHED_PHASES: ReadonlySet<MigrationPhase> = new Set(['done', 'cancelled']);
/** Phases in which a migration copies: they count against maxParallelMigrations. */
export const COPYING_PHASES: ReadonlySet<MigrationPhase> = new Set(['copying', 'write_routing', 'verifying', 'switching']);

export interface OrphanedSource {
  pool: string;
  prefix: string;
  at: string;
}

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

export interface MigrationRecord {
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
  /** Fields of the state file this version does not model, written back verbatim. */
  extra?: Readonly<Record<string, unknown>>;
}

/** A migration state file as read: its record, and which file it is. */
export interface MigrationStateFile {
  /** The file name inside `<stateDir>/migrations/`, e.g. `photos-to-2026.state.json`. */
  file: string;
  /** True for a `.done.json`. */
  completed: boolean;
  record: MigrationRecord;
}

export type MigrationStateFileRead = { ok: true; value: MigrationStateFile } | { ok: false; problem: string };

export function emptyProgress(): MigrationProgress {
  return {
    pass: 0,
    objectsTotal: null,
    bytesTotal: null,
    objectsInSync: 0,
    bytesInSync: 0,
    objectsCopied: 0,
    bytesCopied: 0,
    objectsDeleted: 0,
    rateBytesPerSecond: null,
    etaSeconds: null,
    lastPassDelta: null,
  };
}

/** A new migration from its manifest, in phase pending. */
export function newMigrationRecord(m: DesiredMigration, now: Date): MigrationRecord {
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

export function isActive(record: Pick<MigrationRecord, 'phase'>): boolean {
  return ACTIVE_PHASES.has(record.phase);
}

export function isFinished(record: Pick<MigrationRecord, 'phase'>): boolean {
  return FINISHED_PHASES.has(record.phase);
}

/** The file a record lives in: `.state.json` while the migration runs, `.done.json` once finished. */
export function migrationFileName(record: Pick<MigrationRecord, 'name' | 'phase'>): string {
  return `${record.name}${isFinished(record) ? MIGRATION_DONE_SUFFIX : MIGRATION_STATE_SUFFIX}`;
}

/** The fields the record models, in the order a state file lists them. */
const MODELLED: ReadonlySet<string> = new Set<keyof MigrationRecord>([
  'formatVersion',
  'name',
  'virtualHost',
  'bucket',
  'from',
  'to',
  'mode',
  'phase',
  'startedAt',
  'updatedAt',
  'finishedAt',
  'orphanedSource',
  'concurrency',
  'bandwidthLimit',
  'freezeBudgetSeconds',
  'routing',
  'routingLive',
  'freezeUntil',
  'progress',
  'freezes',
  'lastError',
  'errorAt',
  'cancelRequested',
]);

/** The state file's text (2-space JSON with a trailing newline); the database row stores the same JSON. */
export function encodeMigrationRecord(record: MigrationRecord): string {
  return JSON.stringify(migrationRecordJson(record), null, 2) + '\n';
}

/** The record as the JSON object of its state file. */
export function migrationRecordJson(record: MigrationRecord): Record<string, unknown> {
  const { extra, ...modelled } = record;
  return { ...modelled, ...(extra ?? {}) };
}

const num = (v: unknown, dflt: number | null): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : dflt);
const routingOf = (v: unknown, dflt: MigrationRouting): MigrationRouting =>
  (MIGRATION_ROUTINGS as readonly unknown[]).includes(v) ? (v as MigrationRouting) : dflt;

/**
 * Reads one migration state file; `fileName` is its name inside `<stateDir>/migrations/`. Fields
 * an older or hand-made file lacks get safe defaults; a phase this orch does not know reads as
 * `error` (an operator decides).
 */
export function decodeMigrationStateFile(fileName: string, text: string): MigrationStateFileRead {
  const completed = fileName.endsWith(MIGRATION_DONE_SUFFIX);
  const suffix = completed ? MIGRATION_DONE_SUFFIX : MIGRATION_STATE_SUFFIX;
  if (!fileName.endsWith(suffix))
    return { ok: false, problem: `the name does not end with ${MIGRATION_STATE_SUFFIX} or ${MIGRATION_DONE_SUFFIX}` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, problem: `it is not valid JSON (${(e as Error).message})` };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ok: false, problem: 'it is not a JSON object' };
  const d = json as Record<string, unknown>;
  if (d['formatVersion'] !== MIGRATION_STATE_FORMAT_VERSION) {
    return {
      ok: false,
      problem: `formatVersion ${JSON.stringify(d['formatVersion'])} is not one this orch reads (${MIGRATION_STATE_FORMAT_VERSION})`,
    };
  }
  for (const key of ['name', 'virtualHost', 'bucket', 'from', 'to', 'phase'] as const) {
    if (typeof d[key] !== 'string' || d[key] === '') return { ok: false, problem: `field "${key}" is not a non-empty string` };
  }
  if (d['mode'] !== 'copy' && d['mode'] !== 'sync') return { ok: false, problem: 'field "mode" is not copy or sync' };
  const name = d['name'] as string;
  if (`${name}${suffix}` !== fileName)
    return { ok: false, problem: `it describes migration ${JSON.stringify(name)}, which does not match its file name` };
  const optionalText = (key: string): string | null | undefined => {
    const v = d[key];
    return v === undefined || v === null ? null : typeof v === 'string' ? v : undefined;
  };
  const times = { startedAt: optionalText('startedAt'), updatedAt: optionalText('updatedAt'), finishedAt: optionalText('finishedAt') };
  for (const [key, v] of Object.entries(times))
    if (v === undefined) return { ok: false, problem: `field "${key}" is not a string or null` };
  let orphanedSource: OrphanedSource | null = null;
  const o = d['orphanedSource'];
  if (o !== undefined && o !== null) {
    if (typeof o !== 'object' || Array.isArray(o)) return { ok: false, problem: 'field "orphanedSource" is not an object' };
    const r = o as Record<string, unknown>;
    if (typeof r['pool'] !== 'string' || typeof r['prefix'] !== 'string' || typeof r['at'] !== 'string') {
      return { ok: false, problem: 'field "orphanedSource" needs "pool", "prefix" and "at" strings' };
    }
    orphanedSource = { pool: r['pool'], prefix: r['prefix'], at: r['at'] };
  }
  const phase = (MIGRATION_PHASES as readonly string[]).includes(d['phase'] as string) ? (d['phase'] as MigrationPhase) : 'error';
  const p = typeof d['progress'] === 'object' && d['progress'] !== null ? (d['progress'] as Record<string, unknown>) : {};
  const defaultRouting: MigrationRouting = phase === 'done' ? 'destination' : 'source';
  const extra = Object.fromEntries(Object.entries(d).filter(([k]) => !MODELLED.has(k)));
  const record: MigrationRecord = {
    formatVersion: MIGRATION_STATE_FORMAT_VERSION,
    name,
    virtualHost: d['virtualHost'] as string,
    bucket: d['bucket'] as string,
    from: d['from'] as string,
    to: d['to'] as string,
    mode: d['mode'],
    phase,
    startedAt: times.startedAt!,
    updatedAt: times.updatedAt!,
    finishedAt: times.finishedAt!,
    orphanedSource,
    concurrency: num(d['concurrency'], 16)!,
    bandwidthLimit: num(d['bandwidthLimit'], null),
    freezeBudgetSeconds: num(d['freezeBudgetSeconds'], 10)!,
    routing: routingOf(d['routing'], defaultRouting),
    routingLive: routingOf(d['routingLive'], defaultRouting),
    freezeUntil: num(d['freezeUntil'], null),
    progress: {
      pass: num(p['pass'], 0)!,
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
    ...(Object.keys(extra).length > 0 ? { extra } : {}),
  };
  return { ok: true, value: { file: fileName, completed, record } };
}

/**
 * One file per migration name: a `.done.json` wins over a `.state.json` of the same name (the
 * engine writes the done record before it removes the state file, so both may exist after a crash).
 */
export function latestMigrationStateFiles(files: readonly MigrationStateFile[]): MigrationStateFile[] {
  const byName = new Map<string, MigrationStateFile>();
  for (const s of files) {
    const seen = byName.get(s.record.name);
    if (!seen || (s.completed && !seen.completed)) byName.set(s.record.name, s);
  }
  return [...byName.values()].sort((a, b) => (a.record.name < b.record.name ? -1 : a.record.name > b.record.name ? 1 : 0));
}
