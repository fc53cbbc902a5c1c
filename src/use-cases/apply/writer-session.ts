import type { StateStore } from '../../ports/state-store.js';
import { asStorageError } from '../../domain/apply/storage-failure.js';
import { openWritableState } from '../state/open-state.js';
import { checkStateForWriting, corruptionStop } from '../state/state-health.js';
import type { ApplyPorts } from './apply-ports.js';

export interface WriterSession {
  store: StateStore;
}

/**
 * Runs `work` as the one writer: takes the lock, checks the state (a lost or unusable database
 * stops every writer with what was found and the command to run: src/use-cases/state/state-health.ts),
 * opens it, and always closes the state and releases the lock afterwards — also when opening the
 * state fails, so a failed command never leaves orch.lock behind. Waits for the lock up to
 * `settings.lockTimeoutSeconds`. A state directory that refuses writes (full, read-only) is a user
 * error naming it.
 */
export async function withWriterSession<T>(ports: ApplyPorts, command: string, work: (session: WriterSession) => Promise<T>): Promise<T> {
  const untouched = { doing: `starting ${command} in the state directory ${ports.settings.stateDir}`, outcome: 'Nothing was changed.' };
  let lock;
  try {
    lock = await ports.locks.acquire(command, ports.settings.lockTimeoutSeconds);
  } catch (e) {
    throw asStorageError(e, untouched);
  }
  try {
    ports.fault('after-lock');
    let store: StateStore;
    try {
      checkStateForWriting(ports);
      store = openWritableState(ports.state, ports.settings);
    } catch (e) {
      throw asStorageError(corruptionStop(ports, e), untouched);
    }
    try {
      return await work({ store });
    } finally {
      store.close();
    }
  } finally {
    lock.release();
  }
}
