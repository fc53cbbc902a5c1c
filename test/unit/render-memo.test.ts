import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { renderMemoKey, renderWithMemo, type RenderMemoInputs } from '../../src/use-cases/plan/render-memo.js';
import { BugError } from '../../src/domain/errors.js';
import { makePlan, type ObservedTree } from '../../src/domain/plan/make-plan.js';
import { nginxFeaturesFor, type RenderedTree } from '../../src/domain/render/rendered-tree.js';
import { renderTree } from '../../src/domain/render/render-tree.js';
import { desiredState, pool, route, virtualHost } from '../helpers/desired-builders.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A state directory with its cache directory path (not created: the memo creates it). */
function cacheDir(): string {
  const state = mkdtempSync(join(tmpdir(), 'orch-render-memo-'));
  dirs.push(state);
  return join(state, 'cache');
}

const desired = desiredState({
  pools: [pool('a'), pool('b')],
  virtualHosts: [
    virtualHost('v1', { defaultPool: 'a', routes: [route('v1', '/photos/', 'a'), route('v1', '/docs/', 'b')] }),
    virtualHost('v2', { defaultPool: 'b', routes: [route('v2', '/x/', 'b')] }),
  ],
});
const features = nginxFeaturesFor('1.22.1');

function inputs(dir: string | null, over: Partial<RenderMemoInputs> = {}): RenderMemoInputs {
  return { dir, manifestKey: 'a'.repeat(64), features, manifests: '/srv/manifests', cwd: '/srv', sealed: new Map(), ...over };
}

/** A render function that counts its calls. */
function counted(tree: () => RenderedTree = () => renderTree(desired, features)) {
  const r = { calls: 0, render: () => (r.calls++, tree()) };
  return r;
}

const observedOf = (tree: RenderedTree): ObservedTree => ({ files: tree.files.map((f) => ({ path: f.path, content: f.content, managed: true })) });
const planOf = (tree: RenderedTree, observed: ObservedTree) =>
  JSON.parse(JSON.stringify(makePlan({ desired: tree, observed, inventory: null, migrations: [] }), (k, v) => (k === 'desired' ? undefined : v))) as unknown;

