import { dirname, isAbsolute, join, posix } from 'node:path';
import { nginxArgs, nginxMissingError } from '../../domain/nginx-config/nginx-command.js';
import type { HostSystem } from '../../ports/host-system.js';
import { UserError } from '../../domain/errors.js';
import { checkPath, checkUser } from '../../domain/install/install-values.js';
import {
  checkManagedIncludes,
  includeInstructions,
  nginxWritablePaths,
  parseNginxBuildPaths,
  parseNginxDump,
  type IncludeCheck,
} from '../../domain/install/nginx-dump.js';
import { renderConfigFile } from '../../domain/install/render-config.js';
import { POLKIT_RULE_PATH, renderPolkitRule } from '../../domain/install/render-polkit.js';
import { renderOrchUnit, type NginxWritablePaths } from '../../domain/install/render-unit.js';
import { defaultSettings, resolveSettings, SETTING_ENV, SETTING_KEYS, type ReloadMethod } from '../../config/settings.js';
import { orchVersion } from '../../config/version.js';
import { packagePath } from '../../config/package-root.js';

/** Where a real install puts things. Under --prefix DIR, everything orch owns moves below DIR. */
export const INSTALL_PATHS = {
  unit: '/etc/systemd/system/orch.service',
  configDir: '/etc/orch',
  configFile: '/etc/orch/config.yaml',
  envFile: '/etc/orch/orch.env',
  secretKeyFile: '/etc/orch/secret.key',
  polkitRule: POLKIT_RULE_PATH,
} as const;

/** The settings a production install writes unless told otherwise. */
export const PRODUCTION_DEFAULTS = {
  manifests: '/srv/orch/manifests',
  nginxDir: '/etc/nginx/orch',
  stateDir: '/var/lib/orch',
  nginxConf: '/etc/nginx/nginx.conf',
  nginxPrefix: 'default',
  reload: 'systemctl' as ReloadMethod,
} as const;

export interface InstallOptions {
  /** Scratch root: no root needed, no user created, nothing chowned; every path orch owns goes below it. */
  prefix: string | null;
  user: string;
  /** Absolute path of the node binary for ExecStart (default: the one running). */
  node: string | null;
  /** Absolute path of orch's bin/run.js for ExecStart (default: this installation's). */
  entry: string | null;
  force: boolean;
  dryRun: boolean;
  skipNginxCheck: boolean;
  /** Values given as flags (undefined: not given). Orch's own paths are placed below --prefix. */
  given: {
    manifests?: string | undefined;
    nginxDir?: string | undefined;
    stateDir?: string | undefined;
    nginxBin?: string | undefined;
    nginxConf?: string | undefined;
    nginxPrefix?: string | undefined;
  };
}

export type StepAction = 'created' | 'updated' | 'unchanged' | 'kept' | 'skipped' | 'backed-up';

export interface InstallStep {
  action: StepAction;
  what: string;
  detail?: string;
}

export interface InstallReport {
  dryRun: boolean;
  prefix: string | null;
  steps: InstallStep[];
  /** Something was (or, with --dry-run, would be) written. */
  changed: boolean;
  warnings: string[];
  nginxCheck: { ran: boolean; ok: boolean; problems: string[]; instructions: string | null };
  nextSteps: string[];
  paths: { unit: string; configFile: string; nginxDir: string; stateDir: string; polkitRule: string | null };
}

/** orch's own bin/run.js, found from the package root. */
export function defaultEntry(): string {
  return packagePath('bin', 'run.js');
}

function under(prefix: string | null, path: string): string {
  return prefix ? posix.join(prefix, path) : path;
}

interface Resolved {
  manifests: string;
  nginxDir: string;
  stateDir: string;
  nginxBin: string;
  nginxConf: string | null;
  nginxPrefix: string | null;
  reload: ReloadMethod;
  secretKeyFile: string | null;
  /** The config file exists and is kept: its values were used. */
  fromExistingConfig: boolean;
}

function readExistingConfig(host: HostSystem, path: string): Resolved {
  const s = resolveSettings({ flags: {}, env: {}, configPath: path, candidates: [], readFile: (p) => host.readText(p) });
  for (const [key, value] of [
    ['manifests', s.manifests],
    ['nginxDir', s.nginxDir],
    ['stateDir', s.stateDir],
    ['nginxConf', s.nginxConf],
    ['nginxPrefix', s.nginxPrefix],
    ['secretKeyFile', s.secretKeyFile],
  ] as const) {
    if (value !== null && !isAbsolute(value)) {
      throw new UserError(
        'install.config-relative',
        `${path}: ${key} is a relative path ("${value}"); the daemon would resolve it against /.`,
        {
          hint: `Use absolute paths in ${path} (the defaults for ${key} are the sandbox's), or replace the file with --force.`,
        },
      );
    }
  }
  return {
    manifests: s.manifests,
    nginxDir: s.nginxDir,
    stateDir: s.stateDir,
    nginxBin: s.nginxBin,
    nginxConf: s.nginxConf,
    nginxPrefix: s.nginxPrefix,
    reload: s.reload,
    secretKeyFile: s.secretKeyFile,
    fromExistingConfig: true,
  };
}

