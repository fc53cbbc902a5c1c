import type { DesiredMember, DesiredPool, DesiredRoute, DesiredState, DesiredVirtualHost } from '../../src/domain/model/desired-state.js';
import type { ExtraBlock, ExtraBlockZone } from '../../src/domain/model/manifest-types.js';
import { origin } from './desired-builders.js';
import type { TlsFiles } from './render-scenarios.js';

/** mulberry32: a tiny seeded PRNG, so a failing property run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Gen {
  constructor(readonly next: () => number) {}
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
  /** `n` distinct items, in random order. */
  sample<T>(items: readonly T[], n: number): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy.slice(0, n);
  }
}

// Server-level snippets nginx accepts in any zone; each non-repeatable directive appears once.
const SNIPPETS = [
  'add_header X-Frame-Options SAMEORIGIN;',
  'add_header X-Gateway "orch {test}; #1";',
  'proxy_read_timeout 300s;\nproxy_send_timeout 300s;',
  '# a comment with "quotes", {braces}; and unicode: é ✓',
  'location = /healthz {\n    return 200 "ok\\n";\n}',
  '\n  proxy_connect_timeout 5s;\n\n',
  'ssl_session_timeout 10m;',
  'if ($request_method = DELETE) {\n\treturn 405;\n}',
  'large_client_header_buffers 4 16k;\n',
];
const ZONES: ExtraBlockZone[] = ['top', 'ssl', 'proxy', 'end'];
const DESCRIPTIONS = [null, 'plain text', 'quotes " and \\ backslash', 'multi\nline\tdescription', 'unicode: Größe ✓', '{ }; # not nginx'];

function member(g: Gen, poolIndex: number, i: number, role: DesiredMember['role']): DesiredMember {
  const address = g.bool(0.2)
    ? `[2001:db8::${poolIndex}:${i + 1}]:9000`
    : `10.${poolIndex}.${g.int(0, 255)}.${i + 1}:${g.pick([9000, 8080, 80])}`;
  return {
    address,
    weight: g.int(1, 10),
    maxFails: g.int(0, 5),
    failTimeout: g.pick(['10s', '30s', '1m']),
    enabled: g.bool(0.8),
    role,
  };
}

function randomPool(g: Gen, i: number): DesiredPool {
  const name = `pool-${i}-${g.int(0, 999)}`;
  const type = g.pick(['nanio', 'http'] as const);
  const count = g.int(1, 4);
  const members = Array.from({ length: count }, (_, j) => member(g, i, j, type === 'http' && j > 0 && g.bool() ? 'replica' : 'primary'));
  const hasBackup = members.some((m) => m.role === 'replica');
  // nginx refuses `backup` with ip_hash: the validator must reject that combination.
  const loadBalancing = g.pick(hasBackup ? (['round_robin', 'least_conn'] as const) : (['round_robin', 'least_conn', 'ip_hash'] as const));
  return {
    name,
    type,
    description: g.pick(DESCRIPTIONS),
    loadBalancing,
    keepalive: g.bool() ? g.int(1, 64) : null,
    members,
    credentials:
      type === 'nanio' && g.bool()
        ? { accessKeyId: { env: `KEY_${i}` }, secretAccessKey: g.bool() ? { env: `SECRET_${i}` } : { file: `/etc/orch/secrets/${name}` } }
        : null,
    origin: origin('Pool', name, g.pick(['manifests/pools.yaml', 'pools/more.yml']), i),
  };
}

function randomRoutes(g: Gen, vhost: string, pools: readonly DesiredPool[]): DesiredRoute[] {
  const n = g.int(0, 10);
  const paths = new Set<string>();
  while (paths.size < n) {
    paths.add(g.bool(0.75) ? `/${g.pick(['b', 'photos', 'my.bucket', 'logs-'])}${g.int(0, 40)}/` : `/prefix${g.int(0, 40)}`);
  }
  return [...paths].map((path, i) => {
    const name = `${vhost}-r${i}`;
    return {
      name,
      virtualHost: vhost,
      path,
      bucket: /^\/([^/]+)\/$/.exec(path)?.[1] ?? null,
      pool: g.pick(pools).name,
      keyPrefix: g.bool(0.3) ? g.pick(['archive/', 'tenant-7/', 'v2/']) : null,
      enabled: g.bool(0.85),
      allowOrphan: g.bool(0.2),
      origin: origin('Route', name, `routes/${name}.yaml`, g.int(0, 2)),
    };
  });
}

function randomVirtualHost(g: Gen, i: number, pools: readonly DesiredPool[], tls: TlsFiles): DesiredVirtualHost {
  const name = `vh-${i}-${g.int(0, 999)}`;
  const useTls = g.bool(0.4);
  const serverNames = Array.from({ length: g.int(1, 3) }, (_, j) => (j === 2 ? `*.${name}.example.test` : `${name}-${j}.example.test`));
  const extraBlocks: ExtraBlock[] = g.sample(SNIPPETS, g.int(0, 4)).map((content) => ({ zone: g.pick(ZONES), content }));
  if (g.bool(0.1)) extraBlocks.push({ zone: g.pick(ZONES), content: '' });
  return {
    name,
    serverNames,
    port: useTls ? g.pick([443, 8443]) : g.pick([80, 8080]),
    address: g.pick([null, null, '127.0.0.1', '::1']),
    tls: useTls ? { ...tls, http2: g.bool() } : null,
    defaultPool: g.bool(0.7) ? g.pick(pools).name : null,
    ipRules: g.bool(0.3)
      ? {
          mode: g.pick(['allow', 'deny'] as const),
          addresses: g.sample(['10.0.0.0/8', '192.168.0.1', '2001:db8::/32', '::1', '172.16.0.0/12'], g.int(1, 3)),
        }
      : null,
    extraBlocks,
    ignoreBuckets: g.sample(['tmp', 'scratch', 'old'], g.int(0, 2)),
    routes: randomRoutes(g, name, pools),
    origin: origin('VirtualHost', name, 'manifests/vhosts.yaml', i),
  };
}

/** A valid (validator-acceptable, nginx-acceptable) random desired state. */
export function randomDesiredState(seed: number, tls: TlsFiles): DesiredState {
  const g = new Gen(prng(seed));
  const pools = Array.from({ length: g.int(1, 6) }, (_, i) => randomPool(g, i));
  const virtualHosts = Array.from({ length: g.int(1, 5) }, (_, i) => randomVirtualHost(g, i, pools, tls));
  return { pools, virtualHosts, migrations: [] };
}
