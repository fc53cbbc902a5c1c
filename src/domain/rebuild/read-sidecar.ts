import type { DesiredPool, DesiredRoute, DesiredVirtualHost } from '../model/desired-state.js';
import type { SecretRef } from '../model/manifest-types.js';
import { MIGRATION_ROUTINGS, type RouteMigration } from '../migrations/routing.js';
import { SIDECAR_FORMAT_VERSION } from '../render/render-sidecars.js';
import { SIDECAR_MARKER } from '../render/rendered-tree.js';

/**
 * Reads a sidecar orch wrote back into the desired resource it describes. Every field is checked
 * for its type (a sidecar on disk may be truncated or edited): the first field that is wrong makes
 * the whole sidecar unusable, reported in words naming that field.
 */
export type SidecarRead<T> = { ok: true; value: T } | { ok: false; problem: string };

type Obj = Record<string, unknown>;

class ShapeError extends Error {}

function fail(field: string, expected: string): never {
  throw new ShapeError(`field "${field}" is not ${expected}`);
}
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
function obj(o: Obj, key: string, at = key): Obj {
  const v = o[key];
  if (!isObj(v)) fail(at, 'an object');
  return v;
}
function str(o: Obj, key: string, at = key): string {
  const v = o[key];
  if (typeof v !== 'string') fail(at, 'a string');
  return v;
}
function strOrNull(o: Obj, key: string, at = key): string | null {
  return o[key] === null ? null : str(o, key, at);
}
function int(o: Obj, key: string, at = key): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(at, 'an integer');
  return v;
}
function bool(o: Obj, key: string, at = key): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') fail(at, 'true or false');
  return v;
}
function arr(o: Obj, key: string, at = key): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) fail(at, 'a list');
  return v;
}
function oneOf<T extends string>(o: Obj, key: string, values: readonly T[], at = key): T {
  const v = str(o, key, at);
  if (!(values as readonly string[]).includes(v)) fail(at, `one of ${values.join(', ')}`);
  return v as T;
}
function routeMigration(m: Obj, at: string): RouteMigration {
  const freezeUntil = m['freezeUntil'] === null ? null : int(m, 'freezeUntil', `${at}freezeUntil`);
  return {
    name: str(m, 'name', `${at}name`),
    routing: oneOf(m, 'routing', MIGRATION_ROUTINGS, `${at}routing`),
    from: str(m, 'from', `${at}from`),
    to: str(m, 'to', `${at}to`),
    freezeUntil,
    manifestPool: str(m, 'manifestPool', `${at}manifestPool`),
  };
}
function secretRef(o: Obj, at: string): SecretRef {
  if (typeof o['env'] === 'string' && Object.keys(o).length === 1) return { env: o['env'] };
  if (typeof o['file'] === 'string' && Object.keys(o).length === 1) return { file: o['file'] };
  return fail(at, 'a reference {env} or {file}');
}
function origin(o: Obj, at: string): { file: string; index: number } {
  const v = obj(o, 'origin', `${at}origin`);
  return { file: str(v, 'file', `${at}origin.file`), index: int(v, 'index', `${at}origin.index`) };
}

function envelope(json: unknown, kind: 'Pool' | 'VirtualHost'): Obj {
  if (!isObj(json)) throw new ShapeError('it is not a JSON object');
  if (json['managedBy'] !== SIDECAR_MARKER) throw new ShapeError(`"managedBy" is not "${SIDECAR_MARKER}"`);
  if (json['formatVersion'] !== SIDECAR_FORMAT_VERSION) {
    throw new ShapeError(`formatVersion ${JSON.stringify(json['formatVersion'])} is not one this orch reads (${SIDECAR_FORMAT_VERSION})`);
  }
  if (json['kind'] !== kind) throw new ShapeError(`"kind" is ${JSON.stringify(json['kind'])}, expected "${kind}"`);
  return json;
}

function attempt<T>(read: () => T): SidecarRead<T> {
  try {
    return { ok: true, value: read() };
  } catch (e) {
    if (e instanceof ShapeError) return { ok: false, problem: e.message };
    throw e;
  }
}

/** Parses sidecar text; a JSON syntax error is reported like a shape problem. */
export function parseSidecarJson(text: string): SidecarRead<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, problem: `it is not valid JSON (${(e as Error).message})` };
  }
}

