import { existsSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { applyGateway } from '../../use-cases/apply/apply-gateway.js';
import { loadManifests } from '../../use-cases/plan/load-manifests.js';
import { SANDBOX_EXAMPLE, startSandboxNginx } from '../../use-cases/install/sandbox.js';
import { lineReporter } from '../../cli/apply-reporter.js';
import { OrchCommand } from '../../cli/orch-command.js';
import { refusalError } from '../../domain/apply/apply-guards.js';
import { composeOrch } from '../../composition-root.js';

export default class SandboxUp extends OrchCommand {
  static override summary = 'Bring up a local gateway: a private nginx on loopback ports, with the manifests applied.';
  static override description = `Starts a private nginx under ./.orch/sandbox (no root needed), with small demo backends standing in for every pool member on 127.0.0.1, then applies the manifests to ./.orch/nginx through the normal apply path and sends a request through each virtual host.

Without --manifests (and no ./manifests directory), the example in examples/sandbox is used.`;
  static override examples = ['<%= config.bin %> sandbox up', '<%= config.bin %> sandbox up -m examples/sandbox'];

  protected async execute() {
    const { flags } = await this.parse(SandboxUp);
    const settings = this.settingsFrom(flags);
    if (!flags.manifests && !process.env['ORCH_MANIFESTS'] && !existsSync(settings.manifests))
      settings.manifests = shownPath(SANDBOX_EXAMPLE);
    const orch = composeOrch(settings);
    const { validation } = loadManifests(orch.manifests, settings.manifests);
    const { pid, started } = await startSandboxNginx(orch, validation.desired);
    this.out(this.style.green(`Sandbox nginx ${started ? 'started' : 'running'} (pid ${pid}, prefix ${settings.nginxPrefix}).`));

    const reporter = lineReporter((l) => this.out(l), this.style);
    const result = await applyGateway(orch, {
      planFile: null,
      dryRun: false,
      overwriteDrift: new Set(),
      maxDelete: settings.maxDelete,
      allowEmpty: false,
      confirm: null,
      emit: (e) => reporter.emit(e),
      command: 'sandbox-up',
    });
    if (result.refusal) throw refusalError(result.refusal);
    const gen = result.outcome?.generation;
    this.out(this.style.green(gen ? `Applied ${settings.manifests} as generation ${gen}.` : 'Already up to date.'));

    this.out('\nThrough the gateway:');
    for (const vhost of validation.desired.virtualHosts) {
      const host = vhost.address ?? '127.0.0.1';
      const name = vhost.serverNames[0] ?? 'localhost';
      const paths = [...vhost.routes.filter((r) => r.enabled).map((r) => `${r.path}example.txt`), '/other-bucket/key.txt'];
      for (const path of paths.slice(0, 4)) {
        const r = await orch.sandbox.probe(host, vhost.port, name, path);
        const cmd = `curl -s -H 'Host: ${name}' http://${host.includes(':') ? `[${host}]` : host}:${vhost.port}${path}`;
        this.out(`  $ ${cmd}\n    ${r ? `${r.status} ${r.body}` : this.style.red('no answer')}`);
      }
    }
    this.out(
      `\nNext: edit a manifest under ${settings.manifests}, then\n  ./bin/run.js plan -m ${settings.manifests}\n  ./bin/run.js apply -m ${settings.manifests}\nStop with: ./bin/run.js sandbox down`,
    );
  }
}

/** A path as messages show it: relative to the working directory when below it. */
function shownPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}
