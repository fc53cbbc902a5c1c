import type { LockHolder, WriterLocks } from '../../ports/writer-lock.js';
import { nginxVersion } from '../../adapters/nginx/nginx-cli.js';
import { probeStatus } from '../../adapters/nginx/nginx-control.js';
import type { GenerationRow, StateDatabase } from '../../ports/state-store.js';
import type { Clock } from '../../ports/clock.js';
import { statusToken } from '../../domain/render/render-status.js';
import { driftReport } from './drift-report.js';
import { readJournal } from '../../adapters/fs/journal.js';
import type { Settings } from '../../config/settings.js';

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
export interface GatewayStatusPorts {
  settings: Settings;
  state: StateDatabase;
  locks: WriterLocks;
  clock: Clock;
}

export async function gatewayStatus(ports: GatewayStatusPorts): Promise<GatewayStatus> {
  const { settings } = ports;
  const store = ports.state.openIfExists();
  let generation: GenerationRow | null = null;
  try {
    const n = store?.currentGeneration() ?? null;
    generation = n === null ? null : (store?.generation(n) ?? null);
  } finally {
    store?.close();
  }
  const expected = generation ? statusToken(generation.number, generation.fingerprint ?? '') : null;
  const token = settings.statusListen === 'off' ? null : await probeStatus(settings.statusListen);
  const journal = readJournal(settings.stateDir);
  const backupAt = ports.state.backupWrittenAt();
  return {
    generation,
    driftCount: driftReport(ports).items.length,
    lockHolder: ports.locks.holder(),
    backupAgeSeconds: backupAt === null ? null : (ports.clock.now() - backupAt) / 1000,
    nginxVersion: await nginxVersion(settings.nginxBin),
    served: { token, expected, current: token !== null && token === expected },
    interruptedApply: journal ? { generation: journal.generation, phase: journal.phase } : null,
  };
}
