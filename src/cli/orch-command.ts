import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, Flags } from '@oclif/core';
import { resolveSettings, type Settings } from '../config/settings.js';
import type { ExitCodeValue } from '../domain/errors.js';
import { shellWord } from './hint-commands.js';
import { reportError } from './report-error.js';
import { colorFlag, styleFor, type Style } from './style.js';

export const EXIT_CODES_HELP = `EXIT CODES
  0  success (plan: no changes, unless --detailed-exitcode is not set)
  1  error: invalid manifests, bad input, failure
  2  changes present (plan --detailed-exitcode)
  3  another orch writer holds the lock
  4  the saved plan is stale: its inputs changed
  5  nginx -t rejected the new configuration (nothing live was touched)
  6  nginx reload not confirmed (rolled back)`;

/** Config files the commands read when no --config / ORCH_CONFIG is given. */
export const CONFIG_CANDIDATES = ['orch.yaml', '/etc/orch/config.yaml'];

/** Shared by every command: settings flags, output streams, and the one error boundary. */
export abstract class OrchCommand extends Command {
  static override baseFlags = {
    'config': Flags.string({
      description: 'orch config file (YAML). Env: ORCH_CONFIG. Default: ./orch.yaml, then /etc/orch/config.yaml.',
      helpGroup: 'GLOBAL',
    }),
    'manifests': Flags.string({
      char: 'm',
      description: 'manifest directory or file. Env: ORCH_MANIFESTS. Default: ./manifests',
      helpGroup: 'GLOBAL',
    }),
    'nginx-dir': Flags.string({
      description: 'managed nginx directory (pools/, vhosts/). Env: ORCH_NGINX_DIR. Default: ./.orch/nginx',
      helpGroup: 'GLOBAL',
    }),
    'state-dir': Flags.string({
      description: 'state directory (database, backups, lock). Env: ORCH_STATE_DIR. Default: ./.orch/state',
      helpGroup: 'GLOBAL',
    }),
    'nginx': Flags.string({ description: 'nginx binary. Env: ORCH_NGINX. Default: nginx', helpGroup: 'GLOBAL' }),
    'color': Flags.boolean({
      allowNo: true,
      description:
        'colour the output (NO_COLOR set: off; FORCE_COLOR=1: on, FORCE_COLOR=0: off). Env: NO_COLOR, FORCE_COLOR. Default: on a terminal',
      helpGroup: 'GLOBAL',
    }),
  };

  protected style: Style = styleFor(process.stdout);
  protected errStyle: Style = styleFor(process.stderr);
  protected jsonOutput = false;
  /** The settings flags of this command line, as shell words: hints repeat them (completeHintCommands). */
  protected settingsArgs: string[] = [];

  /** The command's work; returns its exit code. Only the error boundary below sets process.exitCode. */
  protected abstract execute(): Promise<ExitCodeValue | void>;

  async run(): Promise<void> {
    this.jsonOutput = this.argv.includes('--json');
    const color = colorFlag(this.argv);
    this.style = styleFor(process.stdout, process.env, color);
    this.errStyle = styleFor(process.stderr, process.env, color);
    let code: ExitCodeValue = 0;
    try {
      code = (await this.execute()) ?? 0;
    } catch (err) {
      code = reportError(err, {
        stdout: (s) => process.stdout.write(`${s}\n`),
        stderr: (s) => process.stderr.write(`${s}\n`),
        style: this.errStyle,
        json: this.jsonOutput,
        settingsArgs: this.settingsArgs,
      });
    }
    process.exitCode = code;
  }

  protected settingsFrom(flags: {
    'config'?: string | undefined;
    'manifests'?: string | undefined;
    'nginx-dir'?: string | undefined;
    'state-dir'?: string | undefined;
    'nginx'?: string | undefined;
  }): Settings {
    this.settingsArgs = [];
    for (const name of ['config', 'manifests', 'nginx-dir', 'state-dir', 'nginx'] as const) {
      const value = flags[name];
      if (value !== undefined) this.settingsArgs.push(`--${name}`, shellWord(value));
    }
    const settings = resolveSettings({
      flags: {
        manifests: flags.manifests,
        nginxDir: flags['nginx-dir'],
        stateDir: flags['state-dir'],
        nginxBin: flags.nginx,
      },
      env: process.env,
      configPath: flags.config ?? null,
      candidates: CONFIG_CANDIDATES,
      readFile: (p) => (existsSync(p) ? readFileSync(p, 'utf8') : null),
    });
    // Directories nginx and the lock see must not depend on the working directory of a later process.
    settings.nginxDir = resolve(settings.nginxDir);
    settings.stateDir = resolve(settings.stateDir);
    if (settings.nginxConf) settings.nginxConf = resolve(settings.nginxConf);
    if (settings.nginxPrefix) settings.nginxPrefix = resolve(settings.nginxPrefix);
    return settings;
  }

  protected out(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  protected err(text: string): void {
    process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }
}
