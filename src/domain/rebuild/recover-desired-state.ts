import type { Diagnostic } from '../diagnostics.js';
import { BugError } from '../errors.js';
import type { DesiredPool, DesiredState, DesiredVirtualHost, Origin } from '../model/desired-state.js';
import { renderPoolFiles } from '../render/render-pool-files.js';
import { renderVirtualHostFiles } from '../render/render-virtual-host-files.js';
import { STATUS_FILE_PATH } from '../render/render-status.js';
import { CONF_MARKER, type NginxFeatures, type ResourceRef } from '../render/rendered-tree.js';
import { parseSidecarJson, readPoolSidecar, readVirtualHostSidecar } from './read-sidecar.js';
import { poolFromConf, virtualHostFromConf } from './recover-from-conf.js';

/** A file of the managed directory: path relative to it (`pools/a.conf`) and content. */
export interface ManagedText {
  path: string;
  content: string;
}

export type ConfState = 'ok' | 'missing' | 'unmarked' | 'unreadable';
export type SidecarState = 'ok' | 'missing' | 'corrupt';

export interface RecoveredResource {
  ref: ResourceRef;
  confPath: string;
  sidecarPath: string;
  conf: ConfState;
  sidecar: SidecarState;
  /** Where the recovered description came from; null when nothing could be recovered. */
  from: 'sidecar' | 'conf' | null;
  /**
   * When the `.conf` on disk differs from what orch renders for the sidecar's description (it was
   * edited outside orch): the content orch wrote, as far as the sidecar tells. Null otherwise.
   */
  expectedConf: string | null;
  origin: Origin | null;
}

export interface RecoveryResult {
  /** Every resource that could be recovered; migrations are not part of the managed directory. */
  desired: DesiredState;
  resources: RecoveredResource[];
  diagnostics: Diagnostic[];
}

const RECOVERED_FROM_POOL_CONF = 'members (address, weight, max_fails, fail_timeout, backup, down), load balancing and keepalive';
const LOST_FROM_POOL_CONF =
  'the pool type (guessed: http if a member is a backup, else nanio), the description, the credentials references and the manifest document index';
const RECOVERED_FROM_VHOST_CONF =
  'server names, listen port and address, TLS certificate, key and http2, IP rules, the default pool, extra blocks (one per zone) and the enabled routes with their paths, pools and key prefixes';
const LOST_FROM_VHOST_CONF =
  'disabled routes, route names (recovered as <virtual host>-<path>), allowOrphan, ignoreBuckets, how extra blocks were split within a zone, and the manifest files of the routes';

function isOrchConf(content: string): boolean {
  return content.startsWith(CONF_MARKER);
}

