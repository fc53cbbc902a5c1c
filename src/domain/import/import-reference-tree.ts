import type { Diagnostic } from '../diagnostics.js';
import type { DesiredMigration, DesiredVirtualHost } from '../model/desired-state.js';
import type { ExtraBlock, ExtraBlockZone, PoolType } from '../model/manifest-types.js';
import { checkKeyPrefix, checkResourceName } from '../manifests/value-types.js';
import type { IncludeResolver, NginxDirective } from '../nginx-config/nginx-ast.js';
import { NginxParseError } from '../nginx-config/nginx-parse-error.js';
import { parseNginxConfig } from '../nginx-config/parse-nginx-config.js';
import { fernetDecrypt, FernetError } from './fernet.js';
import { ImportWarnings, type ImportResult, type ImportSecret, type SourceFile } from './import-result.js';
import { filesToMove, parseTree, splitOrigin, TreePools } from './import-nginx-tree.js';
import { poolFromUpstream } from './map-upstream.js';
import { genericRoute, virtualHostFromServer, type RouteForm } from './map-server-block.js';
import { at, describe, resourceNameFrom } from './nginx-source.js';
import { credentialEnvNames } from './reference-credentials.js';
import { referenceMigrations, refusal } from './reference-migrations.js';

export { credentialEnvNames } from './reference-credentials.js';

/**
 * Imports a tree written by the reference tool (nanio-orchestrator), as its documentation describes
 * it. The formats assumed (docs/recovery.md, "Moving from the reference tool"; fixtures in
 * test/fixtures/reference-tool/):
 *
 * - `pools/<name>.conf`: `# managed by nanio-orchestrator`, then one `upstream <name>` block:
 *   least_conn / ip_hash, `server <addr> weight= max_fails= fail_timeout=;` per active member,
 *   `server <addr> backup;` per replica, `keepalive N;`. Disabled members are not written at all.
 * - `pools/<name>.meta.json`: `{pool_id, name, type, description, updated_at, credentials?:
 *   {access_key_enc, secret_key_enc, endpoint_url, region}}`, the keys being Fernet tokens.
 * - `vhosts/<server_name>.conf`: one `server` block: `listen <port> [ssl http2];`, `server_name`,
 *   allow/deny rules, extra blocks of zone top, the certificate pair, zone ssl, its three proxy
 *   settings, zone proxy, one `location /<bucket>/` per enabled route (`proxy_pass`, optionally
 *   after `rewrite ^/<bucket>/(.*)$ /<key prefix>$1 break;`, and its proxy headers), `location /`
 *   to the default pool, during a live migration the split-routing location of the bucket (writes
 *   go to the destination through `error_page 418 = @nanio_mig_<id>`, reads to the source with a
 *   404 fallback to the same named location) and `location @nanio_mig_<id>` to the destination,
 *   then zone end.
 * - `vhosts/<server_name>.meta.json`: `{vhost_id, server_name, default_pool_id, default_pool_name,
 *   ip_rule_mode, ip_rule_ips_json, extra_blocks_json, updated_at}` (sidecar.py: the two `_json`
 *   fields are JSON *strings*; an `extra_blocks` array is read too).
 * - its data directory's `migrations/*.state.json` and `*.done.json` (reference-migrations.ts).
 *
 * Its vhost template has no `location /`: the default pool is only in the sidecar (bucket sync).
 * A TLS server is `listen <port> ssl;` + `http2  on;` (nginx >= 1.25.1 only); orch renders HTTP/2
 * the way the nginx at hand accepts it. Relative certificate paths are resolved as nginx resolves
 * them, against the directory of its main configuration.
 *
 * The `.conf` is what nginx serves, so it is the truth for routing; sidecars add what nginx syntax
 * cannot hold (pool type, description, credentials, where extra blocks came from).
 */
