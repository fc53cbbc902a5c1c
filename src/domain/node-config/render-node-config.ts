import { UserError } from '../errors.js';
import { assertSafePath, assertSafeUser } from '../install/install-values.js';
import { canonicalMemberAddress, checkMemberAddress, splitHostPort } from '../manifests/value-types.js';
import type { DesiredMember, DesiredPool, DesiredState } from '../model/desired-state.js';
import type { SecretRef } from '../model/manifest-types.js';
import { commentText, nginxInteger, nginxToken, resourceName } from '../render/nginx-syntax.js';

/**
 * `orch node-config`: configuration for a pool member, rendered only (never deployed), from the
 * pool's manifest. nanio pools: a nanio options file (TOML, `nanio serve --options`) whose
 * `[[users]]` are the credentials nanio accepts (with `--options`, nanio reads them from there
 * only), and a systemd unit. http pools: an nginx server block serving files.
 *
 * Secret values never reach this module's printable output: each credential is written through a
 * `reveal` function, which gives placeholders for printing; the use case renders a second time
 * with the values only to write the file (`--out`, mode 0600).
 */

export interface NodeConfigOptions {
  orchVersion: string;
  /** nanio: data directory (shared storage: every member of a nanio pool serves the same files). */
  dataDir: string;
  /** nanio: the `nanio` executable for ExecStart. */
  nanioBin: string;
  /** nanio: the system user of the service. */
  user: string;
  /** nanio: where the options and environment files go on the member. */
  configDir: string;
  /** nanio: the S3 region nanio reports. */
  region: string;
  /** http: the directory the file server serves. */
  root: string;
}

export const NODE_CONFIG_DEFAULTS = {
  dataDir: '/var/lib/nanio',
  nanioBin: '/usr/local/bin/nanio',
  user: 'nanio',
  configDir: '/etc/nanio',
  region: 'us-east-1',
  root: '/srv/files',
} as const;

export interface NodeConfigFile {
  /** File name (in --out, and in the printed header). */
  name: string;
  /** Where it goes on the member. */
  installAs: string;
  mode: number;
  content: string;
}

export interface SelectedMember {
  /** Index in spec.members (0-based), or null for a new member. */
  index: number | null;
  address: string | null;
  member: DesiredMember | null;
}

export interface NodeConfig {
  pool: string;
  type: DesiredPool['type'];
  member: SelectedMember;
  /** Address the server listens on (bind host) and its port. */
  listen: { host: string; port: number };
  files: NodeConfigFile[];
  nextSteps: string[];
}

/** The pool named `name`, or a UserError listing the pools of the manifests. */
export function findPool(desired: DesiredState, name: string, manifests: string): DesiredPool {
  const pool = desired.pools.find((p) => p.name === name);
  if (pool) return pool;
  const list = desired.pools.map((p) => `${p.name} (${p.type})`).join(', ');
  throw new UserError('node-config.unknown-pool', `No pool "${name}" in the manifests at ${manifests}.`, {
    hint:
      desired.pools.length > 0
        ? `Pools: ${list}.`
        : "These manifests define no Pool. Point --manifests (or ORCH_MANIFESTS, or the config file) at the gateway's manifests.",
  });
}

/** MEMBER: an address of the pool (as written, or the same address canonicalised), or an index from 0. */
export function selectMember(pool: DesiredPool, selector: string | null): SelectedMember {
  if (selector === null) return { index: null, address: null, member: null };
  let index = pool.members.findIndex((m) => m.address === selector);
  if (index === -1 && checkMemberAddress(selector) === null)
    index = pool.members.findIndex((m) => canonicalMemberAddress(m.address) === canonicalMemberAddress(selector));
  if (index === -1 && /^\d{1,6}$/.test(selector) && Number(selector) < pool.members.length) index = Number(selector);
  const member = index === -1 ? undefined : pool.members[index];
  if (!member) {
    throw new UserError('node-config.unknown-member', `Pool "${pool.name}" has no member "${selector}".`, {
      hint: `Members (index: address): ${pool.members.map((m, i) => `${i}: ${m.address}`).join(', ')}. Omit MEMBER for a new member.`,
    });
  }
  return { index, address: member.address, member };
}

