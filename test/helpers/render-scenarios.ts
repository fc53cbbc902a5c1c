import type { DesiredState } from '../../src/domain/model/desired-state.js';
import { nginxFeaturesFor, type NginxFeatures } from '../../src/domain/render/rendered-tree.js';
import { desiredState, member, origin, pool, route, virtualHost } from './desired-builders.js';

/**
 * The render scenarios shared by the golden test (test/unit/render-golden.test.ts) and the real
 * `nginx -t` test (test/integration/render-nginx-t.test.ts). A scenario takes the TLS file paths
 * so golden files use fixed fake paths while nginx -t gets a real throwaway certificate.
 */
export interface TlsFiles {
  certificate: string;
  key: string;
}

export interface RenderScenario {
  name: string;
  features: NginxFeatures;
  build(tls: TlsFiles): DesiredState;
}

export const GOLDEN_TLS: TlsFiles = { certificate: '/etc/orch/tls/gateway.crt', key: '/etc/orch/tls/gateway.key' };

const OLD_NGINX = nginxFeaturesFor('1.22.1');
const NEW_NGINX = nginxFeaturesFor('1.25.1');

const poolA = () => pool('pool-a');
const poolB = () =>
  pool('pool-b', {
    members: [member('10.0.2.21:9000'), member('10.0.2.22:9000')],
    origin: origin('Pool', 'pool-b', 'manifests/pools.yaml', 1),
  });

