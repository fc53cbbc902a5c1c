// Fleet generator for `npm run bench`: writes a GitOps-shaped manifest repository of realistic
// shape (one Pool per file, one VirtualHost per file, one Route per file under routes/<vhost>/),
// deterministic for a given size and seed. Plain Node ESM, no dependencies.
//
//   import { generateFleet } from './fleet.mjs';
//   const info = generateFleet({ dir, virtualHosts: 1000, routesPerHost: 10, pools: 200, tls, basePort });
//
// Every member address is a 127.0.x.y loopback IP (never a DNS name: nginx resolves upstream
// names at `nginx -t` and at reload). Virtual hosts share a handful of listen ports on 127.0.0.1
// (as real gateways share :80/:443 and tell hosts apart by server name); nothing is bound by
// `nginx -t`, but a running nginx binds them, so the caller picks a free base port.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Small deterministic PRNG (mulberry32), so a fleet of a given size is always the same. */
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
  };
}

const pad = (n, w) => String(n).padStart(w, '0');

/** A self-signed certificate for the TLS virtual hosts, made once with openssl. */
export function makeSelfSignedCert(dir) {
  mkdirSync(dir, { recursive: true });
  const certificate = join(dir, 'bench.crt');
  const key = join(dir, 'bench.key');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=*.bench.test', '-keyout', key, '-out', certificate],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { certificate, key };
}

/** The number of listen ports the fleet uses, from `basePort` up (plain ports, then one TLS port). */
export const PLAIN_PORTS = 8;
export const PORTS_USED = PLAIN_PORTS + 1;

/**
 * Writes the fleet under `dir` (pools/, vhosts/, routes/<vhost>/). Returns what was generated and
 * the names a benchmark needs to edit one route.
 *
 * Shape:
 * - pools: ~85% nanio (2-4 members, all active, some weights / maxFails / failTimeout, an
 *   occasional disabled member, credentials by reference on some), ~15% http (a primary and a
 *   replica rendered as `backup`); load balancing round robin / least_conn / ip_hash (ip_hash never
 *   with a replica); keepalive 8-64 or none.
 * - virtual hosts `vNNNN.bench.test` (plus an alias on some): ~92% S3 hosts whose default pool is
 *   nanio, ~8% file hosts whose default pool is http; 1 in 25 with TLS; 1 in 10 with IP rules
 *   (allow- or deny-list); 1 in 20 with extra blocks (top, proxy, end, and ssl when TLS).
 * - routes, one per file: bucket routes `/bNN/` to nanio pools on S3 hosts; `/dNN/` prefixes to
 *   http pools on file hosts, some with a key prefix.
 */
