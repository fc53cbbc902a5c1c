import { BugError } from '../errors.js';
import type { DesiredState } from '../model/desired-state.js';
import { renderPoolFiles } from './render-pool-files.js';
import { renderVirtualHostFiles } from './render-virtual-host-files.js';
import type { NginxFeatures, RenderedFile, RenderedTree } from './rendered-tree.js';

export { renderPoolFiles } from './render-pool-files.js';
export { renderVirtualHostFiles } from './render-virtual-host-files.js';

/**
 * Renders every managed nginx file and sidecar for a desired state. Pure and deterministic:
 * identical input gives byte-identical files, in path order. Expects a validated state (names
 * unique, references resolved); values that could break nginx syntax throw a BugError.
 */
export function renderTree(desired: DesiredState, features: NginxFeatures): RenderedTree {
  const files: RenderedFile[] = [];
  for (const pool of desired.pools) files.push(...renderPoolFiles(pool));
  for (const vhost of desired.virtualHosts) files.push(...renderVirtualHostFiles(vhost, features));
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (let i = 1; i < files.length; i++) {
    if (files[i]!.path === files[i - 1]!.path) {
      throw new BugError(`render: two resources render to ${files[i]!.path}; manifest validation should have rejected the duplicate name`);
    }
  }
  return { files };
}
