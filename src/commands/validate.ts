import { Flags } from '@oclif/core';
import { ValidationError } from '../domain/errors.js';
import { statusListenerClaims } from '../domain/plan/status-listener.js';
import { loadManifests } from '../use-cases/plan/load-manifests.js';
import { positionResolver } from '../use-cases/plan/manifest-positions.js';
import { OrchCommand } from '../cli/orch-command.js';
import { diagnosticToJson, formatDiagnostics } from '../cli/views/diagnostics-text.js';
import { composeOrch } from '../composition-root.js';
import { checkWithNginx } from '../use-cases/plan/nginx-check.js';
import { plural } from '../cli/views/plural.js';

export default class Validate extends OrchCommand {
  static override summary = 'Validate the manifests: schemas, references, collisions, nginx rules, injection checks.';
  static override description = `Reads every *.yaml/*.yml document under the manifest path and reports every problem at once, each with file:line:column, the document and the field, and what to do. Nothing is written.

With --nginx-test, the manifests are also rendered as apply would render them for the installed nginx and tested once with nginx -t in a private temporary directory (with nginx's main configuration when it includes the managed directory, else alone): what only nginx can catch (an unknown directive in an extra block, a certificate that does not load) fails here, at the manifest field. Needs nginx where it runs (a CI image with nginx installed); writes nothing outside the temporary directory.

EXIT CODES
  0  the manifests are valid (warnings may be printed)
  1  at least one error`;
  static override examples = [
    '<%= config.bin %> validate --manifests examples/gateway',
    '<%= config.bin %> validate -m manifests/ --json',
    '<%= config.bin %> validate -m manifests/ --nginx-test   # in CI, where nginx is installed',
  ];
  static override flags = {
    'json': Flags.boolean({ description: 'print the result as JSON' }),
    'nginx-test': Flags.boolean({ description: 'also run nginx -t on the rendered configuration (needs nginx installed)' }),
  };

  protected async execute() {
    const { flags } = await this.parse(Validate);
    const settings = this.settingsFrom(flags);
    const orch = composeOrch(settings);
    const loaded = loadManifests(orch.manifests, settings.manifests);
    const { sources, validation } = loaded;
    const d = validation.desired;
    // The status listener is a setting, not a manifest: checked here as plan and apply check it.
    const claims = statusListenerClaims(d, settings.statusListen, positionResolver(validation.documents));
    if (claims.length > 0) throw new ValidationError([...validation.diagnostics, ...claims]);
    const routes = d.virtualHosts.reduce((n, v) => n + v.routes.length, 0);
    const counts = {
      files: sources.length,
      documents: validation.documents.length,
      pools: d.pools.length,
      virtual_hosts: d.virtualHosts.length,
      routes,
      migrations: d.migrations.length,
    };
    const nginx = flags['nginx-test'] ? await checkWithNginx(orch, loaded) : null;
    if (nginx && !nginx.ok) throw new ValidationError([...validation.diagnostics, ...nginx.diagnostics]);
    const diagnostics = [...validation.diagnostics, ...(nginx?.diagnostics ?? [])];
    if (flags.json) {
      this.out(
        JSON.stringify(
          {
            valid: true,
            counts,
            nginx: nginx
              ? { checked: true, version: nginx.version, scope: nginx.scope, duration_ms: Math.round(nginx.durationMs) }
              : { checked: false },
            diagnostics: diagnostics.map(diagnosticToJson),
          },
          null,
          2,
        ),
      );
      return;
    }
    if (diagnostics.length > 0) this.err(formatDiagnostics(diagnostics, this.errStyle));
    this.out(
      this.style.green(
        `Manifests are valid: ${plural(counts.documents, 'document')} in ${plural(counts.files, 'file')} (${plural(counts.pools, 'pool')}, ${plural(counts.virtual_hosts, 'virtual host')}, ${plural(routes, 'route')}, ${plural(counts.migrations, 'migration')}).`,
      ),
    );
    if (nginx)
      this.out(
        this.style.green(
          `nginx ${nginx.version} accepts them: nginx -t passed ${nginx.scope === 'main' ? "with nginx's main configuration" : 'on the rendered files alone (the main configuration does not include the managed directory)'} in ${(nginx.durationMs / 1000).toFixed(2)}s.`,
        ),
      );
  }
}
