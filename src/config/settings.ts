import { UserError } from '../domain/errors.js';
import { parse as parseYamlText } from 'yaml';

export type ReloadMethod = 'nginx' | 'systemctl' | 'command' | 'none';

/** orch's own settings, resolved with precedence flags > environment > config file > defaults. */
export interface Settings {
  /** Manifest directory or file. */
  manifests: string;
  /** Managed nginx directory holding pools/ and vhosts/. */
  nginxDir: string;
  /** Database, backups, journal, lock, migration state files. */
  stateDir: string;
  /** nginx binary. */
  nginxBin: string;
  /** Operator's main nginx.conf (passed with -c); null (`default`): nginx's compiled-in default. */
  nginxConf: string | null;
  /** nginx prefix (passed with -p); null: nginx's compiled-in default. */
  nginxPrefix: string | null;
  reload: ReloadMethod;
  /** Shell command for `reload: command`. */
  reloadCommand: string | null;
  /** Loopback address:port of the generation status server used to confirm reloads. */
  statusListen: string;
  reloadTimeoutSeconds: number;
  lockTimeoutSeconds: number;
  maxDelete: number;
  keepGenerations: number;
  backupRotate: number;
  /** Key file for pool credentials at rest (`id:base64` per line, first = current); null: none. */
  secretKeyFile: string | null;
  /** Timeout of one S3 request to a pool member, in seconds. */
  s3TimeoutSeconds: number;
  /** Extra rounds over a pool's members after every member failed (with backoff). */
  s3Retries: number;
  /** Requests in flight per pool at most. */
  s3Concurrency: number;
  /** `orch watch`: loopback address:port of the health, status and metrics listener, or `off`. */
  watchListen: string;
  /** `orch watch`: seconds between reconciles that catch drift and anything a file event missed (0: off). */
  driftIntervalSeconds: number;
  /** `orch watch`: seconds between bucket syncs (0: off). */
  bucketSyncIntervalSeconds: number;
  /** `orch watch`: seconds between migration ticks (0: off). */
  migrationTickSeconds: number;
  /** `orch watch`: seconds between state database backups (0: off). */
  backupIntervalSeconds: number;
  /** `orch watch`: quiet time after the last manifest change before a reconcile starts, in milliseconds. */
  debounceMs: number;
  /** Migrations running at once at most; more wait in phase pending. */
  maxParallelMigrations: number;
  /** Config file that was read, if any. */
  configFile: string | null;
}

export const SETTING_KEYS = [
  'manifests',
  'nginxDir',
  'stateDir',
  'nginxBin',
  'nginxConf',
  'nginxPrefix',
  'reload',
  'reloadCommand',
  'statusListen',
  'reloadTimeoutSeconds',
  'lockTimeoutSeconds',
  'maxDelete',
  'keepGenerations',
  'backupRotate',
  'secretKeyFile',
  's3TimeoutSeconds',
  's3Retries',
  's3Concurrency',
  'watchListen',
  'driftIntervalSeconds',
  'bucketSyncIntervalSeconds',
  'migrationTickSeconds',
  'backupIntervalSeconds',
  'debounceMs',
  'maxParallelMigrations',
] as const satisfies ReadonlyArray<Exclude<keyof Settings, 'configFile'>>;
type SettingKey = (typeof SETTING_KEYS)[number];

/** Environment variable for each setting. */
export const SETTING_ENV: Record<SettingKey, string> = {
  manifests: 'ORCH_MANIFESTS',
  nginxDir: 'ORCH_NGINX_DIR',
  stateDir: 'ORCH_STATE_DIR',
  nginxBin: 'ORCH_NGINX',
  nginxConf: 'ORCH_NGINX_CONF',
  nginxPrefix: 'ORCH_NGINX_PREFIX',
  reload: 'ORCH_RELOAD',
  reloadCommand: 'ORCH_RELOAD_COMMAND',
  statusListen: 'ORCH_STATUS_LISTEN',
  reloadTimeoutSeconds: 'ORCH_RELOAD_TIMEOUT',
  lockTimeoutSeconds: 'ORCH_LOCK_TIMEOUT',
  maxDelete: 'ORCH_MAX_DELETE',
  keepGenerations: 'ORCH_KEEP_GENERATIONS',
  backupRotate: 'ORCH_BACKUP_ROTATE',
  secretKeyFile: 'ORCH_SECRET_KEY_FILE',
  s3TimeoutSeconds: 'ORCH_S3_TIMEOUT',
  s3Retries: 'ORCH_S3_RETRIES',
  s3Concurrency: 'ORCH_S3_CONCURRENCY',
  watchListen: 'ORCH_WATCH_LISTEN',
  driftIntervalSeconds: 'ORCH_DRIFT_INTERVAL',
  bucketSyncIntervalSeconds: 'ORCH_BUCKET_SYNC_INTERVAL',
  migrationTickSeconds: 'ORCH_MIGRATION_TICK',
  backupIntervalSeconds: 'ORCH_BACKUP_INTERVAL',
  debounceMs: 'ORCH_DEBOUNCE_MS',
  maxParallelMigrations: 'ORCH_MAX_PARALLEL_MIGRATIONS',
};

/** Sandbox defaults: everything under ./.orch, no root needed. */
export function defaultSettings(): Omit<Settings, 'configFile'> {
  return {
    manifests: 'manifests',
    nginxDir: '.orch/nginx',
    stateDir: '.orch/state',
    nginxBin: 'nginx',
    // The sandbox's private nginx (`orch sandbox up`); production configs point these at the system nginx.
    nginxConf: '.orch/sandbox/nginx.conf',
    nginxPrefix: '.orch/sandbox',
    reload: 'nginx',
    reloadCommand: null,
    statusListen: '127.0.0.1:18099',
    reloadTimeoutSeconds: 15,
    lockTimeoutSeconds: 30,
    maxDelete: 10,
    keepGenerations: 5,
    backupRotate: 3,
    secretKeyFile: null,
    s3TimeoutSeconds: 10,
    s3Retries: 2,
    s3Concurrency: 8,
    watchListen: '127.0.0.1:18098',
    driftIntervalSeconds: 60,
    bucketSyncIntervalSeconds: 300,
    migrationTickSeconds: 5,
    backupIntervalSeconds: 3600,
    debounceMs: 500,
    maxParallelMigrations: 2,
  };
}

