import { join } from 'node:path';
import type { TextFiles } from '../../ports/text-files.js';
import { UserError } from '../../domain/errors.js';
import { checkPath, checkUser } from '../../domain/install/install-values.js';
import {
  findPool,
  nanioUsers,
  NODE_CONFIG_DEFAULTS,
  type NodeUser,
  renderNodeConfig,
  selectMember,
  type NodeConfig,
  type NodeConfigOptions,
} from '../../domain/node-config/render-node-config.js';
import type { SecretRef } from '../../domain/model/manifest-types.js';
import type { Secrets } from '../../ports/secrets.js';
import { loadManifests } from '../plan/load-manifests.js';
import type { Settings } from '../../config/settings.js';
import { orchVersion } from '../../config/version.js';
import type { ManifestLoader } from '../../ports/manifest-loader.js';

export interface NodeConfigRequest {
  pool: string;
  /** An address of the pool or an index (from 0); null: a new member. */
  member: string | null;
  dataDir?: string | undefined;
  nanioBin?: string | undefined;
  user?: string | undefined;
  configDir?: string | undefined;
  region?: string | undefined;
  root?: string | undefined;
  /** Write the files into this directory instead of returning them for printing. */
  out: string | null;
  force: boolean;
}

export interface NodeConfigResult {
  config: NodeConfig;
  /** Files written with --out (absolute paths), in order. */
  written: string[];
}

/**
 * What node-config needs: the settings (where the manifests are), files to write with --out, and
 * the secrets (with --out, the options file is written with the values the references name).
 */
export interface NodeConfigPorts {
  settings: Settings;
  files: TextFiles;
  manifests: ManifestLoader;
  secrets: Pick<Secrets, 'resolvePoolCredentials'>;
}

/** Reads the manifests through the same settings as `orch plan` and renders the member's files. */
export function nodeConfig(ports: NodeConfigPorts, req: NodeConfigRequest): NodeConfigResult {
  const { settings, files } = ports;
  const options: NodeConfigOptions = {
    orchVersion: orchVersion(),
    dataDir: checkPath(req.dataDir ?? NODE_CONFIG_DEFAULTS.dataDir, '--data-dir'),
    nanioBin: checkPath(req.nanioBin ?? NODE_CONFIG_DEFAULTS.nanioBin, '--nanio-bin'),
    user: checkUser(req.user ?? NODE_CONFIG_DEFAULTS.user, '--user'),
    configDir: checkPath(req.configDir ?? NODE_CONFIG_DEFAULTS.configDir, '--config-dir'),
    region: req.region ?? NODE_CONFIG_DEFAULTS.region,
    root: checkPath(req.root ?? NODE_CONFIG_DEFAULTS.root, '--root'),
  };
  if (!/^[a-z0-9-]{1,32}$/.test(options.region)) {
    throw new UserError(
      'node-config.invalid-value',
      `--region must be lowercase letters, digits and -, at most 32 characters (e.g. us-east-1); got ${JSON.stringify(options.region)}.`,
    );
  }
  const { validation } = loadManifests(ports.manifests, settings.manifests);
  const desired = validation.desired;
  const pool = findPool(desired, req.pool, settings.manifests);
  const member = selectMember(pool, req.member);
  const config = renderNodeConfig(desired, pool, member, options);
  const written: string[] = [];
  if (req.out) {
    // The files as written: the same, with each credential's value instead of its placeholder.
    const toWrite =
      pool.type === 'nanio'
        ? withValues(
            ports,
            pool.name,
            nanioUsers(desired, pool),
            (reveal, users) => renderNodeConfig(desired, pool, member, options, reveal, users).files,
          )
        : config.files;
    const existing = toWrite.filter((f) => {
      const p = join(req.out!, f.name);
      const onDisk = files.read(p);
      return onDisk !== null && onDisk !== f.content;
    });
    if (existing.length > 0 && !req.force) {
      throw new UserError(
        'node-config.file-exists',
        `${existing.map((f) => join(req.out!, f.name)).join(', ')} already exist${existing.length === 1 ? 's' : ''} with other content; nothing was written.`,
        {
          hint: 'Use another --out directory, or --force to replace them.',
        },
      );
    }
    for (const f of toWrite) {
      const p = join(req.out, f.name);
      files.write(p, f.content, { mode: f.mode });
      written.push(p);
    }
  }
  return { config, written };
}

/**
 * Renders with the values of every credential the options file names, read where orch runs (the
 * gateway, or wherever the references resolve). A reference that cannot be read, a pool without
 * any user, or one access key with two different secrets (nanio refuses duplicate access keys) is
 * a user error: nothing is written, and no placeholder is ever written where nanio would take it
 * for a key. Users whose values are the same pair are written once.
 */
function withValues<T>(
  ports: NodeConfigPorts,
  pool: string,
  users: NodeUser[],
  render: (reveal: (ref: SecretRef) => string, users: NodeUser[]) => T,
): T {
  if (users.length === 0) {
    throw new UserError(
      'node-config.no-users',
      `Pool "${pool}" has no credentials in its manifest: nanio needs at least one [[users]] entry; nothing was written.`,
      {
        hint: `Add spec.credentials (env or file references) to pool ${pool}, or run 'orch node-config ${pool}' without --out for a template with placeholders.`,
      },
    );
  }
  const values = new Map<string, string>();
  const problems: string[] = [];
  const pairs: Array<{ user: NodeUser; access: string; secret: string }> = [];
  for (const u of users) {
    const resolved = ports.secrets.resolvePoolCredentials({ accessKeyId: u.accessKeyId, secretAccessKey: u.secretAccessKey });
    for (const [ref, r] of [
      [u.accessKeyId, resolved.accessKeyId],
      [u.secretAccessKey, resolved.secretAccessKey],
    ] as const) {
      if (r.ok) values.set(JSON.stringify(ref), r.value);
      else problems.push(r.problem);
    }
    if (resolved.accessKeyId.ok && resolved.secretAccessKey.ok)
      pairs.push({ user: u, access: resolved.accessKeyId.value, secret: resolved.secretAccessKey.value });
  }
  if (problems.length > 0) {
    throw new UserError(
      'node-config.unresolved',
      `--out writes the credentials nanio must accept, and ${[...new Set(problems)].join('; ')}; nothing was written.`,
      {
        hint: `Run it where those references resolve (as orch does on the gateway), or without --out: 'orch node-config ${pool}' prints the files with placeholders to fill in.`,
      },
    );
  }
  const kept: NodeUser[] = [];
  const byKey = new Map<string, { secret: string; role: string }>();
  for (const p of pairs) {
    const before = byKey.get(p.access);
    if (before === undefined) {
      byKey.set(p.access, { secret: p.secret, role: p.user.role });
      kept.push(p.user);
    } else if (before.secret !== p.secret) {
      throw new UserError(
        'node-config.conflicting-users',
        `Access key ${p.access} is both ${before.role} and ${p.user.role}, with different secrets; nanio accepts one secret per access key. Nothing was written.`,
        { hint: 'Give the client identity its own access key, or make both references name the same secret.' },
      );
    }
  }
  return render((ref) => {
    const v = values.get(JSON.stringify(ref));
    if (v === undefined) throw new Error('node-config: a credential reference was not resolved');
    return v;
  }, kept);
}
