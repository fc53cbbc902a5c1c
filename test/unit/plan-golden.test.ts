import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeStyle } from '../../src/cli/style.js';
import { planToJson } from '../../src/cli/views/plan-json.js';
import { formatPlanText } from '../../src/cli/views/plan-text.js';
import { migrationFacts, type PoolListing } from '../../src/domain/buckets/bucket-facts.js';
import { parseManifestSources } from '../../src/domain/manifests/parse-manifests.js';
import { validateManifests } from '../../src/domain/manifests/validate-manifests.js';
import type { DesiredState, Origin } from '../../src/domain/model/desired-state.js';
import { makePlan, sha256, type ObservedFile } from '../../src/domain/plan/make-plan.js';
import { planBuckets } from '../../src/domain/plan/plan-buckets.js';
import type { Plan, RefreshReport } from '../../src/domain/plan/plan-types.js';
import { nginxFeaturesFor } from '../../src/domain/render/rendered-tree.js';
import { renderTree } from '../../src/domain/render/render-tree.js';

/**
 * Golden files of the plan's two forms: test/golden/plan/<case>/ holds the inputs and the
 * expected output, a reviewer reads both.
 *
 *   deployed/   manifests applied before (optional): rendered, they are the managed directory on
 *               disk and orch's inventory; absent, the directory is empty and there is no state
 *   desired/    the manifests now
 *   case.json   optional: `edits` (path -> text appended to that file on disk: drift; null:
 *               the file was deleted), `unmanaged` (path -> content of a file without orch's
 *               marker), `buckets` (pool -> its existing buckets: a refresh that lists them)
 *   plan.txt    the plan as `orch plan` prints it without colour
 *   plan.json   the plan as `orch plan --json` prints it (fingerprint and version fixed: they are
 *               the saved plan's business, tested in test/e2e/plan-cli.test.ts)
 *
 * The plan is computed by the pure pipeline (parse, validate, render, makePlan, planBuckets), as
 * computePlan does without the I/O. `UPDATE_GOLDEN=1 npx vitest run test/unit/plan-golden.test.ts`
 * rewrites plan.txt and plan.json (review the diff).
 */
const GOLDEN_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', 'golden', 'plan');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const FEATURES = nginxFeaturesFor('1.25.1');
const META = { orchVersion: '0.0.0-golden', fingerprint: 'sha256:golden' };

interface CaseFile {
  edits?: Record<string, string | null>;
  unmanaged?: Record<string, string>;
  buckets?: Record<string, string[]>;
}

/** The manifests of a folder, named relative to it (as computePlan names them: stable origins). */
function loadDesired(dir: string): DesiredState {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.yaml'))
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
  const validation = validateManifests(parseManifestSources(files.map((path) => ({ path, text: readFileSync(join(dir, path), 'utf8') }))));
  const errors = validation.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`${dir}: ${errors.map((d) => d.message).join('; ')}`);
  return validation.desired;
}

function planCase(dir: string): Plan {
  const spec: CaseFile = existsSync(join(dir, 'case.json')) ? (JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as CaseFile) : {};
  const desired = loadDesired(join(dir, 'desired'));
  const deployed = existsSync(join(dir, 'deployed')) ? renderTree(loadDesired(join(dir, 'deployed')), FEATURES) : null;

  const observed = new Map<string, ObservedFile>(
    (deployed?.files ?? []).map((f) => [f.path, { path: f.path, content: f.content, managed: true }]),
  );
  for (const [path, appended] of Object.entries(spec.edits ?? {})) {
    const file = observed.get(path);
    if (!file) throw new Error(`${dir}/case.json: edits ${path}: not deployed`);
    if (appended === null) observed.delete(path);
    else observed.set(path, { ...file, content: file.content + appended });
  }
  for (const [path, content] of Object.entries(spec.unmanaged ?? {})) observed.set(path, { path, content, managed: false });
  const inventory = deployed ? new Map(deployed.files.map((f) => [f.path, { sha256: sha256(f.content) }])) : null;

  let buckets: Plan['buckets'] = [];
  let refresh: RefreshReport = { performed: false, pools: [] };
  if (spec.buckets) {
    const listings = new Map<string, PoolListing>(
      Object.entries(spec.buckets).map(([pool, names]) => [
        pool,
        { pool, status: 'ok', message: null, buckets: new Map(names.map((n) => [n, { objects: null, bytes: null, hasObjects: null }])) },
      ]),
    );
    buckets = planBuckets(
      { desired, deployed: new Map(), listings, migrations: migrationFacts(desired.migrations, []) },
      new Map(),
    ).creates;
    refresh = { performed: true, pools: [...listings.values()].map((l) => ({ pool: l.pool, status: l.status, message: l.message })) };
  }

  const origins = new Map<string, Origin>();
  for (const p of desired.pools) origins.set(`Pool/${p.name}`, p.origin);
  for (const v of desired.virtualHosts) origins.set(`VirtualHost/${v.name}`, v.origin);
  return makePlan({
    desired: renderTree(desired, FEATURES),
    observed: { files: [...observed.values()].sort((a, b) => (a.path < b.path ? -1 : 1)) },
    inventory,
    migrations: desired.migrations,
    knownMigrations: new Set(),
    diagnostics: [],
    origins,
    buckets,
    refresh,
  });
}

const CASES = readdirSync(GOLDEN_ROOT, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

describe('plan golden files', () => {
  it('has the cases', () => {
    expect(CASES).toEqual(['buckets-to-create', 'change-one-route', 'create-all', 'delete-vhost', 'drift', 'migration-start', 'no-change']);
  });

  for (const name of CASES) {
    it(name, () => {
      const dir = join(GOLDEN_ROOT, name);
      const plan = planCase(dir);
      const expected = {
        'plan.txt': formatPlanText(plan, makeStyle(false), { diffs: true }) + '\n',
        'plan.json': JSON.stringify(planToJson(plan, META, { diffs: true }), null, 2) + '\n',
      };
      for (const [file, content] of Object.entries(expected)) {
        if (UPDATE) writeFileSync(join(dir, file), content);
        expect(content, `${name}/${file} differs from its golden file (UPDATE_GOLDEN=1 to rewrite)`).toBe(
          readFileSync(join(dir, file), 'utf8'),
        );
      }
    });
  }
});
