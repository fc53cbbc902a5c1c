import { describe, expect, it } from 'vitest';
import { recoverDesiredState, type ManagedText } from '../../src/domain/rebuild/recover-desired-state.js';
import { parseNginxConfig } from '../../src/domain/nginx-config/parse-nginx-config.js';
import { renderTree } from '../../src/domain/render/render-tree.js';
import { nginxFeaturesFor } from '../../src/domain/render/rendered-tree.js';
import { randomDesiredState } from '../helpers/random-desired.js';
import { GOLDEN_TLS, RENDER_SCENARIOS } from '../helpers/render-scenarios.js';

/**
 * The managed directory is enough to rebuild the desired state: render -> parse/recover -> render
 * gives byte-identical files, for random desired states covering every rendered feature (TLS,
 * http2 both ways, IP rules, extra blocks in every zone, key prefixes, disabled members and
 * routes, replicas, keepalive, every load-balancing method, IPv6).
 */
const RUNS = 150;
const FEATURES = [nginxFeaturesFor('1.22.1'), nginxFeaturesFor('1.25.1')];

function treeOf(seed: number, featuresIndex: number): ManagedText[] {
  const desired = randomDesiredState(seed, GOLDEN_TLS);
  return renderTree(desired, FEATURES[featuresIndex]!).files.map((f) => ({ path: f.path, content: f.content }));
}

function rerender(files: readonly ManagedText[], featuresIndex: number) {
  const features = FEATURES[featuresIndex]!;
  const result = recoverDesiredState(files, features);
  return { result, files: renderTree(result.desired, features).files.map((f) => ({ path: f.path, content: f.content })) };
}

describe("recover the desired state from orch's managed directory", () => {
  it('with sidecars: every file comes back byte-identical, with no diagnostic', () => {
    for (let seed = 1; seed <= RUNS; seed++) {
      const fi = seed % 2;
      const original = treeOf(seed, fi);
      for (const f of original) if (f.path.endsWith('.conf')) parseNginxConfig(f.content, { file: f.path });
      const { result, files } = rerender(original, fi);
      expect(result.diagnostics, `seed ${seed}`).toEqual([]);
      expect(files, `seed ${seed}`).toEqual(original);
      expect(result.resources.every((r) => r.from === 'sidecar' && r.expectedConf === null)).toBe(true);
    }
  });

  it('without sidecars: every .conf comes back byte-identical from the .conf alone', () => {
    for (let seed = 1; seed <= RUNS; seed++) {
      const fi = seed % 2;
      const original = treeOf(seed, fi);
      const confs = original.filter((f) => f.path.endsWith('.conf'));
      const { result, files } = rerender(confs, fi);
      expect(
        files.filter((f) => f.path.endsWith('.conf')),
        `seed ${seed}`,
      ).toEqual(confs);
      expect(result.resources.every((r) => r.from === 'conf' && r.sidecar === 'missing')).toBe(true);
      // One clear diagnostic per missing sidecar, naming it and saying what was recovered and lost.
      expect(result.diagnostics.map((d) => d.code)).toEqual(confs.map(() => 'recover.sidecar-missing'));
      for (const d of result.diagnostics) {
        expect(d.severity).toBe('warning');
        expect(d.message).toMatch(
          /^(pools|vhosts)\/\S+\.meta\.json is missing\. (Pool|VirtualHost) \S+ is recovered from \S+\.conf alone: .+\. Lost: .+\.$/,
        );
      }
    }
  });

  it.each(RENDER_SCENARIOS.map((s) => [s.name, s] as const))('golden scenario %s: with and without sidecars', (_, scenario) => {
    for (const fi of [0, 1]) {
      const original = renderTree(scenario.build(GOLDEN_TLS), FEATURES[fi]!).files.map((f) => ({ path: f.path, content: f.content }));
      const full = rerender(original, fi);
      expect(full.result.diagnostics).toEqual([]);
      expect(full.files).toEqual(original);
      const confs = original.filter((f) => f.path.endsWith('.conf'));
      expect(rerender(confs, fi).files.filter((f) => f.path.endsWith('.conf'))).toEqual(confs);
    }
  });

  it('a corrupt sidecar is named, and the resource is recovered from its .conf', () => {
    const original = treeOf(7, 0);
    const vhostSidecar = original.find((f) => f.path.startsWith('vhosts/') && f.path.endsWith('.meta.json'))!;
    const poolSidecar = original.find((f) => f.path.startsWith('pools/') && f.path.endsWith('.meta.json'))!;
    const damaged = original.map((f) =>
      f === vhostSidecar
        ? { ...f, content: f.content.slice(0, 40) }
        : f === poolSidecar
          ? { ...f, content: f.content.replace('"weight": ', '"weight": "x') }
          : f,
    );
    const { result, files } = rerender(damaged, 0);
    expect(files.filter((f) => f.path.endsWith('.conf'))).toEqual(original.filter((f) => f.path.endsWith('.conf')));
    const byFile = new Map(result.diagnostics.map((d) => [d.source!.file, d]));
    expect(byFile.get(vhostSidecar.path)!.code).toBe('recover.sidecar-corrupt');
    expect(byFile.get(vhostSidecar.path)!.message).toContain(`${vhostSidecar.path} is unusable: it is not valid JSON`);
    expect(byFile.get(poolSidecar.path)!.message).toMatch(
      /is unusable: (it is not valid JSON|field "members\[0\]\.weight" is not an integer)/,
    );
    expect(byFile.get(poolSidecar.path)!.message).toContain('Lost: the pool type');
  });

  it('a .conf edited by hand is reported, with the content orch wrote', () => {
    const original = treeOf(11, 1);
    const conf = original.find((f) => f.path.startsWith('vhosts/') && f.path.endsWith('.conf'))!;
    const edited = original.map((f) =>
      f === conf ? { ...f, content: f.content.replace('client_max_body_size 0;', 'client_max_body_size 10m;') } : f,
    );
    const { result } = rerender(edited, 1);
    const res = result.resources.find((r) => r.confPath === conf.path)!;
    expect(res.from).toBe('sidecar');
    expect(res.expectedConf).toBe(conf.content);
    expect(result.diagnostics.map((d) => [d.code, d.source?.file])).toEqual([['recover.conf-edited', conf.path]]);
  });

  it('a tree rendered for another nginx version is not a hand edit', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rendered122 = treeOf(seed, 0);
      expect(recoverDesiredState(rendered122, FEATURES[1]!).diagnostics).toEqual([]);
    }
  });

  it("files without orch's marker are not orch's and are ignored", () => {
    const result = recoverDesiredState(
      [
        { path: 'vhosts/hand.conf', content: 'server { listen 80; }\n' },
        { path: 'pools/hand.meta.json', content: '{"type": "nanio"}' },
        { path: 'vhosts/_orch-status.conf', content: '# managed-by: orch — status\nserver {}\n' },
      ],
      FEATURES[0]!,
    );
    expect(result.resources).toEqual([]);
    expect(result.diagnostics).toEqual([]);
  });
});
