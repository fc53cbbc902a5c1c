import { createHash } from 'node:crypto';

/**
 * Everything a plan was computed from. A saved plan carries these; apply recomputes them and
 * refuses the plan when any differ, naming what moved.
 */
export interface PlanInputs {
  orchVersion: string;
  nginxVersion: string | null;
  /** Manifest file path -> sha256 of its content. */
  manifests: Record<string, string>;
  /** Managed file path (relative to the nginx directory) -> sha256 of its content on disk. */
  files: Record<string, string>;
  /** Last applied generation in the state database, null when there is none. */
  stateGeneration: number | null;
  /** Settings that change what is rendered or where it goes. */
  settings: Record<string, string>;
  /**
   * Pool -> sha256 of the encrypted credentials its sidecar will carry (`references-only` without);
   * `VirtualHost/<name>` -> the same for the client identities sealed into a virtual host's sidecar.
   * Never a value: a hash of ciphertext. Absent when no pool has credentials.
   */
  credentials?: Record<string, string>;
  /** `pool/bucket` -> `create`: the buckets the plan creates. Absent when none. */
  buckets?: Record<string, string>;
  /**
   * Pool -> what the plan keeps of a pool it removes from the manifests (see removed-pools.ts):
   * the record, with the objects it saw there (`attic: 1 object, 6 bytes`, or `not listed`). The
   * decision depends on a listing, not on any file: apply must keep exactly what the plan showed.
   * Absent when the plan keeps none.
   */
  removedPools?: Record<string, string>;
}

export function fingerprintOf(inputs: PlanInputs): string {
  const h = createHash('sha256');
  const put = (s: string) => h.update(s).update('\u0000');
  put(`orch ${inputs.orchVersion}`);
  put(`nginx ${inputs.nginxVersion ?? '-'}`);
  put(`generation ${inputs.stateGeneration ?? '-'}`);
  for (const [group, map] of [
    ['manifest', inputs.manifests],
    ['file', inputs.files],
    ['setting', inputs.settings],
    ['credentials', inputs.credentials ?? {}],
    ['bucket', inputs.buckets ?? {}],
    ['removed-pool', inputs.removedPools ?? {}],
  ] as const) {
    for (const key of Object.keys(map).sort()) put(`${group} ${key} ${map[key]}`);
  }
  return `sha256:${h.digest('hex')}`;
}

/** Lists, in the operator's words, what differs between the inputs of a saved plan and now. */
export function describeInputChanges(saved: PlanInputs, now: PlanInputs): string[] {
  const reasons: string[] = [];
  if (saved.orchVersion !== now.orchVersion) reasons.push(`orch version changed (${saved.orchVersion} -> ${now.orchVersion})`);
  if (saved.nginxVersion !== now.nginxVersion) {
    reasons.push(`nginx version changed (${saved.nginxVersion ?? 'none'} -> ${now.nginxVersion ?? 'none'})`);
  }
  if (saved.stateGeneration !== now.stateGeneration) {
    reasons.push(`state generation moved (${saved.stateGeneration ?? 'none'} -> ${now.stateGeneration ?? 'none'})`);
  }
  diffMaps(saved.manifests, now.manifests, 'manifest', reasons);
  if (saved.stateGeneration !== now.stateGeneration) {
    // Another apply (or rollback) since the plan: the files on disk changed with it, not by hand.
    const moved: string[] = [];
    diffMaps(saved.files, now.files, 'file', moved);
    if (moved.length > 0)
      reasons.push(`${moved.length} managed file${moved.length === 1 ? '' : 's'} changed with generation ${now.stateGeneration ?? 'none'}`);
  } else diffMaps(saved.files, now.files, 'file on disk', reasons, 'was edited outside orch');
  diffMaps(saved.settings, now.settings, 'setting', reasons);
  const pools = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith('VirtualHost/')));
  const hosts = (m: Record<string, string>) =>
    Object.fromEntries(Object.entries(m).flatMap(([k, v]) => (k.startsWith('VirtualHost/') ? [[k.slice('VirtualHost/'.length), v]] : [])));
  diffMaps(pools(saved.credentials ?? {}), pools(now.credentials ?? {}), 'credentials of pool', reasons);
  diffMaps(hosts(saved.credentials ?? {}), hosts(now.credentials ?? {}), 'client identities of virtual host', reasons);
  diffMaps(saved.buckets ?? {}, now.buckets ?? {}, 'bucket creation', reasons);
  const kept = (m: Record<string, string>, pool: string) => (pool in m ? `kept its record (${m[pool]})` : 'kept no record');
  const removed = { ...saved.removedPools, ...now.removedPools };
  for (const pool of Object.keys(removed).sort()) {
    const [before, after] = [kept(saved.removedPools ?? {}, pool), kept(now.removedPools ?? {}, pool)];
    if (before !== after) reasons.push(`removed pool ${pool}: the plan ${before}, apply now ${after.replace('kept', 'keeps')}`);
  }
  return reasons;
}

function diffMaps(a: Record<string, string>, b: Record<string, string>, what: string, out: string[], edited = 'was edited'): void {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of [...keys].sort()) {
    if (!(key in a)) out.push(`${what} ${key} was added`);
    else if (!(key in b)) out.push(`${what} ${key} was removed`);
    else if (a[key] !== b[key]) out.push(`${what} ${key} ${edited}`);
  }
}
