import type { LockHolder, WriterLocks } from '../../ports/writer-lock.js';
import type { GenerationRow } from '../../ports/state-store.js';
import type { Clock } from '../../ports/clock.js';
import { statusToken } from '../../domain/render/render-status.js';
import { driftReport, type DriftPorts } from './drift-report.js';
import type { Nginx } from '../../ports/nginx.js';
import { openStateForReading } from '../state/state-health.js';
import { interruptedApplyOf } from '../state/state-view.js';

export interface GatewayStatus {
  generation: GenerationRow | null;
  driftCount: number;
  lockHolder: LockHolder | null;
  backupAgeSeconds: number | null;
  nginxVersion: string | null;
  /** What the status location answers right now, and whether it is the last committed generation. */
  served: { token: string | null; expected: string | null; current: boolean };
  /** An apply that died mid-way (said first by `orch status`); `switched`: its generation is live. */
  interruptedApply: { generation: number; phase: string; switched: boolean | null; notice: string } | null;
  /** The layout of the managed directory: generations (the live one), legacy directories, ... */
  layout: { kind: string; current: number | null };
  /** Notices said first (an interrupted apply or conversion). */
  notices: string[];
}

/** What `orch status` reads. */
export interface GatewayStatusPorts extends DriftPorts {
  locks: WriterLocks;
  clock: Clock;
  nginx: Pick<Nginx, 'version' | 'servedGeneration'>;
}

/** `orch status`. A lost or unusable state stops it with what was found (never "none applied yet"). */
export async function gatewayStatus(ports: GatewayStatusPorts): Promise<GatewayStatus> {
  const interrupted = interruptedApplyOf(ports);
  const store = openStateForReading(ports);
  let generation: GenerationRow | null = null;
  try {
    const n = store?.currentGeneration() ?? null;
    generation = n === null ? null : (store?.generation(n) ?? null);
  } finally {
    store?.close();
  }
  const expected = generation ? statusToken(generation.number, generation.fingerprint ?? '') : null;
  const token = await ports.nginx.servedGeneration();
  const backupAt = ports.state.backupWrittenAt();
  const drift = driftReport(ports);
  const layout = ports.tree.layout();
  return {
    generation,
    driftCount: drift.items.length,
    lockHolder: ports.locks.holder(),
    backupAgeSeconds: backupAt === null ? null : (ports.clock.now() - backupAt) / 1000,
    nginxVersion: await ports.nginx.version(),
    served: { token, expected, current: token !== null && token === expected },
    interruptedApply: interrupted
      ? { generation: interrupted.generation, phase: interrupted.phase, switched: interrupted.switched, notice: interrupted.notice }
      : null,
    layout: { kind: layout.kind, current: layout.kind === 'generations' || layout.kind === 'converting' ? layout.current : null },
    notices: drift.notices,
  };
}