export interface ReferenceImportOptions {
  /** The reference tool's Fernet key (its SECRET setting), to recover credential values. */
  key: string | null;
  /** The directory nginx resolves relative paths against (the directory of its main nginx.conf). */
  confDir?: string;
  /** The files of its data directory's `migrations/` (paths relative to it); null when not given. */
  migrationFiles?: SourceFile[] | null;
}

interface PoolMeta {
  pool_id?: unknown;
  name?: unknown;
  type?: unknown;
  description?: unknown;
  source_nanio_pool_id?: unknown;
  credentials?: { access_key_enc?: unknown; secret_key_enc?: unknown; endpoint_url?: unknown; region?: unknown } | null;
}
interface VhostMeta {
  vhost_id?: unknown;
  default_pool_name?: unknown;
  extra_blocks?: unknown;
  extra_blocks_json?: unknown;
}

/** The sidecar's extra blocks: an `extra_blocks` array, or the JSON string `extra_blocks_json` its code writes. */
function extraBlocksOf(meta: VhostMeta | null): unknown[] {
  if (!meta) return [];
  if (Array.isArray(meta.extra_blocks)) return meta.extra_blocks as unknown[];
  if (typeof meta.extra_blocks_json === 'string') {
    try {
      const v = JSON.parse(meta.extra_blocks_json) as unknown;
      if (Array.isArray(v)) return v as unknown[];
    } catch {
      /* not JSON: nothing recovered from it; the .conf is still imported */
    }
  }
  return [];
}

const ZONES: readonly ExtraBlockZone[] = ['top', 'ssl', 'proxy', 'end'];

function readMeta<T>(files: ReadonlyMap<string, string>, path: string, warnings: ImportWarnings): T | null {
  const text = files.get(path);
  if (text === undefined) return null;
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as T;
  } catch {
    /* reported below */
  }
  warnings.warn(
    'import.sidecar-unreadable',
    `${path} is not a JSON object; what only it holds (pool type, description, credentials, extra block zones) is not imported.`,
    { file: path },
  );
  return null;
}

function signature(d: NginxDirective): string {
  return `${d.name}\u0000${d.args.join('\u0000')}${d.block ? `{${d.block.map(signature).join(';')}}` : ''}`;
}

