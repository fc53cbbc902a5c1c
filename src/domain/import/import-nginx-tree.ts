import type { DesiredPool, DesiredVirtualHost, Origin } from '../model/desired-state.js';
import { checkMemberAddress, checkResourceName } from '../manifests/value-types.js';
import type { IncludeResolver, NginxConfig, NginxDirective } from '../nginx-config/nginx-ast.js';
import { NginxParseError } from '../nginx-config/nginx-parse-error.js';
import { parseNginxConfig } from '../nginx-config/parse-nginx-config.js';
import { ImportWarnings, type ImportResult, type SourceFile } from './import-result.js';
import { poolFromUpstream } from './map-upstream.js';
import { virtualHostFromServer, type PoolResolver, type ServerImportOptions } from './map-server-block.js';
import { at, describe, resourceNameFrom } from './nginx-source.js';
import { inlineMap, mapsFor, type InlineMap } from './inline-maps.js';

/**
 * A directory of nginx files, parsed: each `*.conf` with its includes followed through the resolver
 * the caller gives (the core reads no file), and the text of every file a directive came from.
 */
export interface ParsedTree {
  configs: Array<{ file: SourceFile; config: NginxConfig }>;
  texts: Map<string, string>;
}

export function parseTree(files: readonly SourceFile[], resolver: IncludeResolver | null, warnings: ImportWarnings): ParsedTree {
  const texts = new Map<string, string>(files.map((f) => [f.path, f.content]));
  const tracking: IncludeResolver | null = resolver
    ? (pattern, from) => {
        const found = resolver(pattern, from);
        for (const f of found ?? []) texts.set(f.file, f.text);
        return found;
      }
    : null;
  const configs: ParsedTree['configs'] = [];
  for (const file of files) {
    if (!file.path.endsWith('.conf')) continue;
    try {
      configs.push({
        file,
        config: parseNginxConfig(file.content, { file: file.path, ...(tracking ? { includeResolver: tracking } : {}) }),
      });
    } catch (e) {
      if (!(e instanceof NginxParseError)) throw e;
      warnings.warn(
        'import.unreadable',
        `${file.path} is not valid nginx syntax (${e.reason}); it is not imported.`,
        { file: e.file, line: e.line, column: e.column },
        'nginx cannot be loading this file as it is: check whether it is included at all.',
      );
    }
  }
  // A file another one includes is read there, in place: it is not a configuration of its own.
  const included = new Set(configs.flatMap((c) => c.config.includes.flatMap((i) => i.resolved)));
  return { configs: configs.filter((c) => !included.has(c.file.path)), texts };
}

/** The pools of a tree: every upstream, plus one pool per literal `proxy_pass` address (created on demand). */
export class TreePools implements PoolResolver {
  /** Pool by the upstream name nginx knows it by. */
  readonly byUpstream = new Map<string, DesiredPool>();
  readonly names = new Set<string>();
  readonly implicit: DesiredPool[] = [];

  constructor(
    private readonly warnings: ImportWarnings,
    private readonly originOf: (kind: string, name: string) => Origin,
  ) {}

  add(upstreamName: string, pool: DesiredPool): void {
    this.byUpstream.set(upstreamName, pool);
  }

  poolFor(target: string, d: NginxDirective): string | null {
    const known = this.byUpstream.get(target);
    if (known) return known.name;
    // Not an upstream in this tree: nginx resolves it as a host (with port 80 when none is given).
    const address = /:[0-9]+$/.test(target) && !target.endsWith(']') ? target : `${target}:80`;
    if (checkMemberAddress(address) !== null) return null;
    const name = resourceNameFrom(
      checkResourceName(target) === null ? target : address.replace(/[[\]]/g, '').replace(/:/g, '-'),
      this.names,
      'pool',
    );
    const pool: DesiredPool = {
      name,
      type: 'http',
      description: `imported: proxy_pass http://${target}`,
      loadBalancing: 'round_robin',
      keepalive: null,
      members: [{ address, weight: 1, maxFails: 1, failTimeout: '10s', enabled: true, role: 'primary' }],
      credentials: null,
      origin: this.originOf('Pool', name),
    };
    this.byUpstream.set(target, pool);
    this.implicit.push(pool);
    this.warnings.warn(
      'import.implicit-pool',
      `${describe(d)}: ${target} is not an upstream of the imported directory; imported as pool ${name} with the single member ${address} (nginx resolves it the same way).`,
      at(d),
      `If ${target} is an upstream defined elsewhere (nginx.conf), import that directory too: nginx would refuse two upstreams of that name.`,
    );
    return name;
  }

