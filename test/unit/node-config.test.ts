import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileManifestLoader } from '../../src/adapters/manifests/file-manifest-loader.js';
import { loadManifests } from '../../src/use-cases/plan/load-manifests.js';
import { nodeConfig, type NodeConfigRequest } from '../../src/use-cases/install/node-config.js';
import { resolveSettings } from '../../src/config/settings.js';
import { BugError, UserError } from '../../src/domain/errors.js';
import { findPool, NODE_CONFIG_DEFAULTS, renderNodeConfig, selectMember } from '../../src/domain/node-config/render-node-config.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { localTextFiles } from '../../src/adapters/fs/text-files.js';
import { environmentSecrets } from '../../src/adapters/secrets/environment-secrets.js';

const GATEWAY = join(REPO_ROOT, 'examples/gateway');
const OPTIONS = { ...NODE_CONFIG_DEFAULTS, orchVersion: '0.1.0' };

/** The TOML orch writes: comments, one [server] table, [[users]] tables, `key = "plain string"` or `key = integer`. */
function readSimpleToml(text: string): { server?: Record<string, string | number>; users?: Array<Record<string, string | number>> } {
  const out: { server?: Record<string, string | number>; users?: Array<Record<string, string | number>> } = {};
  let table: Record<string, string | number> | null = null;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    if (line === '[server]') {
      table = out.server = {};
      continue;
    }
    if (line === '[[users]]') {
      (out.users ??= []).push((table = {}));
      continue;
    }
    const kv = /^([a-z_]+) = (?:"([^"\\\u0000-\u001f]*)"|(\d+))$/.exec(line);
    if (!kv || !table) throw new Error(`not simple TOML: ${JSON.stringify(line)}`);
    table[kv[1]!] = kv[2] ?? Number(kv[3]);
  }
  return out;
}

const request = (pool: string, member: string | null, extra: Partial<NodeConfigRequest> = {}): NodeConfigRequest => ({
  pool,
  member,
  out: null,
  force: false,
  ...extra,
});
const settingsFor = (manifests: string) =>
  resolveSettings({ flags: { manifests }, env: {}, configPath: null, candidates: [], readFile: () => null });
const portsFor = (manifests: string) => ({
  settings: settingsFor(manifests),
  files: localTextFiles,
  manifests: fileManifestLoader(),
  secrets: environmentSecrets(process.env),
});

describe('orch node-config: nanio pools', () => {
  const { validation } = loadManifests(fileManifestLoader(), GATEWAY);
  const desired = validation.desired;
  const pool = findPool(desired, 'pool-2025', GATEWAY);

  it('picks a member by address or by index from 0', () => {
    expect(selectMember(pool, '10.20.0.13:9000')).toMatchObject({ index: 2, address: '10.20.0.13:9000' });
    expect(selectMember(pool, '0')).toMatchObject({ index: 0, address: '10.20.0.11:9000' });
    expect(selectMember(pool, null)).toEqual({ index: null, address: null, member: null });
  });

  it('renders options bound to the member with [[users]] (placeholders when printed), 0600, and a unit', () => {
    const c = renderNodeConfig(desired, pool, selectMember(pool, '10.20.0.13:9000'), OPTIONS);
    expect(c.files.map((f) => [f.name, f.installAs, f.mode])).toEqual([
      ['nanio-options.toml', '/etc/nanio/options.toml', 0o600],
      ['nanio.service', '/etc/systemd/system/nanio.service', 0o644],
    ]);
    const [options, unit] = c.files.map((f) => f.content) as [string, string];
    // pool-2025: accessKeyId from env POOL_2025_ACCESS_KEY, secretAccessKey from a file.
    expect(readSimpleToml(options)).toEqual({
      server: { data_dir: '/var/lib/nanio', host: '10.20.0.13', port: 9000, region: 'us-east-1' },
      users: [{ access_key: '<value of POOL_2025_ACCESS_KEY>', secret_key: '<contents of /etc/orch/secrets/pool-2025.secret>' }],
    });
    expect(unit).toContain('\nExecStart=/usr/local/bin/nanio serve --options /etc/nanio/options.toml\n');
    expect(unit).not.toContain('EnvironmentFile');
    expect(unit).toContain('\nReadWritePaths=/var/lib/nanio\n');
    expect(unit).toContain('\nCapabilityBoundingSet=\n');
    expect(unit).toContain('\nUser=nanio\n');
    // With values (what --out writes), escaped as TOML strings.
    const real = renderNodeConfig(desired, pool, selectMember(pool, '0'), OPTIONS, (ref) => ('env' in ref ? 'AKIA"\\x' : 's3cr\u007fet\n'));
    expect(real.files[0]!.content).toContain('\naccess_key = "AKIA\\"\\\\x"\nsecret_key = "s3cr\\u007fet\\n"\n');
  });

  it('for a new member: every interface, the port the members share, and a reminder to add it', () => {
    const c = renderNodeConfig(desired, pool, selectMember(pool, null), OPTIONS);
    expect(readSimpleToml(c.files[0]!.content).server).toMatchObject({ host: '0.0.0.0', port: 9000 });
    expect(c.nextSteps.at(-1)).toContain('Add the member to pool "pool-2025" in');
    expect(c.nextSteps.at(-1)).toContain('<this host>:9000');
  });

  it('uses the given directories, binary, user and region', () => {
    const c = renderNodeConfig(desired, pool, selectMember(pool, '1'), {
      ...OPTIONS,
      dataDir: '/mnt/shelf-a/nanio',
      nanioBin: '/opt/nanio/bin/nanio',
      user: 'nanio-a',
      configDir: '/etc/nanio-a',
      region: 'eu-west-1',
    });
    expect(readSimpleToml(c.files[0]!.content).server).toEqual({
      data_dir: '/mnt/shelf-a/nanio',
      host: '10.20.0.12',
      port: 9000,
      region: 'eu-west-1',
    });
    expect(c.files[0]!.installAs).toBe('/etc/nanio-a/options.toml');
    expect(c.files[1]!.content).toContain('\nExecStart=/opt/nanio/bin/nanio serve --options /etc/nanio-a/options.toml\n');
    expect(c.files[1]!.content).toContain('\nRequiresMountsFor=/mnt/shelf-a/nanio\n');
    expect(c.files[1]!.content).toContain('\nUser=nanio-a\n');
  });

  it('never lets an unchecked value into a file (the renderer refuses it)', () => {
    const sel = selectMember(pool, '0');
    expect(() => renderNodeConfig(desired, pool, sel, { ...OPTIONS, dataDir: '/var/lib/nanio"\n[server]\nport = 1' })).toThrow(BugError);
    expect(() => renderNodeConfig(desired, pool, sel, { ...OPTIONS, nanioBin: '/usr/bin/nanio $X' })).toThrow(BugError);
    expect(() => renderNodeConfig(desired, pool, sel, { ...OPTIONS, user: 'root\nUser=root' })).toThrow(BugError);
  });
});

