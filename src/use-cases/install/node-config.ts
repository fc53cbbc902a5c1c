import { join } from 'node:path';
import type { TextFiles } from '../../ports/text-files.js';
import { UserError } from '../../domain/errors.js';
import { checkPath, checkUser } from '../../domain/install/install-values.js';
import {
  findPool,
  NODE_CONFIG_DEFAULTS,
  renderNodeConfig,
  selectMember,
  type NodeConfig,
  type NodeConfigOptions,
} from '../../domain/node-config/render-node-config.js';
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

/** What node-config needs: the settings (where the manifests are) and files to write with --out. */
export interface NodeConfigPorts {
  settings: Settings;
  files: TextFiles;
  manifests: ManifestLoader;
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
    const existing = config.files.filter((f) => {
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
    for (const f of config.files) {
      const p = join(req.out, f.name);
      files.write(p, f.content, { mode: f.mode });
      written.push(p);
    }
  }
  return { config, written };
}