  all(): DesiredPool[] {
    return [...this.byUpstream.values()].filter((p, i, list) => list.indexOf(p) === i);
  }
}

export function splitOrigin(kind: string, name: string): Origin {
  return { file: '', index: 0, kind, name };
}

/** The basename of a `.conf` path: `vhosts/s3.conf` -> `s3`. */
function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1).replace(/\.conf$/, '');
}

/**
 * Imports a hand-written tree: upstream blocks become Pools (named as nginx knows them), server
 * blocks VirtualHosts with Routes (see map-server-block.ts). A file holding exactly one upstream
 * at `pools/<name>.conf` or one server at `vhosts/<name>.conf` keeps its name, so orch's first
 * apply replaces it in place (adopts it); any other file must leave nginx's include path first.
 */
export function importNginxTree(
  files: readonly SourceFile[],
  resolver: IncludeResolver | null,
  importOpts: { confDir?: string } = {},
): ImportResult {
  const warnings = new ImportWarnings();
  const tree = parseTree(files, resolver, warnings);
  const pools = new TreePools(warnings, splitOrigin);
  const servers: Array<{ d: NginxDirective; file: SourceFile; single: boolean }> = [];
  const maps: InlineMap[] = [];
  const blocksOf = new Map<string, Array<{ kind: 'upstream' | 'server'; d: NginxDirective }>>();

  for (const { file, config } of tree.configs) {
    const blocks: Array<{ kind: 'upstream' | 'server'; d: NginxDirective }> = [];
    for (const d of config.directives) {
      if (d.name === 'upstream' && d.block && d.args.length === 1) blocks.push({ kind: 'upstream', d });
      else if (d.name === 'server' && d.block) blocks.push({ kind: 'server', d });
      else if (d.name === 'http' || d.name === 'events' || d.name === 'stream') {
        warnings.warn(
          'import.dropped',
          `${file.path} holds a main configuration (${d.name} block); it is not imported.`,
          at(d),
          'Import the directory its include directives read (the one holding the upstream and server files).',
        );
      } else if (d.name === 'map' && d.block) {
        const m = inlineMap(d);
        if ('problem' in m)
          warnings.warn(
            'import.dropped',
            `${describe(d)} is an http-level map orch cannot carry into the virtual hosts that use it (${m.problem}); not carried.`,
            at(d),
            `Keep it in nginx's main configuration (outside the managed directory), or rewrite it with plain keys and regular expressions and import again.`,
          );
        else maps.push(m);
      } else {
        warnings.warn(
          'import.dropped',
          `${describe(d)} is an http-level directive, which no manifest holds; not carried.`,
          at(d),
          'Keep it in a file outside the managed directory (for example nginx.conf), where orch never writes.',
        );
      }
    }
    blocksOf.set(file.path, blocks);
    const serversHere = blocks.filter((b) => b.kind === 'server');
    for (const b of serversHere) servers.push({ d: b.d, file, single: serversHere.length === 1 });
  }

  // Pools first: servers refer to them by name.
  for (const [path, blocks] of blocksOf) {
    for (const b of blocks.filter((x) => x.kind === 'upstream')) {
      const upstream = b.d.args[0]!;
      if (pools.byUpstream.has(upstream)) {
        warnings.warn('import.dropped', `upstream ${upstream} is defined twice; the second definition (${path}) is not imported.`, at(b.d));
        continue;
      }
      const name =
        checkResourceName(upstream) === null && !pools.names.has(upstream) ? upstream : resourceNameFrom(upstream, pools.names, 'pool');
      pools.names.add(name);
      if (name !== upstream)
        warnings.warn(
          'import.renamed',
          `upstream ${upstream} is not a valid pool name; imported as pool ${name} (proxy_pass follows).`,
          at(b.d),
        );
      pools.add(upstream, poolFromUpstream(b.d, name, null, splitOrigin('Pool', name), warnings));
    }
  }

  const vhostNames = new Set<string>();
  const routeNames = new Set<string>();
  const virtualHosts: DesiredVirtualHost[] = [];
  const vhostOf = new Map<NginxDirective, string>();
  const usedMaps = new Set<InlineMap>();
  servers.forEach(({ d, file, single }, i) => {
    const firstName = d.block!.find((x) => x.name === 'server_name')?.args.find((a) => !a.startsWith('~') && a !== '' && a !== '_');
    const wanted = single ? basename(file.path) : (firstName ?? `server-${i + 1}`);
    const name =
      checkResourceName(wanted) === null && !vhostNames.has(wanted) ? wanted : resourceNameFrom(wanted, vhostNames, `server-${i + 1}`);
    vhostNames.add(name);
    const needed = mapsFor(d, maps);
    for (const m of needed) {
      usedMaps.add(m);
      warnings.warn(
        'import.map-inlined',
        `${describe(m.d)}: VirtualHost ${name} reads $${m.variable}; the map is carried into its extraBlocks (zone top) as set/if directives, evaluated the same way for every request.`,
        at(m.d),
      );
    }
    const opts: ServerImportOptions = {
      serverContext: needed.map((m) => ({ zone: 'top' as const, content: m.text })),
      name,
      origin: splitOrigin('VirtualHost', name),
      texts: tree.texts,
      pools,
      warnings,
      routeNames,
      routeOrigin: (r) => splitOrigin('Route', r),
      ...(importOpts.confDir === undefined ? {} : { confDir: importOpts.confDir }),
    };
    virtualHosts.push(virtualHostFromServer(d, opts));
    vhostOf.set(d, name);
  });

  for (const m of maps.filter((x) => !usedMaps.has(x)))
    warnings.warn('import.dropped', `${describe(m.d)}: no imported server reads $${m.variable}; not carried.`, at(m.d));
  const allPools = pools.all();
  const firstUpstream = [...blocksOf.values()].flat().find((b) => b.kind === 'upstream');
  if (allPools.length > 0) {
    warnings.warn(
      'import.pool-type',
      `plain nginx files do not say what a pool serves: ${allPools.length === 1 ? 'the pool is' : `all ${allPools.length} pools are`} imported as type http.`,
      firstUpstream ? at(firstUpstream.d) : { file: '.' },
      'Set type: nanio on pools of nanio servers (S3 credentials, bucket sync and migrations need it) and add their credentials.',
    );
  }
  const moved = filesToMove(blocksOf, (b) =>
    b.kind === 'upstream' ? `pools/${pools.byUpstream.get(b.d.args[0]!)?.name}.conf` : `vhosts/${vhostOf.get(b.d)}.conf`,
  );
  return {
    source: 'nginx',
    desired: { pools: allPools.sort(byName), virtualHosts: virtualHosts.sort(byName), migrations: [] },
    layout: 'split',
    warnings: warnings.list,
    secrets: [],
    filesToMove: moved,
    refusals: [],
    routing: {
      servers: servers.map((x) => x.d),
      maps: maps.map((m) => m.d),
      poolOf: new Map([...pools.byUpstream].map(([upstream, p]) => [upstream, p.name])),
    },
  };
}

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * `.conf` files whose blocks orch will write under other names: they must leave the include path.
 * A file holding exactly one block at the path orch writes for it is replaced in place instead.
 */
export function filesToMove(
  blocksOf: ReadonlyMap<string, Array<{ kind: 'upstream' | 'server'; d: NginxDirective }>>,
  orchPathOf: (block: { kind: 'upstream' | 'server'; d: NginxDirective }) => string,
): string[] {
  const out: string[] = [];
  for (const [path, blocks] of blocksOf) {
    if (blocks.length === 0) continue;
    if (blocks.length === 1 && orchPathOf(blocks[0]!) === path) continue;
    out.push(path);
  }
  return out.sort();
}
