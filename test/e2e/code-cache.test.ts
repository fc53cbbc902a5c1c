import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../helpers/cli.js';

/**
 * bin/load-cli.js: the bundled CLI compiled with V8's code cache, one file per command in
 * $XDG_CACHE_HOME/orch/code-cache. A cache never changes what a command does: the output is the
 * same without one, with a fresh one, with one left by a previous run, and with a damaged one
 * (which is replaced).
 */
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function cacheHome(): string {
  const d = mkdtempSync(join(tmpdir(), 'orch-code-cache-'));
  dirs.push(d);
  return d;
}
const entries = (home: string) => {
  try {
    return readdirSync(join(home, 'orch', 'code-cache')).sort();
  } catch {
    return [];
  }
};
const GATEWAY = join(REPO_ROOT, 'examples/gateway');

describe('code cache of the bundled CLI', () => {
  it('is written by the first run of a command, taken as it is by the next, and changes no output', async () => {
    const home = cacheHome();
    const env = { XDG_CACHE_HOME: home, ORCH_MANIFESTS: GATEWAY };
    const reference = await runCli(['validate'], { env: { ...env, ORCH_CODE_CACHE: '0' } });
    expect(reference.code).toBe(0);
    expect(entries(home)).toEqual([]);

    const first = await runCli(['validate'], { env });
    expect(first).toEqual(reference);
    const files = entries(home);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^validate-[0-9a-f]{32}\.bin$/);
    const path = join(home, 'orch', 'code-cache', files[0]!);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'orch', 'code-cache')).mode & 0o777).toBe(0o700);
    const written = readFileSync(path);
    expect(written.length).toBeGreaterThan(10_000);

    // Accepted: not written again.
    const second = await runCli(['validate'], { env });
    expect(second).toEqual(reference);
    expect(readFileSync(path).equals(written)).toBe(true);

    // An entry of another build of the same command is removed when this one is written; other
    // commands' entries stay.
    const stale = join(home, 'orch', 'code-cache', `validate-${'0'.repeat(32)}.bin`);
    const other = join(home, 'orch', 'code-cache', `plan-${'0'.repeat(32)}.bin`);
    writeFileSync(stale, 'old');
    writeFileSync(other, 'old');
    writeFileSync(path, 'damaged');
    expect(await runCli(['validate'], { env })).toEqual(reference);
    expect(entries(home)).toEqual([`plan-${'0'.repeat(32)}.bin`, files[0]]);
    rmSync(other);

    // Another command has its own entry.
    const version = await runCli(['--version'], { env });
    expect(version.code).toBe(0);
    expect(entries(home)).toHaveLength(2);
  });

  it('replaces a damaged entry, and the command still runs', async () => {
    const home = cacheHome();
    const env = { XDG_CACHE_HOME: home, ORCH_MANIFESTS: GATEWAY };
    const reference = await runCli(['validate'], { env });
    const [file] = entries(home);
    const path = join(home, 'orch', 'code-cache', file!);
    const good = readFileSync(path);
    writeFileSync(path, Buffer.alloc(good.length, 7), { mode: 0o600 });
    const again = await runCli(['validate'], { env });
    expect(again).toEqual(reference);
    const rewritten = readFileSync(path);
    expect(rewritten.equals(Buffer.alloc(good.length, 7))).toBe(false);
    expect(rewritten.length).toBeGreaterThan(10_000);
  });

  it('the bundle makes no dynamic import() (Node 20 gives a script run from a code cache no import callback)', () => {
    const bundle = readFileSync(join(REPO_ROOT, 'dist/bundle/cli.cjs'), 'utf8');
    // Outside strings: a call, not the word in a message.
    expect(bundle.split('\n').filter((l) => /(^|[^\w$.'"`])import\(/.test(l))).toEqual([]);
    expect(bundle).toMatch(/require\("@aws-sdk\/client-s3"\)/);
  });

  it('the bundle computes the validation cache key the modules compute (its code fingerprint covers the same files)', async () => {
    const home = cacheHome();
    const state = join(home, 'state');
    mkdirSync(state);
    const r = await runCli(['validate'], { env: { XDG_CACHE_HOME: home, ORCH_MANIFESTS: GATEWAY, ORCH_STATE_DIR: state } });
    expect(r.code).toBe(0);
    const { readManifestSources } = await import(pathToFileURL(join(REPO_ROOT, 'dist/adapters/fs/read-manifest-sources.js')).href);
    const { cacheKey } = await import(pathToFileURL(join(REPO_ROOT, 'dist/use-cases/plan/manifest-cache-key.js')).href);
    const key = cacheKey(readManifestSources(GATEWAY, REPO_ROOT)) as string;
    expect(readdirSync(join(state, 'cache'))).toEqual([`manifests-${key}.bin`]);
  });

  it('ORCH_CODE_CACHE=0 reads and writes nothing; an unwritable cache directory only costs speed', async () => {
    const home = cacheHome();
    const off = await runCli(['--version'], { env: { XDG_CACHE_HOME: home, ORCH_CODE_CACHE: '0' } });
    expect(off.code).toBe(0);
    expect(entries(home)).toEqual([]);
    // A cache directory others can write to is neither read nor written.
    const shared = join(home, 'shared');
    mkdirSync(join(shared, 'orch', 'code-cache'), { recursive: true });
    chmodSync(join(shared, 'orch', 'code-cache'), 0o777);
    const open = await runCli(['--version'], { env: { XDG_CACHE_HOME: shared } });
    expect(open).toEqual(off);
    expect(entries(shared)).toEqual([]);
    // XDG_CACHE_HOME is a file: the directory cannot be made.
    const blocked = join(home, 'a-file');
    writeFileSync(blocked, '');
    const run = await runCli(['--version'], { env: { XDG_CACHE_HOME: blocked } });
    expect(run).toEqual(off);
  });
});
