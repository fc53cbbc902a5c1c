import { dirname, join, relative, resolve, sep } from 'node:path';
import { displayPath } from '../../domain/manifests/origin-names.js';
import { hasErrors, type Diagnostic } from '../../domain/diagnostics.js';
import { UserError, ValidationError } from '../../domain/errors.js';
import { detectSource } from '../../domain/import/detect-source.js';
import type { ImportResult, ImportSource, SourceFile } from '../../domain/import/import-result.js';
import { checkRouting, type RoutingCheck } from '../../domain/import/routing-equivalence.js';
import { parseNginxConfig } from '../../domain/nginx-config/parse-nginx-config.js';
import { renderTree } from '../../domain/render/render-tree.js';
import { importNginxTree } from '../../domain/import/import-nginx-tree.js';
import { importOrchTree } from '../../domain/import/import-orch-tree.js';
import { importReferenceTree } from '../../domain/import/import-reference-tree.js';
import { writeManifests, type ManifestLayout } from '../../domain/import/write-manifests.js';
import { parseManifestSources } from '../../domain/manifests/parse-manifests.js';
import { validateManifests } from '../../domain/manifests/validate-manifests.js';
import type { Kind } from '../../domain/model/manifest-types.js';
import { nginxFeaturesFor } from '../../domain/render/rendered-tree.js';
import { packagePath } from '../../config/package-root.js';
import type { ImportSources } from '../../ports/import-sources.js';
import type { TextFiles } from '../../ports/text-files.js';

export interface ImportOptions {
  dir: string;
  out: string;
  /** null: detected from the files. */
  from: ImportSource | null;
  force: boolean;
  /** The reference tool's Fernet key, to recover credential values. */
  referenceKey: string | null;
  nginxBin: string;
  /** The main nginx configuration nginx runs with: relative paths in DIR are resolved against its directory. */
  nginxConf: string;
  /** The reference tool's data directory (holding migrations/), or null when not given. */
  referenceData: string | null;
  /** The working directory DIR and --out are relative to. */
  cwd: string;
}

/** What an import writes with: the manifests, the credentials file, .gitignore. */
export interface ImportPorts {
  files: TextFiles;
  importSources: ImportSources;
}

export interface ImportReport {
  source: ImportSource;
  /** Why the source was chosen when it was detected; null with --from. */
  detected: string | null;
  dir: string;
  out: string;
  /** Manifest files written, relative to `out`. */
  files: string[];
  layout: ManifestLayout;
  layoutProblem: string | null;
  /** For the origin layout: the directory the original manifests were in, as orch saw it. */
  originRoot: string | null;
  counts: { pools: number; virtualHosts: number; routes: number };
  /** Import warnings (positioned in `dir`), then the manifest validator's warnings. */
  warnings: Diagnostic[];
  /** The env file holding recovered credential values (0600), or null. */
  envFile: string | null;
  /** Names of the variables written to it (never their values). */
  secretNames: string[];
  filesToMove: string[];
  /** Migration documents written (the reference tool's running migrations). */
  migrations: string[];
  /** The routing equivalence check: every request whose answer differs; null for orch's own tree. */
  routing: RoutingCheck | null;
}

export const CREDENTIALS_ENV_FILE = 'credentials.env';
const SCHEMAS_DIR = packagePath('schemas');
const SCHEMA_FILE: Record<Kind, string> = {
  Pool: 'pool.schema.json',
  VirtualHost: 'virtualhost.schema.json',
  Route: 'route.schema.json',
  Migration: 'migration.schema.json',
};

/**
 * `orch import DIR --out MANIFEST_DIR`: turns an existing installation into manifests that, planned
 * against it, change nothing about how nginx routes traffic. Reads DIR only (never changes it);
 * writes manifests only when every one of them validates.
 */
