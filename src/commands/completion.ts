import { Args } from '@oclif/core';
import { PlainCommand } from '../cli/plain-command.js';
import { bashCompletion, fishCompletion, zshCompletion, type CompletionCommand } from '../cli/completion-script.js';

export default class Completion extends PlainCommand {
  static override summary = 'Print a shell completion script (bash, zsh or fish) for every orch command and flag.';
  static override description = `Load it once in your shell's start-up file, or install it where your shell looks:
  bash: orch completion bash > /etc/bash_completion.d/orch     (or add: source <(orch completion bash) to ~/.bashrc)
  zsh:  orch completion zsh > "\${fpath[1]}/_orch"              (or add: source <(orch completion zsh) to ~/.zshrc)
  fish: orch completion fish > ~/.config/fish/completions/orch.fish`;
  static override examples = [
    '<%= config.bin %> completion bash > /etc/bash_completion.d/orch',
    'source <(<%= config.bin %> completion zsh)',
  ];
  static override args = {
    shell: Args.string({ description: 'the shell', options: ['bash', 'zsh', 'fish'], required: true, ignoreStdin: true }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(Completion);
    const commands: CompletionCommand[] = this.config.commands
      .filter((c) => !c.hidden)
      .map((c) => {
        const flags: string[] = [];
        const valueFlags: string[] = [];
        for (const [name, f] of Object.entries(c.flags ?? {})) {
          if (f.hidden) continue;
          const names = [`--${name}`, ...(f.char ? [`-${f.char}`] : [])];
          if (f.type === 'boolean' && f.allowNo) names.push(`--no-${name}`);
          flags.push(...names);
          if (f.type === 'option') valueFlags.push(...names);
        }
        return { words: c.id.split(':'), flags, valueFlags };
      });
    const make = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion }[args.shell as 'bash' | 'zsh' | 'fish'];
    process.stdout.write(make(this.config.bin, commands));
  }
}
