/**
 * Migration state files: `<stateDir>/migrations/<name>.state.json` while a migration runs,
 * `<name>.done.json` forever after it finished. They let a migration survive the loss of the
 * database; `orch rebuild-db` restores them into the `migrations` table. Written by the migration
 * engine (a later issue builds it on this shape); read here.
 *
 * formatVersion 1, the minimal shape every reader may rely on:
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
 * Any other field is the engine's own (progress, cursors...): it is kept verbatim in the table's
 * `document` column, so a rebuilt database resumes from exactly what the file said.
 */
export const MIGRATION_STATE_FORMAT_VERSION = 1;
export const MIGRATION_STATE_SUFFIX = '.state.json';
export const MIGRATION_DONE_SUFFIX = '.done.json';

export interface OrphanedSource {
  pool: string;
  prefix: string;
  at: string;
}

export interface MigrationState {
  name: string;
  virtualHost: string;
  bucket: string;
  from: string;
  to: string;
  mode: 'copy' | 'sync';
  phase: string;
  startedAt: string | null;
  updatedAt: string | null;
  finishedAt: string | null;
  orphanedSource: OrphanedSource | null;
  /** True for a `.done.json` record. */
  completed: boolean;
  /** The file it was read from (name only, e.g. `photos-to-2026.state.json`). */
  file: string;
  /** The whole file, as parsed, for the fields this version does not model. */
  document: Record<string, unknown>;
}

export type MigrationStateRead = { ok: true; value: MigrationState } | { ok: false; problem: string };

/** Reads one migration state file; `fileName` is its name inside `<stateDir>/migrations/`. */
export function readMigrationState(fileName: string, text: string): MigrationStateRead {
  const completed = fileName.endsWith(MIGRATION_DONE_SUFFIX);
  const suffix = completed ? MIGRATION_DONE_SUFFIX : MIGRATION_STATE_SUFFIX;
  if (!fileName.endsWith(suffix)) return { ok: false, problem: `the name does not end with ${MIGRATION_STATE_SUFFIX} or ${MIGRATION_DONE_SUFFIX}` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, problem: `it is not valid JSON (${(e as Error).message})` };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ok: false, problem: 'it is not a JSON object' };
  const doc = json as Record<string, unknown>;
  if (doc['formatVersion'] !== MIGRATION_STATE_FORMAT_VERSION) {
    return { ok: false, problem: `formatVersion ${JSON.stringify(doc['formatVersion'])} is not one this orch reads (${MIGRATION_STATE_FORMAT_VERSION})` };
  }
  for (const key of ['name', 'virtualHost', 'bucket', 'from', 'to', 'phase'] as const) {
    if (typeof doc[key] !== 'string' || doc[key] === '') return { ok: false, problem: `field "${key}" is not a non-empty string` };
  }
  if (doc['mode'] !== 'copy' && doc['mode'] !== 'sync') return { ok: false, problem: 'field "mode" is not copy or sync' };
  const name = doc['name'] as string;
  if (`${name}${suffix}` !== fileName) return { ok: false, problem: `it describes migration ${JSON.stringify(name)}, which does not match its file name` };
  const optionalText = (key: string): string | null | undefined => {
    const v = doc[key];
    return v === undefined || v === null ? null : typeof v === 'string' ? v : undefined;
  };
  const times = { startedAt: optionalText('startedAt'), updatedAt: optionalText('updatedAt'), finishedAt: optionalText('finishedAt') };
  for (const [key, v] of Object.entries(times)) if (v === undefined) return { ok: false, problem: `field "${key}" is not a string or null` };
  let orphanedSource: OrphanedSource | null = null;
  const o = doc['orphanedSource'];
  if (o !== undefined && o !== null) {
    if (typeof o !== 'object' || Array.isArray(o)) return { ok: false, problem: 'field "orphanedSource" is not an object' };
    const r = o as Record<string, unknown>;
    if (typeof r['pool'] !== 'string' || typeof r['prefix'] !== 'string' || typeof r['at'] !== 'string') {
      return { ok: false, problem: 'field "orphanedSource" needs "pool", "prefix" and "at" strings' };
    }
    orphanedSource = { pool: r['pool'], prefix: r['prefix'], at: r['at'] };
  }
  return {
    ok: true,
    value: {
      name,
      virtualHost: doc['virtualHost'] as string,
      bucket: doc['bucket'] as string,
      from: doc['from'] as string,
      to: doc['to'] as string,
      mode: doc['mode'],
      phase: doc['phase'] as string,
      startedAt: times.startedAt!,
      updatedAt: times.updatedAt!,
      finishedAt: times.finishedAt!,
      orphanedSource,
      completed,
      file: fileName,
      document: doc,
    },
  };
}

/**
 * One record per migration name: a `.done.json` wins over a `.state.json` of the same name (the
 * engine writes the done record before it removes the state file, so both may exist after a crash).
 */
export function latestMigrationStates(states: readonly MigrationState[]): MigrationState[] {
  const byName = new Map<string, MigrationState>();
  for (const s of states) {
    const seen = byName.get(s.name);
    if (!seen || (s.completed && !seen.completed)) byName.set(s.name, s);
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
