import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { fileManifestLoader } from '../../src/adapters/manifests/file-manifest-loader.js';
import { loadManifests } from '../../src/use-cases/plan/load-manifests.js';
import { withStableOrigins } from '../../src/domain/manifests/origin-names.js';
import { originNamesFor } from '../../src/adapters/fs/read-manifest-sources.js';
import { renderTree } from '../../src/domain/render/render-tree.js';
import { nginxFeaturesFor } from '../../src/domain/render/rendered-tree.js';
import { REPO_ROOT, runProcess } from '../helpers/cli.js';
import { docs, Gateway, poolYaml, routeYaml, vhostYaml } from '../helpers/gateway.js';

/**
 * The example pipelines in examples/ci run as written: the shell of every `run:` step of the
 * GitHub pull request job (and the GitLab merge request job's script) is executed with bash, with
 * `orch` on PATH being the BUILT CLI, against examples/gateway; the exit codes and outputs are the
 * ones docs/ci.md documents. The deploy wrapper (examples/ci/orch-gateway.sh) plans and applies
 * against a real nginx, and the tree it exports is the baseline that makes the pull request plan
 * say "no changes".
 *
 * Not run here, because they need the CI service itself: steps that `uses:` an action (checkout,
 * cache, artifacts), "Install orch" (a release tarball) and "Comment on the pull request" (gh).
 */
const GITHUB = join(REPO_ROOT, 'examples/ci/github-actions.yml');
const GITLAB = join(REPO_ROOT, 'examples/ci/gitlab-ci.yml');
const WRAPPER = join(REPO_ROOT, 'examples/ci/orch-gateway.sh');
const NOT_RUN = new Set(['Install orch', 'Comment on the pull request']);