export interface SettingsSources {
  flags: Partial<Record<SettingKey, string | number | undefined>>;
  env: Record<string, string | undefined>;
  /** Explicit config file (`--config` or ORCH_CONFIG); must exist when given. */
  configPath: string | null;
  /** Config files looked for, in order, when none is explicit. */
  candidates: string[];
  readFile: (path: string) => string | null;
}

const NUMERIC: ReadonlySet<SettingKey> = new Set([
  'reloadTimeoutSeconds',
  'lockTimeoutSeconds',
  'maxDelete',
  'keepGenerations',
  'backupRotate',
  's3TimeoutSeconds',
  's3Retries',
  's3Concurrency',
  'driftIntervalSeconds',
  'bucketSyncIntervalSeconds',
  'migrationTickSeconds',
  'backupIntervalSeconds',
  'debounceMs',
  'maxParallelMigrations',
]);
const RELOADS: ReadonlySet<string> = new Set(['nginx', 'systemctl', 'command', 'none']);

export function resolveSettings(src: SettingsSources): Settings {
  const settings: Settings = { ...defaultSettings(), configFile: null };
  const explicit = src.configPath ?? src.env['ORCH_CONFIG'] ?? null;
  const candidates = explicit ? [explicit] : src.candidates;
  for (const path of candidates) {
    const text = src.readFile(path);
    if (text === null) {
      if (explicit) {
        throw new UserError('config.not-found', `Config file ${path} does not exist.`, {
          hint: 'Check the --config flag or the ORCH_CONFIG environment variable.',
        });
      }
      continue;
    }
    applyConfigFile(settings, path, text);
    settings.configFile = path;
    break;
  }
  for (const key of SETTING_KEYS) {
    const v = src.env[SETTING_ENV[key]];
    if (v !== undefined && v !== '') assign(settings, key, v, `environment variable ${SETTING_ENV[key]}`);
  }
  for (const key of SETTING_KEYS) {
    const v = src.flags[key];
    if (v !== undefined) assign(settings, key, String(v), `flag for ${key}`);
  }
  for (const key of ['nginxConf', 'nginxPrefix', 'reloadCommand', 'secretKeyFile'] as const) {
    if (settings[key] === '' || settings[key] === 'none' || settings[key] === 'default') settings[key] = null;
  }
  checkWatchListen(settings.watchListen);
  if (settings.reload === 'command' && !settings.reloadCommand) {
    throw new UserError('config.invalid', 'reload is "command" but no reloadCommand is set.', {
      hint: 'Set reloadCommand in the config file or ORCH_RELOAD_COMMAND.',
    });
  }
  return settings;
}

/** The yaml package (~70 modules) is loaded only when a config file is read: most runs have none. */
const parseYaml = (text: string): unknown => parseYamlText(text);

function applyConfigFile(settings: Settings, path: string, text: string): void {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    throw new UserError('config.invalid', `Config file ${path} is not valid YAML: ${(e as Error).message.split('\n')[0]}`, {
      hint: 'Fix the YAML syntax of the config file.',
    });
  }
  if (data === null || data === undefined) return;
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new UserError('config.invalid', `Config file ${path} must be a mapping of settings.`, {
      hint: `Known settings: ${SETTING_KEYS.join(', ')}.`,
    });
  }
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    if (!(SETTING_KEYS as readonly string[]).includes(key)) {
      throw new UserError('config.unknown-setting', `Config file ${path}: unknown setting "${key}".`, {
        hint: `Known settings: ${SETTING_KEYS.join(', ')}.`,
      });
    }
    if (value === null) continue;
    assign(settings, key as SettingKey, String(value), `config file ${path}`);
  }
}

function assign(settings: Settings, key: SettingKey, raw: string, from: string): void {
  if (NUMERIC.has(key)) {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) {
      throw new UserError('config.invalid', `${key} from ${from} must be a non-negative integer, got "${raw}".`);
    }
    (settings as unknown as Record<string, unknown>)[key] = n;
    return;
  }
  if (key === 'reload' && !RELOADS.has(raw)) {
    throw new UserError('config.invalid', `reload from ${from} must be one of nginx, systemctl, command, none; got "${raw}".`);
  }
  (settings as unknown as Record<string, unknown>)[key] = raw;
}

/**
 * `watchListen` serves orch's state (generation, drift, errors, metrics) without authentication:
 * loopback only (127.x.x.x, [::1] or localhost, with a port), or `off`.
 */
export function isLoopbackHostPort(listen: string): boolean {
  const m = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost):(\d{1,5})$/.exec(listen);
  if (!m) return false;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return false;
  return m[1]!.startsWith('127.') ? m[1]!.split('.').every((o) => Number(o) <= 255) : true;
}

function checkWatchListen(listen: string): void {
  if (listen === 'off' || isLoopbackHostPort(listen)) return;
  throw new UserError(
    'config.invalid',
    `watchListen must be a loopback address with a port (127.0.0.1:18098, [::1]:18098, localhost:18098) or "off"; got "${listen}".`,
    {
      hint: 'The health, status and metrics endpoints have no authentication: they listen on loopback only. Expose them through a reverse proxy or a node exporter if needed.',
    },
  );
}
