// What nginx serves now, as orch's sidecars in the managed directory say: the migration engine
// reads the pools' members and credentials, and the routing its route is served with, from there
// (not from the manifests, which may hold changes nobody applied yet).
import type { MigrationRouting } from '../domain/migrations/routing.js';

export interface DeployedSidecars {
  /** Pool name -> the JSON text of its managed sidecar (`pools/<name>.meta.json`). */
  pools(): Map<string, string>;
  /**
   * The routing the virtual host's deployed sidecar gives the bucket's route for this migration:
   * `source` when the route is not the migration's (or there is no readable sidecar).
   */
  migrationRouting(virtualHost: string, bucket: string, migration: string): MigrationRouting;
}
