import { nextConfirmStep, startConfirm } from '../../domain/apply/confirm-reload.js';
import type { Clock } from '../../ports/clock.js';
import type { Nginx } from '../../ports/nginx.js';

/**
 * Polls nginx's status location until it serves `token` for the settle window, or the timeout
 * passes (the decisions are src/domain/apply/confirm-reload.ts; time is the Clock port's).
 */
export async function awaitServed(
  nginx: Nginx,
  clock: Clock,
  token: string,
  timeoutSeconds: number,
): Promise<{ confirmed: boolean; lastSeen: string | null; waitedMs: number }> {
  let state = startConfirm(token, clock.now(), timeoutSeconds);
  for (;;) {
    const seen = await nginx.servedGeneration();
    const step = nextConfirmStep(state, seen, clock.now());
    state = step.state;
    if (step.decision.kind !== 'probe-after')
      return { confirmed: step.decision.kind === 'confirmed', lastSeen: step.decision.lastSeen, waitedMs: step.decision.waitedMs };
    await clock.sleep(step.decision.ms);
  }
}