export async function importGateway(ports: ImportPorts, opts: ImportOptions): Promise<ImportReport> {
  const { files: textFiles, importSources } = ports;
  const cwd = opts.cwd;
  const dir = resolve(cwd, opts.dir);
  const out = resolve(cwd, opts.out);
  const files = importSources.read(dir);
  const detected = opts.from === null ? detectSource(files) : null;
  const source = opts.from ?? detected!.source;

  if ((textFiles.entries(out)?.length ?? 0) > 0 && !opts.force) {
    throw new UserError('import.out-not-empty', `${opts.out} is not empty; orch import writes into an empty directory.`, {
      hint: 'Choose a new directory, or pass --force to write into this one (files of the same name are replaced, others are left).',
    });
  }

  const features = nginxFeaturesFor(await importSources.nginxVersion(opts.nginxBin));
  const confDir = dirname(resolve(cwd, opts.nginxConf));
  let result: ImportResult;
  if (source === 'orch') result = importOrchTree(files, features);
  else if (source === 'nanio-orchestrator')
    result = importReferenceTree(files, importSources.includeResolver(dir), {
      key: opts.referenceKey,
      confDir,
      migrationFiles:
        opts.referenceData === null ? null : readMigrationFiles(textFiles, resolve(cwd, opts.referenceData), opts.referenceData),
    });
  else result = importNginxTree(files, importSources.includeResolver(dir), { confDir });

  // Import warnings are positioned in DIR: name the files the way the operator named DIR.
  const inDir = (w: Diagnostic): Diagnostic =>
    w.source && !w.source.file.startsWith('/') ? { ...w, source: { ...w.source, file: join(opts.dir, w.source.file) } } : w;
  if (result.refusals.length > 0) {
    throw new ValidationError(
      [...result.warnings.map(inDir), ...result.refusals.map(inDir)],
      `${opts.dir} cannot be imported as it is (the errors above say what to do first); nothing was written.`,
      { code: 'import.refused' },
    );
  }

  const written = writeManifests(result.desired, {
    layout: result.layout,
    schemaRef: (kind, path) =>
      relative(dirname(join(out, path)), join(SCHEMAS_DIR, SCHEMA_FILE[kind]))
        .split(sep)
        .join('/'),
    ...(result.layout === 'split' ? { header: [`Imported by 'orch import' from ${displayPath(dir, cwd)} (${source}).`] } : {}),
  });

  // Nothing is written unless every manifest validates, exactly as `orch validate` would read them.
  const validation = validateManifests(
    parseManifestSources(written.files.map((f) => ({ path: displayPath(join(out, f.path), cwd), text: f.text }))),
  );
  if (hasErrors(validation.diagnostics)) {
    throw new ValidationError(
      validation.diagnostics,
      `The manifests imported from ${opts.dir} do not validate (listed above); nothing was written.`,
      { code: 'import.invalid' },
    );
  }

  for (const f of written.files) textFiles.write(join(out, f.path), f.text);
  let envFile: string | null = null;
  if (result.secrets.length > 0) {
    envFile = join(out, CREDENTIALS_ENV_FILE);
    const lines = [
      '# Credential values recovered by orch import from the reference tool. Secret: keep out of git,',
      '# load into the environment of orch (e.g. systemd EnvironmentFile=), then delete or protect this file.',
      ...result.secrets.map((s) => `${s.env}=${shellQuote(s.value)}`),
    ];
    textFiles.write(envFile, `${lines.join('\n')}\n`, { mode: 0o600 });
    // The manifests are meant for git; the values never are.
    const gitignore = join(out, '.gitignore');
    const ignored = textFiles.read(gitignore) ?? '';
    if (!ignored.split('\n').includes(CREDENTIALS_ENV_FILE))
      textFiles.write(gitignore, `${ignored}${ignored === '' || ignored.endsWith('\n') ? '' : '\n'}${CREDENTIALS_ENV_FILE}\n`);
  }

  // The routing equivalence check: nginx's answers on the source tree and on what orch renders.
  let routing: RoutingCheck | null = null;
  if (result.routing !== null) {
    const rendered = renderTree(validation.desired, features)
      .files.filter((f) => f.role === 'config' && f.path.startsWith('vhosts/'))
      .flatMap((f) => parseNginxConfig(f.content, { file: f.path }).directives.filter((x) => x.name === 'server' && x.block));
    routing = checkRouting(result.routing, { servers: rendered });
  }
  const d = result.desired;
  return {
    source,
    detected: detected?.reason ?? null,
    dir: opts.dir,
    out: opts.out,
    files: written.files.map((f) => f.path),
    layout: written.layout,
    layoutProblem: written.layoutProblem,
    originRoot: written.originRoot,
    counts: { pools: d.pools.length, virtualHosts: d.virtualHosts.length, routes: d.virtualHosts.reduce((n, v) => n + v.routes.length, 0) },
    warnings: [...result.warnings.map(inDir), ...validation.diagnostics],
    envFile,
    secretNames: result.secrets.map((s) => s.env),
    filesToMove: result.filesToMove,
    migrations: d.migrations.map((m) => m.name),
    routing,
  };
}

/**
 * The reference tool's migration state files: `<data>/migrations/*.state.json` and `*.done.json`
 * (or the files of `<data>` itself when it is the migrations directory), named by absolute path.
 */
function readMigrationFiles(textFiles: TextFiles, data: string, given: string): SourceFile[] {
  const nested = join(data, 'migrations');
  const dir = textFiles.entries(nested) !== null ? nested : data;
  const names = textFiles.entries(dir);
  if (names === null) {
    throw new UserError('import.reference-data-not-found', `${given} does not exist.`, {
      hint: "Give the reference tool's data directory (its DB_PATH's directory, by default /opt/nanio-orchestrator/data), which holds migrations/.",
    });
  }
  return names
    .filter((n) => n.endsWith('.state.json') || n.endsWith('.done.json'))
    .sort()
    .map((n) => ({ path: join(dir, n), content: textFiles.read(join(dir, n)) ?? '' }));
}

/** Single-quoted for sh (a `'` inside is closed, escaped and reopened). */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
