import type { PoolManifest, PoolMember } from '../model/manifest-types.js';
import type { Catalog } from './catalog.js';
import type { FieldPath } from './parse-manifests.js';
import type { DiagnosticSink, ManifestDoc } from './report.js';
import { show } from './text.js';
import { canonicalMemberAddress } from './value-types.js';

/** Rules about what makes sense together: pool types, member roles, routes and migrations. */
export function checkRules(catalog: Catalog, sink: DiagnosticSink): void {
  for (const { md, m } of catalog.pools) checkPool(md, m, sink);
  checkVirtualHosts(catalog, sink);
  checkRoutes(catalog, sink);
  checkMigrations(catalog, sink);
}

const isEnabled = (member: PoolMember): boolean => member.enabled ?? true;
const isReplica = (member: PoolMember): boolean => member.role === 'replica';

export function hasEnabledMember(pool: PoolManifest): boolean {
  return pool.spec.members.some(isEnabled);
}

function checkPool(md: ManifestDoc, pool: PoolManifest, sink: DiagnosticSink): void {
  const { type, members, credentials, loadBalancing } = pool.spec;
  if (credentials !== undefined && type !== 'nanio') {
    sink.error(md, {
      code: 'rule.credentials-on-http-pool',
      path: ['spec', 'credentials'],
      message: `credentials are set on an ${type} pool; only nanio pools use S3 credentials`,
      hint: 'Remove credentials, or set type: nanio if the members are nanio servers.',
    });
  }
  members.forEach((member, i) => {
    if (!isReplica(member)) return;
    if (type === 'nanio') {
      sink.error(md, {
        code: 'rule.replica-on-nanio-pool',
        path: ['spec', 'members', i, 'role'],
        message: `member ${show(member.address)} is a replica, but nanio pools have no replicas: every member serves the same shared storage`,
        hint: 'Remove "role: replica" (or set enabled: false to take the member out of rotation).',
      });
    } else if (loadBalancing === 'ip_hash') {
      // nginx: "backup" cannot be used with the hash, ip_hash and random balancing methods.
      sink.error(md, {
        code: 'rule.ip-hash-with-replica',
        path: ['spec', 'members', i, 'role'],
        message: `member ${show(member.address)} is a replica, which nginx renders as "backup"; nginx refuses "backup" with ip_hash`,
        hint: 'Use loadBalancing: round_robin or least_conn, or make the member a primary.',
      });
    }
  });
  if (type === 'http' && members.every(isReplica)) {
    sink.error(md, {
      code: 'rule.no-primary-member',
      path: ['spec', 'members'],
      message: 'every member of this http pool is a replica; replicas only take over when the primaries fail',
      hint: 'Make at least one member "role: primary" (the default).',
    });
  }
  if (!members.some(isEnabled)) {
    sink.warning(md, {
      code: 'rule.pool-no-enabled-member',
      path: ['spec', 'members'],
      message: 'no member of this pool is enabled; the pool cannot serve anything',
      hint: 'Fine while the pool is parked; enable a member before a route, a default pool or a migration uses it.',
    });
  }
  checkDuplicateMembers(md, members, sink);
}

function checkDuplicateMembers(md: ManifestDoc, members: PoolMember[], sink: DiagnosticSink): void {
  const seen = new Map<string, number>();
  members.forEach((member, i) => {
    const key = canonicalMemberAddress(member.address);
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, i);
      return;
    }
    sink.error(md, {
      code: 'rule.duplicate-member-address',
      path: ['spec', 'members', i, 'address'],
      message: `member address ${show(member.address)} is listed twice (members ${first} and ${i})`,
      hint: 'Remove the repeated member; use weight to send it a larger share.',
    });
  });
}

