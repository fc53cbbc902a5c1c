import { Flags } from '@oclif/core';
import { rebuildDatabase } from '../use-cases/recovery/rebuild-db.js';
import { OrchCommand } from '../cli/orch-command.js';
import { formatRebuildText, rebuildToJson } from '../cli/views/rebuild-text.js';
import { composeOrch } from '../composition-root.js';

export default class RebuildDb extends OrchCommand {
  static override summary = 'Rebuild the state database from the managed nginx directory, its sidecars and the migration state files.';
  static override description = `The database is a cache of the disk. This records every file carrying orch's marker (hashes recomputed, resource, manifest origin from the sidecars) as a new generation with outcome "rebuilt" (numbered as the generation nginx serves, from the status file), stores the files' contents so rollback works, and restores migrations from <stateDir>/migrations/*.state.json and *.done.json. A missing or corrupt sidecar is named, with what could still be recovered from the .conf alone. No nginx file is touched.

It refuses a database that is not empty (or is corrupt) unless --force; the old file is then kept as orch.db.before-rebuild-<time>. A corrupt database is moved aside, never opened for writing. Afterwards, 'orch plan' against the same manifests shows no change.

EXIT CODES
  0  rebuilt (or, with --dry-run, previewed)
  1  refused or failed: nothing was written
  3  another orch writer holds the lock`;
  static override examples = [
    '<%= config.bin %> rebuild-db --dry-run',
    '<%= config.bin %> rebuild-db',
    '<%= config.bin %> rebuild-db --force',
  ];
  static override flags = {
    'dry-run': Flags.boolean({ description: 'print what would be recovered; write nothing' }),
    'force': Flags.boolean({ description: 'replace a database that is not empty or is corrupt (the old file is kept)' }),
    'json': Flags.boolean({ description: 'print the result as JSON' }),
    'lock-timeout': Flags.integer({ description: 'seconds to wait for another writer' }),
  };

  protected async execute() {
    const { flags } = await this.parse(RebuildDb);
    const settings = this.settingsFrom(flags);
    if (flags['lock-timeout'] !== undefined) settings.lockTimeoutSeconds = flags['lock-timeout'];
    const result = await rebuildDatabase(composeOrch(settings), { dryRun: flags['dry-run'], force: flags.force, command: 'rebuild-db' });
    if (flags.json) this.out(JSON.stringify(rebuildToJson(result), null, 2));
    else this.out(formatRebuildText(result, settings.nginxDir, this.style));
  }
}