export function importReferenceTree(
  files: readonly SourceFile[],
  resolver: IncludeResolver | null,
  opts: ReferenceImportOptions,
): ImportResult {
  const warnings = new ImportWarnings();
  const byPath = new Map(files.map((f) => [f.path, f.content]));
  const tree = parseTree(
    files.filter((f) => f.path.endsWith('.conf')),
    resolver,
    warnings,
  );
  const pools = new TreePools(warnings, splitOrigin);
  const secrets: ImportSecret[] = [];
  const refusals: Diagnostic[] = [];
  const confDir = opts.confDir;
  // The reference tool's pool ids, from the sidecars: source_nanio_pool_id names a pool by id.
  const poolNameById = new Map<number, string>();
  for (const f of files) {
    if (!/^pools\/[^/]+\.meta\.json$/.test(f.path)) continue;
    try {
      const m = JSON.parse(f.content) as PoolMeta;
      if (typeof m.pool_id === 'number' && typeof m.name === 'string') poolNameById.set(m.pool_id, m.name);
    } catch {
      /* reported when the pool is imported */
    }
  }
  const blocksOf = new Map<string, Array<{ kind: 'upstream' | 'server'; d: NginxDirective }>>();

  for (const { file, config } of tree.configs) {
    const blocks: Array<{ kind: 'upstream' | 'server'; d: NginxDirective }> = [];
    for (const d of config.directives) {
      if (d.name === 'upstream' && d.block && d.args.length === 1) blocks.push({ kind: 'upstream', d });
      else if (d.name === 'server' && d.block) blocks.push({ kind: 'server', d });
      else
        warnings.warn(
          'import.dropped',
          `${describe(d)} is not something the reference tool writes at the top of a file; not carried.`,
          at(d),
        );
    }
    blocksOf.set(file.path, blocks);
  }

  for (const [path, blocks] of blocksOf) {
    for (const b of blocks.filter((x) => x.kind === 'upstream')) {
      const upstream = b.d.args[0]!;
      const name =
        checkResourceName(upstream) === null && !pools.names.has(upstream) ? upstream : resourceNameFrom(upstream, pools.names, 'pool');
      pools.names.add(name);
      const meta = readMeta<PoolMeta>(byPath, path.replace(/\.conf$/, '.meta.json'), warnings);
      let type: PoolType | null = meta?.type === 'nanio' || meta?.type === 'http' ? meta.type : null;
      if (type === null)
        warnings.warn(
          'import.pool-type',
          `pool ${name}: no sidecar gives its type; imported as http.`,
          at(b.d),
          'Set type: nanio if its members are nanio servers.',
        );
      const pool = poolFromUpstream(b.d, name, type, splitOrigin('Pool', name), warnings);
      type = pool.type;
      if (typeof meta?.description === 'string' && meta.description !== '')
        pool.description = meta.description.replace(/[\u0000-\u001f\u007f]+/g, ' ');
      if (meta?.source_nanio_pool_id !== undefined && meta.source_nanio_pool_id !== null) {
        const id = meta.source_nanio_pool_id;
        const src = typeof id === 'number' ? poolNameById.get(id) : undefined;
        warnings.warn(
          'import.not-modelled',
          `pool ${name}: the reference tool records it as serving the files of nanio pool ${src ?? `id ${String(id)}`} (source_nanio_pool_id); orch has no such field, so it is not carried. Routing does not depend on it (the reference tool used it to re-point http virtual hosts after a migration).`,
          { file: path.replace(/\.conf$/, '.meta.json') },
          `After a migration off ${src ?? 'that pool'}, change the routes of this pool's virtual hosts yourself.`,
        );
      }
      const creds = meta?.credentials;
      if (creds && typeof creds === 'object') {
        if (type !== 'nanio') {
          warnings.warn(
            'import.dropped',
            `pool ${name}: credentials on an http pool are not imported (orch gives credentials to nanio pools only).`,
            { file: path },
          );
        } else {
          const env = credentialEnvNames(name);
          pool.credentials = { accessKeyId: { env: env.accessKeyId }, secretAccessKey: { env: env.secretAccessKey } };
          recoverSecrets(name, creds, env, opts.key, secrets, warnings, path);
          const metaPath = path.replace(/\.conf$/, '.meta.json');
          if (typeof creds.region === 'string' && creds.region !== '' && creds.region !== 'us-east-1')
            warnings.warn(
              'import.not-modelled',
              `pool ${name}: its credentials name region ${creds.region}; orch signs its requests to the pool's members for us-east-1 (nanio accepts any region), so the region is not carried.`,
              { file: metaPath },
              `If the members check the region, make them accept us-east-1 (orch node-config ${name} --region us-east-1 writes such a member configuration).`,
            );
          if (typeof creds.endpoint_url === 'string' && creds.endpoint_url !== '')
            warnings.warn(
              'import.not-modelled',
              `pool ${name}: its credentials name the endpoint ${creds.endpoint_url}; orch talks to the pool's members directly (the upstream's servers), so the endpoint is not carried.`,
              { file: metaPath },
              'Make sure orch can reach the members at the addresses of the upstream block.',
            );
        }
      }
      pools.add(upstream, pool);
    }
  }

  const routeNames = new Set<string>();
  const vhostNames = new Set<string>();
  const vhostOf = new Map<NginxDirective, string>();
  const virtualHosts: DesiredVirtualHost[] = [];
  const vhostById = new Map<number, DesiredVirtualHost>();
  for (const [path, blocks] of blocksOf) {
    for (const b of blocks.filter((x) => x.kind === 'server')) {
      const base = path.slice(path.lastIndexOf('/') + 1).replace(/\.conf$/, '');
      const name = checkResourceName(base) === null && !vhostNames.has(base) ? base : resourceNameFrom(base, vhostNames, 'vhost');
      vhostNames.add(name);
      vhostOf.set(b.d, name);
      const meta = readMeta<VhostMeta>(byPath, path.replace(/\.conf$/, '.meta.json'), warnings);
      const consumed = new Set<NginxDirective>();
      const extraBlocks = sidecarExtraBlocks(b.d, meta, consumed, warnings, path);
      const migrations = migrationLocations(b.d, pools, consumed);
      const vhost = virtualHostFromServer(b.d, {
        name,
        origin: splitOrigin('VirtualHost', name),
        texts: tree.texts,
        pools,
        warnings,
        routeNames,
        consumed,
        extraBlocks,
        routeOf: (loc) => {
          const mig = migrations.get(loc);
          if (mig) {
            const id = mig.named.replace(/^@nanio_mig_/, '');
            refusal(
              refusals,
              'import.migration-split',
              `location ${loc.args[0]} is the split routing of a live migration (${mig.named}): writes go to pool ${mig.destination}, reads to pool ${mig.source} with a fallback to ${mig.destination}. orch cannot route a bucket this way, and taking the migration over would send writes back to ${mig.source}, where the ones written since are missing.`,
              loc.file,
              `Let migration ${id} finish in the reference tool (or cancel it there: POST /api/migrations/${id}/cancel), then run orch import again.`,
              loc.line,
            );
            return { pool: mig.source, keyPrefix: null };
          }
          return referenceKeyPrefixRoute(loc, pools, warnings);
        },
        routeOrigin: (r) => splitOrigin('Route', r),
        ...(confDir === undefined ? {} : { confDir }),
      });
      if (typeof meta?.vhost_id === 'number') vhostById.set(meta.vhost_id, vhost);
      const metaDefault = typeof meta?.default_pool_name === 'string' ? meta.default_pool_name : null;
      if (metaDefault !== null && vhost.defaultPool === null) {
        warnings.warn(
          'import.default-pool',
          `VirtualHost ${name}: the sidecar names default pool ${metaDefault} (the reference tool used it for bucket sync only: its .conf has no "location /"); imported without a default pool, so requests that match no route are not sent to ${metaDefault}: they get orch's 404 where nginx answered with its static files (the routing check lists them).`,
          at(b.d),
          `To send them to the pool, set spec.defaultPool: ${metaDefault} in vhosts/${name}.yaml (a routing change: review the plan).`,
        );
      }
      virtualHosts.push(vhost);
    }
  }

  const moved = filesToMove(blocksOf, (b) =>
    b.kind === 'upstream' ? `pools/${pools.byUpstream.get(b.d.args[0]!)?.name}.conf` : `vhosts/${vhostOf.get(b.d)}.conf`,
  );
  const allPools = pools.all().sort((a, b) => (a.name < b.name ? -1 : 1));
  let migrations: DesiredMigration[] = [];
  if (opts.migrationFiles === undefined || opts.migrationFiles === null) {
    warnings.warn(
      'import.migrations-not-read',
      "the reference tool's migration state files were not read: a migration it is running is neither carried on nor checked.",
      { file: '.' },
      'Import again with --reference-data /opt/nanio-orchestrator/data (its data directory, holding migrations/).',
    );
  } else {
    migrations = referenceMigrations(opts.migrationFiles, { vhostById, pools: allPools, migrationNames: new Set(), warnings, refusals });
  }
  const poolOf = new Map<string, string>([...pools.byUpstream].map(([upstream, p]) => [upstream, p.name]));
  return {
    source: 'nanio-orchestrator',
    desired: {
      pools: allPools,
      virtualHosts: virtualHosts.sort((a, b) => (a.name < b.name ? -1 : 1)),
      migrations: migrations.sort((a, b) => (a.name < b.name ? -1 : 1)),
    },
    layout: 'split',
    warnings: warnings.list,
    secrets,
    filesToMove: moved,
    refusals,
    routing: {
      servers: [...blocksOf.values()]
        .flat()
        .filter((b) => b.kind === 'server')
        .map((b) => b.d),
      poolOf,
    },
  };
}

