import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { defaultSettings, resolveSettings, SETTING_ENV, SETTING_KEYS } from '../../src/config/settings.js';
import { BugError, UserError } from '../../src/domain/errors.js';
import { checkPath, checkUser } from '../../src/domain/install/install-values.js';
import { renderConfigFile, yamlScalar } from '../../src/domain/install/render-config.js';
import { renderPolkitRule } from '../../src/domain/install/render-polkit.js';
import { renderOrchUnit, type OrchUnitOptions } from '../../src/domain/install/render-unit.js';

const UNIT: OrchUnitOptions = {
  orchVersion: '0.1.0',
  user: 'orch',
  node: '/usr/bin/node',
  entry: '/usr/lib/node_modules/orch/bin/run.js',
  configFile: '/etc/orch/config.yaml',
  workingDirectory: '/srv/orch',
  environmentFile: '/etc/orch/orch.env',
  nginxDir: '/etc/nginx/orch',
  stateDir: '/var/lib/orch',
  nginxWritable: { pidFile: '/run/nginx.pid', logDirs: ['/var/log/nginx'] },
};

/** `Key=value` lines of a unit section (comments and blank lines dropped; repeated keys kept in order). */
function directives(unit: string): Array<[string, string]> {
  return unit
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('['))
    .map((l) => {
      const i = l.indexOf('=');
      return [l.slice(0, i), l.slice(i + 1)];
    });
}

