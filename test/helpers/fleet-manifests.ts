import { stringify } from 'yaml';

/**
 * A generated, valid fleet as manifest files: nanio pools with credentials references, virtual
 * hosts with TLS-less listeners, IP rules and extra blocks on some, routes (some with key prefixes,
 * some disabled) in one file per virtual host, and optionally migrations of a few buckets.
 * Deterministic for given options.
 */
export interface FleetOptions {
  vhosts: number;
  routesPerVhost: number;
  pools: number;
  /** Migrations to declare (bucket i of virtual host 0 moves from its pool to the next one). */
  migrations?: number;
  /** First loopback port of the members (they need not answer for nginx -t). */
  memberBasePort?: number;
}

export interface ManifestFile {
  path: string;
  text: string;
}

const doc = (kind: string, name: string, spec: Record<string, unknown>) =>
  stringify({ apiVersion: 'orch/v1', kind, metadata: { name }, spec });

export function fleetPoolOf(vhost: number, route: number, pools: number): string {
  return `pool-${(vhost + route) % pools}`;
}

export function fleetManifests(o: FleetOptions): ManifestFile[] {
  const files: ManifestFile[] = [];
  const base = o.memberBasePort ?? 20000;
  files.push({
    path: 'pools.yaml',
    text: Array.from({ length: o.pools }, (_, p) =>
      doc('Pool', `pool-${p}`, {
        type: 'nanio',
        description: `generated pool ${p}`,
        loadBalancing: p % 3 === 1 ? 'least_conn' : 'round_robin',
        ...(p % 2 === 0 ? { keepalive: 16 } : {}),
        members: [
          { address: `127.0.0.1:${base + p * 2}` },
          { address: `127.0.0.1:${base + p * 2 + 1}`, weight: 2, ...(p % 4 === 3 ? { enabled: false } : {}) },
        ],
        credentials: { accessKeyId: { env: `POOL_${p}_ACCESS_KEY` }, secretAccessKey: { file: `/etc/orch/secrets/pool-${p}` } },
      }),
    ).join('---\n'),
  });
  for (let v = 0; v < o.vhosts; v++) {
    const name = `vh-${v}`;
    files.push({
      path: `vhosts/${name}.yaml`,
      text: doc('VirtualHost', name, {
        serverNames: [`${name}.example.test`, ...(v % 5 === 0 ? [`${name}.alt.example.test`] : [])],
        port: 80,
        defaultPool: fleetPoolOf(v, 0, o.pools),
        ...(v % 7 === 3 ? { ipRules: { mode: 'deny', addresses: ['203.0.113.0/24'] } } : {}),
        ...(v % 6 === 2
          ? {
              extraBlocks: [
                { zone: 'proxy', content: 'proxy_read_timeout 300s;\n' },
                { zone: 'end', content: 'location = /healthz {\n    return 200 "ok\\n";\n}\n' },
              ],
            }
          : {}),
        ...(v % 9 === 4 ? { ignoreBuckets: ['scratch'] } : {}),
      }),
    });
    if (o.routesPerVhost > 0) {
      files.push({
        path: `routes/${name}.yaml`,
        text: Array.from({ length: o.routesPerVhost }, (_, r) =>
          doc('Route', `${name}-b${r}`, {
            virtualHost: name,
            path: `/b-${v}-${r}/`,
            pool: fleetPoolOf(v, r, o.pools),
            ...(r % 8 === 5 ? { enabled: false } : {}),
          }),
        ).join('---\n'),
      });
    }
  }
  if (o.migrations) {
    files.push({
      path: 'migrations.yaml',
      text: Array.from({ length: o.migrations }, (_, i) =>
        doc('Migration', `move-b-0-${i}`, {
          virtualHost: 'vh-0',
          bucket: `b-0-${i}`,
          from: fleetPoolOf(0, i, o.pools),
          to: fleetPoolOf(0, i + 1, o.pools),
          mode: 'copy',
        }),
      ).join('---\n'),
    });
  }
  return files;
}
