import type { Diagnostic } from '../../domain/diagnostics.js';
import { UserError } from '../../domain/errors.js';
import { nginxFeaturesFor } from '../../domain/render/rendered-tree.js';
import { renderTree } from '../../domain/render/render-tree.js';
import type { Nginx } from '../../ports/nginx.js';
import { mapNginxOutput } from '../apply/map-nginx-errors.js';
import type { LoadedManifests } from './load-manifests.js';

export interface NginxCheck {
  ok: boolean;
  /** The nginx version that checked them. */
  version: string;
  /** `main`: with nginx's main configuration (it includes the managed directory); `wrapper`: alone. */
  scope: 'main' | 'wrapper';
  /** nginx's errors and warnings, at the manifest fields that produced the lines. */
  diagnostics: Diagnostic[];
  durationMs: number;
}

/**
 * `orch validate --nginx-test`: what only nginx can catch (an unknown directive in an extra block, a
 * certificate that does not load, a module that is not built in), found before a plan is applied:
 * the manifests rendered as apply would render them for this nginx, tested once with `nginx -t` in
 * a private temporary tree. Opt-in: it needs nginx installed where it runs (a CI image with nginx).
 */
export async function checkWithNginx(ports: { nginx: Nginx }, manifests: LoadedManifests): Promise<NginxCheck> {
  const version = await ports.nginx.version();
  if (version === null)
    throw new UserError('nginx.not-found', 'validate --nginx-test needs nginx installed where it runs, and none was found.', {
      hint: 'Install nginx (Debian/Ubuntu: sudo apt-get install -y nginx-light) or point ORCH_NGINX at it; or validate without --nginx-test.',
    });
  const tree = renderTree(manifests.validation.desired, nginxFeaturesFor(version));
  const r = await ports.nginx.testTree(tree.files);
  const mapped = mapNginxOutput(r.output, r.treeRoot, tree.files, manifests.validation.documents);
  const diagnostics: Diagnostic[] =
    !r.ok && !mapped.some((d) => d.severity === 'error')
      ? [
          ...mapped,
          { severity: 'error', code: 'nginx.test', message: `nginx -t failed: ${r.output.trim().split('\n').slice(-3).join(' ')}` },
        ]
      : mapped;
  return { ok: r.ok, version, scope: r.scope, diagnostics, durationMs: r.durationMs };
}
