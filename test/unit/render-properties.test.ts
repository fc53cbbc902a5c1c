import { describe, expect, it } from 'vitest';
import type { DesiredPool, DesiredState, DesiredVirtualHost } from '../../src/domain/model/desired-state.js';
import { renderTree } from '../../src/domain/render/render-tree.js';
import { CONF_MARKER, nginxFeaturesFor, type RenderedFile } from '../../src/domain/render/rendered-tree.js';
import type { PoolSidecar, VirtualHostSidecar } from '../../src/domain/render/render-sidecars.js';
import { randomDesiredState } from '../helpers/random-desired.js';
import { GOLDEN_TLS } from '../helpers/render-scenarios.js';

const RUNS = 200;
const BASE_SEED = 0x0c4e;
const FEATURES = [nginxFeaturesFor('1.22.1'), nginxFeaturesFor('1.25.1')];

function lines(f: RenderedFile): string[] {
  return f.content.split('\n').slice(0, -1);
}

/** Rebuilds the desired resources from sidecars alone: the sidecar must be complete. */
function poolFromSidecar(s: PoolSidecar): DesiredPool {
  return {
    name: s.name,
    type: s.type,
    description: s.description,
    loadBalancing: s.loadBalancing,
    keepalive: s.keepalive,
    members: s.members,
    credentials: s.credentials,
    origin: { ...s.origin, kind: 'Pool', name: s.name },
  };
}

function virtualHostFromSidecar(s: VirtualHostSidecar): DesiredVirtualHost {
  return {
    name: s.name,
    serverNames: s.serverNames,
    port: s.port,
    address: s.address,
    tls: s.tls,
    defaultPool: s.defaultPool,
    ipRules: s.ipRules,
    extraBlocks: s.extraBlocks,
    ignoreBuckets: s.ignoreBuckets,
    routes: s.routes.map((r) => ({
      name: r.name,
      virtualHost: s.name,
      path: r.path,
      bucket: r.bucket,
      pool: r.pool,
      keyPrefix: r.keyPrefix,
      enabled: r.enabled,
      allowOrphan: r.allowOrphan,
      origin: { ...r.origin, kind: 'Route', name: r.name },
    })),
    origin: { ...s.origin, kind: 'VirtualHost', name: s.name },
  };
}

function byPath<T extends { path: string; name: string }>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.name < b.name ? -1 : 1));
}

describe('render properties over random desired states', () => {
  for (let run = 0; run < RUNS; run++) {
    const seed = BASE_SEED + run;
    const features = FEATURES[run % 2]!;
    it(`seed ${seed}`, () => {
      const desired: DesiredState = randomDesiredState(seed, GOLDEN_TLS);
      const before = structuredClone(desired);
      const tree = renderTree(desired, features);

      // Deterministic: byte-identical (and the same line map) from a fresh copy; input untouched.
      expect(renderTree(structuredClone(desired), features)).toEqual(tree);
      expect(desired).toEqual(before);

      // Sorted, unique paths; exactly a config + a sidecar per resource.
      const paths = tree.files.map((f) => f.path);
      expect(paths).toEqual([...paths].sort());
      expect(new Set(paths).size).toBe(paths.length);
      const expectedPaths = [
        ...desired.pools.flatMap((p) => [`pools/${p.name}.conf`, `pools/${p.name}.meta.json`]),
        ...desired.virtualHosts.flatMap((v) => [`vhosts/${v.name}.conf`, `vhosts/${v.name}.meta.json`]),
      ].sort();
      expect(paths).toEqual(expectedPaths);

      for (const f of tree.files) {
        expect(f.content.endsWith('\n') && !f.content.endsWith('\n\n'), `${f.path} ends with one newline`).toBe(true);
        expect(f.content.includes('\u0000'), `${f.path} has no sentinel left`).toBe(false);
        if (f.role === 'config') {
          const ls = lines(f);
          expect(f.lineMap.length, `${f.path} line map covers every line`).toBe(ls.length);
          expect(ls[0]!.startsWith(CONF_MARKER + ' ')).toBe(true);
          expect(f.lineMap[0]).toBeNull();
          expect(ls[ls.length - 1]).toBe('}');
        } else {
          const parsed = JSON.parse(f.content) as Record<string, unknown>;
          expect(Object.keys(parsed).slice(0, 4)).toEqual(['managedBy', 'formatVersion', 'kind', 'name']);
          expect(parsed).toMatchObject({ managedBy: 'orch', formatVersion: 1, kind: f.resource.kind, name: f.resource.name });
          expect(JSON.stringify(parsed, null, 2) + '\n').toBe(f.content);
        }
      }

      // Sidecars alone rebuild every resource (routes in path order, disabled ones included).
      const file = (p: string) => tree.files.find((f) => f.path === p)!;
      for (const pool of desired.pools) {
        const s = JSON.parse(file(`pools/${pool.name}.meta.json`).content) as PoolSidecar;
        expect(poolFromSidecar(s)).toEqual(pool);
      }
      for (const vhost of desired.virtualHosts) {
        const s = JSON.parse(file(`vhosts/${vhost.name}.meta.json`).content) as VirtualHostSidecar;
        expect(virtualHostFromSidecar(s)).toEqual({ ...vhost, routes: byPath(vhost.routes) });
      }

      // The line map points at the fields that produced each line.
      for (const pool of desired.pools) {
        const conf = file(`pools/${pool.name}.conf`);
        const ls = lines(conf);
        pool.members.forEach((m, i) => {
          const at = conf.lineMap.findIndex((o) => o?.field.join('.') === `spec.members.${i}.address`);
          expect(ls[at]!.startsWith(`    server ${m.address} weight=${m.weight} `)).toBe(true);
          expect(ls[at]!.endsWith(m.enabled ? ';' : ' down;')).toBe(true);
          expect(conf.lineMap[at]!.origin).toBe(pool.origin);
        });
      }
      for (const vhost of desired.virtualHosts) {
        const conf = file(`vhosts/${vhost.name}.conf`);
        const ls = lines(conf);
        conf.lineMap.forEach((o, i) => {
          if (o === null) return;
          const [spec, key, k, sub] = o.field;
          if (spec === 'spec' && key === 'extraBlocks' && sub === 'content') {
            const contentLines = vhost.extraBlocks[k as number]!.content.split('\n');
            expect(ls[i] === '' || (ls[i]!.startsWith('    ') && contentLines.includes(ls[i]!.slice(4)))).toBe(true);
          }
        });
        for (const r of vhost.routes) {
          const mapped = conf.lineMap.flatMap((o, i) => (o?.origin === r.origin ? [ls[i]!] : []));
          if (!r.enabled) {
            expect(mapped).toEqual([]);
            continue;
          }
          const opens = mapped.filter((l) => l.trimStart().startsWith('location '));
          if (r.path.endsWith('/')) {
            expect(opens).toEqual([`    location = ${r.path.slice(0, -1)} {`, `    location ${r.path} {`]);
          } else {
            expect(opens).toEqual([`    location ${r.path} {`]);
          }
          expect(mapped.filter((l) => l === `        proxy_pass http://${r.pool};`).length).toBe(opens.length);
          expect(mapped.filter((l) => l.includes('rewrite ')).length).toBe(r.keyPrefix === null ? 0 : 1);
        }
      }
    });
  }
});
