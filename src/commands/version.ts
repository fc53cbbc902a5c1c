import { Flags } from '@oclif/core';
import { PlainCommand } from '../cli/plain-command.js';

export default class VersionCommand extends PlainCommand {
  static override summary = "Show orch's version, and the Node.js and platform it runs on.";
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version --json'];
  static override flags = {
    json: Flags.boolean({ description: 'print the result as JSON' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(VersionCommand);
    const c = this.config;
    if (flags.json)
      process.stdout.write(
        `${JSON.stringify({ format_version: '1.0', version: c.version, node: process.version, platform: c.platform, arch: c.arch }, null, 2)}\n`,
      );
    else process.stdout.write(`${c.userAgent}\n`);
  }
}