describe('orch node-config: http pools', () => {
  const { validation } = loadManifests(fileManifestLoader(), GATEWAY);
  const desired = validation.desired;
  const pool = findPool(desired, 'cdn-files', GATEWAY);

  it("renders a file-serving server block on the member's port, with the layout routes imply", () => {
    const c = renderNodeConfig(desired, pool, selectMember(pool, '10.30.0.6:8080'), { ...OPTIONS, root: '/srv/cdn' });
    expect(c.files).toHaveLength(1);
    const f = c.files[0]!;
    expect(f.name).toBe('cdn-files-file-server.conf');
    expect(f.content).toContain('member 10.30.0.6:8080 (spec.members[1], replica) of pool "cdn-files"');
    const body = f.content.slice(f.content.indexOf('server {'));
    expect(body).toBe(
      [
        'server {',
        '    listen 8080;',
        '    server_name _;',
        '    root /srv/cdn;',
        '    # Serve files only: no directory listings, no methods that change anything.',
        '    autoindex off;',
        '    sendfile on;',
        '    tcp_nopush on;',
        '    server_tokens off;',
        '    location / {',
        '        limit_except GET {',
        '            deny all;',
        '        }',
        '        try_files $uri =404;',
        '    }',
        '}',
        '',
      ].join('\n'),
    );
    // examples/gateway routes /releases/ of vhost cdn to this pool with keyPrefix stable/.
    expect(f.content).toContain('#   cdn /releases/ -> /srv/cdn/releases/stable/<key>');
  });
});

