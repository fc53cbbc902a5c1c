import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RemovedPoolsFile } from '../../ports/removed-pools-file.js';
import { writeFileAtomic } from './atomic-write.js';

/**
 * `<stateDir>/removed-pools.json`, owner-only (0600): the pools' sidecars as they were in the
 * managed directory (members, credential references, credentials sealed with the secret key),
 * never a credential in clear.
 */
export function fsRemovedPoolsFile(stateDir: string): RemovedPoolsFile {
  const path = join(stateDir, 'removed-pools.json');
  return {
    path,
    read() {
      try {
        return readFileSync(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
    },
    write(text) {
      if (text === null) rmSync(path, { force: true });
      else writeFileAtomic(path, text, { mode: 0o600 });
    },
  };
}