/** A route, default pool or migration that would use a pool with no enabled member. */
function checkPoolAvailable(catalog: Catalog, sink: DiagnosticSink, md: ManifestDoc, path: FieldPath, name: string, usedAs: string): void {
  const pool = catalog.pool(name);
  if (!pool || hasEnabledMember(pool)) return;
  sink.error(md, {
    code: 'rule.pool-unavailable',
    path,
    message: `pool ${show(name)} has no enabled member, so it cannot serve as ${usedAs}`,
    hint: `Enable a member of pool ${show(name)}, or choose another pool.`,
  });
}

function checkVirtualHosts(catalog: Catalog, sink: DiagnosticSink): void {
  for (const { md, m } of catalog.virtualHosts) {
    const name = m.spec.defaultPool;
    if (name !== undefined) checkPoolAvailable(catalog, sink, md, ['spec', 'defaultPool'], name, 'the default pool');
  }
}

function checkRoutes(catalog: Catalog, sink: DiagnosticSink): void {
  for (const { md, m } of catalog.routes) {
    const pool = catalog.pool(m.spec.pool);
    if (!pool) continue;
    if (m.spec.enabled ?? true) checkPoolAvailable(catalog, sink, md, ['spec', 'pool'], m.spec.pool, `the pool of route ${m.spec.path}`);
    const vhost = catalog.virtualHost(m.spec.virtualHost);
    const defaultPool = vhost?.spec.defaultPool === undefined ? null : catalog.pool(vhost.spec.defaultPool);
    if (defaultPool?.spec.type === 'nanio' && pool.spec.type !== 'nanio') {
      sink.error(md, {
        code: 'rule.mixed-pool-types',
        path: ['spec', 'pool'],
        message: `virtual host ${show(m.spec.virtualHost)} serves S3 (its default pool ${show(defaultPool.metadata.name)} is nanio), but this route sends ${m.spec.path} to the ${pool.spec.type} pool ${show(m.spec.pool)}`,
        hint: 'Routes of an S3 virtual host go to nanio pools. Serve the http pool from its own virtual host.',
      });
    }
    if (m.spec.keyPrefix !== undefined && pool.spec.type === 'nanio') {
      sink.warning(md, {
        code: 'rule.key-prefix-on-nanio',
        path: ['spec', 'keyPrefix'],
        message: `keyPrefix rewrites the request path sent to the nanio pool ${show(m.spec.pool)}; SigV4 signatures cover the path, so signed requests will fail`,
        hint: 'Only anonymous (unsigned) requests work through a key prefix. Remove keyPrefix for S3 clients that sign.',
      });
    }
  }
}

function checkMigrations(catalog: Catalog, sink: DiagnosticSink): void {
  for (const { md, m } of catalog.migrations) {
    const { from, to } = m.spec;
    if (from === to) {
      sink.error(md, {
        code: 'rule.migration-same-pool',
        path: ['spec', 'to'],
        message: `the migration moves bucket ${show(m.spec.bucket)} from pool ${show(from)} to the same pool`,
        hint: 'Set "to" to the pool the bucket should move to.',
      });
    }
    for (const [field, name] of [
      ['from', from],
      ['to', to],
    ] as const) {
      const pool = catalog.pool(name);
      if (!pool) continue;
      if (pool.spec.type !== 'nanio') {
        sink.error(md, {
          code: 'rule.migration-not-nanio',
          path: ['spec', field],
          message: `pool ${show(name)} is an ${pool.spec.type} pool; migrations move buckets between nanio pools only`,
          hint: 'Choose a nanio pool, or copy the files of an http pool with your own tools.',
        });
        continue;
      }
      if (from !== to)
        checkPoolAvailable(catalog, sink, md, ['spec', field], name, `the ${field === 'from' ? 'source' : 'destination'} of a migration`);
      if (pool.spec.credentials === undefined) {
        sink.error(md, {
          code: 'rule.migration-needs-credentials',
          path: ['spec', field],
          message: `pool ${show(name)} has no credentials; the migration needs them to read and write its buckets`,
          hint: `Add spec.credentials (env or file references) to pool ${show(name)}.`,
        });
      }
    }
  }
}
