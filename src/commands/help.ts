import { Args, loadHelpClass } from '@oclif/core';
import { PlainCommand } from '../cli/plain-command.js';
import { printable } from '../cli/command-not-found.js';

export default class HelpCommand extends PlainCommand {
  static override summary = 'Show help for orch or for one command.';
  static override description = 'The same text as `orch COMMAND --help`. Without a command: the list of commands and topics.';
  static override examples = ['<%= config.bin %> help', '<%= config.bin %> help plan', '<%= config.bin %> help buckets orphans'];
  static override strict = false;
  static override args = {
    command: Args.string({ description: 'the command (words separated by spaces, as you run it)', required: false, ignoreStdin: true }),
  };

  async run(): Promise<void> {
    const { argv } = await this.parse(HelpCommand);
    const words = (argv as string[]).filter((a) => !a.startsWith('-'));
    const Help = await loadHelpClass(this.config);
    const help = new Help(this.config, this.config.pjson.oclif.helpOptions ?? this.config.pjson.helpOptions);
    const id = words.join(':');
    if (words.length > 0 && !this.config.findCommand(id) && !this.config.findTopic(id)) {
      process.stderr.write(
        `Error: '${printable(words.join(' '))}' is not an orch command. See the commands with: ${this.config.bin} help\n`,
      );
      this.exit(1);
    }
    await help.showHelp(words.length > 0 ? [id] : []);
  }
}
