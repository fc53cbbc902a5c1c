import { Flags } from '@oclif/core';
import { gatewayStatus } from '../use-cases/status/gateway-status.js';
import { daemonReport } from '../use-cases/status/daemon-report.js';
import { OrchCommand } from '../cli/orch-command.js';
import { composeOrch } from '../composition-root.js';
import { deployedIdentityChecks } from '../use-cases/buckets/client-identities.js';
import { identityCheckLines, identityChecksToJson } from '../cli/views/identity-checks.js';

export default class Status extends OrchCommand {
  static override summary = 'Last generation, drift, lock holder, backup age, nginx version, and whether nginx serves the last generation.';
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json'];
  static override flags = { json: Flags.boolean({ description: 'print as JSON' }) };

  protected async execute() {
    const { flags } = await this.parse(Status);
    const settings = this.settingsFrom(flags);
    const orch = composeOrch(settings);
    const s = await gatewayStatus(orch);
    const daemon = await daemonReport(orch, { watchListen: settings.watchListen, stateDir: settings.stateDir });
    // The client identity check of the deployed virtual hosts (issue 19): only when some declare identities.
    const identities = await deployedIdentityChecks(orch);
    if (flags.json) {
      this.out(JSON.stringify({ ...s, daemon, client_identities: identityChecksToJson(identities) }, null, 2));
      return;
    }
    const st = this.style;
    // Said first: an interrupted apply or conversion.
    for (const n of s.notices) this.out(st.yellow(`Note: ${n}`));
    const g = s.generation;
    this.out(`Generation:    ${g ? `${g.number} (${g.outcome} by ${g.command} at ${g.createdAt})` : st.dim('none applied yet')}`);
    this.out(
      `nginx serves:  ${s.served.token === null ? st.yellow('no answer on the status address ' + settings.statusListen) : s.served.current ? st.green(`generation ${s.served.token.split(' ')[0]} (current)`) : st.red(`"${s.served.token}", expected "${s.served.expected}"`)}`,
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
  }
}
