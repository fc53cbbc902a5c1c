import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  listManifestTarget,
  readManifestSources,
  readManifestTree,
  readManifestTreeInChild,
} from '../../src/adapters/fs/read-manifest-sources.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { displayPath } from '../../src/domain/manifests/origin-names.js';

/** displayPath and the listing as they were written first (path.relative / path.join for every file). */
function referenceDisplayPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

function referenceList(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /\.ya?ml$/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

describe('manifest listing and display paths', () => {
  const root = mkdtempSync(join(tmpdir(), 'orch-read-sources-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('names files exactly as path.relative does', () => {
    const cwds = ['/', '/a', '/a/', '/a/b', '/a//b', '/a/./b', '/a/../a/b', '/ab', '/a/b/..', '/a/b/.', root];
    const files = [
      '/a/b/c.yaml',
      '/a/b',
      '/a/bc.yaml',
      '/a/b/../c.yaml',
      '/a/b//c.yaml',
      '/a/b/./c.yaml',
      '/a/b/c/',
      '/a/b/..x/c.yaml',
      '/a/b/.x',
      '/ab/c.yaml',
      '/x.yaml',
      join(root, 'm/p.yaml'),
    ];
    for (const cwd of cwds)
      for (const file of files) expect(displayPath(file, cwd), `${file} from ${cwd}`).toBe(referenceDisplayPath(file, cwd));
  });

  it('lists the same files in the same order, whatever form the directory is given in', () => {
    for (const p of [
      'm/pools/a.yaml',
      'm/pools/b.yml',
      'm/pools/c.txt',
      'm/.hidden/x.yaml',
      'm/vhosts/v1/r.yaml',
      'm/vhosts/v0.yaml',
      'm/z.yaml',
    ]) {
      mkdirSync(join(root, p, '..'), { recursive: true });
      writeFileSync(join(root, p), 'a: 1\n');
    }
    for (const target of ['m', 'm/', './m', 'm//', `${root}/m`, `${root}//m/`, `${root}/./m`]) {
      const listing = listManifestTarget(target, root);
      expect(listing.files, target).toEqual(referenceList(isAbsolute(target) ? target : join(root, target)));
      expect(listing.files.length).toBe(5);
      expect(readManifestSources(target, root).map((s) => s.path)).toEqual(listing.files.map((f) => referenceDisplayPath(f, root)));
    }
  });
});

describe('the bounded child that reads trees on network and FUSE mounts', () => {
  it('gives the same trees, problems and errors as the in-process read (dist/ built)', () => {
    const root = mkdtempSync(join(tmpdir(), 'orch-read-child-'));
    try {
      mkdirSync(join(root, 'm', 'sub'), { recursive: true });
      writeFileSync(join(root, 'm', 'a.yaml'), 'kind: Pool\r\n');
      writeFileSync(join(root, 'm', 'sub', 'b.yml'), '\ufeffkind: Route\n');
      writeFileSync(join(root, 'm', 'latin1.yaml'), Buffer.from([0x6b, 0x3a, 0x20, 0xe9, 0x0a]));
      symlinkSync('..', join(root, 'm', 'sub', 'loop'));
      symlinkSync('gone.yaml', join(root, 'm', 'dangling.yaml'));
      const started = performance.now();
      for (const [target, cwd] of [
        ['m', root],
        [join(root, 'm', 'a.yaml'), '/'],
        [join(REPO_ROOT, 'examples', 'gateway'), REPO_ROOT],
        ['test/fixtures/bad', REPO_ROOT],
      ] as const) {
        expect(readManifestTreeInChild(target, cwd), target).toEqual(readManifestTree(target, cwd));
      }
      expect(readManifestTree('m', root).problems.length).toBe(3);
      expect(() => readManifestTreeInChild('nowhere', root)).toThrow('Manifest path nowhere does not exist.');
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
