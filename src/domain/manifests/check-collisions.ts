import type { VirtualHostManifest } from '../model/manifest-types.js';
import type { Catalog, Valid } from './catalog.js';
import { whereIs, type DiagnosticSink, type ManifestDoc } from './report.js';
import { show } from './text.js';
import { canonicalIp } from './value-types.js';

/**
 * Two documents must not claim the same thing: a name within a kind, a server name on one
 * listen socket, a path on one virtual host, a bucket's migration. The later document (in file
 * order) is reported and the message points at the earlier one.
 */
export function checkCollisions(catalog: Catalog, sink: DiagnosticSink): void {
  checkDuplicateNames(catalog, sink);
  checkServerNames(catalog, sink);
  checkListenSockets(catalog, sink);
  checkRoutePaths(catalog, sink);
  checkMigratedBuckets(catalog, sink);
}

function checkDuplicateNames(catalog: Catalog, sink: DiagnosticSink): void {
  // nginx compares upstream names without regard to case: pools Hot2 and hot2 are one upstream.
  const poolsByLowerName = new Map<string, ManifestDoc>();
  for (const md of catalog.all) {
    const first = catalog.declared[md.kind].get(md.name);
    if (first && first !== md) {
      sink.error(md, {
        code: 'collision.duplicate-name',
        path: ['metadata', 'name'],
        message: `a second ${md.kind} is named ${show(md.name)}; the first is at ${whereIs(first, ['metadata', 'name'])}`,
        hint: `${md.kind} names are unique. Rename one of them, or delete the duplicate.`,
      });
      continue;
    }
    if (md.kind !== 'Pool') continue;
    const lower = md.name.toLowerCase();
    const sameUpstream = poolsByLowerName.get(lower);
    if (!sameUpstream) {
      poolsByLowerName.set(lower, md);
      continue;
    }
    sink.error(md, {
      code: 'collision.pool-name-case',
      path: ['metadata', 'name'],
      message: `Pool ${show(md.name)} and Pool ${show(sameUpstream.name)} (${whereIs(sameUpstream, ['metadata', 'name'])}) differ only in case; nginx compares upstream names without regard to case`,
      hint: 'Rename one of the two pools so the names differ in more than case.',
    });
  }
}

/** The port a virtual host listens on, with its default. */
export function listenPort(m: VirtualHostManifest): number {
  return m.spec.port ?? (m.spec.tls ? 443 : 80);
}

/** The listen socket: `listen 80` and `listen 0.0.0.0:80` are the same socket in nginx. */
function socketKey(m: VirtualHostManifest): string {
  const address = m.spec.address === undefined || m.spec.address === '0.0.0.0' ? '*' : canonicalIp(m.spec.address);
  return `${address} ${listenPort(m)}`;
}

function socketText(m: VirtualHostManifest): string {
  const address = m.spec.address;
  if (address === undefined) return `port ${listenPort(m)}`;
  return address.includes(':') ? `[${address}]:${listenPort(m)}` : `${address}:${listenPort(m)}`;
}

function checkServerNames(catalog: Catalog, sink: DiagnosticSink): void {
  const claimed = new Map<string, { md: ManifestDoc; index: number }>();
  for (const { md, m } of catalog.virtualHosts) {
    m.spec.serverNames.forEach((serverName, index) => {
      const key = `${socketKey(m)} ${serverName}`;
      const first = claimed.get(key);
      if (!first) {
        claimed.set(key, { md, index });
        return;
      }
      if (first.md === md) return; // a repeat inside one list is a schema error (uniqueItems)
      sink.error(md, {
        code: 'collision.server-name',
        path: ['spec', 'serverNames', index],
        message: `server name ${show(serverName)} on ${socketText(m)} is already claimed by VirtualHost ${show(first.md.name)} (${whereIs(first.md, ['spec', 'serverNames', first.index])})`,
        hint: 'nginx would send every request for this name to one of them only. Remove the name from one virtual host, or listen on another port or address.',
      });
    });
  }
}

/**
 * Virtual hosts that share a listen socket share its options in nginx: `ssl` applies to the
 * whole socket (a plain-HTTP server there would be spoken to in TLS), and before nginx 1.25.1
 * `http2` does too.
 */
function checkListenSockets(catalog: Catalog, sink: DiagnosticSink): void {
  const firstOnSocket = new Map<string, Valid<VirtualHostManifest>>();
  for (const vh of catalog.virtualHosts) {
    const key = socketKey(vh.m);
    const first = firstOnSocket.get(key);
    if (!first) {
      firstOnSocket.set(key, vh);
      continue;
    }
    const tls = vh.m.spec.tls !== undefined;
    const firstTls = first.m.spec.tls !== undefined;
    // Built only for a message: a position costs a YAML parse of the file (thousands of virtual
    // hosts share a handful of sockets).
    const otherText = (): string => `VirtualHost ${show(first.md.name)} (${whereIs(first.md, ['metadata', 'name'])})`;
    if (tls !== firstTls) {
      sink.error(vh.md, {
        code: 'collision.listen-tls-mismatch',
        path: tls ? ['spec', 'tls'] : ['spec', vh.m.spec.port === undefined ? 'serverNames' : 'port'],
        message: `${socketText(vh.m)} is ${tls ? 'TLS' : 'plain HTTP'} here but ${firstTls ? 'TLS' : 'plain HTTP'} in ${otherText()}`,
        hint: 'nginx applies "ssl" to the whole listen socket. Use another port (or address) for one of them, or give both TLS.',
      });
    } else if (tls && (vh.m.spec.tls?.http2 ?? false) !== (first.m.spec.tls?.http2 ?? false)) {
      sink.warning(vh.md, {
        code: 'collision.listen-http2-mismatch',
        path: ['spec', 'tls', 'http2'],
        message: `http2 differs between this virtual host and ${otherText()}, which share ${socketText(vh.m)}`,
        hint: 'Before nginx 1.25.1 http2 is a listen-socket option, so either both get HTTP/2 or neither. Set the same http2 value on both.',
      });
    }
  }
}

function checkRoutePaths(catalog: Catalog, sink: DiagnosticSink): void {
  const claimed = new Map<string, ManifestDoc>();
  for (const { md, m } of catalog.routes) {
    const key = `${m.spec.virtualHost} ${m.spec.path}`;
    const first = claimed.get(key);
    if (!first) {
      claimed.set(key, md);
      continue;
    }
    sink.error(md, {
      code: 'collision.route-path',
      path: ['spec', 'path'],
      message: `path ${show(m.spec.path)} of virtual host ${show(m.spec.virtualHost)} is already routed by Route ${show(first.name)} (${whereIs(first, ['spec', 'path'])})`,
      hint: 'A path of a virtual host has one Route; a disabled Route still claims its path. Delete one of the two.',
    });
  }
}

function checkMigratedBuckets(catalog: Catalog, sink: DiagnosticSink): void {
  const claimed = new Map<string, ManifestDoc>();
  for (const { md, m } of catalog.migrations) {
    const key = `${m.spec.virtualHost} ${m.spec.bucket}`;
    const first = claimed.get(key);
    if (!first) {
      claimed.set(key, md);
      continue;
    }
    sink.error(md, {
      code: 'collision.migration-bucket',
      path: ['spec', 'bucket'],
      message: `bucket ${show(m.spec.bucket)} of virtual host ${show(m.spec.virtualHost)} is already moved by Migration ${show(first.name)} (${whereIs(first, ['spec', 'bucket'])})`,
      hint: 'One bucket moves in one migration at a time. Delete the Migration that is finished or not wanted.',
    });
  }
}
