import type { LockHolder, WriterLocks } from '../../ports/writer-lock.js';
import type { GenerationRow, StateDatabase } from '../../ports/state-store.js';
import type { Clock } from '../../ports/clock.js';
import { statusToken } from '../../domain/render/render-status.js';
import { driftReport, type DriftPorts } from './drift-report.js';
import type { ApplyJournal } from '../../ports/apply-journal.js';
import type { Nginx } from '../../ports/nginx.js';

export interface GatewayStatus {
  generation: GenerationRow | null;
  driftCount: number;
  lockHolder: LockHolder | null;
  backupAgeSeconds: number | null;
  nginxVersion: string | null;
  /** What the status location answers right now, and whether it is the last committed generation. */
  served: { token: string | null; expected: string | null; current: boolean };
  interruptedApply: { generation: number; phase: string } | null;
}

/** What `orch status` reads. */
export interface GatewayStatusPorts extends DriftPorts {
  state: StateDatabase;
  locks: WriterLocks;
  clock: Clock;
  journal: Pick<ApplyJournal, 'read'>;
  nginx: Pick<Nginx, 'version' | 'servedGeneration'>;
}

export async function gatewayStatus(ports: GatewayStatusPorts): Promise<GatewayStatus> {
  const store = ports.state.openIfExists();
  let generation: GenerationRow | null = null;
  try {
    const n = store?.currentGeneration() ?? null;
    generation = n === null ? null : (store?.generation(n) ?? null);
  } finally {
    store?.close();
  }
  const expected = generation ? statusToken(generation.number, generation.fingerprint ?? '') : null;
  const token = await ports.nginx.servedGeneration();
  const journal = ports.journal.read();
  const backupAt = ports.state.backupWrittenAt();
  return {
    generation,
    driftCount: driftReport(ports).items.length,
    lockHolder: ports.locks.holder(),
    backupAgeSeconds: backupAt === null ? null : (ports.clock.now() - backupAt) / 1000,
    nginxVersion: await ports.nginx.version(),
    served: { token, expected, current: token !== null && token === expected },
    interruptedApply: journal ? { generation: journal.generation, phase: journal.phase } : null,
  };
}
