import { Args, Flags } from '@oclif/core';
import { nodeConfig } from '../use-cases/install/node-config.js';
import { OrchCommand } from '../cli/orch-command.js';
import { composeOrch } from '../composition-root.js';

export default class NodeConfig extends OrchCommand {
  static override summary =
    'Print (or write) the configuration of a pool member: nanio options (with its users) and unit, or an nginx file server.';
  static override description = `Rendered from the pool's manifest, read through the same settings as 'orch plan'; never deployed: copy the files to the member yourself.

nanio pools: nanio-options.toml (nanio serve --options: data_dir, host, port, region, and the [[users]] nanio accepts: the pool's credentials as orch reads them) and nanio.service (a hardened systemd unit). Printed, every credential is a placeholder naming where the gateway reads it — never a value. With --out, the options file is written with the values (mode 0600), read from the references like orch does; a reference that does not resolve writes nothing.
http pools: <pool>-file-server.conf, an nginx server block that serves files (root, listen on the member's port, sendfile, no directory listing, GET and HEAD only), with the file layout the gateway's routes imply.

MEMBER is an address of the pool as written in the manifest, or its index in spec.members (from 0). Without it, the files are for a new member: the port the members share, listening on every interface, and a reminder to add the member to the manifest.

EXIT CODES
  0  rendered (or written with --out)
  1  error: invalid manifests, unknown pool or member, a file in --out would be replaced without --force, a credential reference --out needs does not resolve`;
  static override examples = [
    '<%= config.bin %> node-config pool-2025 10.20.0.13:9000',
    '<%= config.bin %> node-config pool-2025 --out /tmp/new-member',
    '<%= config.bin %> node-config cdn-files 0 --root /srv/cdn',
    '<%= config.bin %> node-config pool-2026 2 --json',
  ];
  static override args = {
    pool: Args.string({ ignoreStdin: true, description: 'pool name (metadata.name of a Pool manifest)', required: true }),
    member: Args.string({
      ignoreStdin: true,
      description: 'member address as in the manifest, or its index from 0; omitted: a new member',
      required: false,
    }),
  };
  static override flags = {
    'out': Flags.string({ description: 'write the files into this directory instead of printing them' }),
    'force': Flags.boolean({ description: 'with --out: replace files that exist with other content' }),
    'data-dir': Flags.string({ description: "nanio: data directory, the pool's shared storage", default: '/var/lib/nanio' }),
    'nanio-bin': Flags.string({ description: 'nanio: the nanio executable for ExecStart', default: '/usr/local/bin/nanio' }),
    'user': Flags.string({ description: 'nanio: system user of the service', default: 'nanio' }),
    'config-dir': Flags.string({ description: 'nanio: directory of options.toml on the member', default: '/etc/nanio' }),
    'region': Flags.string({ description: 'nanio: S3 region nanio reports', default: 'us-east-1' }),
    'root': Flags.string({ description: 'http: directory the file server serves', default: '/srv/files' }),
    'json': Flags.boolean({ description: 'print the files and next steps as JSON' }),
  };

  protected async execute() {
    const { args, flags } = await this.parse(NodeConfig);
    const settings = this.settingsFrom(flags);
    const { config, written } = nodeConfig(composeOrch(settings), {
      pool: args.pool,
      member: args.member ?? null,
      dataDir: flags['data-dir'],
      nanioBin: flags['nanio-bin'],
      user: flags.user,
      configDir: flags['config-dir'],
      region: flags.region,
      root: flags.root,
      out: flags.out ?? null,
      force: flags.force,
    });
    if (flags.json) {
      this.out(
        JSON.stringify(
          {
            format_version: '1.0',
            pool: config.pool,
            type: config.type,
            member: config.member.index === null ? null : { index: config.member.index, address: config.member.address },
            listen: config.listen,
            files: config.files.map((f, i) => ({
              name: f.name,
              install_as: f.installAs,
              mode: `0${f.mode.toString(8)}`,
              content: f.content,
              written_to: written[i] ?? null,
            })),
            next_steps: config.nextSteps,
          },
          null,
          2,
        ),
      );
      return;
    }
    const s = this.style;
    const out: string[] = [];
    const whom = config.member.index === null ? 'a new member' : `member ${config.member.address}`;
    if (written.length > 0) {
      out.push(`Wrote the configuration of ${whom} of ${config.type} pool ${config.pool}:`);
      config.files.forEach((f, i) => out.push(`  ${written[i]}  ${s.dim(`(install as ${f.installAs}, mode 0${f.mode.toString(8)})`)}`));
    } else {
      for (const f of config.files) {
        out.push(s.bold(`# ==> ${f.name}: install as ${f.installAs} (mode 0${f.mode.toString(8)}) <==`), f.content);
      }
    }
    out.push(s.bold('Next steps on the member:'));
    config.nextSteps.forEach((n, i) => out.push(`  ${i + 1}. ${n}`));
    this.out(out.join('\n'));
  }
}
