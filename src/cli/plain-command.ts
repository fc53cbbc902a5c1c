import { Command } from '@oclif/core';

/**
 * A command without orch's settings (help, version, completion): oclif's own error handling,
 * except that a usage error exits 1 like every other orch command (oclif's 2 means "changes
 * present" to orch's callers).
 */
export abstract class PlainCommand extends Command {
  protected override async catch(err: Error & { oclif?: { exit?: number } }): Promise<unknown> {
    if (err.oclif?.exit === 2) err.oclif.exit = 1;
    return super.catch(err);
  }
}
