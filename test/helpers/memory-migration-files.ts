import { encodeMigrationRecord } from '../../src/domain/migrations/migration-record.js';
import type { DestinationBaseline, MigrationFiles } from '../../src/ports/migration-files.js';

/** Migration state files, baselines and cancel flags in memory (fakes of the MigrationFiles port). */
export function memoryFiles(): MigrationFiles & {
  files: Map<string, string>;
  cancel: Set<string>;
  baselines: Map<string, Map<string, string>>;
  destinations: Map<string, DestinationBaseline>;
} {
  const destinations = new Map<string, DestinationBaseline>();
  const files = new Map<string, string>();
  const cancel = new Set<string>();
  const baselines = new Map<string, Map<string, string>>();
  return {
    files,
    cancel,
    baselines,
    destinations,
    write(record) {
      const done = record.phase === 'done' || record.phase === 'cancelled';
      const file = `${record.name}${done ? '.done.json' : '.state.json'}`;
      files.set(file, encodeMigrationRecord(record));
      if (done) files.delete(`${record.name}.state.json`);
      return file;
    },
    readAll: () => [...files].map(([file, text]) => ({ file, text })),
    readBaseline: (name) => baselines.get(name) ?? null,
    writeBaseline: (name, b) => void baselines.set(name, new Map(b)),
    readDestinationBaseline: (pool, bucket) => destinations.get(`${pool}/${bucket}`) ?? null,
    writeDestinationBaseline: (pool, bucket, b) => void destinations.set(`${pool}/${bucket}`, { ...b, objects: new Map(b.objects) }),
    removeDestinationBaseline: (pool, bucket) => void destinations.delete(`${pool}/${bucket}`),
    cancelRequested: (name) => cancel.has(name),
    requestCancel: (name) => void cancel.add(name),
    clearCancel: (name) => void cancel.delete(name),
  };
}
