/**
 * Builders for manifest texts in tests. Each document is five header lines (apiVersion, kind,
 * metadata, name, spec) followed by the spec lines, so spec line k is file line 5 + k.
 */
const header = (kind: string, name: string): string => `apiVersion: orch/v1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n`;
const indent = (lines: string): string =>
  lines
    .split('\n')
    .filter((l, i, all) => !(i === all.length - 1 && l === ''))
    .map((l) => (l === '' ? '' : `  ${l}`))
    .join('\n') + '\n';

export const pool = (spec: string, name = 'x'): string => header('Pool', name) + indent(spec);
export const vhost = (spec: string, name = 'site'): string => header('VirtualHost', name) + indent(spec);
export const route = (spec: string, name = 'r'): string => header('Route', name) + indent(spec);
export const migration = (spec: string, name = 'm'): string => header('Migration', name) + indent(spec);

/** A valid nanio pool `main` (members 10.0.0.1:9000, credentials from env). */
export const MAIN_POOL = pool(
  'type: nanio\nmembers:\n  - address: 10.0.0.1:9000\ncredentials:\n  accessKeyId: { env: AK }\n  secretAccessKey: { env: SK }',
  'main',
);
/** A second valid nanio pool `other`. */
export const OTHER_POOL = pool(
  'type: nanio\nmembers:\n  - address: 10.0.0.2:9000\ncredentials:\n  accessKeyId: { env: AK }\n  secretAccessKey: { env: SK }',
  'other',
);
/** A valid http pool `files`. */
export const HTTP_POOL = pool('type: http\nmembers:\n  - address: 10.0.9.1:8080', 'files');
/** A valid virtual host `gw` on port 80 whose default pool is `main`. */
export const GW = vhost('serverNames: [s3.example.com]\ndefaultPool: main', 'gw');
/** A valid route `photos`: /photos/ of `gw` to `main`. */
export const PHOTOS_ROUTE = route('virtualHost: gw\npath: /photos/\npool: main', 'photos');
/** pool main + vhost gw + route photos + pool other, in separate files. */
export const BASE = { 'pool.yaml': MAIN_POOL, 'other.yaml': OTHER_POOL, 'vhost.yaml': GW, 'route.yaml': PHOTOS_ROUTE };