function recoverSecrets(
  pool: string,
  creds: { access_key_enc?: unknown; secret_key_enc?: unknown },
  env: { accessKeyId: string; secretAccessKey: string },
  key: string | null,
  secrets: ImportSecret[],
  warnings: ImportWarnings,
  path: string,
): void {
  if (key === null) {
    warnings.warn(
      'import.credentials-encrypted',
      `pool ${pool}: its credentials are encrypted; imported as references to ${env.accessKeyId} and ${env.secretAccessKey}, without values.`,
      { file: path },
      "Pass the reference tool's SECRET with --reference-key (or --reference-key-file) to recover them into the credentials env file.",
    );
    return;
  }
  const pairs: Array<[string, unknown]> = [
    [env.accessKeyId, creds.access_key_enc],
    [env.secretAccessKey, creds.secret_key_enc],
  ];
  for (const [name, token] of pairs) {
    if (typeof token !== 'string') {
      warnings.warn('import.credentials-unreadable', `pool ${pool}: the sidecar holds no encrypted value for ${name}.`, { file: path });
      continue;
    }
    try {
      secrets.push({ env: name, value: fernetDecrypt(key, token), pool });
    } catch (e) {
      if (!(e instanceof FernetError)) throw e;
      warnings.warn(
        'import.credentials-unreadable',
        `pool ${pool}: ${name} cannot be decrypted (${e.message}); imported as a reference without a value.`,
        { file: path },
      );
    }
  }
}