export function readPoolSidecar(json: unknown): SidecarRead<DesiredPool> {
  return attempt(() => {
    const s = envelope(json, 'Pool');
    const name = str(s, 'name');
    const credentials = s['credentials'] === null ? null : obj(s, 'credentials');
    return {
      name,
      type: oneOf(s, 'type', ['nanio', 'http'] as const),
      description: strOrNull(s, 'description'),
      loadBalancing: oneOf(s, 'loadBalancing', ['round_robin', 'least_conn', 'ip_hash'] as const),
      keepalive: s['keepalive'] === null ? null : int(s, 'keepalive'),
      members: arr(s, 'members').map((m, i) => {
        const at = `members[${i}].`;
        if (!isObj(m)) fail(`members[${i}]`, 'an object');
        return {
          address: str(m, 'address', `${at}address`),
          weight: int(m, 'weight', `${at}weight`),
          maxFails: int(m, 'maxFails', `${at}maxFails`),
          failTimeout: str(m, 'failTimeout', `${at}failTimeout`),
          enabled: bool(m, 'enabled', `${at}enabled`),
          role: oneOf(m, 'role', ['primary', 'replica'] as const, `${at}role`),
        };
      }),
      credentials:
        credentials === null
          ? null
          : {
              accessKeyId: secretRef(obj(credentials, 'accessKeyId', 'credentials.accessKeyId'), 'credentials.accessKeyId'),
              secretAccessKey: secretRef(obj(credentials, 'secretAccessKey', 'credentials.secretAccessKey'), 'credentials.secretAccessKey'),
            },
      origin: { ...origin(s, ''), kind: 'Pool', name },
    } satisfies DesiredPool;
  });
}

export function readVirtualHostSidecar(json: unknown): SidecarRead<DesiredVirtualHost> {
  return attempt(() => {
    const s = envelope(json, 'VirtualHost');
    const name = str(s, 'name');
    const tls = s['tls'] === null ? null : obj(s, 'tls');
    const ipRules = s['ipRules'] === null ? null : obj(s, 'ipRules');
    const strings = (key: string) =>
      arr(s, key).map((v, i) => {
        if (typeof v !== 'string') fail(`${key}[${i}]`, 'a string');
        return v;
      });
    const routes: DesiredRoute[] = arr(s, 'routes').map((r, i) => {
      const at = `routes[${i}].`;
      if (!isObj(r)) fail(`routes[${i}]`, 'an object');
      const routeName = str(r, 'name', `${at}name`);
      return {
        name: routeName,
        virtualHost: name,
        path: str(r, 'path', `${at}path`),
        bucket: strOrNull(r, 'bucket', `${at}bucket`),
        pool: str(r, 'pool', `${at}pool`),
        keyPrefix: strOrNull(r, 'keyPrefix', `${at}keyPrefix`),
        enabled: bool(r, 'enabled', `${at}enabled`),
        allowOrphan: bool(r, 'allowOrphan', `${at}allowOrphan`),
        origin: { ...origin(r, at), kind: 'Route', name: routeName },
        ...(r['migration'] === undefined ? {} : { migration: routeMigration(obj(r, 'migration', `${at}migration`), `${at}migration.`) }),
      };
    });
    return {
      name,
      serverNames: strings('serverNames'),
      port: int(s, 'port'),
      address: strOrNull(s, 'address'),
      tls:
        tls === null
          ? null
          : {
              certificate: str(tls, 'certificate', 'tls.certificate'),
              key: str(tls, 'key', 'tls.key'),
              http2: bool(tls, 'http2', 'tls.http2'),
            },
      defaultPool: strOrNull(s, 'defaultPool'),
      ipRules:
        ipRules === null
          ? null
          : {
              mode: oneOf(ipRules, 'mode', ['allow', 'deny'] as const, 'ipRules.mode'),
              addresses: arr(ipRules, 'addresses', 'ipRules.addresses').map((v, i) => {
                if (typeof v !== 'string') fail(`ipRules.addresses[${i}]`, 'a string');
                return v;
              }),
            },
      extraBlocks: arr(s, 'extraBlocks').map((b, i) => {
        if (!isObj(b)) fail(`extraBlocks[${i}]`, 'an object');
        return {
          zone: oneOf(b, 'zone', ['top', 'ssl', 'proxy', 'end'] as const, `extraBlocks[${i}].zone`),
          content: str(b, 'content', `extraBlocks[${i}].content`),
        };
      }),
      ignoreBuckets: strings('ignoreBuckets'),
      ...(s['clientIdentities'] === undefined
        ? {}
        : {
            clientIdentities: arr(s, 'clientIdentities').map((c, i) => {
              const at = `clientIdentities[${i}]`;
              if (!isObj(c)) fail(at, 'an object');
              return {
                accessKeyId: secretRef(obj(c, 'accessKeyId', `${at}.accessKeyId`), `${at}.accessKeyId`),
                secretAccessKey: secretRef(obj(c, 'secretAccessKey', `${at}.secretAccessKey`), `${at}.secretAccessKey`),
              };
            }),
          }),
      routes,
      origin: { ...origin(s, ''), kind: 'VirtualHost', name },
    } satisfies DesiredVirtualHost;
  });
}
