import { assertSafePath, assertSafeUser } from './install-values.js';

/** What the live `nginx -t` opens for writing, found in `nginx -T` at install time. */
export interface NginxWritablePaths {
  /** The pid file: `nginx -t` opens it (creating it when missing) to check it can be written. */
  pidFile: string | null;
  /** Directories of the error and access logs `nginx -t` opens for appending. */
  logDirs: string[];
}

export interface OrchUnitOptions {
  orchVersion: string;
  user: string;
  /** Absolute path of the node binary. */
  node: string;
  /** Absolute path of orch's bin/run.js. */
  entry: string;
  configFile: string;
  /**
   * The directory holding the manifests directory. orch writes each manifest's path, relative to
   * the working directory, into the files it generates: every writer (this daemon, CI, an
   * operator) must run from the same place to render the same files.
   */
  workingDirectory: string;
  /** Optional environment file (pool credential variables, ORCH_SECRET_KEY); `-`: may be missing. */
  environmentFile: string;
  nginxDir: string;
  stateDir: string;
  nginxWritable: NginxWritablePaths;
}

/** The capabilities orch keeps; everything else is dropped from the bounding set. */
export const ORCH_CAPABILITIES = ['CAP_DAC_OVERRIDE', 'CAP_NET_BIND_SERVICE'] as const;

/**
 * The systemd unit for `orch watch`. Every value is checked (absolute plain paths, a plain user
 * name) before it is written: a unit line cannot be split, extended with `$VAR` expansion or a
 * `%` specifier by a value.
 */
export function renderOrchUnit(o: OrchUnitOptions): string {
  const user = assertSafeUser(o.user, 'user');
  const node = assertSafePath(o.node, 'node binary');
  const entry = assertSafePath(o.entry, 'orch entry point');
  const config = assertSafePath(o.configFile, 'config file');
  const envFile = assertSafePath(o.environmentFile, 'environment file');
  const workdir = assertSafePath(o.workingDirectory, 'working directory');
  const managed = [assertSafePath(o.nginxDir, 'managed nginx directory'), assertSafePath(o.stateDir, 'state directory')];
  const nginxPaths = [
    ...(o.nginxWritable.pidFile ? [`-${assertSafePath(o.nginxWritable.pidFile, 'nginx pid file')}`] : []),
    ...o.nginxWritable.logDirs.map((d) => assertSafePath(d, 'nginx log directory')),
  ];
  const lines = [
    `# orch.service — written by 'orch install' (orch ${o.orchVersion}). Running 'orch install' again`,
    '# rewrites this file; put local changes in a drop-in instead: systemctl edit orch.',
    '# What each setting does and why: docs/operations.md.',
    '',
    '[Unit]',
    'Description=orch watch: keeps the nginx S3 gateway matching its manifests',
    'After=network-online.target nginx.service',
    'Wants=network-online.target',
    '# At most 5 starts in 10 minutes, then systemd gives up and the unit stays failed (alert on it):',
    '# a broken install never turns into a tight crash loop.',
    'StartLimitIntervalSec=600',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=simple',
    `User=${user}`,
    `Group=${user}`,
    '# Manifest paths in the generated files are relative to this directory (run orch commands from it too).',
    `WorkingDirectory=${workdir}`,
    `ExecStart=${node} ${entry} watch --config ${config}`,
    '# SIGHUP: orch watch re-reads its configuration file.',
    'ExecReload=/bin/kill -HUP $MAINPID',
    '# SIGTERM: the step in flight finishes or is abandoned safely, the lock is released, exit 0.',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=90',
    'Restart=on-failure',
    'RestartSec=15',
    `EnvironmentFile=-${envFile}`,
    'Environment=AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true',
    'UMask=0077',
    'LimitNOFILE=65536',
    '',
    '# Privileges. orch runs `nginx -t` on the staged tree and on the live configuration. As a user',
    '# other than root, nginx -t must open the pid file and the log files for writing, read TLS keys',
    '# (usually root-only) and bind the listen addresses (ports below 1024): CAP_DAC_OVERRIDE and',
    '# CAP_NET_BIND_SERVICE, inherited by the nginx child, and nothing else. Writes stay limited to',
    '# ReadWritePaths below by ProtectSystem=strict. nginx is reloaded with `systemctl reload nginx`',
    '# (reload: systemctl), allowed to this user only, for nginx.service only, by a polkit rule.',
    'NoNewPrivileges=yes',
    `AmbientCapabilities=${ORCH_CAPABILITIES.join(' ')}`,
    `CapabilityBoundingSet=${ORCH_CAPABILITIES.join(' ')}`,
    '',
    '# File system: everything read-only except what orch writes (the managed nginx directory and',
    '# the state directory) and what the live `nginx -t` opens for writing.',
    'ProtectSystem=strict',
    `ReadWritePaths=${managed.join(' ')}`,
    ...(nginxPaths.length > 0 ? [`ReadWritePaths=${nginxPaths.join(' ')}`] : []),
    'InaccessiblePaths=-/etc/shadow -/etc/gshadow -/etc/sudoers -/etc/sudoers.d -/etc/ssh',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    '',
    '# Kernel interfaces: sockets for S3, the loopback listeners and D-Bus (systemctl) only.',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
    'RestrictNamespaces=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'RestrictRealtime=yes',
    'SystemCallArchitectures=native',
    'SystemCallFilter=@system-service',
    '# A system call outside the filter fails with EPERM instead of killing the daemon.',
    'SystemCallErrorNumber=EPERM',
    '# MemoryDenyWriteExecute is NOT set, on purpose: V8 (node) compiles JavaScript to machine code',
    '# at run time and needs memory that is writable and executable; with it, node crashes.',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}