/**
 * The sidecar's extra blocks, kept with their zones when the `.conf` holds every directive of the
 * block (then those directives are accounted for); a block the `.conf` no longer holds is left out,
 * the `.conf` being what nginx serves.
 */
function sidecarExtraBlocks(
  server: NginxDirective,
  meta: VhostMeta | null,
  consumed: Set<NginxDirective>,
  warnings: ImportWarnings,
  path: string,
): ExtraBlock[] {
  const out: ExtraBlock[] = [];
  const body = server.block ?? [];
  for (const raw of extraBlocksOf(meta)) {
    const b = raw as { zone?: unknown; content?: unknown };
    if (typeof b?.content !== 'string' || !ZONES.includes(b.zone as ExtraBlockZone)) continue;
    let directives: NginxDirective[];
    try {
      directives = parseNginxConfig(b.content, { file: `${path} extra block` }).directives;
    } catch (e) {
      if (!(e instanceof NginxParseError)) throw e;
      continue;
    }
    const matched: NginxDirective[] = [];
    for (const d of directives) {
      const sig = signature(d);
      const found = body.find((x) => !consumed.has(x) && !matched.includes(x) && signature(x) === sig);
      if (!found) break;
      matched.push(found);
    }
    if (matched.length !== directives.length) {
      warnings.warn(
        'import.extra-block-missing',
        `an extra block of zone ${String(b.zone)} in the sidecar is not (all) in the .conf; what the .conf holds is imported instead.`,
        { file: path.replace(/\.conf$/, '.meta.json') },
      );
      continue;
    }
    for (const d of matched) consumed.add(d);
    if (directives.length > 0) out.push({ zone: b.zone as ExtraBlockZone, content: b.content });
  }
  return out;
}

/**
 * The reference tool's live-migration split routing: a bucket location whose writes are sent with
 * `error_page 418 = @name` (and reads that 404 with `error_page 404 = @name`) to a named location
 * proxying to the destination. Returns, per such location, its source and destination; the named
 * locations are accounted for (no route is ever made from them).
 */
