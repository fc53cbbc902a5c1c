import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { watchManifests } from '../../src/adapters/watch/manifest-watcher.js';
import type { ManifestEvent, ManifestWatcher } from '../../src/ports/manifest-watcher.js';

/** The manifest watcher on real directories (chokidar, inotify): which file events count. */
describe('manifest watcher', () => {
  const base = mkdtempSync(join(tmpdir(), 'orch-watch-fs-'));
  let n = 0;
  let watcher: ManifestWatcher | null = null;
  afterEach(async () => {
    await watcher?.close();
    watcher = null;
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  const setup = async (target?: (dir: string) => string) => {
    const dir = join(base, `m${++n}`);
    mkdirSync(join(dir, 'routes'), { recursive: true });
    writeFileSync(join(dir, 'pools.yaml'), 'a: 1\n');
    const events: ManifestEvent[] = [];
    const errors: Error[] = [];
    watcher = watchManifests(
      target ? target(dir) : dir,
      (e) => events.push(e),
      (e) => errors.push(e),
    );
    await watcher.ready;
    return { dir, events, errors };
  };
  const until = async (pred: () => boolean, ms = 5000) => {
    const t0 = Date.now();
    while (!pred()) {
      if (Date.now() - t0 > ms) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const settle = () => new Promise((r) => setTimeout(r, 400));
  const rel = (dir: string, events: ManifestEvent[]) => events.map((e) => `${e.kind} ${e.path.slice(dir.length + 1) || '.'}`);

  it('reports YAML files added, changed and removed, and new directories; ignores hidden and other files', async () => {
    const { dir, events, errors } = await setup();
    writeFileSync(join(dir, 'routes', 'photos.yaml'), 'x: 1\n');
    await until(() => events.length >= 1);
    writeFileSync(join(dir, 'pools.yaml'), 'a: 2\n');
    await until(() => events.some((e) => e.kind === 'change'));
    writeFileSync(join(dir, 'notes.txt'), 'not a manifest\n');
    writeFileSync(join(dir, '.hidden.yaml'), 'x: 1\n');
    mkdirSync(join(dir, '.git'));
    writeFileSync(join(dir, '.git', 'HEAD.yml'), 'x\n');
    writeFileSync(join(dir, 'routes', '.photos.yaml.swp'), 'x\n');
    mkdirSync(join(dir, 'vhosts', 'eu'), { recursive: true });
    writeFileSync(join(dir, 'vhosts', 'eu', 's3.yml'), 'x: 1\n');
    await until(() => events.some((e) => e.path.endsWith('s3.yml')));
    unlinkSync(join(dir, 'routes', 'photos.yaml'));
    await until(() => events.some((e) => e.kind === 'unlink'));
    await settle();
    // (chokidar may report a new directory and its first file in either order)
    expect(rel(dir, events).sort()).toEqual([
      'add routes/photos.yaml',
      'add vhosts/eu/s3.yml',
      'addDir vhosts',
      'addDir vhosts/eu',
      'change pools.yaml',
      'unlink routes/photos.yaml',
    ]);
    expect(errors).toEqual([]);
  });

  it('sees an editor saving by rename (temp file renamed over the manifest) as a change', async () => {
    const { dir, events } = await setup();
    writeFileSync(join(dir, 'routes', '.pools.yaml.tmp'), 'a: 3\n');
    renameSync(join(dir, 'routes', '.pools.yaml.tmp'), join(dir, 'pools.yaml'));
    await until(() => events.length >= 1);
    await settle();
    expect(events.map((e) => e.kind)).toContain('change');
    expect(events.every((e) => e.path === join(dir, 'pools.yaml'))).toBe(true);
  });

  it('watches the directory again after it was removed and recreated (rm -rf && git clone)', async () => {
    const { dir, events } = await setup();
    rmSync(dir, { recursive: true });
    await until(() => events.some((e) => e.kind === 'unlinkDir' && e.path === dir));
    mkdirSync(join(dir, 'routes'), { recursive: true });
    writeFileSync(join(dir, 'pools.yaml'), 'a: 9\n');
    // Seen again (polled every second), then later edits too.
    await until(() => events.some((e) => e.kind === 'addDir' && e.path === dir), 5000);
    writeFileSync(join(dir, 'routes', 'new.yaml'), 'x: 1\n');
    await until(() => events.some((e) => e.path === join(dir, 'routes', 'new.yaml')), 5000);
  });

  it('a single manifest file: only that file counts, rename-saves included', async () => {
    const { dir, events } = await setup((d) => join(d, 'pools.yaml'));
    writeFileSync(join(dir, 'other.yaml'), 'x: 1\n');
    writeFileSync(join(dir, 'routes', 'r.yaml'), 'x: 1\n');
    writeFileSync(join(dir, 'pools.yaml.new'), 'a: 5\n');
    renameSync(join(dir, 'pools.yaml.new'), join(dir, 'pools.yaml'));
    await until(() => events.length >= 1);
    await settle();
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events.every((e) => e.path === join(dir, 'pools.yaml'))).toBe(true);
  });
});
