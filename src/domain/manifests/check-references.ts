import type { Kind } from '../model/manifest-types.js';
import type { Catalog } from './catalog.js';
import type { FieldPath } from './parse-manifests.js';
import { getAt, type DiagnosticSink, type ManifestDoc } from './report.js';
import { didYouMean, listWords, show } from './text.js';

/**
 * Every name a document refers to must be declared by a document of the right kind: a route's
 * virtual host and pool, a virtual host's default pool, a migration's virtual host and pools,
 * and the Route that serves a migrated bucket. Checked on every document, even one with other
 * errors, so all problems show at once; a reference that is itself malformed (already reported)
 * is not reported again as unknown.
 */
export function checkReferences(catalog: Catalog, sink: DiagnosticSink): void {
  const ref = (md: ManifestDoc, path: FieldPath, kind: ReferencedKind, role: string): boolean =>
    checkReference(catalog, sink, md, path, kind, role);

  for (const md of catalog.all) {
    switch (md.kind) {
      case 'VirtualHost':
        ref(md, ['spec', 'defaultPool'], 'Pool', 'default pool');
        break;
      case 'Route':
        ref(md, ['spec', 'virtualHost'], 'VirtualHost', 'virtual host');
        ref(md, ['spec', 'pool'], 'Pool', 'pool');
        break;
      case 'Migration': {
        const vhostKnown = ref(md, ['spec', 'virtualHost'], 'VirtualHost', 'virtual host');
        ref(md, ['spec', 'from'], 'Pool', 'source pool');
        ref(md, ['spec', 'to'], 'Pool', 'destination pool');
        if (vhostKnown) checkMigratedBucketHasRoute(catalog, sink, md);
        break;
      }
      case 'Pool':
        break;
    }
  }
}

type ReferencedKind = Extract<Kind, 'Pool' | 'VirtualHost'>;

const CODE_BY_KIND: Record<ReferencedKind, string> = {
  Pool: 'ref.unknown-pool',
  VirtualHost: 'ref.unknown-virtual-host',
};

/** True when the reference names a declared document; false when missing, malformed or unknown. */
function checkReference(
  catalog: Catalog,
  sink: DiagnosticSink,
  md: ManifestDoc,
  path: FieldPath,
  kind: ReferencedKind,
  role: string,
): boolean {
  const name = getAt(md.value, path);
  if (typeof name !== 'string' || sink.hasReportedAt(md.doc, path)) return false;
  const declared = catalog.declared[kind];
  if (declared.has(name)) return true;
  const known = [...declared.keys()].sort();
  sink.error(md, {
    code: CODE_BY_KIND[kind],
    path,
    message: `${role} ${show(name)} does not exist: no ${kind} is named ${show(name)}`,
    hint: `${didYouMean(name, known)}${known.length === 0 ? `There is no ${kind} at all in the manifests.` : `Known ${kind} names: ${listWords(known)}.`}`,
  });
  return false;
}

function checkMigratedBucketHasRoute(catalog: Catalog, sink: DiagnosticSink, md: ManifestDoc): void {
  const { virtualHost: vhost, bucket } = md.spec;
  if (typeof bucket !== 'string' || sink.hasReportedAt(md.doc, ['spec', 'bucket'])) return;
  const path = `/${bucket}/`;
  const routed = catalog.all.some((r) => r.kind === 'Route' && r.spec.virtualHost === vhost && r.spec.path === path);
  if (routed) return;
  sink.error(md, {
    code: 'ref.migration-without-route',
    path: ['spec', 'bucket'],
    message: `bucket ${show(bucket)} has no Route on virtual host ${show(vhost)}: no Route has path ${show(path)} there`,
    hint: `Add a Route with virtualHost: ${String(vhost)}, path: ${path} and the source pool; the migration moves that route at the cutover.`,
  });
}
