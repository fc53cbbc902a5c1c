import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderTree } from '../../src/domain/render/render-tree.js';
import { nginxFeaturesFor, type RenderedTree } from '../../src/domain/render/rendered-tree.js';
import { desiredState, pool, route, virtualHost } from '../helpers/desired-builders.js';
import { randomDesiredState } from '../helpers/random-desired.js';
import { makeSelfSignedCert, nginxBinary, nginxTestTree, type SelfSignedCert } from '../helpers/nginx.js';
import { GOLDEN_TLS, RENDER_SCENARIOS } from '../helpers/render-scenarios.js';

/** The installed nginx's version, from `nginx -v` (printed on stderr). Throws when nginx is missing. */
function installedNginxVersion(): string {
  const r = spawnSync(nginxBinary(), ['-v'], { encoding: 'utf8' });
  if (r.error) throw new Error(`cannot run ${nginxBinary()} -v: ${r.error.message}`);
  const m = /nginx\/(\d+\.\d+\.\d+)/.exec(`${r.stdout}${r.stderr}`);
  if (!m) throw new Error(`cannot read the nginx version from: ${r.stdout}${r.stderr}`);
  return m[1]!;
}

function withGoldenTlsPaths(tree: RenderedTree, real: SelfSignedCert): Map<string, string> {
  return new Map(
    tree.files.map((f) => [f.path, f.content.split(real.certificate).join(GOLDEN_TLS.certificate).split(real.key).join(GOLDEN_TLS.key)]),
  );
}

describe('rendered trees pass the real nginx -t', () => {
  let tmp: string;
  let cert: SelfSignedCert;
  let installed: ReturnType<typeof nginxFeaturesFor>;

  beforeAll(async () => {
    installed = nginxFeaturesFor(installedNginxVersion());
    tmp = mkdtempSync(join(tmpdir(), 'orch-render-tls-'));
    cert = await makeSelfSignedCert(tmp, 'gateway');
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  for (const scenario of RENDER_SCENARIOS) {
    it(scenario.name, async () => {
      const tree = renderTree(scenario.build(cert), scenario.features);
      // The tree nginx checks is the golden tree, except for the certificate paths.
      const golden = renderTree(scenario.build(GOLDEN_TLS), scenario.features);
      expect(withGoldenTlsPaths(tree, cert)).toEqual(new Map(golden.files.map((f) => [f.path, f.content])));

      const result = await nginxTestTree(tree.files);
      if (scenario.features.http2Directive && !installed.http2Directive) {
        // Rendered for nginx >= 1.25.1: the installed older nginx must reject `http2 on;`, which
        // is exactly why orch detects the version instead of assuming it.
        expect(result.ok, result.output).toBe(false);
        expect(result.output).toMatch(/unknown directive "http2"/);
      } else {
        expect(result.ok, result.output).toBe(true);
        expect(result.output).toMatch(/test is successful/);
        expect(result.output).not.toMatch(/\[warn\]/);
      }
    });
  }

  it('the same TLS scenario rendered for the installed version passes', async () => {
    const scenario = RENDER_SCENARIOS.find((s) => s.name === 'tls-http2-directive')!;
    const result = await nginxTestTree(renderTree(scenario.build(cert), installed).files);
    expect(result.ok, result.output).toBe(true);
  });

  // Random valid states (the generator of test/unit/render-properties.test.ts) pass too.
  for (let seed = 0x0c4e; seed < 0x0c4e + 25; seed++) {
    it(`random desired state, seed ${seed}`, async () => {
      const result = await nginxTestTree(renderTree(randomDesiredState(seed, cert), installed).files);
      expect(result.ok, result.output).toBe(true);
      expect(result.output).not.toMatch(/\[warn\]/);
    });
  }

  it('negative control: a broken extra block fails nginx -t, and the line map points at it', async () => {
    const state = desiredState({
      pools: [pool('pool-a')],
      virtualHosts: [
        virtualHost('broken', {
          defaultPool: 'pool-a',
          routes: [route('broken', '/photos/', 'pool-a')],
          extraBlocks: [
            { zone: 'top', content: 'add_header X-Ok yes;' },
            { zone: 'proxy', content: 'proxy_read_timeout 300s;\nproxy_no_such_directive on;' },
          ],
        }),
      ],
    });
    const tree = renderTree(state, installed);
    const result = await nginxTestTree(tree.files);
    expect(result.ok).toBe(false);
    const m = /unknown directive "proxy_no_such_directive" in (\S+):(\d+)/.exec(result.output);
    expect(m, result.output).not.toBeNull();
    const [, file, line] = m!;
    expect(file!.endsWith('/vhosts/broken.conf')).toBe(true);
    const conf = tree.files.find((f) => f.path === 'vhosts/broken.conf')!;
    const origin = conf.lineMap[Number(line) - 1];
    expect(origin?.origin).toMatchObject({ kind: 'VirtualHost', name: 'broken', file: 'manifests/vhosts.yaml' });
    expect(origin?.field).toEqual(['spec', 'extraBlocks', 1, 'content']);
  });

  it('negative control: an unknown upstream is reported on the route that names it', async () => {
    const state = desiredState({
      pools: [pool('pool-a')],
      virtualHosts: [virtualHost('gw', { defaultPool: 'pool-a', routes: [route('gw', '/photos/', 'pool-missing')] })],
    });
    const tree = renderTree(state, installed);
    const result = await nginxTestTree(tree.files);
    expect(result.ok).toBe(false);
    const m = /host not found in upstream "pool-missing" in (\S+):(\d+)/.exec(result.output);
    expect(m, result.output).not.toBeNull();
    const conf = tree.files.find((f) => f.path === 'vhosts/gw.conf')!;
    expect(conf.lineMap[Number(m![2]) - 1]?.field).toEqual(['spec', 'pool']);
    expect(conf.lineMap[Number(m![2]) - 1]?.origin.kind).toBe('Route');
  });
});