/** A sidecar that says it is orch's, even when it is damaged past parsing. */
function looksLikeOrchSidecar(content: string): boolean {
  return /^\{\s*"managedBy"\s*:\s*"orch"/.test(content);
}

function pathsOf(ref: ResourceRef): { confPath: string; sidecarPath: string } {
  const dir = ref.kind === 'Pool' ? 'pools' : 'vhosts';
  return { confPath: `${dir}/${ref.name}.conf`, sidecarPath: `${dir}/${ref.name}.meta.json` };
}

function refOfPath(path: string): ResourceRef | null {
  const m = /^(pools|vhosts)\/([^/]+?)(\.conf|\.meta\.json)$/.exec(path);
  if (!m) return null;
  return { kind: m[1] === 'pools' ? 'Pool' : 'VirtualHost', name: m[2]! };
}

/**
 * Rebuilds the desired pools and virtual hosts (routes included) from orch's own managed
 * directory: from each sidecar when it is readable (everything is there, disabled routes too),
 * else from the `.conf` alone, with a diagnostic naming the file and saying what was recovered
 * and what was lost. Files without orch's marker are not orch's and are ignored. Pure.
 *
 * `features`: those of the nginx the tree is served by, to tell a hand-edited `.conf` from one
 * rendered for another nginx version (the only version-dependent line is http2).
 */
export function recoverDesiredState(files: readonly ManagedText[], features: NginxFeatures): RecoveryResult {
  const byPath = new Map(files.map((f) => [f.path, f.content]));
  const refs = new Map<string, ResourceRef>();
  for (const f of files) {
    if (f.path === STATUS_FILE_PATH) continue;
    const ref = refOfPath(f.path);
    if (!ref) continue;
    const ours = f.path.endsWith('.conf') ? isOrchConf(f.content) : looksLikeOrchSidecar(f.content);
    if (ours) refs.set(`${ref.kind}/${ref.name}`, ref);
  }

  const diagnostics: Diagnostic[] = [];
  const resources: RecoveredResource[] = [];
  const pools: DesiredPool[] = [];
  const virtualHosts: DesiredVirtualHost[] = [];
  const warn = (path: string, code: string, message: string, hint?: string, severity: Diagnostic['severity'] = 'warning') =>
    diagnostics.push({ severity, code, message, ...(hint ? { hint } : {}), source: { file: path, line: 1, column: 1 } });

  for (const ref of [...refs.values()].sort((a, b) => (a.kind !== b.kind ? (a.kind === 'Pool' ? -1 : 1) : a.name < b.name ? -1 : 1))) {
    const { confPath, sidecarPath } = pathsOf(ref);
    const confText = byPath.get(confPath);
    const sidecarText = byPath.get(sidecarPath);
    const res: RecoveredResource = {
      ref,
      confPath,
      sidecarPath,
      conf: confText === undefined ? 'missing' : isOrchConf(confText) ? 'ok' : 'unmarked',
      sidecar: 'missing',
      from: null,
      expectedConf: null,
      origin: null,
    };
    resources.push(res);

    let value: DesiredPool | DesiredVirtualHost | null = null;
    let sidecarProblem: string | null = null;
    if (sidecarText !== undefined) {
      const json = parseSidecarJson(sidecarText);
      const read = !json.ok ? json : ref.kind === 'Pool' ? readPoolSidecar(json.value) : readVirtualHostSidecar(json.value);
      if (read.ok && read.value.name !== ref.name) {
        sidecarProblem = `it describes ${ref.kind} ${JSON.stringify(read.value.name)}, not ${JSON.stringify(ref.name)} like its file name`;
      } else if (read.ok) value = read.value;
      else sidecarProblem = read.problem;
      res.sidecar = value ? 'ok' : 'corrupt';
    }
    if (value) {
      res.from = 'sidecar';
      if (res.conf === 'missing') {
        warn(
          confPath,
          'recover.conf-missing',
          `${confPath} is missing; ${ref.kind} ${ref.name} is recovered from its sidecar ${sidecarPath}.`,
          "The next 'orch apply' writes the file again.",
        );
      } else if (res.conf === 'unmarked') {
        warn(
          confPath,
          'recover.conf-unmarked',
          `${confPath} does not carry orch's marker (replaced by hand?); ${ref.kind} ${ref.name} is recovered from its sidecar ${sidecarPath}.`,
          "The next 'orch apply' shows the file as adopted and replaces it.",
        );
      } else {
        const rendered = renderedConf(value, features, confText!);
        if (rendered === null) {
          warn(
            sidecarPath,
            'recover.sidecar-unrenderable',
            `${sidecarPath} holds a value orch would never write into nginx (edited by hand?); ${confPath} cannot be checked against it.`,
          );
        } else if (rendered !== confText) {
          res.expectedConf = rendered;
          warn(
            confPath,
            'recover.conf-edited',
            `${confPath} differs from what orch renders for its sidecar ${sidecarPath}: one of them was edited outside orch.`,
            "It is recorded as drift: 'orch drift' shows the edit, and 'orch apply' stops before overwriting it.",
          );
        }
      }
    } else if (res.conf === 'ok') {
      const rec = ref.kind === 'Pool' ? poolFromConf(confPath, ref.name, confText!) : virtualHostFromConf(confPath, ref.name, confText!);
      const why = sidecarText === undefined ? `${sidecarPath} is missing` : `${sidecarPath} is unusable: ${sidecarProblem}`;
      if (rec.value) {
        value = rec.value;
        res.from = 'conf';
        const [got, lost] =
          ref.kind === 'Pool' ? [RECOVERED_FROM_POOL_CONF, LOST_FROM_POOL_CONF] : [RECOVERED_FROM_VHOST_CONF, LOST_FROM_VHOST_CONF];
        warn(
          sidecarPath,
          sidecarText === undefined ? 'recover.sidecar-missing' : 'recover.sidecar-corrupt',
          `${why}. ${ref.kind} ${ref.name} is recovered from ${confPath} alone: ${got}. Lost: ${lost}.${rec.problems.length > 0 ? ` Also: ${rec.problems.join('; ')}.` : ''}`,
          "The manifests still hold everything: the next 'orch apply' writes the sidecar again.",
        );
      } else {
        warn(
          sidecarPath,
          'recover.nothing',
          `${why}, and ${confPath} cannot be read either (${rec.problems.join('; ')}): nothing is recovered for ${ref.kind} ${ref.name}.`,
          undefined,
          'error',
        );
      }
    } else {
      const why = sidecarText === undefined ? `${sidecarPath} is missing` : `${sidecarPath} is unusable: ${sidecarProblem}`;
      const conf = res.conf === 'missing' ? `${confPath} is missing` : `${confPath} does not carry orch's marker`;
      warn(sidecarPath, 'recover.nothing', `${why}, and ${conf}: nothing is recovered for ${ref.kind} ${ref.name}.`, undefined, 'error');
    }
    if (value) {
      res.origin = value.origin;
      if (ref.kind === 'Pool') pools.push(value as DesiredPool);
      else virtualHosts.push(value as DesiredVirtualHost);
    }
  }
  return { desired: { pools, virtualHosts, migrations: [] }, resources, diagnostics };
}

/**
 * The `.conf` orch renders for a recovered resource for the given nginx; when that differs from
 * the file on disk, the rendering for the other http2 syntax is tried (a tree rendered for another
 * nginx version is not a hand edit) and returned when it matches. Null when the description holds
 * a value the renderer refuses.
 */
function renderedConf(value: DesiredPool | DesiredVirtualHost, features: NginxFeatures, onDisk: string): string | null {
  try {
    if ('members' in value) return renderPoolFiles(value)[0]!.content;
    const mine = renderVirtualHostFiles(value, features)[0]!.content;
    if (mine === onDisk || value.tls === null || !value.tls.http2) return mine;
    const other = renderVirtualHostFiles(value, { ...features, http2Directive: !features.http2Directive })[0]!.content;
    return other === onDisk ? other : mine;
  } catch (e) {
    if (e instanceof BugError) return null;
    throw e;
  }
}
