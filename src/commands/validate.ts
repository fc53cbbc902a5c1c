import { Flags } from '@oclif/core';
import { ValidationError } from '../domain/errors.js';
import { statusListenerClaims } from '../domain/plan/status-listener.js';
import { loadManifests } from '../use-cases/plan/load-manifests.js';
import { positionResolver } from '../use-cases/plan/manifest-positions.js';
import { OrchCommand } from '../cli/orch-command.js';
import { diagnosticToJson, formatDiagnostics } from '../cli/views/diagnostics-text.js';
import { composeOrch } from '../composition-root.js';

export default class Validate extends OrchCommand {
  static override summary = 'Validate the manifests: schemas, references, collisions, nginx rules, injection checks.';
  static override description = `Reads every *.yaml/*.yml document under the manifest path and reports every problem at once, each with file:line:column, the document and the field, and what to do. Nothing is written.

EXIT CODES
  0  the manifests are valid (warnings may be printed)
  1  at least one error`;
  static override examples = ['<%= config.bin %> validate --manifests examples/gateway', '<%= config.bin %> validate -m manifests/ --json'];
  static override flags = {
    json: Flags.boolean({ description: 'print the result as JSON' }),
  };

  protected async execute() {
    const { flags } = await this.parse(Validate);
    const settings = this.settingsFrom(flags);
    const { sources, validation } = loadManifests(composeOrch(settings).manifests, settings.manifests);
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
    if (flags.json) {
      this.out(
        JSON.stringify({ format_version: '1.0', valid: true, counts, diagnostics: validation.diagnostics.map(diagnosticToJson) }, null, 2),
      );
      return;
    }
    if (validation.diagnostics.length > 0) this.err(formatDiagnostics(validation.diagnostics, this.errStyle));
    this.out(
      this.style.green(
        `Manifests are valid: ${counts.documents} documents in ${counts.files} files (${counts.pools} pools, ${counts.virtual_hosts} virtual hosts, ${routes} routes, ${counts.migrations} migrations).`,
      ),
    );
  }
}
