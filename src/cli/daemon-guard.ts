import { resolve } from 'node:path';
import type { Settings } from '../config/settings.js';
import type { Orch } from '../composition-root.js';
import { daemonReport } from '../use-cases/status/daemon-report.js';
import { suspendWatch } from '../use-cases/watch/suspension.js';
import { completeHintCommands } from './hint-commands.js';
import { confirmTyped } from './prompt.js';
import type { Style } from './style.js';

export interface DaemonGuardOptions {
  /** What the operator is doing. */
  action: 'rollback' | 'apply';
  /** A terminal to ask on. */
  interactive: boolean;
  /** --suspend-watch: suspend without asking. */
  suspend: boolean;
  /** Recorded as the suspension's reason. */
  reason: string;
  /** The settings flags of the command line, added to the orch commands printed (completeHintCommands). */
  settingsArgs: readonly string[];
  out: (line: string) => void;
  err: (line: string) => void;
  style: Style;
}

/**
 * Before a rollback (or an apply of other manifests than the daemon's), a running `orch watch` in
 * apply mode for this state directory would undo the change at its next reconcile. Says so, and
 * suspends it when asked (--suspend-watch, or 'yes' at the prompt); otherwise the change goes on
 * with the warning and the command that keeps it. Nothing to say when no daemon answers, it only
 * plans, or it is suspended already.
 */
export async function guardAgainstDaemon(orch: Orch, settings: Settings, opts: DaemonGuardOptions): Promise<void> {
  const report = await daemonReport(orch, { watchListen: settings.watchListen, stateDir: settings.stateDir });
  const d = report.running;
  if (!d || report.suspended || d.mode !== 'apply') return;
  let why: string;
  if (opts.action === 'rollback') {
    why = `orch watch (pid ${d.pid}) runs in apply mode for this state directory: at its next reconcile it applies the manifests again and undoes this rollback.`;
  } else {
    if (d.manifests === null || resolve(d.manifests) === resolve(settings.manifests)) return;
    why = `orch watch (pid ${d.pid}) applies the manifests in ${d.manifests}, not ${settings.manifests}: at its next reconcile it replaces what this apply does.`;
  }
  let suspend = opts.suspend;
  if (!suspend && opts.interactive) {
    opts.out(opts.style.yellow(`Warning: ${why}`));
    suspend = await confirmTyped(`Suspend it first (orch suspend)? Type 'yes' to suspend it, anything else to go on without: `, 'yes');
  } else if (!suspend) {
    opts.err(
      opts.style.yellow(
        completeHintCommands(
          `Warning: ${why} To keep this ${opts.action}, run 'orch suspend' first, or pass --suspend-watch.`,
          opts.settingsArgs,
        ),
      ),
    );
  }
  if (suspend) {
    suspendWatch(orch, { by: orch.provenance.actor(), reason: opts.reason });
    opts.err(
      opts.style.yellow(
        completeHintCommands(
          `Suspended orch watch for ${settings.stateDir}: it reconciles nothing until you run 'orch resume'.`,
          opts.settingsArgs,
        ),
      ),
    );
  }
}
