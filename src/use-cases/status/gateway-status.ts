import { readLockHolder } from '../../adapters/fs/writer-lock.js';
import type { LockHolder } from '../../ports/writer-lock.js';
import { nginxVersion } from '../../adapters/nginx/nginx-cli.js';
import { probeStatus } from '../../adapters/nginx/nginx-control.js';
import { newestBackupAgeSeconds, SqliteStateStore } from '../../adapters/sqlite/state-store.js';
import type { GenerationRow } from '../../ports/state-store.js';
import { statusToken } from '../../domain/render/render-status.js';
import { driftReport } from './drift-report.js';
import { stateDbPath } from '../state/open-state.js';
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

export async function gatewayStatus(settings: Settings): Promise<GatewayStatus> {
  const dbPath = stateDbPath(settings);
  const store = SqliteStateStore.openIfExists(dbPath);
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
  return {
    generation,
    driftCount: driftReport(settings).items.length,
    lockHolder: readLockHolder(settings.stateDir),
    backupAgeSeconds: newestBackupAgeSeconds(dbPath),
    nginxVersion: await nginxVersion(settings.nginxBin),
    served: { token, expected, current: token !== null && token === expected },
    interruptedApply: journal ? { generation: journal.generation, phase: journal.phase } : null,
  };
}
