// What nginx serves now, as orch's sidecars in the managed directory say: the migration engine
// reads the pools' members and credentials, and the routing its route is served with, from there
// (not from the manifests, which may hold changes nobody applied yet).

export interface DeployedSidecars {
  /** Pool name -> the JSON text of its managed sidecar (`pools/<name>.meta.json`). */
  pools(): Map<string, string>;
  /** The JSON text of `vhosts/<name>.meta.json`, or null when there is none. */
  virtualHost(name: string): string | null;
}
