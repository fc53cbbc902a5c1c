import { Flags } from '@oclif/core';
import { installToJson } from '../cli/views/result-json.js';
import { installOrch, type InstallReport, type StepAction } from '../use-cases/install/install.js';
import { OrchCommand } from '../cli/orch-command.js';
import { composeInstall } from '../composition-root.js';
import type { Style } from '../cli/style.js';

export default class Install extends OrchCommand {
  static override summary = 'Install orch watch as a hardened systemd service: user, directories, config file, unit, reload permission.';
  static override description = `Run as root on the gateway. Creates the system user (--user), the managed nginx directory with pools/ and vhosts/, the state directory and /etc/orch; writes /etc/orch/config.yaml (every setting, commented) unless it exists; writes /etc/systemd/system/orch.service (orch watch, sandboxed: see docs/operations.md) and a polkit rule that lets the user run \`systemctl reload nginx\` and nothing else.

Before writing anything it runs \`nginx -T\` (with the configured nginx binary and main configuration) and checks that http { } includes <nginxDir>/pools/*.conf and then <nginxDir>/vhosts/*.conf; if not, it prints the exact lines to add and where, and exits 1 (--skip-nginx-check installs anyway). The same dump tells which nginx paths (pid file, log directories) the unit must leave writable for \`nginx -t\`.

Running it again changes nothing and says so; the unit and the polkit rule are rewritten when they differ, the config file never (--force replaces it, keeping a .bak). When a config file exists, its settings are used. ORCH_* environment variables are ignored: the daemon reads only the config file.

--prefix DIR installs into a scratch directory without root: every path orch owns (unit, config, polkit rule, managed and state directories, manifests) goes below DIR and the unit refers to those paths; nginx, node and orch themselves are not moved; no user is created and nothing is chowned.

EXIT CODES
  0  installed, or already installed
  1  error: not root, nginx check failed (nothing written), bad value`;
  static override examples = [
    'sudo <%= config.bin %> install',
    'sudo <%= config.bin %> install --dry-run',
    'sudo <%= config.bin %> install --manifests /srv/gateway/manifests --nginx-dir /etc/nginx/orch',
    '<%= config.bin %> install --prefix /tmp/orch-root --nginx-conf /tmp/nginx/nginx.conf --nginx-prefix /tmp/nginx',
  ];
  // No --config: install writes the config file (<prefix>/etc/orch/config.yaml) rather than reading one.
  // Production defaults, not the sandbox's; no --config: install writes the config file.
  static override baseFlags = {
    'manifests': Flags.string({
      char: 'm',
      description: 'manifest directory the daemon follows. Default: /srv/orch/manifests',
      helpGroup: 'GLOBAL',
    }),
    'nginx-dir': Flags.string({ description: 'managed nginx directory (pools/, vhosts/). Default: /etc/nginx/orch', helpGroup: 'GLOBAL' }),
    'state-dir': Flags.string({ description: 'state directory (database, backups, lock). Default: /var/lib/orch', helpGroup: 'GLOBAL' }),
    'nginx': Flags.string({ description: 'nginx binary (looked up on PATH). Default: nginx', helpGroup: 'GLOBAL' }),
  } as typeof OrchCommand.baseFlags;
  static override flags = {
    'prefix': Flags.string({ description: 'install below this scratch directory (tests, packaging): no root, no user, no chown' }),
    'user': Flags.string({ description: 'system user the daemon runs as (created with useradd when missing)', default: 'orch' }),
    'nginx-conf': Flags.string({ description: "main nginx configuration (`default`: nginx's built-in). Default: /etc/nginx/nginx.conf" }),
    'nginx-prefix': Flags.string({ description: "nginx prefix, -p (`default`: nginx's built-in). Default: default" }),
    'node': Flags.string({ description: 'node binary for ExecStart (default: the node running this command)' }),
    'orch-bin': Flags.string({ description: "orch's bin/run.js for ExecStart (default: this installation's)" }),
    'force': Flags.boolean({ description: 'replace an existing config file (the old one is kept as .bak)' }),
    'dry-run': Flags.boolean({ description: 'print what would be done; write nothing' }),
    'skip-nginx-check': Flags.boolean({ description: 'install even when the main nginx configuration does not include the managed files' }),
    'json': Flags.boolean({ description: 'print the result as JSON (docs/json.md)' }),
  };

  protected async execute() {
    const { flags } = await this.parse(Install);
    const report = await installOrch(composeInstall(), {
      prefix: flags.prefix ?? null,
      user: flags.user,
      node: flags.node ?? null,
      entry: flags['orch-bin'] ?? null,
      force: flags.force,
      dryRun: flags['dry-run'],
      skipNginxCheck: flags['skip-nginx-check'],
      given: {
        manifests: flags.manifests,
        nginxDir: flags['nginx-dir'],
        stateDir: flags['state-dir'],
        nginxBin: flags.nginx,
        nginxConf: flags['nginx-conf'],
        nginxPrefix: flags['nginx-prefix'],
      },
    });
    if (flags.json) this.out(JSON.stringify(installToJson(report), null, 2));
    else this.out(formatInstall(report, this.style));
  }
}

const VERB: Record<StepAction, [string, string]> = {
  'created': ['created', 'would create'],
  'updated': ['updated', 'would update'],
  'unchanged': ['unchanged', 'unchanged'],
  'kept': ['kept', 'would keep'],
  'skipped': ['skipped', 'would skip'],
  'backed-up': ['backed up', 'would back up'],
};

export function formatInstall(r: InstallReport, s: Style): string {
  const out: string[] = [];
  if (r.dryRun) out.push(s.bold('Dry run: nothing is written.'));
  if (r.prefix) out.push(s.dim(`Installing below ${r.prefix} (--prefix).`));
  out.push(
    r.nginxCheck.ok
      ? `${s.green('ok')}  nginx includes ${r.paths.nginxDir}/pools/*.conf and vhosts/*.conf inside http { }`
      : `${s.yellow('!!')}  nginx check: ${r.nginxCheck.problems.length} problem(s), see the warnings`,
  );
  const width = Math.max(...Object.values(VERB).map(([a, b]) => (r.dryRun ? b : a).length));
  for (const step of r.steps) {
    const verb = VERB[step.action][r.dryRun ? 1 : 0].padEnd(width);
    const colored =
      step.action === 'unchanged' || step.action === 'kept' ? s.dim(verb) : step.action === 'skipped' ? s.yellow(verb) : s.green(verb);
    out.push(`${colored}  ${step.what}${step.detail ? s.dim(`  (${step.detail})`) : ''}`);
  }
  for (const w of r.warnings) out.push(`${s.yellow('warning:')} ${w}`);
  out.push('');
  if (!r.changed) out.push(s.bold('Nothing to change: orch is already installed as described.'));
  else out.push(s.bold(r.dryRun ? 'Run without --dry-run to make these changes.' : 'Installed.'));
  out.push('', 'Next steps:');
  r.nextSteps.forEach((n, i) => out.push(`  ${i + 1}. ${n}`));
  return out.join('\n');
}
