// In-process core probe for `npm run bench`: runs orch's plan pipeline (read manifests, parse,
// validate, render, read the managed tree, read the state, make the plan) from the compiled
// modules in dist/, without the oclif CLI around it, and prints one JSON line with the time of
// each phase. run.mjs starts it as a fresh process for every run, so the figures are "cold" (as
// the CLI experiences them); a few warm repeats of computePlan() follow, for long-lived processes
// such as `orch watch`.
//
// Settings come from the same ORCH_* environment variables the CLI reads. The manifest phases
// (readManifests, parseYaml, validate) are the plain path, without the validation cache; cacheKey
// and cacheRead time the cache of the state directory.

const processStart = performance.now();
// BENCH_DIST: the snapshot of dist/ that run.mjs measures (default: this checkout's dist/).
const { pathToFileURL } = await import('node:url');
const dist = process.env.BENCH_DIST
  ? pathToFileURL(`${process.env.BENCH_DIST.replace(/\/$/, '')}/`)
  : new URL('../../dist/', import.meta.url);
const mod = (p) => import(new URL(p, dist).href);

const t0 = performance.now();
const [
  settingsMod,
  sourcesMod,
  parseMod,
  validateMod,
  renderMod,
  treeMod,
  managedMod,
  planMod,
  inputsMod,
  stateMod,
  nginxMod,
  computeMod,
  planTypes,
  versionMod,
  cacheMod,
  buildMod,
  loaderMod,
] = await Promise.all([
  mod('config/settings.js'),
  mod('adapters/fs/read-manifest-sources.js'),
  mod('domain/manifests/parse-manifests.js'),
  mod('domain/manifests/validate-manifests.js'),
  mod('domain/render/render-tree.js'),
  mod('domain/render/rendered-tree.js'),
  mod('adapters/fs/read-managed-tree.js'),
  mod('domain/plan/make-plan.js'),
  mod('domain/plan/plan-inputs.js'),
  mod('use-cases/state/state-view.js'),
  mod('adapters/nginx/nginx-cli.js'),
  mod('use-cases/plan/compute-plan.js'),
  mod('domain/plan/plan-types.js'),
  mod('config/version.js'),
  mod('adapters/manifests/validation-cache.js'),
  mod('adapters/manifests/build-identity.js'),
  mod('adapters/manifests/file-manifest-loader.js'),
]);
const stableMod = await mod('domain/manifests/origin-names.js');
// The ports computePlan takes, built as the CLI builds them.
const rootMod = await mod('composition-root.js');
// What `orch plan` reads of the state: the state-loss checks, an interrupted apply's notice.
const openStateView = (settings) => stateMod.openStateView(rootMod.composeOrch(settings)).view;
const importMs = performance.now() - t0;

const { resolve } = await import('node:path');
const settings = settingsMod.resolveSettings({ flags: {}, env: process.env, configPath: null, candidates: [], readFile: () => null });
settings.nginxDir = resolve(settings.nginxDir);
settings.stateDir = resolve(settings.stateDir);

const phases = {};
const time = (name, fn) => {
  const s = performance.now();
  const v = fn();
  phases[name] = performance.now() - s;
  return v;
};

const coreStart = performance.now();
const sources = time('readManifests', () => sourcesMod.readManifestSources(settings.manifests));
const parsed = time('parseYaml', () => parseMod.parseManifestSources(sources));
const validation = time('validate', () => validateMod.validateManifests(parsed));
const errors = validation.diagnostics.filter((d) => d.severity === 'error');
// The validation cache of the state directory (what `orch plan` uses when the manifests did not
// change): the key of these texts, then reading the entry when there is one (cacheHit).
let cacheHit = null;
{
  const key = time('cacheKey', () => cacheMod.cacheKey(buildMod.buildIdentity(), sources));
  const cached = key ? time('cacheRead', () => cacheMod.readCachedValidation(resolve(settings.stateDir, 'cache'), key, sources)) : null;
  cacheHit = cached !== null;
}
const sv = performance.now();
const version = await nginxMod.nginxVersion(settings.nginxBin);
phases.nginxVersion = performance.now() - sv;
// As computePlan renders: origins relative to the manifests directory (else every file differs).
const tree = time('render', () => {
  const stable = stableMod.withStableOrigins(validation.desired, sourcesMod.originNamesFor(settings.manifests, process.cwd()));
  return stable.restoreLineMaps(renderMod.renderTree(stable.desired, treeMod.nginxFeaturesFor(version)));
});
const observed = time('readManagedTree', () => managedMod.readManagedTree(settings.nginxDir));
const state = time('readState', () => openStateView(settings));
const plan = time('makePlan', () =>
  planMod.makePlan({
    desired: tree,
    observed,
    inventory: state.inventory,
    migrations: validation.desired.migrations,
    knownMigrations: state.knownMigrations,
    diagnostics: validation.diagnostics,
  }),
);
time('fingerprint', () =>
  inputsMod.fingerprintOf({
    orchVersion: versionMod.orchVersion(),
    nginxVersion: version,
    manifests: Object.fromEntries(sources.map((s) => [s.path, planMod.sha256(s.text)])),
    files: Object.fromEntries(observed.files.map((f) => [f.path, planMod.sha256(f.content)])),
    stateGeneration: state.generation,
    settings: computeMod.fingerprintSettings(settings),
  }),
);
const coreMs = performance.now() - coreStart;
const coldRss = process.resourceUsage().maxRSS;

// Warm: the whole computePlan() again, as a long-lived process (watch) would run it (without the cache).
const warm = [];
const warmRuns = Number(process.env.BENCH_WARM_RUNS ?? 3);
for (let i = 0; i < warmRuns; i++) {
  const s = performance.now();
  await computeMod.computePlan({ ...rootMod.composeOrch(settings), manifests: loaderMod.fileManifestLoader() }, openStateView(settings));
  warm.push(performance.now() - s);
}

process.stdout.write(
  `${JSON.stringify({
    processStartToImportMs: t0 - processStart,
    importMs,
    coreMs,
    phases,
    documents: validation.documents.length,
    cacheHit,
    errors: errors.length,
    renderedFiles: tree.files.length,
    observedFiles: observed.files.length,
    planHasChanges: planTypes.planHasChanges(plan),
    summary: plan.summary,
    warmComputePlanMs: warm,
    maxRssKiB: coldRss,
    maxRssAfterWarmKiB: process.resourceUsage().maxRSS,
  })}\n`,
);
