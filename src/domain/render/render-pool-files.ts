import type { DesiredPool } from '../model/desired-state.js';
import { LineTracker } from './line-tracker.js';
import { commentText, nginxInteger, nginxToken, resourceName } from './nginx-syntax.js';
import { poolSidecar, sidecarJson } from './render-sidecars.js';
import { CONF_MARKER, type RenderedFile } from './rendered-tree.js';
import { FIELDS, runPoolTemplate, type PoolMemberView } from './templates.js';

/** `pools/<name>.conf` (an `upstream` block) and its sidecar `pools/<name>.meta.json`. */
export function renderPoolFiles(pool: DesiredPool): RenderedFile[] {
  const name = resourceName(pool.name, 'pool name');
  const resource = { kind: 'Pool', name } as const;
  const tracker = new LineTracker();
  // Members keep their manifest order, so the index is the field path's index.
  const members: PoolMemberView[] = pool.members.map((m, index) => {
    let flags = '';
    if (m.role === 'replica') flags += ' backup';
    if (!m.enabled) flags += ' down';
    return {
      field: ['spec', 'members', index, 'address'],
      address: nginxToken(m.address, 'member address'),
      weight: nginxInteger(m.weight, 'member weight'),
      maxFails: nginxInteger(m.maxFails, 'member maxFails'),
      failTimeout: nginxToken(m.failTimeout, 'member failTimeout'),
      flags,
    };
  });
  const raw = runPoolTemplate({
    at: tracker.at,
    F: FIELDS,
    o: pool.origin,
    marker: markerLine(pool.origin.file, 'Pool', name),
    name,
    method: pool.loadBalancing === 'round_robin' ? null : pool.loadBalancing,
    members,
    keepalive: pool.keepalive === null ? null : nginxInteger(pool.keepalive, 'keepalive'),
  });
  const { content, lineMap } = tracker.finish(raw);
  return [
    { path: `pools/${name}.conf`, content, resource, role: 'config', lineMap },
    { path: `pools/${name}.meta.json`, content: sidecarJson(poolSidecar(pool)), resource, role: 'sidecar', lineMap: [] },
  ];
}

/** Line 1 of every config file: the ownership marker, then a note for whoever opens the file. */
export function markerLine(originFile: string, kind: string, name: string): string {
  return `${CONF_MARKER} - generated from ${commentText(originFile)} (${kind}/${name}); edits are overwritten by 'orch apply'`;
}
