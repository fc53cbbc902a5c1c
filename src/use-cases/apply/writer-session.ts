import type { ContentStore } from '../../adapters/fs/content-store.js';
import { acquireWriterLock } from '../../adapters/fs/writer-lock.js';
import type { StateStore } from '../../ports/state-store.js';
import { faultInjector } from '../../domain/apply/apply-events.js';
import { openWritableState } from '../state/open-state.js';
import type { Settings } from '../../config/settings.js';

export interface WriterSession {
  store: StateStore;
  contents: ContentStore;
  /** Test-only fault injection (ORCH_FAULT_INJECT). */
  fault: (point: string) => void;
}

/**
 * Runs `work` as the one writer: takes the lock, opens the state, and always closes the state and
 * releases the lock afterwards — also when opening the state fails (a corrupt database, another
 * nginx directory), so a failed command never leaves orch.lock behind.
 */
export async function withWriterSession<T>(settings: Settings, command: string, work: (session: WriterSession) => Promise<T>): Promise<T> {
  const lock = await acquireWriterLock(settings.stateDir, command, settings.lockTimeoutSeconds);
  try {
    const fault = faultInjector();
    fault('after-lock');
    const { store, contents } = openWritableState(settings);
    try {
      return await work({ store, contents, fault });
    } finally {
      store.close();
    }
  } finally {
    lock.release();
  }
}