interface Shell {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sh(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Shell> {
  return runProcess(cmd, args, opts);
}

interface GithubStep {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
}

interface JobRun {
  steps: Array<{ name: string; code: number | null; stdout: string; stderr: string }>;
  outputs: Record<string, Record<string, string>>;
  summary: string;
  ok: boolean;
}

describe('examples/ci', () => {
  let work: string;
  let bin: string;

  /** A clean environment with `orch` = the built CLI first on PATH and no ORCH_* from outside. */
  const baseEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}` };
    for (const k of Object.keys(env)) if (k.startsWith('ORCH_')) delete env[k];
    return { ...env, ...extra };
  };

  /** A repository checkout: manifests/ holding `from`. */
  const checkout = (name: string, from: string): string => {
    const dir = join(work, name);
    cpSync(from, join(dir, 'manifests'), { recursive: true });
    return dir;
  };

  /** Runs the GitHub workflow's pull request job in `ws`, step by step, as the runner would. */
  async function runGithubPlanJob(ws: string): Promise<JobRun> {
    const wf = parseYaml(readFileSync(GITHUB, 'utf8')) as { jobs: Record<string, { env?: Record<string, string>; steps: GithubStep[] }> };
    const job = wf.jobs['plan']!;
    const outputs: Record<string, Record<string, string>> = {};
    const summaryFile = join(ws, 'step-summary.md');
    writeFileSync(summaryFile, '');
    const run: JobRun = { steps: [], outputs, summary: '', ok: true };
    const expr = (v: string) =>
      v.replace(/\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}/g, (_, id: string, name: string) => outputs[id]?.[name] ?? '');
    for (const step of job.steps) {
      if (step.uses || !step.run || NOT_RUN.has(step.name ?? '')) continue;
      const outFile = join(ws, `output-${run.steps.length}`);
      writeFileSync(outFile, '');
      const stepEnv = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expr(String(v))]));
      const env = baseEnv({ ...job.env, ...stepEnv, GITHUB_OUTPUT: outFile, GITHUB_STEP_SUMMARY: summaryFile, GITHUB_WORKSPACE: ws });
      // GitHub's default shell for run steps: bash --noprofile --norc -eo pipefail {0}
      const r = await sh('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run], { cwd: ws, env });
      run.steps.push({ name: step.name ?? '', ...r });
      if (step.id)
        outputs[step.id] = Object.fromEntries(
          readFileSync(outFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
        );
      if (r.code !== 0) {
        run.ok = false;
        break;
      }
    }
    run.summary = readFileSync(summaryFile, 'utf8');
    return run;
  }

  /** Runs the GitLab merge request job's script (without before_script: install and download). */
  async function runGitlabPlanJob(ws: string): Promise<Shell> {
    const ci = parseYaml(readFileSync(GITLAB, 'utf8')) as Record<string, { variables?: Record<string, string>; script?: string[] }>;
    const job = ci['orch-plan']!;
    return sh('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', job.script!.join('\n')], {
      cwd: ws,
      env: baseEnv(job.variables ?? {}),
    });
  }

  const stepNamed = (r: JobRun, name: string) => r.steps.find((s) => s.name === name);

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'orch-ci-examples-'));
    chmodSync(work, 0o755);
    bin = join(work, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'orch'), `#!/bin/sh\nexec "${process.execPath}" "${join(REPO_ROOT, 'bin/run.js')}" "$@"\n`, { mode: 0o755 });
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('GitHub pull request job, no baseline yet: passes, plan exit code 2, every file to create, in the summary', async () => {
    const ws = checkout('gh-empty', join(REPO_ROOT, 'examples/gateway'));
    const r = await runGithubPlanJob(ws);
    expect(r.steps.map((s) => [s.name, s.code])).toEqual([
      ['Validate', 0],
      ['Plan', 0],
      ['Show the plan', 0],
    ]);
    expect(stepNamed(r, 'Validate')!.stdout).toContain('Manifests are valid: 12 documents in 11 files');
    expect(r.outputs['plan']).toEqual({ exitcode: '2' });
    const plan = JSON.parse(readFileSync(join(ws, '.orch-ci/plan.json'), 'utf8'));
    expect(plan.summary).toMatchObject({ add: 6, change: 0, destroy: 0 });
    expect(r.summary).toMatch(/^### orch plan\n\n```diff\n/);
    expect(r.summary).toContain('+ VirtualHost/s3-main will be created');
    expect(readFileSync(join(ws, '.orch-ci/comment.md'), 'utf8')).toBe(r.summary);
  });

  it('GitHub pull request job against the deployed tree: plan exit code 0, "No changes"', async () => {
    const ws = checkout('gh-baseline', join(REPO_ROOT, 'examples/gateway'));
    // A Migration is "to start" until the gateway's state says otherwise, which CI does not have.
    rmSync(join(ws, 'manifests/migrations'), { recursive: true });
    // Rendered as the gateway's writer renders them (origins relative to the manifests directory,
    // wherever it runs).
    const { validation } = loadManifests(fileManifestLoader({ cwd: ws }), 'manifests');
    for (const f of renderTree(withStableOrigins(validation.desired, originNamesFor('manifests', ws)).desired, nginxFeaturesFor('1.22.1'))
      .files) {
      const p = join(ws, '.orch-ci/nginx', f.path);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, f.content);
    }
    const r = await runGithubPlanJob(ws);
    expect(r.ok).toBe(true);
    expect(r.outputs['plan']).toEqual({ exitcode: '0' });
    expect(stepNamed(r, 'Plan')!.stdout).toContain('No changes.');
    expect(r.summary).toBe('### orch plan\n\nNo changes: the gateway already matches these manifests.\n');
  });

  it('GitHub pull request job with a broken manifest: fails at Validate with exit code 1', async () => {
    const ws = checkout('gh-broken', join(REPO_ROOT, 'examples/gateway'));
    writeFileSync(
      join(ws, 'manifests/routes/s3-main/photos.yaml'),
      readFileSync(join(ws, 'manifests/routes/s3-main/photos.yaml'), 'utf8').replace(/pool: \S+/, 'pool: no-such-pool'),
    );
    const r = await runGithubPlanJob(ws);
    expect(r.ok).toBe(false);
    expect(r.steps.map((s) => [s.name, s.code])).toEqual([['Validate', 1]]);
    expect(r.steps[0]!.stderr).toMatch(/photos\.yaml:\d+:\d+: error: .*no-such-pool/);
  });

  it('GitLab merge request job: exit 0 with changes (plan exit code 2) and the plan as artifacts; exit 1 when broken', async () => {
    const ws = checkout('gl', join(REPO_ROOT, 'examples/gateway'));
    const r = await runGitlabPlanJob(ws);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('orch plan exit code 2 (0 no changes, 2 changes)');
    expect(readFileSync(join(ws, '.orch-ci/plan.txt'), 'utf8')).toContain('Plan: 6 to add, 0 to change, 0 to destroy.');
    expect(JSON.parse(readFileSync(join(ws, '.orch-ci/plan.json'), 'utf8')).summary.add).toBe(6);

    writeFileSync(
      join(ws, 'manifests/pools/cdn.yaml'),
      'apiVersion: orch/v1\nkind: Pool\nmetadata: {name: "bad name"}\nspec: {type: http, members: []}\n',
    );
    const broken = await runGitlabPlanJob(ws);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/cdn\.yaml:3:\d+: error/);
  });

  describe('deploy through examples/ci/orch-gateway.sh on a real nginx, then the pull request plan against its tree', () => {
    let gw: Gateway;
    let deployEnv: NodeJS.ProcessEnv;
    let repo: string;
    // From another directory than the checkout: the wrapper itself must run orch from the
    // manifests' parent, or the generated files would name the manifests differently than CI does.
    const wrapper = (...args: string[]) => sh('sh', [WRAPPER, ...args], { cwd: work, env: deployEnv });

    beforeAll(async () => {
      gw = await Gateway.start({ pools: { hot: 1, archive: 1 }, vhostPorts: 1 });
      repo = join(work, 'deploy-repo');
      mkdirSync(join(repo, 'manifests'), { recursive: true });
      const write = (photosPool: string) => {
        writeFileSync(
          join(repo, 'manifests/pools.yaml'),
          docs(poolYaml('hot', gw.membersOf('hot')), poolYaml('archive', gw.membersOf('archive'))),
        );
        writeFileSync(
          join(repo, 'manifests/s3.yaml'),
          vhostYaml('s3', { serverNames: ['s3.test'], port: gw.ports[0]!, defaultPool: 'hot' }),
        );
        writeFileSync(join(repo, 'manifests/photos.yaml'), routeYaml('photos', { virtualHost: 's3', path: '/photos/', pool: photosPool }));
      };
      write('archive');
      // The wrapper runs as root on a gateway; here it is pointed at the test gateway instead.
      deployEnv = {
        ...gw.env(),
        PATH: `${bin}:${process.env['PATH'] ?? ''}`,
        ORCH_ENV_FILE: join(work, 'no-such-orch.env'),
        ORCH_DEPLOY_DIR: join(work, 'deploy-state'),
        ORCH_DEPLOY_NGINX_DIR: gw.nginxDir,
      };
    });
    afterAll(async () => {
      await gw?.stop();
    });

    it('plan exits 2 and saves the plan; apply applies exactly it; then plan exits 0', async () => {
      const plan = await wrapper('plan', join(repo, 'manifests'));
      expect(plan.code, plan.stderr).toBe(2);
      expect(plan.stdout).toContain('Plan: 3 to add, 0 to change, 0 to destroy.');
      expect(existsSync(join(work, 'deploy-state/gateway.plan'))).toBe(true);
      const apply = await wrapper('apply', join(repo, 'manifests'));
      expect(apply.code, apply.stderr + apply.stdout).toBe(0);
      expect(await gw.request(gw.ports[0]!, 's3.test', '/photos/a.jpg')).toMatchObject({ status: 200, pool: 'archive' });
      expect((await wrapper('plan', join(repo, 'manifests'))).code).toBe(0);
    });

    it('a plan whose inputs changed before apply is refused with exit code 4', async () => {
      const route = join(repo, 'manifests/photos.yaml');
      writeFileSync(route, readFileSync(route, 'utf8').replace('pool: archive', 'pool: hot'));
      expect((await wrapper('plan', join(repo, 'manifests'))).code).toBe(2);
      writeFileSync(route, `${readFileSync(route, 'utf8')}# edited after the plan\n`);
      const stale = await wrapper('apply', join(repo, 'manifests'));
      expect(stale.code).toBe(4);
      expect(await gw.request(gw.ports[0]!, 's3.test', '/photos/a.jpg')).toMatchObject({ status: 200, pool: 'archive' });
      expect((await wrapper('plan', join(repo, 'manifests'))).code).toBe(2);
      expect((await wrapper('apply', join(repo, 'manifests'))).code).toBe(0);
      expect(await gw.request(gw.ports[0]!, 's3.test', '/photos/a.jpg')).toMatchObject({ status: 200, pool: 'hot' });
    });

    it('the exported tree makes the pull request job plan "no changes" for the deployed manifests', async () => {
      const pr = join(work, 'pr-after-deploy');
      cpSync(join(repo, 'manifests'), join(pr, 'manifests'), { recursive: true });
      mkdirSync(join(pr, '.orch-ci/nginx'), { recursive: true });
      // What gateway-apply caches: `orch-gateway tree | tar -C .orch-ci/nginx -xf -`.
      const tree = await sh('sh', ['-c', `sh ${WRAPPER} tree | tar -C .orch-ci/nginx -xf -`], { cwd: pr, env: deployEnv });
      expect(tree.code, tree.stderr).toBe(0);
      expect(existsSync(join(pr, '.orch-ci/nginx/vhosts/s3.conf'))).toBe(true);
      const r = await runGithubPlanJob(pr);
      expect(r.ok, JSON.stringify(r.steps)).toBe(true);
      expect(r.outputs['plan']).toEqual({ exitcode: '0' });
      // And a pull request that moves the route shows exactly that change.
      writeFileSync(
        join(pr, 'manifests/photos.yaml'),
        readFileSync(join(pr, 'manifests/photos.yaml'), 'utf8').replace('pool: hot', 'pool: archive'),
      );
      const changed = await runGithubPlanJob(pr);
      expect(changed.outputs['plan']).toEqual({ exitcode: '2' });
      expect(changed.summary).toContain('-        proxy_pass http://hot;');
      expect(changed.summary).toContain('+        proxy_pass http://archive;');
    });
  });
});