function resolveInstall(host: HostSystem, o: InstallOptions, configFile: string): Resolved {
  const g = o.given;
  const own = (v: string | undefined, def: string, what: string) => under(o.prefix, checkPath(v ?? def, what));
  const fromFlags: Resolved = {
    manifests: own(g.manifests, PRODUCTION_DEFAULTS.manifests, '--manifests'),
    nginxDir: own(g.nginxDir, PRODUCTION_DEFAULTS.nginxDir, '--nginx-dir'),
    stateDir: own(g.stateDir, PRODUCTION_DEFAULTS.stateDir, '--state-dir'),
    nginxBin: g.nginxBin ?? 'nginx',
    nginxConf: nullIfDefault(g.nginxConf ?? PRODUCTION_DEFAULTS.nginxConf),
    nginxPrefix: nullIfDefault(g.nginxPrefix ?? PRODUCTION_DEFAULTS.nginxPrefix),
    reload: PRODUCTION_DEFAULTS.reload,
    secretKeyFile: under(o.prefix, INSTALL_PATHS.secretKeyFile),
    fromExistingConfig: false,
  };
  if (host.stat(configFile) === null || o.force) return fromFlags;
  const existing = readExistingConfig(host, configFile);
  // A flag that disagrees with the kept config file would give a unit that does not match it.
  const conflicts: string[] = [];
  const compare = (flag: string, given: string | undefined, mine: string | null, theirs: string | null) => {
    if (given !== undefined && mine !== theirs) conflicts.push(`${flag} ${mine ?? 'default'} (config: ${theirs ?? 'default'})`);
  };
  compare('--manifests', g.manifests, fromFlags.manifests, existing.manifests);
  compare('--nginx-dir', g.nginxDir, fromFlags.nginxDir, existing.nginxDir);
  compare('--state-dir', g.stateDir, fromFlags.stateDir, existing.stateDir);
  compare('--nginx-conf', g.nginxConf, fromFlags.nginxConf, existing.nginxConf);
  compare('--nginx-prefix', g.nginxPrefix, fromFlags.nginxPrefix, existing.nginxPrefix);
  if (conflicts.length > 0) {
    throw new UserError('install.config-conflict', `The existing ${configFile} says otherwise than ${conflicts.join(', ')}.`, {
      hint: `install never overwrites the config file: edit it, drop the flags, or replace it with --force (the old one is kept as ${configFile}.bak).`,
    });
  }
  return { ...existing, nginxBin: g.nginxBin ?? existing.nginxBin };
}

function nullIfDefault(v: string): string | null {
  return v === 'default' || v === '' ? null : v;
}

const HOME_DIRS = ['/home/', '/root/', '/run/user/'];

/** What install works on: the machine (files, users, commands). */
export interface InstallPorts {
  host: HostSystem;
}