export function generateFleet({ dir, virtualHosts, routesPerHost = 10, pools, tls, basePort = 18000, seed = 20240601 }) {
  const rnd = prng(seed ^ (virtualHosts * 7919) ^ pools);
  for (const sub of ['pools', 'vhosts', 'routes']) mkdirSync(join(dir, sub), { recursive: true });
  let files = 0;
  let bytes = 0;
  const write = (rel, text) => {
    const p = join(dir, rel);
    writeFileSync(p, text);
    files++;
    bytes += Buffer.byteLength(text);
  };

  // ---- pools
  const nanioPools = [];
  const httpPools = [];
  const httpCount = Math.min(pools - 1, Math.max(1, Math.round(pools * 0.15)));
  let addr = 0;
  const nextAddress = () => {
    // 127.0.<hi>.<lo>: distinct loopback IPs, port 9000 (nanio's default) on each.
    const i = addr++;
    return `127.0.${Math.floor(i / 250)}.${(i % 250) + 2}`;
  };
  for (let p = 0; p < pools; p++) {
    const isHttp = p >= pools - httpCount;
    const name = isHttp ? `files-${pad(p, 3)}` : `nanio-${pad(p, 3)}`;
    const lines = [
      '# yaml-language-server: $schema=../../schemas/pool.schema.json',
      'apiVersion: orch/v1',
      'kind: Pool',
      'metadata:',
      `  name: ${name}`,
      '  labels:',
      `    rack: r${pad(p % 12, 2)}`,
      'spec:',
      `  type: ${isHttp ? 'http' : 'nanio'}`,
      `  description: ${isHttp ? 'Plain HTTP file servers, primary plus replica' : `nanio cluster ${p} on shelf ${p % 12}`}`,
    ];
    const lb = isHttp ? rnd.pick(['round_robin', 'least_conn']) : rnd.pick(['round_robin', 'least_conn', 'least_conn', 'ip_hash']);
    if (lb !== 'round_robin' || rnd.chance(0.5)) lines.push(`  loadBalancing: ${lb}`);
    if (rnd.chance(0.8)) lines.push(`  keepalive: ${rnd.pick([8, 16, 32, 64])}`);
    lines.push('  members:');
    if (isHttp) {
      lines.push(`    - address: ${nextAddress()}:8080`, '      role: primary');
      lines.push(`    - address: ${nextAddress()}:8080`, '      role: replica', '      maxFails: 2', '      failTimeout: 15s');
      httpPools.push(name);
    } else {
      const n = rnd.int(2, 4);
      for (let m = 0; m < n; m++) {
        lines.push(`    - address: ${nextAddress()}:9000`);
        if (rnd.chance(0.2)) lines.push(`      weight: ${rnd.int(2, 5)}`);
        if (rnd.chance(0.2)) lines.push(`      maxFails: ${rnd.int(1, 5)}`, `      failTimeout: ${rnd.pick(['10s', '30s', '1m'])}`);
        if (m === n - 1 && n > 2 && rnd.chance(0.1)) lines.push('      enabled: false');
      }
      if (rnd.chance(0.3)) {
        const env = name.toUpperCase().replace(/-/g, '_');
        lines.push(
          '  credentials:',
          '    accessKeyId:',
          `      env: ${env}_ACCESS_KEY`,
          '    secretAccessKey:',
          `      file: /etc/orch/secrets/${name}.secret`,
        );
      }
      nanioPools.push(name);
    }
    write(join('pools', `${name}.yaml`), `${lines.join('\n')}\n`);
  }

  // ---- virtual hosts and their routes
  const hosts = [];
  let tlsHosts = 0;
  let ipRuleHosts = 0;
  let extraHosts = 0;
  let routeCount = 0;
  for (let v = 0; v < virtualHosts; v++) {
    const name = `v${pad(v, 4)}`;
    const isFileHost = v % 13 === 7;
    const hasTls = Boolean(tls) && v % 25 === 3;
    const port = hasTls ? basePort + PLAIN_PORTS : basePort + (v % PLAIN_PORTS);
    const defaultPool = isFileHost ? httpPools[v % httpPools.length] : nanioPools[v % nanioPools.length];
    const names = [`${name}.bench.test`];
    if (v % 7 === 0) names.push(`${name}.s3.bench.test`);
    const lines = [
      '# yaml-language-server: $schema=../../schemas/virtualhost.schema.json',
      'apiVersion: orch/v1',
      'kind: VirtualHost',
      'metadata:',
      `  name: ${name}`,
      'spec:',
      `  serverNames: [${names.join(', ')}]`,
      '  address: 127.0.0.1',
      `  port: ${port}`,
      `  defaultPool: ${defaultPool}`,
    ];
    if (hasTls) {
      tlsHosts++;
      lines.push('  tls:', `    certificate: ${tls.certificate}`, `    key: ${tls.key}`);
      lines.push('    http2: true');
    }
    if (v % 10 === 5) {
      ipRuleHosts++;
      if (v % 20 === 5) lines.push('  ipRules:', '    mode: allow', '    addresses: [127.0.0.0/8, 10.0.0.0/8, 192.168.0.0/16, "::1"]');
      else lines.push('  ipRules:', '    mode: deny', `    addresses: [203.0.113.${v % 250}, 198.51.100.0/24, "2001:db8::/32"]`);
    }
    if (v % 20 === 3 || v % 20 === 11) {
      extraHosts++;
      lines.push(
        '  extraBlocks:',
        '    - zone: top',
        '      content: |',
        `        add_header X-Bench-Host ${name} always;`,
        '    - zone: proxy',
        '      content: |',
        '        proxy_read_timeout 300s;',
        '    - zone: end',
        '      content: |',
        '        location = /healthz {',
        '            return 200 "ok";',
        '        }',
      );
      if (hasTls) lines.push('    - zone: ssl', '      content: |', '        ssl_session_timeout 10m;');
    }
    if (!isFileHost && v % 9 === 4) lines.push('  ignoreBuckets: [tmp-uploads]');
    write(join('vhosts', `${name}.yaml`), `${lines.join('\n')}\n`);

    mkdirSync(join(dir, 'routes', name), { recursive: true });
    const routes = [];
    for (let r = 0; r < routesPerHost; r++) {
      const seg = isFileHost ? `d${pad(r, 2)}` : `b${pad(r, 2)}`;
      const pool = isFileHost ? httpPools[(v + r) % httpPools.length] : nanioPools[rnd.int(0, nanioPools.length - 1)];
      const routeName = `${name}-${seg}`;
      const rl = [
        '# yaml-language-server: $schema=../../../schemas/route.schema.json',
        'apiVersion: orch/v1',
        'kind: Route',
        'metadata:',
        `  name: ${routeName}`,
        'spec:',
        `  virtualHost: ${name}`,
        `  path: /${seg}/`,
        `  pool: ${pool}`,
      ];
      if (isFileHost && r % 3 === 0) rl.push(`  keyPrefix: release-${r}/`);
      const file = join('routes', name, `${seg}.yaml`);
      write(file, `${rl.join('\n')}\n`);
      routes.push({ name: routeName, file, pool, path: `/${seg}/` });
      routeCount++;
    }
    hosts.push({ name, isFileHost, port, routes });
  }

  return {
    dir,
    counts: {
      files,
      bytes,
      pools,
      nanioPools: nanioPools.length,
      httpPools: httpPools.length,
      virtualHosts,
      routes: routeCount,
      tlsHosts,
      ipRuleHosts,
      extraHosts,
    },
    nanioPools,
    httpPools,
    hosts,
    ports: { first: basePort, last: basePort + PLAIN_PORTS },
  };
}
