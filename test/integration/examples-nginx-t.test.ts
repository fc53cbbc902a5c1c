import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nginxVersion } from '../../src/adapters/nginx/nginx-cli.js';
import { fileManifestLoader } from '../../src/adapters/manifests/file-manifest-loader.js';
import { loadManifests } from '../../src/use-cases/plan/load-manifests.js';
import { renderTree } from '../../src/domain/render/render-tree.js';
import { nginxFeaturesFor } from '../../src/domain/render/rendered-tree.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { makeSelfSignedCert, nginxBinary, nginxTestTree, type SelfSignedCert } from '../helpers/nginx.js';

/**
 * Every example's rendered tree passes the real `nginx -t`. examples/gateway points its TLS
 * virtual host at the Debian snakeoil pair, which a test machine may not have: the test
 * substitutes a throwaway certificate for those two paths and nothing else.
 */
describe('examples render to trees that nginx accepts', () => {
  let dir: string;
  let cert: SelfSignedCert;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-examples-'));
    cert = await makeSelfSignedCert(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const example of ['examples/gateway', 'examples/sandbox']) {
    it(`${example} passes nginx -t`, async () => {
      const version = await nginxVersion(nginxBinary());
      expect(version, 'nginx must be installed').not.toBeNull();
      const { validation } = loadManifests(fileManifestLoader(), join(REPO_ROOT, example));
      const tree = renderTree(validation.desired, nginxFeaturesFor(version));
      const files = tree.files.map((f) => ({
        path: f.path,
        content: f.content
          .replaceAll('/etc/ssl/certs/ssl-cert-snakeoil.pem', cert.certificate)
          .replaceAll('/etc/ssl/private/ssl-cert-snakeoil.key', cert.key),
      }));
      const result = await nginxTestTree(files);
      expect(result.output).not.toMatch(/\[(emerg|warn)\]/);
      expect(result.ok, result.output).toBe(true);
    });
  }
});
