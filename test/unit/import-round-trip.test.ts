import { describe, expect, it } from 'vitest';
import { importOrchTree } from '../../src/domain/import/import-orch-tree.js';
import { writeManifests, type ManifestFileOut } from '../../src/domain/import/write-manifests.js';
import { parseManifestSources } from '../../src/domain/manifests/parse-manifests.js';
import { validateManifests } from '../../src/domain/manifests/validate-manifests.js';
import type { DesiredState } from '../../src/domain/model/desired-state.js';
import { renderTree } from '../../src/domain/render/render-tree.js';
import { nginxFeaturesFor } from '../../src/domain/render/rendered-tree.js';
import { randomDesiredState } from '../helpers/random-desired.js';
import { GOLDEN_TLS } from '../helpers/render-scenarios.js';

/**
 * Manifests -> render -> (the managed directory alone) import -> manifests -> render gives the
 * same files, byte for byte, for random gateways covering every feature the model has. The
 * imported manifests are the same text as the originals (orch's layout puts each document back in
 * its file, at its index) and they validate.
 */
const RUNS = 120;
const FEATURES = [nginxFeaturesFor('1.22.1'), nginxFeaturesFor('1.25.1')];
const schemaRef = () => '../schemas/x.schema.json';

/** A random desired state made to pass the manifest validator (the generator aims at the renderer). */
function validRandomDesired(seed: number): DesiredState {
  const d = randomDesiredState(seed, GOLDEN_TLS);
  for (const p of d.pools) {
    p.members[0]!.enabled = true;
    if (p.description !== null) p.description = p.description.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  }
  const typeOf = new Map(d.pools.map((p) => [p.name, p.type]));
  for (const v of d.virtualHosts) {
    v.extraBlocks = v.extraBlocks.filter((b) => b.content !== '');
    for (const b of v.extraBlocks) if (b.zone === 'ssl' && v.tls === null) b.zone = 'top';
    for (const r of v.routes) {
      if (!r.path.endsWith('/')) r.path = `${r.path}/`;
      if (v.defaultPool !== null && typeOf.get(v.defaultPool) === 'nanio' && typeOf.get(r.pool) !== 'nanio') r.pool = v.defaultPool;
    }
  }
  return d;
}

function load(files: readonly ManifestFileOut[]): DesiredState {
  const v = validateManifests(parseManifestSources(files.map((f) => ({ path: f.path, text: f.text }))));
  const errors = v.diagnostics.filter((x) => x.severity === 'error');
  expect(errors, JSON.stringify(errors, null, 2)).toEqual([]);
  return v.desired;
}

function rendered(d: DesiredState, fi: number) {
  return renderTree(d, FEATURES[fi]!).files.map((f) => ({ path: f.path, content: f.content }));
}

/** The files without what depends on where manifests live (marker line, sidecar origins). */
function layoutFree(files: Array<{ path: string; content: string }>) {
  return files.map((f) => {
    if (f.path.endsWith('.conf')) return { path: f.path, content: f.content.slice(f.content.indexOf('\n') + 1) };
    const json = JSON.parse(f.content) as Record<string, unknown> & { routes?: Array<Record<string, unknown>> };
    delete json['origin'];
    for (const r of json.routes ?? []) delete r['origin'];
    return { path: f.path, content: JSON.stringify(json) };
  });
}

describe('render -> import -> render', () => {
  it('gives byte-identical files, and the imported manifests are the original text', () => {
    for (let seed = 1; seed <= RUNS; seed++) {
      const fi = seed % 2;
      const original = writeManifests(validRandomDesired(seed), { layout: 'origin', schemaRef });
      expect(original.layout).toBe('origin');
      const r1 = rendered(load(original.files), fi);

      const imported = importOrchTree(r1, FEATURES[fi]!);
      expect(imported.warnings, `seed ${seed}`).toEqual([]);
      const again = writeManifests(imported.desired, { layout: imported.layout, schemaRef });
      expect(again.layout).toBe('origin');
      expect(again.files.every((f) => f.text.startsWith('# yaml-language-server: $schema='))).toBe(true);
      expect(again.files, `seed ${seed}`).toEqual(original.files);
      expect(rendered(load(again.files), fi), `seed ${seed}`).toEqual(r1);
    }
  });

  it('in the one-file-per-resource layout the manifests validate and render the same nginx files (up to where they live)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r1 = rendered(load(writeManifests(validRandomDesired(seed), { layout: 'origin', schemaRef }).files), 0);
      const split = writeManifests(importOrchTree(r1, FEATURES[0]!).desired, { layout: 'split', schemaRef });
      expect(split.files.every((f) => /^(pools\/[^/]+|vhosts\/[^/]+|routes\/[^/]+\/[^/]+)\.yaml$/.test(f.path))).toBe(true);
      expect(split.files.every((f) => f.text.startsWith('# yaml-language-server: $schema='))).toBe(true);
      expect(layoutFree(rendered(load(split.files), 0)), `seed ${seed}`).toEqual(layoutFree(r1));
    }
  });

  it('without sidecars the import falls back to one file per resource, and says why', () => {
    const r1 = rendered(load(writeManifests(validRandomDesired(3), { layout: 'origin', schemaRef }).files), 0);
    const imported = importOrchTree(
      r1.filter((f) => f.path.endsWith('.conf')),
      FEATURES[0]!,
    );
    const written = writeManifests(imported.desired, { layout: imported.layout, schemaRef });
    expect(written.layout).toBe('split');
    expect(written.layoutProblem).toMatch(/is not known/);
    expect(imported.warnings.every((w) => w.code === 'recover.sidecar-missing')).toBe(true);
    expect(layoutFree(rendered(load(written.files), 0)).filter((f) => f.path.endsWith('.conf'))).toEqual(
      layoutFree(r1).filter((f) => f.path.endsWith('.conf')),
    );
  });
});