export const RENDER_SCENARIOS: RenderScenario[] = [
  {
    name: 'plain',
    features: OLD_NGINX,
    build: () =>
      desiredState({
        pools: [poolA(), poolB()],
        virtualHosts: [
          virtualHost('gw', {
            defaultPool: 'pool-a',
            routes: [route('gw', '/photos/', 'pool-b'), route('gw', '/videos/', 'pool-a')],
          }),
        ],
      }),
  },
  {
    name: 'tls',
    features: OLD_NGINX,
    build: (tls) =>
      desiredState({
        pools: [poolA()],
        virtualHosts: [
          virtualHost('secure', {
            tls: { ...tls, http2: true },
            defaultPool: 'pool-a',
            routes: [route('secure', '/photos/', 'pool-a')],
          }),
          virtualHost('secure-h1', {
            port: 8443,
            tls: { ...tls, http2: false },
            defaultPool: 'pool-a',
            origin: origin('VirtualHost', 'secure-h1', 'manifests/vhosts.yaml', 1),
          }),
        ],
      }),
  },
  {
    name: 'tls-http2-directive',
    features: NEW_NGINX,
    build: (tls) =>
      desiredState({
        pools: [poolA()],
        virtualHosts: [
          virtualHost('secure', {
            tls: { ...tls, http2: true },
            defaultPool: 'pool-a',
            routes: [route('secure', '/photos/', 'pool-a')],
          }),
        ],
      }),
  },
  {
    name: 'allow-rules',
    features: OLD_NGINX,
    build: () =>
      desiredState({
        pools: [poolA()],
        virtualHosts: [
          virtualHost('internal', {
            defaultPool: 'pool-a',
            ipRules: { mode: 'allow', addresses: ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32'] },
          }),
        ],
      }),
  },
  {
    name: 'deny-rules',
    features: OLD_NGINX,
    build: () =>
      desiredState({
        pools: [poolA()],
        virtualHosts: [
          virtualHost('public', {
            defaultPool: 'pool-a',
            ipRules: { mode: 'deny', addresses: ['203.0.113.0/24', '198.51.100.9'] },
          }),
        ],
      }),
  },
  {
    name: 'extra-blocks-all-zones',
    features: OLD_NGINX,
    build: (tls) =>
      desiredState({
        pools: [poolA()],
        virtualHosts: [
          virtualHost('custom', {
            tls: { ...tls, http2: false },
            defaultPool: 'pool-a',
            routes: [route('custom', '/photos/', 'pool-a')],
            extraBlocks: [
              { zone: 'top', content: 'add_header X-Frame-Options SAMEORIGIN;\n' },
              { zone: 'ssl', content: 'ssl_session_timeout 10m;\nssl_session_cache shared:SSL:1m;\n' },
              { zone: 'proxy', content: 'proxy_read_timeout 300s;\n\nproxy_send_timeout 300s;' },
              { zone: 'end', content: 'location = /healthz {\n    return 200 "ok\\n";\n}\n' },
              { zone: 'top', content: 'add_header X-Served-By gateway;' },
              { zone: 'end', content: '' },
            ],
          }),
        ],
      }),
  },
  {
    name: 'key-prefix',
    features: OLD_NGINX,
    build: () =>
      desiredState({
        pools: [poolA()],
        virtualHosts: [
          virtualHost('gw', {
            defaultPool: 'pool-a',
            routes: [
              route('gw', '/photos/', 'pool-a', { keyPrefix: 'archive/' }),
              route('gw', '/my.bucket/', 'pool-a', { keyPrefix: 'tenant-1/' }),
              route('gw', '/downloads', 'pool-a', { keyPrefix: 'v2/' }),
              route('gw', '/plain/', 'pool-a'),
            ],
          }),
        ],
      }),
  },
  {
    name: 'http-pool-replicas',
    features: OLD_NGINX,
    build: () =>
      desiredState({
        pools: [
          pool('static', {
            type: 'http',
            description: 'CDN origin: primary plus two read replicas',
            members: [
              member('10.0.3.31:8080', { weight: 5 }),
              member('10.0.3.32:8080', { role: 'replica' }),
              member('10.0.3.33:8080', { role: 'replica', maxFails: 3, failTimeout: '30s' }),
            ],
          }),
        ],
        virtualHosts: [virtualHost('cdn', { defaultPool: 'static' })],
      }),
  },
  {
    name: 'least-conn',
    features: OLD_NGINX,
    build: () =>
      desiredState({
        pools: [
          pool('busy', {
            loadBalancing: 'least_conn',
            members: [member('10.0.4.41:9000'), member('10.0.4.42:9000', { weight: 3 })],
            credentials: { accessKeyId: { env: 'BUSY_ACCESS_KEY' }, secretAccessKey: { file: '/etc/orch/secrets/busy.secret' } },
          }),
        ],
        virtualHosts: [virtualHost('gw', { defaultPool: 'busy' })],
      }),
  },
  {
    name: 'ip-hash',
    features: OLD_NGINX,
    build: () =>
      desiredState({
        pools: [
          pool('sticky', {
            loadBalancing: 'ip_hash',
            members: [member('10.0.5.51:9000'), member('10.0.5.52:9000', { enabled: false })],
          }),
        ],
        virtualHosts: [virtualHost('gw', { defaultPool: 'sticky' })],
      }),
  },
  {
    name: 'disabled-member-and-route',
    features: OLD_NGINX,
    build: () =>
      desiredState({
        pools: [
          pool('pool-a', {
            members: [member('10.0.1.11:9000'), member('10.0.1.12:9000', { enabled: false }), member('10.0.1.13:9000')],
          }),
          poolB(),
        ],
        virtualHosts: [
          virtualHost('gw', {
            defaultPool: 'pool-a',
            routes: [route('gw', '/archive/', 'pool-b', { enabled: false, allowOrphan: true }), route('gw', '/photos/', 'pool-b')],
          }),
        ],
      }),
  },
  {
    name: 'no-default-pool',
    features: OLD_NGINX,
    build: () =>
      desiredState({
        pools: [poolA()],
        virtualHosts: [
          virtualHost('buckets-only', {
            serverNames: ['s3.example.test', 's3.internal.test', '*.s3.example.test'],
            routes: [route('buckets-only', '/photos/', 'pool-a')],
            ignoreBuckets: ['scratch', 'tmp'],
          }),
        ],
      }),
  },
  {
    name: 'ipv6-listen-address',
    features: OLD_NGINX,
    build: () =>
      desiredState({
        pools: [pool('v6', { members: [member('[::1]:9000'), member('[2001:db8::10]:9000')] })],
        virtualHosts: [
          virtualHost('v6', { address: '::1', port: 8080, defaultPool: 'v6' }),
          virtualHost('v4', {
            address: '127.0.0.1',
            port: 8080,
            defaultPool: 'v6',
            origin: origin('VirtualHost', 'v4', 'manifests/vhosts.yaml', 1),
          }),
        ],
      }),
  },
  {
    name: 'keepalive',
    features: OLD_NGINX,
    build: () =>
      desiredState({
        pools: [
          pool('kept', { keepalive: 32 }),
          pool('kept-lc', { keepalive: 8, loadBalancing: 'least_conn', origin: origin('Pool', 'kept-lc', 'manifests/pools.yaml', 1) }),
        ],
        virtualHosts: [virtualHost('gw', { defaultPool: 'kept', routes: [route('gw', '/fast/', 'kept-lc')] })],
      }),
  },
];
