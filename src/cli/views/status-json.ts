import { conditionToJson } from '../../domain/status/conditions.js';
import type { DaemonReport } from '../../use-cases/status/daemon-report.js';
import type { GatewayStatus } from '../../use-cases/status/gateway-status.js';

/**
 * `orch status --json` (docs/json.md, schemas/cli/status.schema.json). Add fields freely (minor
 * version); renaming or removing one, or changing a meaning, bumps the major version.
 * 1.0: the first versioned format (before it, the fields were camelCase and `generation.summary` a
 * JSON string).
 */
export const STATUS_JSON_FORMAT_VERSION = '1.0';

/** A generation's summary as stored (a JSON object), or the text itself when it is not one. */
function summaryObject(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // kept as a note below
  }
  return { note: text };
}

export function statusToJson(
  s: GatewayStatus,
  daemon: DaemonReport,
  meta: { orchVersion: string; stateDir: string; statusListen: string },
) {
  const g = s.generation;
  const d = daemon.running;
  return {
    format_version: STATUS_JSON_FORMAT_VERSION,
    orch_version: meta.orchVersion,
    state_dir: meta.stateDir,
    healthy: s.health.healthy,
    problems: s.health.problems.map((p) => ({ reason: p.reason, message: p.message })),
    generation: g
      ? {
          number: g.number,
          outcome: g.outcome,
          command: g.command,
          created_at: g.createdAt,
          fingerprint: g.fingerprint,
          summary: summaryObject(g.summary),
        }
      : null,
    served: {
      checked: s.served.checked,
      address: meta.statusListen,
      token: s.served.token,
      expected: s.served.expected,
      current: s.served.current,
    },
    drift: { count: s.driftCount, files: s.driftFiles.map((f) => ({ path: f.path, kind: f.kind })) },
    lock_holder: s.lockHolder
      ? { pid: s.lockHolder.pid, command: s.lockHolder.command, since: s.lockHolder.since, host: s.lockHolder.host }
      : null,
    backup_age_seconds: s.backupAgeSeconds,
    nginx_version: s.nginxVersion,
    interrupted_apply: s.interruptedApply
      ? {
          generation: s.interruptedApply.generation,
          phase: s.interruptedApply.phase,
          switched: s.interruptedApply.switched,
          notice: s.interruptedApply.notice,
        }
      : null,
    layout: { kind: s.layout.kind, current: s.layout.current },
    notices: s.notices,
    daemon: {
      running: d
        ? {
            pid: d.pid,
            mode: d.mode,
            ready: d.ready,
            ready_reason: d.readyReason,
            last_reconcile: d.lastReconcile ? { finished_at: d.lastReconcile.finishedAt, outcome: d.lastReconcile.outcome } : null,
            last_error: d.lastError ? { at: d.lastError.at, source: d.lastError.source, message: d.lastError.message } : null,
          }
        : null,
      other_state_dir: daemon.otherStateDir,
      suspended: daemon.suspended ? { since: daemon.suspended.since, by: daemon.suspended.by, reason: daemon.suspended.reason } : null,
    },
    resources: s.resources.map((r) => ({ kind: r.kind, name: r.name, conditions: r.conditions.map(conditionToJson) })),
  };
}
