import { spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  buildGeneration,
  convertToGenerations,
  currentGeneration,
  discardGeneration,
  liveRoot,
  prepareSwitch,
  pruneGenerations,
  removeLeftovers,
  switchCurrent,
  treeLayout,
} from '../../src/adapters/fs/generations.js';
import { exchangePaths } from '../../src/adapters/fs/exchange.js';
import { readManagedTree } from '../../src/adapters/fs/read-managed-tree.js';

/**
 * The generation layout on a real file system: a generation is built beside the live one
 * (unchanged files hard-linked, files orch did not write carried), switched to by one rename, and
 * an older layout is converted without the live files ever missing. A reader process resolving
 * paths through the symlinks while switches happen never finds a file missing or half-written.
 */

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function legacy(files: Record<string, string>): string {
  dir = mkdtempSync(join(tmpdir(), 'orch-gen-'));
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), c);
  }
  return dir;
}

const live = (d: string) => Object.fromEntries(readManagedTree(d).files.map((f) => [f.path, f.content]));

describe('generations on the file system', () => {
  it('converts real directories, then builds and switches: unchanged files are the same inode, others new', () => {
    const d = legacy({
      'pools/a.conf': '# managed-by: orch\nupstream a {}\n',
      'vhosts/s3.conf': '# managed-by: orch\nserver { a }\n',
      'vhosts/hand.conf': '# written by hand\n',
      'vhosts/notes.txt': 'not a conf\n',
    });
    expect(treeLayout(d)).toEqual({ kind: 'legacy' });
    const before = live(d);
    const r = convertToGenerations(d, 7);
    expect(r.atomic).toBe(true); // perl's renameat2(RENAME_EXCHANGE) on this machine
    expect(treeLayout(d)).toEqual({ kind: 'generations', current: 7 });
    expect(readlinkSync(join(d, 'pools'))).toBe('current/pools');
    expect(readlinkSync(join(d, 'current'))).toBe('generations/7');
    expect(live(d)).toEqual(before);
    expect(readdirSync(d).sort()).toEqual(['current', 'generations', 'pools', 'vhosts']);

    const built = buildGeneration(d, 8, new Map([['vhosts/s3.conf', '# managed-by: orch\nserver { b }\n']]), new Set(['pools/a.conf']));
    expect(built).toMatchObject({ n: 8, written: 1 });
    expect(currentGeneration(d)).toBe(7);
    expect(live(d)).toEqual(before);
    const g8 = join(d, 'generations/8');
    expect(existsSync(join(g8, 'pools/a.conf'))).toBe(false);
    expect(statSync(join(g8, 'vhosts/hand.conf')).ino).toBe(statSync(join(d, 'generations/7/vhosts/hand.conf')).ino);
    expect(readFileSync(join(g8, 'vhosts/notes.txt'), 'utf8')).toBe('not a conf\n');
    expect(statSync(join(g8, 'vhosts/s3.conf')).ino).not.toBe(statSync(join(d, 'generations/7/vhosts/s3.conf')).ino);

    prepareSwitch(d, 8, 7);
    switchCurrent(d, 8);
    expect(live(d)['vhosts/s3.conf']).toBe('# managed-by: orch\nserver { b }\n');
    expect(live(d)['pools/a.conf']).toBeUndefined();
    switchCurrent(d, 7); // switching back: the prepared link, one rename
    expect(live(d)).toEqual(before);
    switchCurrent(d, 8);
    expect(removeLeftovers(d)).toEqual([]);
    expect(pruneGenerations(d, new Set())).toEqual([7]);
    expect(readdirSync(join(d, 'generations'))).toEqual(['8']);
  });

  it('a failed build leaves nothing; a generation that is live is never discarded or pruned', () => {
    const d = legacy({ 'pools/a.conf': 'upstream a {}\n' });
    convertToGenerations(d, 1);
    expect(() => buildGeneration(d, 2, new Map([['pools/a.conf/x.conf', 'x']]), new Set())).toThrow();
    expect(readdirSync(join(d, 'generations'))).toEqual(['1']);
    expect(() => buildGeneration(d, 1, new Map(), new Set())).toThrow(/live one/);
    discardGeneration(d, 1);
    expect(pruneGenerations(d, new Set())).toEqual([]);
    expect(currentGeneration(d)).toBe(1);
    // Built, never switched to: a leftover the next writer removes.
    buildGeneration(d, 2, new Map(), new Set());
    mkdirSync(join(d, 'generations/.3.partial'));
    expect(removeLeftovers(d).sort()).toEqual(['generations/.3.partial', 'generations/2']);
  });

  it('an empty or missing directory becomes an empty generation; an interrupted conversion is finished', () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-gen-'));
    const d = join(dir, 'managed');
    expect(treeLayout(d)).toEqual({ kind: 'empty' });
    convertToGenerations(d, 0);
    expect(treeLayout(d)).toEqual({ kind: 'generations', current: 0 });
    expect(live(d)).toEqual({});

    const e = legacy({ 'pools/a.conf': 'upstream a {}\n', 'vhosts/b.conf': 'server {}\n' });
    convertToGenerations(e, 4);
    // As if it had died after the first exchange: vhosts/ still the real directory (same content).
    rmSync(join(e, 'vhosts'));
    mkdirSync(join(e, 'vhosts'));
    writeFileSync(join(e, 'vhosts/b.conf'), 'server {}\n');
    expect(treeLayout(e)).toEqual({ kind: 'converting', current: 4 });
    expect(liveRoot(e)).toBe(e);
    convertToGenerations(e, 4);
    expect(treeLayout(e)).toEqual({ kind: 'generations', current: 4 });
    expect(lstatSync(join(e, 'vhosts')).isSymbolicLink()).toBe(true);
  });

  it('something else at pools/ or current is an unexpected layout, never touched', () => {
    const d = legacy({ 'pools/a.conf': 'x' });
    writeFileSync(join(d, 'current'), 'not a link');
    expect(treeLayout(d)).toMatchObject({ kind: 'unexpected' });
  });

  it('exchanges a directory and a symlink in one system call', () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-gen-'));
    mkdirSync(join(dir, 'real'));
    writeFileSync(join(dir, 'real/f'), 'x');
    symlinkSync('elsewhere', join(dir, 'link'));
    expect(exchangePaths(join(dir, 'link'), join(dir, 'real'))).toBe(true);
    expect(readlinkSync(join(dir, 'real'))).toBe('elsewhere');
    expect(readFileSync(join(dir, 'link/f'), 'utf8')).toBe('x');
  });

  it('a reader resolving paths through the symlinks during 300 switches and a conversion never misses a file', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 50; i++) files[`vhosts/v${i}.conf`] = `server { ${i} }\n`;
    const d = legacy({ ...files, 'vhosts/_orch-status.conf': 'gen 0\n' });
    // The reader: reads every file and the status file in a tight loop, reports any failure.
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('fs'); const d = process.argv[1]; let reads = 0, errors = [];
         const stop = Date.now() + 60000;
         while (!fs.existsSync(d + '/stop') && Date.now() < stop) {
           for (let i = 0; i < 50; i++) { try { if (!fs.readFileSync(d + '/vhosts/v' + i + '.conf', 'utf8').startsWith('server')) errors.push('partial v' + i); reads++; } catch (e) { errors.push(e.code + ' v' + i); } }
           try { fs.readFileSync(d + '/vhosts/_orch-status.conf', 'utf8'); } catch (e) { errors.push(e.code + ' status'); }
         }
         process.stdout.write(JSON.stringify({ reads, errors: errors.slice(0, 10), count: errors.length }));`,
        d,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    reader.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const done = new Promise<void>((r) => reader.on('close', () => r()));
    await new Promise((r) => setTimeout(r, 200));
    convertToGenerations(d, 0);
    for (let n = 1; n <= 300; n++) {
      buildGeneration(
        d,
        n,
        new Map([
          ['vhosts/_orch-status.conf', `gen ${n}\n`],
          [`vhosts/v${n % 50}.conf`, `server { ${n} }\n`],
        ]),
        new Set(),
      );
      prepareSwitch(d, n, n - 1);
      switchCurrent(d, n);
      if (n % 10 === 0) pruneGenerations(d, new Set([n - 1]));
    }
    writeFileSync(join(d, 'stop'), '');
    await done;
    const result = JSON.parse(out) as { reads: number; errors: string[]; count: number };
    expect(result.count, result.errors.join(', ')).toBe(0);
    expect(result.reads).toBeGreaterThan(1000);
  }, 90_000);
});