function memberListen(pool: DesiredPool, sel: SelectedMember): { host: string; port: number } {
  const fallback = pool.type === 'nanio' ? 9000 : 8080;
  if (sel.address) {
    const hp = splitHostPort(sel.address);
    if (!hp || checkMemberAddress(sel.address) !== null)
      throw new Error(`node-config: member address ${JSON.stringify(sel.address)} was not validated`);
    // Bind the member's own address when it is an IP literal; a DNS name may resolve to anything.
    const ip = /^[0-9.]+$/.test(hp.host) || hp.ipv6;
    return { host: ip ? hp.host : '0.0.0.0', port: hp.port };
  }
  // A new member: the port the pool's members share, if they all share one.
  const ports = new Set(pool.members.map((m) => splitHostPort(m.address)?.port ?? fallback));
  return { host: '0.0.0.0', port: ports.size === 1 ? [...ports][0]! : fallback };
}

function who(pool: DesiredPool, sel: SelectedMember): string {
  if (sel.index === null) return `a new member of pool "${pool.name}"`;
  const m = sel.member!;
  const notes = [pool.type === 'http' ? m.role : null, m.enabled ? null : 'disabled in the manifest'].filter(Boolean);
  return `member ${sel.address} (spec.members[${sel.index}]${notes.length > 0 ? `, ${notes.join(', ')}` : ''}) of pool "${pool.name}"`;
}

function refText(ref: SecretRef): string {
  if ('env' in ref) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(ref.env)) throw new Error('node-config: env reference was not validated');
    return `the value of the environment variable ${ref.env} of orch on the gateway`;
  }
  return `the contents of ${assertSafePath(ref.file, 'credential file')} on the gateway`;
}

/** A user of the nanio options file: where its credentials come from (references), and for whom. */
export interface NodeUser {
  accessKeyId: SecretRef;
  secretAccessKey: SecretRef;
  /** Who uses it, for the comment above the entry. */
  role: string;
}

/** How a credential reference is written into the options file: a placeholder, or (--out) its value. */
export type RevealRef = (ref: SecretRef) => string;

/** Placeholders naming where the gateway reads each value: what is printed. */
export const placeholderFor: RevealRef = (ref) =>
  'env' in ref ? `<value of ${ref.env}>` : `<contents of ${assertSafePath(ref.file, 'credential file')}>`;

/**
 * The users a nanio pool's members must accept: orch's credentials for the pool, then the client
 * identities of every virtual host (a bucket may be routed or migrated to any pool, and its
 * clients keep signing with their keys), each reference pair once.
 */
export function nanioUsers(desired: DesiredState, pool: DesiredPool): NodeUser[] {
  const users: NodeUser[] = [];
  const seen = new Set<string>();
  const add = (u: NodeUser) => {
    const key = JSON.stringify([u.accessKeyId, u.secretAccessKey]);
    if (seen.has(key)) return;
    seen.add(key);
    users.push(u);
  };
  if (pool.credentials) add({ ...pool.credentials, role: `orch's credentials for pool ${pool.name} (bucket sync, migrations)` });
  for (const v of desired.virtualHosts) {
    (v.clientIdentities ?? []).forEach((c, i) =>
      add({ accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, role: `client identity ${i} of virtual host ${v.name}` }),
    );
  }
  return users;
}

/** A TOML basic string: JSON's escapes are TOML's (\" \\ \n \uXXXX). */
function tomlString(value: string): string {
  return JSON.stringify(value).replace(/\u007f/g, '\\u007f');
}