function migrationLocations(
  server: NginxDirective,
  pools: TreePools,
  consumed: Set<NginxDirective>,
): Map<NginxDirective, { source: string; destination: string; named: string }> {
  const out = new Map<NginxDirective, { source: string; destination: string; named: string }>();
  const body = server.block ?? [];
  const named = new Map(
    body.filter((d) => d.name === 'location' && d.args.length === 1 && d.args[0]!.startsWith('@')).map((d) => [d.args[0]!, d]),
  );
  for (const loc of body) {
    if (loc.name !== 'location' || loc.args.length !== 1 || !loc.block) continue;
    const pages = loc.block.filter((d) => d.name === 'error_page' && d.args.length === 3 && d.args[1] === '=');
    const to418 = pages.find((d) => d.args[0] === '418')?.args[2];
    const to404 = pages.find((d) => d.args[0] === '404')?.args[2];
    const guard = loc.block.find((d) => d.name === 'if' && d.block?.some((r) => r.name === 'return' && r.args[0] === '418'));
    const pass = loc.block.find((d) => d.name === 'proxy_pass');
    const target = to418 !== undefined && to418 === to404 ? named.get(to418) : undefined;
    const dstPass = target?.block?.find((d) => d.name === 'proxy_pass');
    if (!guard || !pass || !target || !dstPass) continue;
    const src = /^http:\/\/([^/]+)$/.exec(pass.args[0] ?? '')?.[1];
    const dst = /^http:\/\/([^/]+)$/.exec(dstPass.args[0] ?? '')?.[1];
    if (!src || !dst) continue;
    const source = pools.poolFor(src, pass);
    const destination = pools.byUpstream.get(dst)?.name ?? dst;
    if (!source) continue;
    out.set(loc, { source, destination, named: to418! });
    consumed.add(target);
  }
  return out;
}

/**
 * The reference tool's key prefix form: `rewrite ^/<bucket>/(.*)$ /<key prefix>$1 break;`, which
 * replaces the bucket segment. It maps to an orch key prefix only when the reference key prefix
 * starts with the bucket (`photos/archive/` -> keyPrefix `archive/`); otherwise the location is
 * carried verbatim.
 */
function referenceKeyPrefixRoute(loc: NginxDirective, pools: TreePools, warnings: ImportWarnings): RouteForm | null {
  const rewrite = loc.block?.find((d) => d.name === 'rewrite');
  if (!rewrite || loc.args.length !== 1) return null;
  const path = loc.args[0]!;
  const [pattern, replacement, flag] = rewrite.args;
  const escaped = path.replace(/[.*+?^$()[\]|\\]/g, '\\$&');
  if (flag !== 'break' || (pattern !== `^${path}(.*)$` && pattern !== `^${escaped}(.*)$`) || !replacement?.endsWith('$1')) return null;
  const refPrefix = replacement.slice(0, -2);
  if (!refPrefix.startsWith(path)) {
    warnings.warn(
      'import.key-prefix-other-bucket',
      `location ${path}: its key prefix ${refPrefix.slice(1)} replaces the bucket (${path} -> ${refPrefix}), which an orch keyPrefix cannot do (it stays inside the bucket); the location is carried verbatim into extraBlocks (zone end), so it routes as before.`,
      at(rewrite),
      `To make it a Route, move the objects to bucket ${path.replace(/\//g, '')} under a prefix (or route ${refPrefix} itself).`,
    );
    return null;
  }
  const keyPrefix = refPrefix.slice(path.length);
  if (keyPrefix === '' || checkKeyPrefix(keyPrefix) !== null) return null;
  const others = (loc.block ?? []).filter((d) => d !== rewrite);
  const seen = new Map<string, string>();
  const form = genericRoute({ ...loc, block: others }, { pools }, seen);
  if (!form) return null;
  warnings.warn(
    'import.key-prefix',
    `location ${path}: its key prefix ${refPrefix.slice(1)} is imported as keyPrefix ${keyPrefix}; a request for ${path} itself (listing the bucket) is no longer rewritten.`,
    at(rewrite),
  );
  return { pool: form.pool, keyPrefix };
}