describe('orch node-config through the settings (app)', () => {
  let dir: string;
  const SECRET_ACCESS = 'AKIA-SHOULD-NEVER-APPEAR';
  const SECRET_KEY = 'wJalrXUtnFEMI-should-never-appear';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'orch-node-config-'));
    writeFileSync(join(dir, 'secret.txt'), `${SECRET_KEY}\n`);
    writeFileSync(
      join(dir, 'pools.yaml'),
      `apiVersion: orch/v1
kind: Pool
metadata: {name: v6-pool}
spec:
  type: nanio
  members:
    - address: "[fd00::11]:80"
    - address: nanio-2.internal:80
  credentials:
    accessKeyId: {env: NODE_CONFIG_TEST_ACCESS}
    secretAccessKey: {file: ${join(dir, 'secret.txt')}}
---
apiVersion: orch/v1
kind: Pool
metadata: {name: bare}
spec:
  type: nanio
  members:
    - address: 10.0.0.1:9000
    - address: 10.0.0.2:9100
`,
    );
    process.env['NODE_CONFIG_TEST_ACCESS'] = SECRET_ACCESS;
  });
  afterAll(() => {
    delete process.env['NODE_CONFIG_TEST_ACCESS'];
    rmSync(dir, { recursive: true, force: true });
  });

  it('never contains a credential value, even when the gateway could resolve it', () => {
    const { config } = nodeConfig(portsFor(dir), request('v6-pool', '0'));
    const all = config.files.map((f) => f.content).join('\n') + config.nextSteps.join('\n');
    expect(all).not.toContain(SECRET_ACCESS);
    expect(all).not.toContain(SECRET_KEY);
    expect(all).toContain('access_key = "<value of NODE_CONFIG_TEST_ACCESS>"');
  });

  it('binds an IPv6 member, a DNS member on every interface, and keeps privileged ports working', () => {
    const v6 = nodeConfig(portsFor(dir), request('v6-pool', '[FD00:0::11]:80')).config;
    expect(v6.member.index).toBe(0);
    expect(readSimpleToml(v6.files[0]!.content).server).toMatchObject({ host: 'fd00::11', port: 80 });
    expect(v6.files[1]!.content).toContain('\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n');
    const dns = nodeConfig(portsFor(dir), request('v6-pool', 'nanio-2.internal:80')).config;
    expect(readSimpleToml(dns.files[0]!.content).server).toMatchObject({ host: '0.0.0.0', port: 80 });
  });

  it("a pool without credentials gets neutral placeholders; members on different ports: nanio's default for a new one", () => {
    const c = nodeConfig(portsFor(dir), request('bare', null)).config;
    expect(c.files[0]!.content).toContain('\naccess_key = "<access key>"\n');
    expect(c.files[0]!.content).toContain('Pool "bare" has no credentials in its manifest');
    expect(readSimpleToml(c.files[0]!.content).server).toMatchObject({ host: '0.0.0.0', port: 9000 });
  });

  it('names the manifests and lists the pools for an unknown pool; lists the members for an unknown member', () => {
    expect(() => nodeConfig(portsFor(dir), request('nope', null))).toThrow(UserError);
    try {
      nodeConfig(portsFor(dir), request('nope', null));
    } catch (e) {
      expect((e as UserError).message).toBe(`No pool "nope" in the manifests at ${dir}.`);
      expect((e as UserError).hint).toBe('Pools: bare (nanio), v6-pool (nanio).');
    }
    expect(() => nodeConfig(portsFor(dir), request('bare', '10.0.0.9:9000'))).toThrow(/Pool "bare" has no member "10.0.0.9:9000"/);
    expect(() => nodeConfig(portsFor(dir), request('bare', '2'))).toThrow(UserError);
  });

  it('refuses unsafe flag values with a user error', () => {
    expect(() => nodeConfig(portsFor(dir), request('bare', '0', { dataDir: 'relative/dir' }))).toThrow(
      /--data-dir must be an absolute path/,
    );
    expect(() => nodeConfig(portsFor(dir), request('bare', '0', { root: '/srv/files;' }))).toThrow(/--root must be an absolute path/);
    expect(() => nodeConfig(portsFor(dir), request('bare', '0', { region: 'US EAST' }))).toThrow(/--region must be/);
    expect(() => nodeConfig(portsFor(dir), request('bare', '0', { user: 'Nanio' }))).toThrow(/--user must be a system user name/);
  });

  it('--out writes the options file with the values (0600) and the unit, and will not replace different ones without --force', () => {
    const out = join(dir, 'out');
    const first = nodeConfig(portsFor(dir), request('v6-pool', '0', { out }));
    expect(first.written).toEqual(['nanio-options.toml', 'nanio.service'].map((n) => join(out, n)));
    expect(first.written.map((p) => statSync(p).mode & 0o777)).toEqual([0o600, 0o644]);
    expect(readSimpleToml(readFileSync(first.written[0]!, 'utf8')).users).toEqual([{ access_key: SECRET_ACCESS, secret_key: SECRET_KEY }]);
    // What is returned for printing keeps the placeholders.
    expect(first.config.files[0]!.content).not.toContain(SECRET_KEY);
    // Same content again: fine. Other content: refused, nothing written; --force replaces.
    expect(nodeConfig(portsFor(dir), request('v6-pool', '0', { out })).written).toHaveLength(2);
    expect(() => nodeConfig(portsFor(dir), request('v6-pool', '1', { out }))).toThrow(/already exist.*nothing was written/);
    expect(readFileSync(join(out, 'nanio-options.toml'), 'utf8')).toContain('host = "fd00::11"');
    nodeConfig(portsFor(dir), request('v6-pool', '1', { out, force: true }));
    expect(readFileSync(join(out, 'nanio-options.toml'), 'utf8')).toContain('host = "0.0.0.0"');
  });

  it('--out refuses (writing nothing) when a reference does not resolve, or the pool has no credentials', () => {
    const out = join(dir, 'out-refused');
    delete process.env['NODE_CONFIG_TEST_ACCESS'];
    try {
      expect(() => nodeConfig(portsFor(dir), request('v6-pool', '0', { out }))).toThrow(/NODE_CONFIG_TEST_ACCESS.*nothing was written/);
    } finally {
      process.env['NODE_CONFIG_TEST_ACCESS'] = SECRET_ACCESS;
    }
    expect(() => nodeConfig(portsFor(dir), request('bare', '0', { out }))).toThrow(/Pool "bare" has no credentials.*nothing was written/);
    expect(existsSync(out)).toBe(false);
  });
});
