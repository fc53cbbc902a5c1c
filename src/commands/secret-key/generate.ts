import { Flags } from '@oclif/core';
import { OrchCommand } from '../../cli/orch-command.js';
import { composeSecretKeyFiles } from '../../composition-root.js';

export default class SecretKeyGenerate extends OrchCommand {
  static override summary = 'Generate a key that encrypts pool credentials at rest (AES-256).';
  static override description = `Without --out, prints a new key (base64) on standard output, for ORCH_SECRET_KEY; its key id goes to standard error. With --out FILE, writes a key file readable by its owner only (mode 0600) and prints only the key id; with --rotate, the new key goes in front of the keys already in FILE (the old ones stay readable until every sidecar was written again by an apply).

Point orch at the file with the secretKeyFile setting or ORCH_SECRET_KEY_FILE. See docs/buckets.md.`;
  static override examples = [
    'export ORCH_SECRET_KEY=$(<%= config.bin %> secret-key generate)',
    '<%= config.bin %> secret-key generate --out /etc/orch/secret.key',
    '<%= config.bin %> secret-key generate --out /etc/orch/secret.key --rotate',
    '<%= config.bin %> secret-key generate --out /etc/orch/secret.key --json',
  ];
  static override flags = {
    out: Flags.string({ description: 'write a key file (mode 0600) instead of printing the key' }),
    rotate: Flags.boolean({ description: 'with --out: put the new key in front of an existing key file' }),
    json: Flags.boolean({ description: 'print the result as JSON (the key itself only without --out)' }),
  };

  protected async execute() {
    const { flags } = await this.parse(SecretKeyGenerate);
    const keys = composeSecretKeyFiles();
    const key = keys.generate();
    if (!flags.out) {
      if (flags.json) {
        this.out(
          JSON.stringify(
            { format_version: '1.0', key_id: key.id, key: key.bytes.toString('base64'), file: null, previous_keys: 0 },
            null,
            2,
          ),
        );
        return;
      }
      this.out(key.bytes.toString('base64'));
      this.err(this.errStyle.dim(`key id ${key.id}`));
      return;
    }
    const { previousKeys } = keys.write(flags.out, key, { rotate: flags.rotate });
    if (flags.json) {
      this.out(JSON.stringify({ format_version: '1.0', key_id: key.id, key: null, file: flags.out, previous_keys: previousKeys }, null, 2));
      return;
    }
    this.out(
      `Wrote key ${key.id} to ${flags.out} (mode 0600)${previousKeys > 0 ? `, in front of ${previousKeys} older key${previousKeys === 1 ? '' : 's'} (still readable)` : ''}. Set secretKeyFile: ${flags.out} (or ORCH_SECRET_KEY_FILE).`,
    );
  }
}
