/**
 * Confirming a reload as pure decisions: poll the status location until it answers the new token on
 * every probe for RELOAD_SETTLE_MS (any other answer restarts that window), or the timeout passes.
 * `nginx -s reload` exits 0 even when nginx could not load the new configuration: only what a new
 * connection is served proves it.
 */

/**
 * How long the new token must answer every probe before a reload counts as confirmed. On reload the
 * nginx master starts the new workers, sleeps 100 ms, and only then tells the old workers to stop
 * accepting: meanwhile new connections land on old and new workers alike (measured: about half of
 * them still got the old configuration in the ~100 ms after the first new answer). Confirming on
 * the first new answer let `orch apply` return while requests were still routed by the old files.
 */
export const RELOAD_SETTLE_MS = 200;

export interface ConfirmState {
  token: string;
  startedAt: number;
  deadline: number;
  /** Since when every probe answered the token; null while it does not. */
  servedSince: number | null;
  lastSeen: string | null;
}

export type ConfirmDecision =
  { kind: 'confirmed' | 'not-confirmed'; lastSeen: string | null; waitedMs: number } | { kind: 'probe-after'; ms: number };

export function startConfirm(token: string, now: number, timeoutSeconds: number): ConfirmState {
  return { token, startedAt: now, deadline: now + timeoutSeconds * 1000, servedSince: null, lastSeen: null };
}

/** After a probe that saw `seen` at `now`: confirmed, not confirmed (timeout), or probe again later. */
export function nextConfirmStep(state: ConfirmState, seen: string | null, now: number): { state: ConfirmState; decision: ConfirmDecision } {
  const servedSince = seen === state.token ? (state.servedSince ?? now) : null;
  const next: ConfirmState = { ...state, servedSince, lastSeen: seen };
  const waitedMs = now - state.startedAt;
  if (servedSince !== null && now - servedSince >= RELOAD_SETTLE_MS)
    return { state: next, decision: { kind: 'confirmed', lastSeen: seen, waitedMs } };
  if (now >= state.deadline) {
    return { state: next, decision: { kind: servedSince !== null ? 'confirmed' : 'not-confirmed', lastSeen: seen, waitedMs } };
  }
  return { state: next, decision: { kind: 'probe-after', ms: servedSince === null ? 25 : 10 } };
}
