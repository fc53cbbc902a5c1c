// One driver per migration: each migration has a lock of its own (beside its state file), distinct
// from the state directory's writer lock, which a driver takes only for its routing generations.
import type { WriterLocks } from './writer-lock.js';

export interface MigrationLocks {
  of(name: string): WriterLocks;
}