describe('render memo', () => {
  it('renders and remembers on a miss; on a hit, gives the same files without rendering until a content is read', () => {
    const dir = cacheDir();
    const first = counted();
    const reference = renderWithMemo(inputs(dir), first.render);
    expect(first.calls).toBe(1);
    expect(readdirSync(dir).filter((n) => /^render-[0-9a-f]{64}\.json$/.test(n))).toHaveLength(1);

    const second = counted();
    const memo = renderWithMemo(inputs(dir), second.render);
    expect(second.calls).toBe(0);
    expect(memo.files.map((f) => [f.path, f.resource, f.role, f.contentLength])).toEqual(reference.files.map((f) => [f.path, f.resource, f.role, f.content.length]));
    // A no-op plan compares digests only.
    expect(planOf(memo, observedOf(reference))).toEqual(planOf(reference, observedOf(reference)));
    expect(second.calls).toBe(0);
    // Contents and line maps are rendered once, on first use.
    expect(memo.files.map((f) => f.content)).toEqual(reference.files.map((f) => f.content));
    expect(memo.files.map((f) => f.lineMap)).toEqual(reference.files.map((f) => f.lineMap));
    expect(second.calls).toBe(1);
  });

  it('plans exactly as the rendered tree when files differ, are missing or are extra', () => {
    const dir = cacheDir();
    const reference = renderWithMemo(inputs(dir), () => renderTree(desired, features));
    const memo = renderWithMemo(inputs(dir), () => renderTree(desired, features));
    const observed = observedOf(reference);
    observed.files[0] = { ...observed.files[0]!, content: observed.files[0]!.content.replace('upstream', 'upstream ') }; // longer
    observed.files[1] = { ...observed.files[1]!, content: observed.files[1]!.content.replace(/.$/s, '!') }; // same length
    observed.files.splice(2, 1); // missing
    observed.files.push({ path: 'vhosts/old.conf', content: '# managed-by: orch\n', managed: true }); // extra
    const expected = planOf(renderTree(desired, features), observed);
    expect(planOf(memo, observed)).toEqual(expected);
    expect((expected as { summary: { change: number } }).summary.change).toBeGreaterThan(0);
  });

  it('has a different key for other manifests, nginx features, manifests path, working directory or sealed credentials', () => {
    const base = renderMemoKey(inputs(null))!;
    const sealed = new Map([['a', { keyId: 'k1', accessKeyId: 'x', secretAccessKey: 'y' }]]);
    const others = [
      inputs(null, { manifestKey: 'b'.repeat(64) }),
      inputs(null, { features: nginxFeaturesFor('1.25.1') }),
      inputs(null, { manifests: '/srv/other' }),
      inputs(null, { cwd: '/' }),
      inputs(null, { sealed }),
      inputs(null, { sealed: new Map([['a', { ...sealed.get('a')!, keyId: 'k2' }]]) }),
    ].map((i) => renderMemoKey(i));
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
    // Same credentials in another order: same key.
    const two = [['a', sealed.get('a')!], ['b', { keyId: 'k1', accessKeyId: 'p', secretAccessKey: 'q' }]] as const;
    expect(renderMemoKey(inputs(null, { sealed: new Map(two) }))).toBe(renderMemoKey(inputs(null, { sealed: new Map([...two].reverse()) })));
    expect(renderMemoKey(inputs(null, { manifestKey: null }))).toBeNull();
  });

  it('renders when there is no cache, no manifest key, or a damaged memo; writes nothing without a state directory', () => {
    const none = counted();
    renderWithMemo(inputs(null), none.render);
    renderWithMemo(inputs(null), none.render);
    expect(none.calls).toBe(2);

    const noState = join(tmpdir(), `orch-render-memo-absent-${process.pid}`, 'cache');
    const absent = counted();
    renderWithMemo(inputs(noState), absent.render);
    renderWithMemo(inputs(noState), absent.render);
    expect(absent.calls).toBe(2);

    const dir = cacheDir();
    const noKey = counted();
    renderWithMemo(inputs(dir, { manifestKey: null }), noKey.render);
    renderWithMemo(inputs(dir, { manifestKey: null }), noKey.render);
    expect(noKey.calls).toBe(2);

    renderWithMemo(inputs(dir), () => renderTree(desired, features));
    const [name] = readdirSync(dir).filter((n) => n.startsWith('render-'));
    const path = join(dir, name!);
    const good = readFileSync(path, 'utf8');
    for (const bad of ['', '{', good.slice(0, -10), good.replace(/"sidecar"/, '"other"'), good.replace(/"key":"[0-9a-f]+"/, `"key":"${'0'.repeat(64)}"`)]) {
      writeFileSync(path, bad);
      const r = counted();
      const tree = renderWithMemo(inputs(dir), r.render);
      expect(r.calls).toBe(1);
      expect(tree.files[0]!.contentSha256).toBeUndefined();
    }
  });

  it('fails, and removes the memo, when the rendering does not match it', () => {
    const dir = cacheDir();
    renderWithMemo(inputs(dir), () => renderTree(desired, features));
    const [name] = readdirSync(dir).filter((n) => n.startsWith('render-'));
    const path = join(dir, name!);
    const stored = JSON.parse(readFileSync(path, 'utf8')) as { files: Array<[string, string, string, string, string, number]> };
    stored.files[1]![4] = 'f'.repeat(64);
    writeFileSync(path, JSON.stringify(stored));
    const memo = renderWithMemo(inputs(dir), () => renderTree(desired, features));
    expect(() => memo.files[0]!.content).toThrow(BugError);
    expect(() => memo.files[0]!.content).toThrow(/does not match the rendering \(.+ differs\)/);
    expect(readdirSync(dir).filter((n) => n.startsWith('render-'))).toEqual([]);
  });

  it('keeps the three most recent memos', () => {
    const dir = cacheDir();
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 5; i++) renderWithMemo(inputs(dir, { manifestKey: String(i).repeat(64) }), () => renderTree(desired, features));
    expect(readdirSync(dir).filter((n) => n.startsWith('render-'))).toHaveLength(3);
  });
});
