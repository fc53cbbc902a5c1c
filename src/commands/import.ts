import { readFileSync } from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { importGateway } from '../use-cases/recovery/import-gateway.js';
import { UserError } from '../domain/errors.js';
import { IMPORT_SOURCES, type ImportSource } from '../domain/import/import-result.js';
import { OrchCommand } from '../cli/orch-command.js';
import { formatImportText, importToJson } from '../cli/views/import-text.js';
import { composeOrch } from '../composition-root.js';

export default class Import extends OrchCommand {
  static override summary = "Write manifests that reproduce an existing nginx tree: orch's own, the reference tool's, or hand-written.";
  static override description = `Reads DIR (never changes it) and writes manifests to --out such that planning them against that installation changes nothing about how nginx routes traffic. The first 'orch apply' then takes ownership of the files (the plan shows them as "adopt").

Sources (--from, detected when omitted):
  orch                orch's managed directory: from the sidecars (manifests go back to their original files)
  nanio-orchestrator  the reference tool's pools/ and vhosts/ with their .meta.json sidecars;
                      encrypted credentials are recovered with --reference-key into <out>/credentials.env (0600);
                      its running migrations (--reference-data) become Migration documents
  nginx               hand-written upstream and server blocks; what does not map to the model is carried
                      verbatim into extraBlocks, with one warning per construct

Every manifest written passes validation; nothing is written otherwise. Relative paths (certificates) are
resolved as nginx resolves them: against the directory of its main configuration (ORCH_NGINX_CONF,
default /etc/nginx/nginx.conf).

Routing check: every server name and location of DIR (and of what orch renders from the manifests) is
exercised with the requests that reach it (GET and PUT, from clients each IP rule covers and from one
none covers), through both configurations. Every request answered differently is listed; "routing
unchanged" is printed only when there is none.

EXIT CODES
  0  manifests written (warnings may be printed)
  1  error: nothing was written`;
  static override examples = [
    '<%= config.bin %> import /etc/nginx/orch --out manifests',
    '<%= config.bin %> import /etc/nginx/nanio --out manifests --reference-key-file /etc/nanio-orchestrator/secret --reference-data /opt/nanio-orchestrator/data',
    '<%= config.bin %> import /etc/nginx/conf.d --out manifests --from nginx',
  ];
  static override args = { dir: Args.string({ ignoreStdin: true, description: 'directory of the nginx files to import', required: true }) };
  static override flags = {
    'out': Flags.string({ description: 'directory to write the manifests to (must be empty unless --force)', required: true }),
    'from': Flags.string({ description: 'what wrote DIR (default: detected)', options: [...IMPORT_SOURCES] }),
    'force': Flags.boolean({ description: 'write into a non-empty --out directory' }),
    'reference-key': Flags.string({ description: "the reference tool's Fernet key (its SECRET setting). Env: ORCH_REFERENCE_KEY" }),
    'reference-key-file': Flags.string({ description: "a file holding the reference tool's Fernet key" }),
    'reference-data': Flags.string({
      description: "the reference tool's data directory (holding migrations/*.state.json and *.done.json)",
    }),
    'json': Flags.boolean({ description: 'print the result as JSON' }),
  };

  protected async execute() {
    const { args, flags } = await this.parse(Import);
    const settings = this.settingsFrom(flags);
    let key = flags['reference-key'] ?? process.env['ORCH_REFERENCE_KEY'] ?? null;
    if (flags['reference-key-file']) {
      try {
        key = readFileSync(flags['reference-key-file'], 'utf8').trim();
      } catch (e) {
        throw new UserError('import.key-file', `Cannot read the key file ${flags['reference-key-file']}: ${(e as Error).message}.`);
      }
    }
    const report = await importGateway(composeOrch(settings), {
      dir: args.dir,
      out: flags.out,
      from: (flags.from as ImportSource | undefined) ?? null,
      force: flags.force,
      referenceKey: key === '' ? null : key,
      nginxBin: settings.nginxBin,
      nginxConf: settings.nginxConf ?? '/etc/nginx/nginx.conf',
      referenceData: flags['reference-data'] ?? null,
      cwd: process.cwd(),
    });
    if (flags.json) this.out(JSON.stringify(importToJson(report), null, 2));
    else this.out(formatImportText(report, this.style));
  }
}
