import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatFieldPath } from '../../src/domain/diagnostics.js';
import { renderTree } from '../../src/domain/render/render-tree.js';
import type { RenderedFile } from '../../src/domain/render/rendered-tree.js';
import { GOLDEN_TLS, RENDER_SCENARIOS } from '../helpers/render-scenarios.js';

/**
 * Golden files: test/golden/render/<scenario>/ holds every rendered file byte for byte, plus
 * `linemap.txt`, the line map of every config file in a reviewable form.
 * `UPDATE_GOLDEN=1 npx vitest run test/unit/render-golden.test.ts` rewrites them.
 */
const GOLDEN_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', 'golden', 'render');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

function lineMapText(files: readonly RenderedFile[]): string {
  const out: string[] = [];
  for (const f of files) {
    if (f.role !== 'config') continue;
    out.push(`== ${f.path}`);
    const lines = f.content.split('\n').slice(0, -1);
    const origins = f.lineMap.map((o) =>
      o === null ? '-' : `${o.origin.file}#${o.origin.index} ${o.origin.kind}/${o.origin.name} ${formatFieldPath(o.field) || '(document)'}`,
    );
    const width = Math.max(...origins.map((s) => s.length));
    lines.forEach((line, i) => {
      out.push(`${String(i + 1).padStart(3)}  ${(origins[i] ?? 'MISSING').padEnd(width)} | ${line}`.trimEnd());
    });
  }
  return out.join('\n') + '\n';
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

describe('render golden files', () => {
  for (const scenario of RENDER_SCENARIOS) {
    it(scenario.name, async () => {
      const tree = renderTree(scenario.build(GOLDEN_TLS), scenario.features);
      const expected = new Map<string, string>(tree.files.map((f) => [f.path, f.content]));
      expected.set('linemap.txt', lineMapText(tree.files));
      const dir = join(GOLDEN_ROOT, scenario.name);

      if (UPDATE) {
        await rm(dir, { recursive: true, force: true });
        for (const [path, content] of expected) {
          await mkdir(dirname(join(dir, path)), { recursive: true });
          await writeFile(join(dir, path), content);
        }
      }

      const onDisk = await listFiles(dir);
      expect(onDisk, `golden files of ${scenario.name} (UPDATE_GOLDEN=1 to rewrite)`).toEqual([...expected.keys()].sort());
      for (const [path, content] of expected) {
        const golden = await readFile(join(dir, path), 'utf8');
        expect(content, `${scenario.name}/${path} differs from its golden file`).toBe(golden);
      }
    });
  }
});
