import type { IdentityCheck } from '../../use-cases/buckets/client-identities.js';
import type { Style } from '../style.js';

/**
 * The client identity check in words, for `orch buckets` and `orch status`: a summary line, one
 * line per identity with the pools that accept it (by access key id only, never a secret), and
 * one flagged line per pool that refuses it or could not check it. Nothing when no virtual host
 * declares identities.
 */
export function identityCheckLines(checks: readonly IdentityCheck[], style: Style): string[] {
  if (checks.length === 0) return [];
  const bad = checks.filter((c) => c.status !== 'ok');
  const pools = new Set(checks.map((c) => c.pool)).size;
  const summary = `client identities: ${checks.length} check${checks.length === 1 ? '' : 's'} on ${pools} pool${pools === 1 ? '' : 's'}`;
  const out = [bad.length === 0 ? style.green(`${summary}, all accepted`) : style.yellow(`${summary}, ${bad.length} not accepted`)];
  const byIdentity = new Map<string, IdentityCheck[]>();
  for (const c of checks) {
    const key = `${c.virtualHost}\u0000${c.index}`;
    byIdentity.set(key, [...(byIdentity.get(key) ?? []), c]);
  }
  for (const group of byIdentity.values()) {
    const first = group[0]!;
    const accepted = group.filter((c) => c.status === 'ok').map((c) => c.pool);
    out.push(
      `  ${first.accessKeyId ?? `#${first.index}`} (virtual host ${first.virtualHost}): ${accepted.length > 0 ? `accepted by ${accepted.join(', ')}` : 'accepted by no pool'}`,
    );
  }
  for (const c of bad) {
    out.push(
      style.yellow(
        `! client identity ${c.accessKeyId ?? `#${c.index}`} of ${c.virtualHost} on pool ${c.pool}: ${c.status}${c.message ? ` — ${c.message}` : ''}`,
      ),
    );
  }
  return out;
}

/** The checks in JSON (snake_case), as `orch buckets --json` and `orch status --json` print them. */
export function identityChecksToJson(checks: readonly IdentityCheck[]) {
  return checks.map((c) => ({
    virtual_host: c.virtualHost,
    index: c.index,
    access_key_id: c.accessKeyId,
    pool: c.pool,
    status: c.status,
    message: c.message,
  }));
}
