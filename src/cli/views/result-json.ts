import type { MigrationRecord } from '../../domain/migrations/migration-record.js';
import type { ApplyOutcome } from '../../use-cases/apply/apply-tree.js';
import type { PurgeResult } from '../../use-cases/buckets/purge-orphans.js';
import type { InstallReport } from '../../use-cases/install/install.js';
import { migrationFieldsToJson } from './migrations-text.js';

// The JSON results of the commands that change something besides apply (docs/json.md; one schema
// each in schemas/cli/). Each starts at format_version 1.0.

/** `orch rollback --json` (schemas/cli/rollback.schema.json). */
export function rollbackToJson(r: { target: number; outcome: ApplyOutcome | null }, events: ReadonlyArray<EventLike>) {
  const o = r.outcome;
  return {
    format_version: '1.0',
    restored: r.target,
    generation: o?.generation ?? null,
    files_written: o?.filesWritten ?? 0,
    files_deleted: o?.filesDeleted ?? 0,
    nginx_tests: o?.nginxTests ?? 0,
    reloads: o?.reloads ?? 0,
    timings: o ? { nginx_test_ms: o.timings.testMs, reload_ms: o.timings.reloadMs, confirm_ms: o.timings.confirmMs } : null,
    warnings: o?.warnings ?? [],
    events: events.map(eventToJson),
  };
}

interface EventLike {
  step: string;
  status: string;
  message?: string;
  durationMs?: number;
}

export function eventToJson(e: EventLike) {
  return { step: e.step, status: e.status, message: e.message ?? null, duration_ms: e.durationMs ?? null };
}

/** `orch buckets purge-orphans --json` (schemas/cli/buckets-purge-orphans.schema.json). */
export function purgeToJson(r: PurgeResult) {
  const l = r.listing;
  return {
    format_version: '1.0',
    dry_run: r.dryRun === true,
    virtual_host: l.virtualHost,
    bucket: l.bucket,
    pool: l.pool,
    route_pool: l.routePool,
    listed: { objects: l.objects, bytes: l.bytes, sample: l.sample },
    deleted: r.deleted,
    failed: r.failed.map((f) => ({ key: f.key, code: f.code })),
    remaining: r.remaining ? { objects: r.remaining.objects, bytes: r.remaining.bytes } : null,
  };
}

/** `orch migrate run --json` and `orch migrate cancel --json` (schemas/cli/migrate.schema.json). */
export function migrateToJson(outcome: string, d: MigrationRecord) {
  const cutover = d.freezes.filter((x) => x.outcome === 'switched').at(-1);
  return {
    format_version: '1.0',
    outcome,
    migration: {
      ...migrationFieldsToJson(d),
      last_error: d.lastError,
      cutover_window_ms: cutover?.windowMs ?? null,
    },
  };
}

/** `orch install --json` (schemas/cli/install.schema.json). */
export function installToJson(r: InstallReport) {
  return {
    format_version: '1.0',
    dry_run: r.dryRun === true,
    prefix: r.prefix,
    changed: r.changed,
    steps: r.steps.map((s) => ({ action: s.action, what: s.what, detail: s.detail ?? null })),
    warnings: r.warnings,
    nginx_check: {
      ran: r.nginxCheck.ran,
      ok: r.nginxCheck.ok,
      problems: r.nginxCheck.problems,
      instructions: r.nginxCheck.instructions,
    },
    next_steps: r.nextSteps,
    paths: {
      unit: r.paths.unit,
      config_file: r.paths.configFile,
      nginx_dir: r.paths.nginxDir,
      state_dir: r.paths.stateDir,
      polkit_rule: r.paths.polkitRule,
    },
  };
}
