import { Flags } from '@oclif/core';
import { gatewayStatus } from '../use-cases/status/gateway-status.js';
import { daemonReport } from '../use-cases/status/daemon-report.js';
import { OrchCommand } from '../cli/orch-command.js';
import { composeOrch } from '../composition-root.js';
import { statusToJson } from '../cli/views/status-json.js';
import { orchVersion } from '../config/version.js';
import { ExitCode } from '../domain/errors.js';
import { safeLine } from '../cli/views/safe-text.js';
import { deployedIdentityChecks } from '../use-cases/buckets/client-identities.js';
import { identityCheckLines, identityChecksToJson } from '../cli/views/identity-checks.js';

export default class Status extends OrchCommand {
  static override summary = 'Last generation, drift, lock holder, backup age, nginx version, and whether nginx serves the last generation.';
  static override description = `Healthy means: a generation was applied from this state directory, nginx serves it (the status address answers its token), no managed file was changed outside orch, and no apply was interrupted. --json adds every pool, virtual host, route and migration with its conditions (Ready, Reconciling, Stalled; docs/json.md).

The daemon (orch watch) is shown only when the listener on watchListen works on this state directory; the status address is asked only once a generation was applied from it.

EXIT CODES
  0  healthy (or anything, without --detailed-exitcode)
  1  error (a lost or unusable state, bad settings)
  2  not healthy (with --detailed-exitcode): drift, nginx not answering or serving another generation, an interrupted apply, nothing applied yet`;
  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status --json',
    '<%= config.bin %> status --detailed-exitcode >/dev/null || echo "gateway needs attention"',
  ];
  static override flags = {
    'json': Flags.boolean({ description: 'print as JSON (docs/json.md)' }),
    'detailed-exitcode': Flags.boolean({ description: 'exit 2 when the gateway is not healthy (drift, not serving the last generation)' }),
  };

  protected async execute() {
    const { flags } = await this.parse(Status);
    const settings = this.settingsFrom(flags);
    const orch = composeOrch(settings);
    const s = await gatewayStatus(orch, { statusListen: settings.statusListen });
    const daemon = await daemonReport(orch, { watchListen: settings.watchListen, stateDir: settings.stateDir });
    // The client identity check of the deployed virtual hosts (issue 19): only when some declare identities.
    const identities = await deployedIdentityChecks(orch);
    const code = flags['detailed-exitcode'] && !s.health.healthy ? ExitCode.changesPresent : ExitCode.ok;
    if (flags.json) {
      const meta = { orchVersion: orchVersion(), stateDir: settings.stateDir, statusListen: settings.statusListen };
      this.out(JSON.stringify({ ...statusToJson(s, daemon, meta), client_identities: identityChecksToJson(identities) }, null, 2));
      return code;
    }
    const st = this.style;
    // Said first: an interrupted apply or conversion.
    for (const n of s.notices) this.out(st.yellow(`Note: ${n}`));
    const g = s.generation;
    this.out(`Generation:    ${g ? `${g.number} (${g.outcome} by ${g.command} at ${g.createdAt})` : st.dim('none applied yet')}`);
    this.out(
      `nginx serves:  ${!s.served.checked ? st.dim('not checked (no generation applied from this state directory)') : s.served.token === null ? st.red('no answer on the status address ' + settings.statusListen) : s.served.current ? st.green(`generation ${s.served.token.split(' ')[0]} (current)`) : st.red(`"${s.served.token}", expected "${s.served.expected}"`)}`,
    );
    this.out(
      `Drift:         ${s.driftCount === 0 ? st.green('none') : st.yellow(`${s.driftCount} file(s) changed outside orch (orch drift)`)}`,
    );
    this.out(
      `Lock:          ${s.lockHolder ? `held by pid ${s.lockHolder.pid} (${s.lockHolder.command}) since ${s.lockHolder.since}` : 'free'}`,
    );
    this.out(`DB backup:     ${s.backupAgeSeconds === null ? st.yellow('none') : `${Math.round(s.backupAgeSeconds)}s old`}`);
    this.out(`nginx:         ${s.nginxVersion ?? st.red('not found')}`);
    this.out(
      `Layout:        ${s.layout.kind === 'generations' ? `generation directories (current: ${s.layout.current})` : s.layout.kind === 'legacy' ? 'pools/ and vhosts/ directories (converted to generation directories by the next apply)' : s.layout.kind}`,
    );
    const d = daemon.running;
    this.out(
      `orch watch:    ${
        d
          ? `pid ${d.pid}, mode ${d.mode}, ${d.ready ? st.green('ready') : st.yellow(`not ready (${d.readyReason ?? 'no detail'})`)}` +
            (d.lastReconcile ? `, last reconcile ${d.lastReconcile.outcome} at ${d.lastReconcile.finishedAt}` : ', no reconcile yet')
          : daemon.otherStateDir
            ? st.dim(`not running for this state directory (${settings.watchListen} answers for ${daemon.otherStateDir})`)
            : st.dim(
                settings.watchListen === 'off'
                  ? 'not checked (watchListen off)'
                  : `not running (nothing answers on ${settings.watchListen})`,
              )
      }`,
    );
    if (d?.lastError) this.out(`               last error (${d.lastError.source}, ${d.lastError.at}): ${d.lastError.message}`);
    if (daemon.suspended)
      this.out(
        st.yellow(
          `               suspended since ${daemon.suspended.since} by ${daemon.suspended.by}${daemon.suspended.reason ? ` (${daemon.suspended.reason})` : ''}: nothing is reconciled until: orch resume`,
        ),
      );
    for (const line of identityCheckLines(identities, st)) this.out(line);
    // Said last, as a verdict: what --detailed-exitcode exits on.
    if (s.health.healthy) this.out(`Health:        ${st.green(`healthy (generation ${g!.number} served, no drift)`)}`);
    else {
      this.out(`Health:        ${st.red('NOT healthy')}`);
      // The messages quote what answered on the status address: shown escaped, one line each.
      for (const p of s.health.problems) this.out(`               - ${safeLine(p.message)}`);
    }
    return code;
  }
}