describe('orch.service', () => {
  const unit = renderOrchUnit(UNIT);
  const d = directives(unit);
  const value = (k: string) => d.filter(([key]) => key === k).map(([, v]) => v);

  it('runs orch watch with absolute paths and the config file', () => {
    expect(value('ExecStart')).toEqual(['/usr/bin/node /usr/lib/node_modules/orch/bin/run.js watch --config /etc/orch/config.yaml']);
    expect(value('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(value('User')).toEqual(['orch']);
    // The manifests' parent: generated files name manifests relative to it, as CI does.
    expect(value('WorkingDirectory')).toEqual(['/srv/orch']);
    expect(value('Group')).toEqual(['orch']);
  });

  it('restarts on failure, slowly, and gives up instead of crash-looping', () => {
    expect(value('Restart')).toEqual(['on-failure']);
    expect(Number(value('RestartSec')[0])).toBeGreaterThanOrEqual(5);
    const burst = Number(value('StartLimitBurst')[0]);
    const interval = Number(value('StartLimitIntervalSec')[0]);
    // The limit must be reachable: burst restarts spaced by RestartSec fit inside the interval.
    expect(burst * Number(value('RestartSec')[0])).toBeLessThan(interval);
    expect(unit.indexOf('StartLimitBurst')).toBeLessThan(unit.indexOf('[Service]'));
  });

  it('has every hardening setting asked for, with the values asked for', () => {
    const expected: Record<string, string> = {
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectKernelLogs: 'yes',
      ProtectControlGroups: 'yes',
      RestrictAddressFamilies: 'AF_UNIX AF_INET AF_INET6',
      LockPersonality: 'yes',
      RestrictRealtime: 'yes',
      SystemCallArchitectures: 'native',
      SystemCallFilter: '@system-service',
      UMask: '0077',
      LimitNOFILE: '65536',
      Environment: 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true',
    };
    for (const [k, v] of Object.entries(expected)) expect(value(k), k).toEqual([v]);
  });

  it('writes exactly the managed and state directories, plus what the live nginx -t opens', () => {
    expect(value('ReadWritePaths')).toEqual(['/etc/nginx/orch /var/lib/orch', '-/run/nginx.pid /var/log/nginx']);
    const bare = renderOrchUnit({ ...UNIT, nginxWritable: { pidFile: null, logDirs: [] } });
    expect(
      directives(bare)
        .filter(([k]) => k === 'ReadWritePaths')
        .map(([, v]) => v),
    ).toEqual(['/etc/nginx/orch /var/lib/orch']);
  });

  it('keeps only the capabilities nginx -t needs', () => {
    expect(value('AmbientCapabilities')).toEqual(['CAP_DAC_OVERRIDE CAP_NET_BIND_SERVICE']);
    expect(value('CapabilityBoundingSet')).toEqual(['CAP_DAC_OVERRIDE CAP_NET_BIND_SERVICE']);
  });

  it('does not set MemoryDenyWriteExecute, and says why', () => {
    expect(d.some(([k]) => k === 'MemoryDenyWriteExecute')).toBe(false);
    expect(unit).toMatch(/^# MemoryDenyWriteExecute is NOT set.*V8/m);
  });

  it('refuses values that could change the unit (whitespace, $, %, quotes, newlines, relative paths)', () => {
    for (const node of [
      '/usr/bin/no de',
      '/usr/bin/node\nUser=root',
      '/opt/$HOME/node',
      '/opt/%h/node',
      'node',
      '/opt/"x"/node',
      '/opt/../node',
    ]) {
      expect(() => renderOrchUnit({ ...UNIT, node }), node).toThrow(BugError);
    }
    expect(() => renderOrchUnit({ ...UNIT, user: 'root\nUser=x' })).toThrow(BugError);
    expect(() => renderOrchUnit({ ...UNIT, nginxWritable: { pidFile: '/run/nginx pid', logDirs: [] } })).toThrow(BugError);
  });
});

describe('install values', () => {
  it('accepts plain absolute paths and system user names', () => {
    expect(checkPath('/etc/nginx/orch', 'x')).toBe('/etc/nginx/orch');
    expect(checkPath('/opt/node-v20.19.0-linux-x64/bin/node', 'x')).toBe('/opt/node-v20.19.0-linux-x64/bin/node');
    expect(checkUser('orch')).toBe('orch');
    expect(checkUser('_orch-gw')).toBe('_orch-gw');
  });

  it('refuses anything else with a user error naming the value', () => {
    for (const p of ['etc/orch', '/etc/or ch', '/etc/orch;', '/etc/${X}', '/a/%i', '/a/#b', '/a/../b', '']) {
      expect(() => checkPath(p, '--state-dir'), p).toThrow(UserError);
    }
    expect(() => checkPath('/a b', '--state-dir')).toThrow(/--state-dir must be an absolute path.*"\/a b"/);
    for (const u of ['Orch', '1orch', 'orch$', 'a'.repeat(33), '']) expect(() => checkUser(u), u).toThrow(UserError);
  });
});

describe('config.yaml', () => {
  const defaults = defaultSettings() as unknown as Record<string, string | number | null>;
  const entries = SETTING_KEYS.map((key) => ({ key, env: SETTING_ENV[key], default: defaults[key] ?? null }));
  const values = {
    manifests: '/srv/orch/manifests',
    nginxDir: '/etc/nginx/orch',
    stateDir: '/var/lib/orch',
    nginxBin: '/usr/sbin/nginx',
    nginxConf: '/etc/nginx/nginx.conf',
    nginxPrefix: 'default',
    reload: 'systemctl',
  };
  const text = renderConfigFile({
    orchVersion: '0.1.0',
    envFile: '/etc/orch/orch.env',
    entries,
    values,
    suggestions: { secretKeyFile: { value: '/etc/orch/secret.key', note: 'uncomment once the key exists' } },
  });
  const read = (t: string) =>
    resolveSettings({ flags: {}, env: {}, configPath: '/etc/orch/config.yaml', candidates: [], readFile: () => t });

  it('names every setting orch knows, with its environment variable', () => {
    for (const key of SETTING_KEYS) {
      expect(text, key).toMatch(new RegExp(`^(# )?${key}:`, 'm'));
      expect(text, key).toContain(`Env: ${SETTING_ENV[key]}`);
    }
  });

  it('is read by orch as the production settings', () => {
    const s = read(text);
    expect(s).toMatchObject({ ...values, nginxPrefix: null, secretKeyFile: null, statusListen: defaults['statusListen'] });
  });

  it('has commented lines that are valid settings once uncommented, each with its default', () => {
    const uncommented = text.replace(new RegExp(`^# ((${SETTING_KEYS.join('|')}): .+)$`, 'gm'), '$1');
    const s = read(uncommented) as unknown as Record<string, unknown>;
    expect(s['secretKeyFile']).toBe('/etc/orch/secret.key');
    for (const key of SETTING_KEYS) {
      if (key in values || key === 'secretKeyFile' || defaults[key] === null) continue;
      expect(s[key], key).toEqual(defaults[key]);
    }
  });

  it('quotes YAML scalars that would be misread', () => {
    for (const v of ['yes', 'off', 'null', '123', '1e5', 'a: b', '#x', '/ok/path', "it's", 'a"b', '-', '~']) {
      expect(parseYaml(`k: ${yamlScalar(v)}`), v).toEqual({ k: v });
    }
    expect(yamlScalar('/etc/nginx/orch')).toBe('/etc/nginx/orch');
  });
});

describe('polkit rule', () => {
  it('allows the user to reload nginx.service and nothing else', () => {
    const rule = renderPolkitRule('orch', '0.1.0');
    expect(rule).toContain('action.id === "org.freedesktop.systemd1.manage-units"');
    expect(rule).toContain('action.lookup("unit") === "nginx.service"');
    expect(rule).toContain('action.lookup("verb") === "reload"');
    expect(rule).toContain('subject.user === "orch"');
    expect(rule.match(/polkit\.Result\.YES/g)).toHaveLength(1);
    expect(() => renderPolkitRule('orch" || true || "', '0.1.0')).toThrow(BugError);
  });
});
