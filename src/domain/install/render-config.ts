/**
 * /etc/orch/config.yaml as `orch install` writes it: every setting orch knows, each with what it
 * means and its environment variable; the ones install decides are set, the others are commented
 * out with their default. Never a secret value: only the path of the key file.
 */

export interface SettingEntry {
  key: string;
  env: string;
  /** The built-in default (sandbox defaults for paths; not used for the keys install sets). */
  default: string | number | null;
}

/** One line per setting. Settings added later without a line here still get written (see below). */
export const SETTING_HELP: Readonly<Record<string, string>> = {
  manifests: 'manifest directory (every *.yaml/*.yml below it) or file; orch watch follows its changes',
  nginxDir: 'managed nginx directory holding pools/ and vhosts/ (the main nginx.conf includes them)',
  stateDir: 'state: database, backups, journal, lock, stored generations, migration state files',
  nginxBin: 'nginx binary',
  nginxConf: "main nginx configuration, passed with -c to every nginx -t; `default`: nginx's built-in path",
  nginxPrefix: "nginx prefix, passed with -p; `default`: nginx's built-in prefix",
  reload: 'how nginx is reloaded: nginx (nginx -s reload), systemctl (systemctl reload nginx), command, none',
  reloadCommand: 'shell command run for `reload: command`',
  statusListen: 'loopback address nginx serves the applied generation on (reload confirmation), or off',
  reloadTimeoutSeconds: 'seconds to wait for nginx to serve a new generation after a reload',
  lockTimeoutSeconds: 'seconds a writer waits for another writer (apply, watch, rollback, rebuild-db)',
  maxDelete: 'refuse an apply that deletes more resources than this',
  keepGenerations: 'generations whose files are kept for rollback',
  backupRotate: 'database backups kept (.bak, .bak.2, ...)',
  secretKeyFile: 'key file that encrypts pool credentials at rest (create it with `orch secret-key generate --out FILE`)',
  s3TimeoutSeconds: 'S3 request inactivity timeout, per pool member',
  s3Retries: "extra rounds over a pool's members after every member failed",
  s3Concurrency: 'S3 requests in flight per pool',
  watchListen: 'orch watch: loopback address of /healthz, /readyz, /status and /metrics, or off',
  driftIntervalSeconds: 'orch watch: seconds between reconciles that catch drift (0: off)',
  bucketSyncIntervalSeconds: 'orch watch: seconds between bucket syncs (0: off)',
  migrationTickSeconds: 'orch watch: seconds between migration ticks (0: off)',
  backupIntervalSeconds: 'orch watch: seconds between state database backups (0: off)',
  debounceMs: 'orch watch: quiet time after the last manifest change before a reconcile, in milliseconds',
};

export interface ConfigFileOptions {
  orchVersion: string;
  /** The unit's environment file, named in the header. */
  envFile: string;
  entries: readonly SettingEntry[];
  /** The settings install decides; written uncommented. */
  values: Readonly<Record<string, string | number>>;
  /** Settings written commented out with this value instead of the default (e.g. a key file not created yet). */
  suggestions?: Readonly<Record<string, { value: string; note: string }>>;
}

/** A YAML scalar: plain when it cannot be misread, double-quoted (JSON escapes are YAML escapes) otherwise. */
export function yamlScalar(value: string | number): string {
  if (typeof value === 'number') return String(value);
  if (
    /^[A-Za-z0-9_/][A-Za-z0-9_./@+:=,~-]*$/.test(value) &&
    !/^(true|false|yes|no|on|off|null|~|[-+]?\d[\d._]*(e[-+]?\d+)?)$/i.test(value) &&
    !value.includes(': ')
  ) {
    return value;
  }
  return JSON.stringify(value);
}

export function renderConfigFile(o: ConfigFileOptions): string {
  const out = [
    `# orch configuration — written by 'orch install' (orch ${o.orchVersion}). install never overwrites`,
    '# this file (except with --force, keeping a .bak). orch watch re-reads it on SIGHUP',
    '# (systemctl reload orch). Precedence: command-line flags > ORCH_* environment variables > this',
    '# file > built-in defaults. Uncomment a line to change a setting. Secrets never go here: pool',
    '# credentials are references in the manifests, resolved from the environment file of the unit',
    `# (${o.envFile}) or from files; the key that encrypts them at rest is a file named below.`,
    '',
  ];
  for (const e of o.entries) {
    out.push(`# ${SETTING_HELP[e.key] ?? 'see docs/operations.md'}. Env: ${e.env}`);
    const set = o.values[e.key];
    const suggestion = o.suggestions?.[e.key];
    if (set !== undefined) out.push(`${e.key}: ${yamlScalar(set)}`);
    else if (suggestion) {
      out.push(`# ${suggestion.note}`);
      out.push(`# ${e.key}: ${yamlScalar(suggestion.value)}`);
    } else if (e.default === null) out.push(`# ${e.key}:`);
    else out.push(`# ${e.key}: ${yamlScalar(e.default)}`);
    out.push('');
  }
  return out.join('\n');
}
