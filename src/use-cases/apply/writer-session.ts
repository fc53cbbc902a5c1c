import type { StateStore } from '../../ports/state-store.js';
import { openWritableState } from '../state/open-state.js';
import type { ApplyPorts } from './apply-ports.js';

export interface WriterSession {
  store: StateStore;
}

/**
 * Runs `work` as the one writer: takes the lock, opens the state, and always closes the state and
 * releases the lock afterwards — also when opening the state fails (a corrupt database, another
 * nginx directory), so a failed command never leaves orch.lock behind. Waits for the lock up to
 * `settings.lockTimeoutSeconds`.
 */
export async function withWriterSession<T>(ports: ApplyPorts, command: string, work: (session: WriterSession) => Promise<T>): Promise<T> {
  const lock = await ports.locks.acquire(command, ports.settings.lockTimeoutSeconds);
  try {
    ports.fault('after-lock');
    const store = openWritableState(ports.state, ports.settings);
    try {
      return await work({ store });
    } finally {
      store.close();
    }
  } finally {
    lock.release();
  }
}
