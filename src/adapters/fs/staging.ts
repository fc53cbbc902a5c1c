import { linkSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { StagedTree } from '../../ports/managed-tree.js';

export interface StagingFile {
  path: string;
  content: string;
  /** A live file with exactly this content: hard-linked into the staging instead of written. */
  linkFrom?: string;
}

/**
 * Writes the complete new tree (every managed file, unchanged ones too) into a staging directory
 * with a wrapper nginx.conf under a private prefix, so `nginx -t` tests exactly the new files as a
 * whole, before anything live is touched.
 */
export function stageTree(stateDir: string, files: readonly StagingFile[]): StagedTree {
  const root = resolve(stateDir, 'staging');
  rmSync(root, { recursive: true, force: true });
  const treeDir = join(root, 'tree');
  for (const sub of ['pools', 'vhosts', 'logs', 'temp'])
    mkdirSync(join(sub === 'pools' || sub === 'vhosts' ? treeDir : root, sub), { recursive: true });
  for (const f of files) {
    const p = join(treeDir, f.path);
    mkdirSync(dirname(p), { recursive: true });
    if (f.linkFrom && tryLink(f.linkFrom, p)) continue;
    writeFileSync(p, f.content);
  }
  const conf = join(root, 'nginx.conf');
  writeFileSync(conf, wrapperConf(root, treeDir));
  return { prefix: root, treeDir, conf, errorLog: join(root, 'logs', 'error.log') };
}

/**
 * Hard link, so nginx -t reads the very file that stays live. Fails across filesystems (state and
 * nginx directories on different mounts) or when the live file is gone: then the content is written.
 */
function tryLink(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch {
    return false;
  }
}

export function wrapperConf(prefix: string, treeDir: string): string {
  const t = (name: string) => join(prefix, 'temp', name);
  return `# orch staging wrapper: tests the staged tree as a whole. Not a live configuration.
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')};
events {}
http {
    access_log off;
    server_names_hash_bucket_size 128;
    server_names_hash_max_size 65536;
    client_body_temp_path ${t('client_body')};
    proxy_temp_path ${t('proxy')};
    fastcgi_temp_path ${t('fastcgi')};
    uwsgi_temp_path ${t('uwsgi')};
    scgi_temp_path ${t('scgi')};
    include ${join(treeDir, 'pools')}/*.conf;
    include ${join(treeDir, 'vhosts')}/*.conf;
}
`;
}

export function removeStaging(stateDir: string): void {
  rmSync(resolve(stateDir, 'staging'), { recursive: true, force: true });
}
