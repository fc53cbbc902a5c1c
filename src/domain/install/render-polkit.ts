import { assertSafeUser } from './install-values.js';

/** Where `orch install` puts the polkit rule (under --prefix, below the prefix). */
export const POLKIT_RULE_PATH = '/etc/polkit-1/rules.d/50-orch-reload-nginx.rules';

/**
 * A polkit rule that lets `user` run `systemctl reload nginx.service` and nothing else: no start,
 * stop or restart, no other unit. systemctl asks systemd over D-Bus, so it works under
 * NoNewPrivileges (sudo, a setuid program, would not). Needs polkit >= 0.106 (JavaScript rules).
 */
export function renderPolkitRule(user: string, orchVersion: string, unit = 'nginx.service'): string {
  const u = assertSafeUser(user, 'user');
  if (!/^[A-Za-z0-9@._-]+\.service$/.test(unit)) throw new Error(`render: unit name ${JSON.stringify(unit)}`);
  return `// Written by 'orch install' (orch ${orchVersion}): lets the orch daemon (user ${u}) reload nginx
// with \`systemctl reload ${unit}\`. Nothing else: no start, stop or restart, no other unit.
polkit.addRule(function (action, subject) {
    if (action.id === "org.freedesktop.systemd1.manage-units" &&
        action.lookup("unit") === "${unit}" &&
        action.lookup("verb") === "reload" &&
        subject.user === "${u}") {
        return polkit.Result.YES;
    }
});
`;
}