export async function installOrch(ports: InstallPorts, o: InstallOptions): Promise<InstallReport> {
  const { host } = ports;
  const prefix = o.prefix ? checkPath(posix.resolve(o.prefix), '--prefix') : null;
  const opts = { ...o, prefix };
  const user = checkUser(o.user, '--user');
  if (!prefix && !o.dryRun && host.runsAsRoot === false) {
    throw new UserError(
      'install.not-root',
      'orch install writes /etc/systemd/system, /etc/orch and creates a system user: run it as root.',
      {
        hint: 'Use sudo, or --prefix DIR to install into a scratch directory without root, or --dry-run to see what it would do.',
      },
    );
  }
  const paths = {
    unit: under(prefix, INSTALL_PATHS.unit),
    configDir: under(prefix, INSTALL_PATHS.configDir),
    configFile: under(prefix, INSTALL_PATHS.configFile),
    envFile: under(prefix, INSTALL_PATHS.envFile),
    polkitRule: under(prefix, INSTALL_PATHS.polkitRule),
  };
  const r = resolveInstall(host, opts, paths.configFile);
  const warnings: string[] = [];

  const nginxBin = host.findExecutable(r.nginxBin);
  if (!nginxBin) throw nginxMissingError(r.nginxBin);
  checkPath(nginxBin, 'nginx binary');
  if (r.nginxConf) checkPath(r.nginxConf, 'nginxConf');
  if (r.nginxPrefix) checkPath(r.nginxPrefix, 'nginxPrefix');
  const node = checkPath(o.node ?? host.nodePath, '--node');
  const entry = checkPath(o.entry ?? defaultEntry(), '--orch-bin');
  for (const [what, p] of [
    ['node', node],
    ['orch', entry],
  ] as const) {
    if (host.stat(p) === null)
      throw new UserError('install.not-found', `${what} ${p} does not exist.`, {
        hint: `Point --${what === 'node' ? 'node' : 'orch-bin'} at it.`,
      });
    if (HOME_DIRS.some((h) => p.startsWith(h)))
      warnings.push(
        `${what} is at ${p}: the unit's ProtectHome=yes hides /home, /root and /run/user, so the service cannot start. Install node and orch system-wide (e.g. npm install --global).`,
      );
  }
  if (HOME_DIRS.some((h) => r.manifests.startsWith(h)))
    warnings.push(
      `The manifests are under ${r.manifests}: ProtectHome=yes hides it from the daemon. Deliver them elsewhere (e.g. /srv/orch/manifests).`,
    );
  if (r.reload === 'nginx') {
    throw new UserError(
      'install.reload-unsupported',
      `${paths.configFile} has reload: nginx (set there, or the default when the file does not set reload); the installed unit reloads nginx with systemctl (a polkit rule allows exactly that).`,
      {
        hint: `Set reload: systemctl in ${paths.configFile} and run orch install again. Why: docs/operations.md#reloading-nginx.`,
      },
    );
  }
  if (r.reload === 'command')
    warnings.push(
      `reload: command runs your reloadCommand as user ${user} inside the unit's sandbox (no new privileges, read-only system): make sure it can work there.`,
    );

  // nginx: the build paths and the full configuration as nginx reads it.
  const inv = {
    bin: nginxBin,
    conf: r.nginxConf,
    prefix: r.nginxPrefix,
    errorLog: r.nginxPrefix ? join(r.nginxPrefix, 'logs', 'error.log') : null,
  };
  const version = await host.run(nginxBin, ['-V'], 30_000);
  const build = parseNginxBuildPaths(version.stderr + version.stdout);
  const dumpRun = await host.run(nginxBin, [...nginxArgs(inv), '-T'], 120_000);
  let writable: NginxWritablePaths;
  let check: IncludeCheck | null = null;
  const nginxCheck: InstallReport['nginxCheck'] = { ran: true, ok: false, problems: [], instructions: null };
  const shown = `${nginxBin} ${[...nginxArgs(inv), '-T'].join(' ')}`;
  if (dumpRun.code !== 0) {
    nginxCheck.problems.push(`\`${shown}\` failed:\n${(dumpRun.stderr + dumpRun.stdout).trim()}`);
    if (!o.skipNginxCheck) {
      throw new UserError(
        'install.nginx-check',
        `Cannot check the main nginx configuration: \`${shown}\` failed:\n${indent((dumpRun.stderr + dumpRun.stdout).trim())}`,
        {
          hint: 'Fix the nginx configuration (or --nginx-conf / --nginx-prefix / --nginx), or use --skip-nginx-check to install anyway.',
        },
      );
    }
    warnings.push(
      `nginx -T failed; the unit's writable nginx paths are nginx's compiled-in defaults. Run orch install again once nginx -T works.`,
    );
    writable = nginxWritablePaths({ files: [{ file: r.nginxConf ?? build.confPath ?? '/etc/nginx/nginx.conf', text: '' }] }, build, {
      prefix: r.nginxPrefix,
      errorLogFlag: inv.errorLog,
    });
  } else {
    const dump = parseNginxDump(dumpRun.stdout);
    const mainConf = dump.files[0]?.file ?? r.nginxConf ?? '(nginx default)';
    check = checkManagedIncludes(dump, r.nginxDir);
    nginxCheck.ok = check.ok;
    nginxCheck.problems = check.problems;
    if (!check.ok) {
      nginxCheck.instructions = includeInstructions(check, mainConf);
      if (!o.skipNginxCheck) {
        throw new UserError(
          'install.nginx-includes',
          `The main nginx configuration does not load orch's managed files:\n${check.problems.map((p) => `  - ${p}`).join('\n')}\n\n${nginxCheck.instructions}\n\nNothing was installed.`,
          {
            hint: 'Add the lines, check with `nginx -t`, then run orch install again (or use --skip-nginx-check to install anyway).',
          },
        );
      }
      warnings.push(`The main nginx configuration does not load orch's managed files (--skip-nginx-check):\n${nginxCheck.instructions}`);
    }
    writable = nginxWritablePaths(dump, build, { prefix: r.nginxPrefix, errorLogFlag: inv.errorLog });
  }
  // The managed and state directories are writable already; other paths must be safe unit values.
  writable = {
    pidFile:
      writable.pidFile && !insideAny(writable.pidFile, [r.nginxDir, r.stateDir]) ? checkPath(writable.pidFile, 'nginx pid file') : null,
    logDirs: writable.logDirs.filter((d) => !insideAny(d, [r.nginxDir, r.stateDir])).map((d) => checkPath(d, 'nginx log directory')),
  };

  const secretKeyExists = r.secretKeyFile !== null && host.stat(r.secretKeyFile) !== null;
  const defaults = defaultSettings() as unknown as Record<string, string | number | null>;
  const configText = renderConfigFile({
    orchVersion: orchVersion(),
    envFile: paths.envFile,
    entries: SETTING_KEYS.map((key) => ({ key, env: SETTING_ENV[key], default: defaults[key] ?? null })),
    values: {
      manifests: r.manifests,
      nginxDir: r.nginxDir,
      stateDir: r.stateDir,
      nginxBin,
      nginxConf: r.nginxConf ?? 'default',
      nginxPrefix: r.nginxPrefix ?? 'default',
      reload: r.reload,
      ...(secretKeyExists && r.secretKeyFile ? { secretKeyFile: r.secretKeyFile } : {}),
    },
    suggestions:
      r.secretKeyFile && !secretKeyExists
        ? {
            secretKeyFile: {
              value: r.secretKeyFile,
              note: `uncomment once the key exists: orch secret-key generate --out ${r.secretKeyFile}`,
            },
          }
        : {},
  });
  const unitText = renderOrchUnit({
    orchVersion: orchVersion(),
    user,
    node,
    entry,
    configFile: checkPath(paths.configFile, 'config file'),
    workingDirectory: checkPath(dirname(r.manifests), 'directory of the manifests'),
    environmentFile: checkPath(paths.envFile, 'environment file'),
    nginxDir: checkPath(r.nginxDir, 'nginxDir'),
    stateDir: checkPath(r.stateDir, 'stateDir'),
    nginxWritable: writable,
  });

  // Apply (or, with --dry-run, only describe) each step.
  const steps: InstallStep[] = [];
  const write = !o.dryRun;
  let account: { uid: number; gid: number } | null = null;
  if (prefix) {
    steps.push({
      action: 'skipped',
      what: `system user ${user}`,
      detail: `--prefix: not created; a real install runs: useradd --system --user-group --home-dir ${r.stateDir} --no-create-home --shell /usr/sbin/nologin ${user}`,
    });
  } else {
    account = host.lookupUser(user);
    if (account) steps.push({ action: 'unchanged', what: `system user ${user}`, detail: 'exists' });
    else {
      if (write) {
        host.createSystemUser(user, r.stateDir);
        account = host.lookupUser(user);
      }
      steps.push({
        action: 'created',
        what: `system user ${user}`,
        detail: 'useradd --system --user-group --no-create-home --shell /usr/sbin/nologin',
      });
    }
  }
  type Owner = 'orch' | 'root-group' | 'root';
  const owner = (kind: Owner) =>
    kind === 'root' ? (prefix ? null : { uid: 0, gid: 0 }) : account ? { uid: kind === 'orch' ? account.uid : 0, gid: account.gid } : null;
  const ownerText = (kind: Owner) => (kind === 'orch' ? `${user}:${user}` : kind === 'root' ? 'root:root' : `root:${user}`);

  const ensureDir = (path: string, mode: number, kind: Owner) => {
    const st = host.stat(path);
    const exists = st !== null;
    const changes: string[] = [];
    if (st) {
      if (!st.isDirectory) throw new UserError('install.not-a-directory', `${path} exists and is not a directory.`);
      if ((st.mode & 0o7777) !== mode) changes.push(`mode ${octal(st.mode & 0o7777)} -> ${octal(mode)}`);
      const want = owner(kind);
      if (want && (st.uid !== want.uid || st.gid !== want.gid)) changes.push(`owner -> ${ownerText(kind)}`);
    }
    if (write) {
      if (!exists) host.makeDir(path);
      host.setMode(path, mode);
      const want = owner(kind);
      if (want) host.setOwner(path, want.uid, want.gid);
    }
    const own = prefix ? 'owner not changed (--prefix)' : ownerText(kind);
    if (!exists) steps.push({ action: 'created', what: `directory ${path}`, detail: `${octal(mode)} ${own}` });
    else if (changes.length > 0) steps.push({ action: 'updated', what: `directory ${path}`, detail: changes.join(', ') });
    else steps.push({ action: 'unchanged', what: `directory ${path}`, detail: `${octal(mode)} ${own}` });
  };
  const ensureFile = (path: string, text: string, mode: number, kind: Owner, policy: 'replace' | 'keep') => {
    const current = host.readText(path);
    const exists = current !== null;
    const ownerFor = owner(kind);
    const setMeta = () => {
      host.setMode(path, mode);
      if (ownerFor) host.setOwner(path, ownerFor.uid, ownerFor.gid);
    };
    if (current === text) {
      const st = host.stat(path)!;
      const fix = (st.mode & 0o7777) !== mode || (ownerFor !== null && (st.uid !== ownerFor.uid || st.gid !== ownerFor.gid));
      if (fix && write) setMeta();
      steps.push({ action: fix ? 'updated' : 'unchanged', what: path, detail: fix ? `mode ${octal(mode)}, owner` : undefined });
      return;
    }
    if (exists && policy === 'keep' && !o.force) {
      steps.push({ action: 'kept', what: path, detail: 'exists and is never overwritten (--force replaces it, keeping a .bak)' });
      return;
    }
    if (exists && policy === 'keep') {
      if (write) host.copy(path, `${path}.bak`);
      steps.push({ action: 'backed-up', what: path, detail: `previous file kept as ${path}.bak` });
    }
    if (write) {
      host.writeText(path, text, mode);
      setMeta();
    }
    steps.push({ action: exists ? 'updated' : 'created', what: path, detail: `${octal(mode)}` });
  };

  ensureDir(r.nginxDir, 0o755, 'orch');
  ensureDir(join(r.nginxDir, 'pools'), 0o755, 'orch');
  ensureDir(join(r.nginxDir, 'vhosts'), 0o755, 'orch');
  ensureDir(r.stateDir, 0o700, 'orch');
  ensureDir(paths.configDir, 0o750, 'root-group');
  // The unit's WorkingDirectory (the manifests directory itself is delivered by the operator or CI).
  if (host.stat(dirname(r.manifests)) === null) ensureDir(dirname(r.manifests), 0o755, 'root');
  ensureFile(paths.configFile, configText, 0o640, 'root-group', 'keep');
  if (write) host.makeDir(dirname(paths.unit));
  ensureFile(paths.unit, unitText, 0o644, 'root', 'replace');
  if (r.reload === 'systemctl') {
    if (write) host.makeDir(dirname(paths.polkitRule));
    ensureFile(paths.polkitRule, renderPolkitRule(user, orchVersion()), 0o644, 'root', 'replace');
  }

  const changed = steps.some((s) => s.action === 'created' || s.action === 'updated' || s.action === 'backed-up');
  const nextSteps: string[] = [];
  if (!secretKeyExists && r.secretKeyFile) {
    nextSteps.push(
      `Create the key that encrypts pool credentials at rest: orch secret-key generate --out ${r.secretKeyFile} && chgrp ${user} ${r.secretKeyFile} && chmod 0640 ${r.secretKeyFile}; then uncomment secretKeyFile in ${paths.configFile}.`,
    );
  }
  nextSteps.push(
    `Put the variables the pool manifests reference (credentials: {env: NAME}) in ${paths.envFile} (root:${user}, mode 0640).`,
  );
  nextSteps.push(`Deliver the manifests to ${r.manifests} (readable by ${user}), then check them: orch plan --config ${paths.configFile}`);
  nextSteps.push(changed ? 'systemctl daemon-reload && systemctl enable --now orch' : 'systemctl enable --now orch (if not running yet)');
  nextSteps.push("curl -s http://127.0.0.1:18098/readyz   # the watch daemon's health (watchListen)");
  return {
    dryRun: o.dryRun,
    prefix,
    steps,
    changed,
    warnings,
    nginxCheck,
    nextSteps,
    paths: {
      unit: paths.unit,
      configFile: paths.configFile,
      nginxDir: r.nginxDir,
      stateDir: r.stateDir,
      polkitRule: r.reload === 'systemctl' ? paths.polkitRule : null,
    },
  };
}

function insideAny(path: string, dirs: string[]): boolean {
  return dirs.some((d) => path === d || path.startsWith(`${d}/`));
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
