import type { Diagnostic, SourcePosition } from '../diagnostics.js';
import type { DesiredState, Origin } from '../model/desired-state.js';

const LOOPBACK_OR_ANY = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|0\.0\.0\.0|::1?|0:0:0:0:0:0:0:[01])$/;

/**
 * orch's status listener (settings statusListen, a loopback `host:port` nginx serves the applied
 * generation on) is orch's own socket: a virtual host on its port, on every address or on a
 * loopback one, would take its requests (reload confirmation) or make nginx refuse to bind.
 */
export function statusListenerClaims(
  desired: DesiredState,
  statusListen: string,
  positionOf: (origin: Origin, field: ReadonlyArray<string | number>) => SourcePosition | undefined,
): Diagnostic[] {
  if (statusListen === 'off') return [];
  const m = /:(\d{1,5})$/.exec(statusListen);
  if (!m) return [];
  const port = Number(m[1]);
  const out: Diagnostic[] = [];
  for (const v of desired.virtualHosts) {
    if (v.port !== port) continue;
    if (v.address !== null && !LOOPBACK_OR_ANY.test(v.address)) continue;
    const field = v.address === null ? ['spec', 'port'] : ['spec', 'address'];
    const source = positionOf(v.origin, ['spec', 'port']) ?? positionOf(v.origin, field);
    out.push({
      severity: 'error',
      code: 'collision.status-listener',
      message: `port ${port}${v.address === null ? '' : ` on ${v.address}`} is orch's status listener (statusListen ${statusListen}), which confirms every reload`,
      hint: 'Give the virtual host another port, or move the status listener (statusListen in the orch config file, or ORCH_STATUS_LISTEN).',
      ...(source ? { source } : {}),
      document: { kind: 'VirtualHost', name: v.name },
      field: 'spec.port',
    });
  }
  return out;
}
