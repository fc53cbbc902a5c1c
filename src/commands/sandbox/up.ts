import { Flags } from '@oclif/core';
import { cpSync, existsSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { applyGateway } from '../../use-cases/apply/apply-gateway.js';
import { loadManifests } from '../../use-cases/plan/load-manifests.js';
import { SANDBOX_EXAMPLE, startSandboxNginx } from '../../use-cases/install/sandbox.js';
import { lineReporter } from '../../cli/apply-reporter.js';
import { OrchCommand } from '../../cli/orch-command.js';
import { shellWord } from '../../cli/hint-commands.js';
import { refusalError } from '../../domain/apply/apply-guards.js';
import { composeOrch } from '../../composition-root.js';

export default class SandboxUp extends OrchCommand {
  static override summary = 'Bring up a local gateway: a private nginx on loopback ports, with the manifests applied.';
  static override description = `Starts a private nginx under ./.orch/sandbox (no root needed), with small demo backends standing in for every pool member on 127.0.0.1, then applies the manifests to ./.orch/nginx through the normal apply path and sends a request through each virtual host.

Without --manifests (and no ./manifests directory), the example in examples/sandbox is copied to ./manifests first: edit the copy, then plan and apply it.`;
  static override examples = [
    '<%= config.bin %> sandbox up',
    '<%= config.bin %> sandbox up -m examples/sandbox',
    '<%= config.bin %> sandbox up --json',
  ];
  static override flags = {
    json: Flags.boolean({ description: 'print the result as JSON (progress goes to stderr)' }),
  };

  protected async execute() {
    const { flags } = await this.parse(SandboxUp);
    const settings = this.settingsFrom(flags);
    let copied = false;
    if (
      !flags.manifests &&
      !process.env['ORCH_MANIFESTS'] &&
      resolve(settings.manifests) === resolve('manifests') &&
      !existsSync(settings.manifests)
    ) {
      // A copy the operator may edit (never the example shipped with orch, which may be read-only).
      cpSync(SANDBOX_EXAMPLE, settings.manifests, { recursive: true, errorOnExist: true, force: false });
      copied = true;
    }
    const orch = composeOrch(settings);
    // With --json, stdout holds only the result: everything for people goes to stderr.
    const say = (line: string): void => (flags.json ? this.err(line) : this.out(line));
    if (copied) say(`Copied the example manifests (${shownPath(SANDBOX_EXAMPLE)}) to ${shownPath(settings.manifests)}: edit them there.`);
    const { validation } = loadManifests(orch.manifests, settings.manifests);
    const { pid, started } = await startSandboxNginx(orch, validation.desired);
    say(this.style.green(`Sandbox nginx ${started ? 'started' : 'running'} (pid ${pid}, prefix ${settings.nginxPrefix}).`));

    const reporter = lineReporter(say, this.style);
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
    say(this.style.green(gen ? `Applied ${settings.manifests} as generation ${gen}.` : 'Already up to date.'));

    say('\nThrough the gateway:');
    const probes: Array<{ virtual_host: string; command: string; status: number | null; body: string | null }> = [];
    for (const vhost of validation.desired.virtualHosts) {
      const host = vhost.address ?? '127.0.0.1';
      const name = vhost.serverNames[0] ?? 'localhost';
      const paths = [...vhost.routes.filter((r) => r.enabled).map((r) => `${r.path}example.txt`), '/other-bucket/key.txt'];
      for (const path of paths.slice(0, 4)) {
        const r = await orch.sandbox.probe(host, vhost.port, name, path);
        const cmd = `curl -s -H 'Host: ${name}' http://${host.includes(':') ? `[${host}]` : host}:${vhost.port}${path}`;
        probes.push({ virtual_host: vhost.name, command: cmd, status: r?.status ?? null, body: r?.body ?? null });
        say(`  $ ${cmd}\n    ${r ? `${r.status} ${r.body}` : this.style.red('no answer')}`);
      }
    }
    const bin = this.config.bin;
    const m = flags.manifests ? ` -m ${shellWord(flags.manifests)}` : '';
    if (flags.json) {
      this.out(
        JSON.stringify(
          {
            format_version: '1.0',
            copied_example: copied,
            manifests: settings.manifests,
            nginx: { pid, started, prefix: settings.nginxPrefix },
            generation: gen ?? null,
            probes,
          },
          null,
          2,
        ),
      );
      return;
    }
    this.out(
      `\nNext: edit a manifest under ${shownPath(settings.manifests)}, then\n  ${bin} plan${m}\n  ${bin} apply${m}\nStop with: ${bin} sandbox down`,
    );
  }
}

/** A path as messages show it: relative to the working directory when below it. */
function shownPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}