export function renderNodeConfig(
  desired: DesiredState,
  pool: DesiredPool,
  sel: SelectedMember,
  o: NodeConfigOptions,
  reveal: RevealRef = placeholderFor,
  users: readonly NodeUser[] = nanioUsers(desired, pool),
): NodeConfig {
  const name = resourceName(pool.name, 'pool name');
  const listen = memberListen(pool, sel);
  const header = (file: string) => [
    `# ${file} for ${commentText(who(pool, sel))}.`,
    `# Written by 'orch node-config' (orch ${o.orchVersion}) from ${commentText(pool.origin.file)}. Rendered only: orch never deploys it.`,
  ];
  const files =
    pool.type === 'nanio' ? nanioFiles(pool, sel, listen, o, header, reveal, users) : [httpServerBlock(desired, pool, listen, o, header)];
  const nextSteps: string[] = [];
  if (pool.type === 'nanio') {
    const user = assertSafeUser(o.user, 'user');
    nextSteps.push(
      `useradd --system --no-create-home --shell /usr/sbin/nologin ${user}`,
      `mkdir -p ${o.dataDir} ${o.configDir} && chown ${user}:${user} ${o.dataDir}   # ${o.dataDir}: the pool's shared storage, mounted on every member`,
      `install -m 0600 -o ${user} -g ${user} nanio-options.toml ${o.configDir}/options.toml   # printed: replace each <...> with the value (or write it with --out)`,
      'install -m 0644 nanio.service /etc/systemd/system/nanio.service',
      'systemctl daemon-reload && systemctl enable --now nanio   # nanio needs NTP: SigV4 allows 15 minutes of clock skew',
    );
  } else {
    nextSteps.push(
      `install -m 0644 ${name}-file-server.conf /etc/nginx/conf.d/${name}-file-server.conf   # inside http { } (Debian: conf.d is included there)`,
      `mkdir -p ${o.root}   # the files, laid out by request path (see the comments in the file)`,
      'nginx -t && systemctl reload nginx',
    );
  }
  if (sel.index === null) {
    nextSteps.push(
      `Add the member to pool "${name}" in ${pool.origin.file}: spec.members: - address: <this host>:${listen.port}, then orch plan and orch apply on the gateway.`,
    );
  }
  return { pool: name, type: pool.type, member: sel, listen, files, nextSteps };
}

function nanioFiles(
  pool: DesiredPool,
  sel: SelectedMember,
  listen: { host: string; port: number },
  o: NodeConfigOptions,
  header: (f: string) => string[],
  reveal: RevealRef,
  users: readonly NodeUser[],
): NodeConfigFile[] {
  const dataDir = assertSafePath(o.dataDir, 'data directory');
  const configDir = assertSafePath(o.configDir, 'config directory');
  const nanioBin = assertSafePath(o.nanioBin, 'nanio binary');
  const user = assertSafeUser(o.user, 'user');
  if (!/^[a-z0-9-]{1,32}$/.test(o.region)) throw new Error(`node-config: region ${JSON.stringify(o.region)} was not validated`);
  if (!/^[0-9a-fA-F.:]+$/.test(listen.host)) throw new Error(`node-config: bind host ${JSON.stringify(listen.host)}`);
  const port = nginxInteger(listen.port, 'port');
  const optionsPath = `${configDir}/options.toml`;

  const userLines: string[] = [];
  if (users.length === 0) {
    userLines.push(
      `# Pool "${pool.name}" has no credentials in its manifest: add spec.credentials (env or file`,
      '# references) to it, so that orch can reach the members, and render this file again.',
      '# nanio refuses to start without at least one [[users]] entry.',
      '[[users]]',
      'access_key = "<access key>"',
      'secret_key = "<secret key>"',
      '',
    );
  }
  for (const u of users) {
    userLines.push(
      `# ${commentText(u.role)}:`,
      `#   access_key: ${refText(u.accessKeyId)}`,
      `#   secret_key: ${refText(u.secretAccessKey)}`,
      '[[users]]',
      `access_key = ${tomlString(reveal(u.accessKeyId))}`,
      `secret_key = ${tomlString(reveal(u.secretAccessKey))}`,
      '',
    );
  }

  const options = [
    ...header('nanio options'),
    `# Install as ${optionsPath} (owner ${user}, mode 0600: it holds secrets); nanio serve --options ${optionsPath}.`,
    '# nanio merges: command-line flag > NANIO_* environment variable > this file > default. With',
    '# --options, nanio reads credentials from the [[users]] below only (NANIO_ACCESS_KEY is ignored).',
    '[server]',
    `# Shared storage: every member of a nanio pool serves the same buckets from the same files.`,
    `data_dir = "${dataDir}"`,
    listen.host === '0.0.0.0'
      ? "# Every interface; put this member's own address here to listen on it only."
      : '# The member\'s address in the pool manifest; "0.0.0.0" listens on every interface.',
    `host = "${listen.host}"`,
    `port = ${port}`,
    `region = "${o.region}"`,
    '',
    '# Who may sign requests. Every member of the pool must accept the same users.',
    ...userLines,
  ].join('\n');

  const privileged = listen.port < 1024;
  const unit = [
    ...header('nanio.service'),
    '# Install as /etc/systemd/system/nanio.service.',
    '[Unit]',
    `Description=nanio S3 server (pool ${pool.name}${sel.address ? `, member ${sel.address}` : ''})`,
    'After=network-online.target remote-fs.target time-sync.target',
    'Wants=network-online.target',
    `RequiresMountsFor=${dataDir}`,
    'StartLimitIntervalSec=600',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=simple',
    `User=${user}`,
    `Group=${user}`,
    `ExecStart=${nanioBin} serve --options ${optionsPath}`,
    'Restart=on-failure',
    'RestartSec=5',
    'UMask=0027',
    'LimitNOFILE=65536',
    'NoNewPrivileges=yes',
    ...(privileged
      ? ['# Port below 1024.', 'AmbientCapabilities=CAP_NET_BIND_SERVICE', 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE']
      : ['CapabilityBoundingSet=']),
    'ProtectSystem=strict',
    `ReadWritePaths=${dataDir}`,
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
    'RestrictNamespaces=yes',
    'LockPersonality=yes',
    'RestrictRealtime=yes',
    'SystemCallArchitectures=native',
    'SystemCallFilter=@system-service',
    'SystemCallErrorNumber=EPERM',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');

  return [
    { name: 'nanio-options.toml', installAs: optionsPath, mode: 0o600, content: options },
    { name: 'nanio.service', installAs: '/etc/systemd/system/nanio.service', mode: 0o644, content: unit },
  ];
}

function httpServerBlock(
  desired: DesiredState,
  pool: DesiredPool,
  listen: { host: string; port: number },
  o: NodeConfigOptions,
  header: (f: string) => string[],
): NodeConfigFile {
  const name = resourceName(pool.name, 'pool name');
  const root = nginxToken(assertSafePath(o.root, 'root'), 'root');
  const port = nginxInteger(listen.port, 'listen port');
  // Where the gateway's requests land: nginx proxies the request URI unchanged (a route's keyPrefix
  // is inserted after the route path), so files are laid out by path below the root.
  const layout: string[] = [];
  for (const vh of desired.virtualHosts) {
    for (const r of vh.routes) {
      if (r.pool !== pool.name || !r.enabled) continue;
      const base = r.path.endsWith('/') ? r.path : `${r.path}/`;
      layout.push(`#   ${vh.name} ${r.path} -> ${root}${base}${r.keyPrefix ?? ''}<key>`);
    }
    if (vh.defaultPool === pool.name) layout.push(`#   ${vh.name} (default pool: every other path) -> ${root}<path>`);
  }
  const content = [
    ...header('nginx file server'),
    `# Install in the http { } block of the member's nginx, e.g. /etc/nginx/conf.d/${name}-file-server.conf.`,
    '# The gateway forwards the request URI unchanged, so a request reads <root><uri>:',
    ...(layout.length > 0 ? layout.map(commentText) : ['#   (no route or virtual host uses this pool yet)']),
    'server {',
    `    listen ${port};`,
    '    server_name _;',
    `    root ${root};`,
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
  ].join('\n');
  return { name: `${name}-file-server.conf`, installAs: `/etc/nginx/conf.d/${name}-file-server.conf`, mode: 0o644, content };
}
