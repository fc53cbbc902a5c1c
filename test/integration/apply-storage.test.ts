import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_LINE } from '../helpers/cli.js';
import { Gateway, poolYaml, routeYaml, sameFiles, vhostYaml, withoutStatus, type CliResult } from '../helpers/gateway.js';

/**
 * A full disk (ENOSPC) at every step of an apply, and a read-only managed or state directory
 * (EROFS), on small tmpfs mounts under a real gateway: the managed directory and the state
 * directory each on their own. For every fill level, the apply either completes (exactly the new
 * generation, served) or fails with exit 1 and one clear message naming the path, without a stack
 * trace, the old generation intact and served, no journal, no temp file, no partial generation,
 * nothing staged. A backup that cannot be written after the commit is the one step that ends
 * otherwise: the apply is complete (exit 0) and says so in a warning; the older backups are kept.
 *
 * Needs root to mount tmpfs; without it the test is skipped with one line saying so.
 */

function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = join('/tmp', `orch-mount-probe-${process.pid}`);
  mkdirSync(probe, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]);
  if (r.status === 0) spawnSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
  return r.status === 0;
}

const mountable = canMount();
// CI runs as root on a machine that can mount tmpfs: there, a skip would hide the full-disk test.
if (!mountable && process.env.CI === 'true') throw new Error('apply-storage: CI must be able to mount tmpfs (run as root).');
if (!mountable)
  console.log(
    'apply-storage: skipped: mounting tmpfs needs root (ENOSPC and EROFS are covered with fakes in test/unit/apply-engine.test.ts)',
  );

type SetName = 'A' | 'B';
const VHOSTS = 40;

describe
  .skipIf(!mountable)
  .sequential('apply on a full or read-only file system: exit 1, a clear message, nothing changed, nothing left', () => {
    let gw: Gateway;
    let port: number;
    const mounts: string[] = [];
    const sets: Record<SetName, Record<string, string>> = { A: {}, B: {} };
    let current: SetName = 'A';
    const seen: string[] = [];

    const manifests = (name: SetName): Record<string, string> => {
      const files: Record<string, string> = {
        'pools.yaml': [poolYaml('hot', gw.membersOf('hot')), poolYaml(name === 'A' ? 'archive' : 'vault', gw.membersOf('archive'))].join(
          '---\n',
        ),
      };
      const cold = name === 'A' ? 'archive' : 'vault';
      for (let i = 0; i < VHOSTS; i++) {
        const v = `v${String(i).padStart(2, '0')}`;
        files[`vhosts/${v}.yaml`] = vhostYaml(v, { serverNames: [`${v}.test`], port, defaultPool: i % 2 ? 'hot' : cold });
        files[`routes/${v}.yaml`] = routeYaml(`${v}-b`, { virtualHost: v, path: '/b/', pool: name === 'A' ? 'hot' : cold });
      }
      return files;
    };
    const other = (s: SetName): SetName => (s === 'A' ? 'B' : 'A');

    const mount = (dir: string, size: string) => {
      mkdirSync(dir, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},nr_inodes=20000,mode=0755`, 'tmpfs', dir]);
      mounts.push(dir);
    };
    const remount = (dir: string, mode: 'ro' | 'rw') => execFileSync('mount', ['-o', `remount,${mode}`, dir]);
    const free = (dir: string) => {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    };
    /** Fills `dir`'s file system so that `leave` bytes stay free. */
    const fill = (dir: string, leave: number) => {
      const filler = join(dir, '.filler');
      rmSync(filler, { force: true });
      const size = free(dir) - leave;
      if (size > 0) writeFileSync(filler, Buffer.alloc(size));
    };
    const unfill = (dir: string) => rmSync(join(dir, '.filler'), { force: true });

    beforeAll(async () => {
      gw = await Gateway.start({ pools: { hot: 1, archive: 1 }, vhostPorts: 1 });
      port = gw.ports[0]!;
      rmSync(gw.nginxDir, { recursive: true, force: true });
      rmSync(gw.stateDir, { recursive: true, force: true });
      mount(gw.nginxDir, '4m');
      mount(gw.stateDir, '4m');
      for (const name of ['B', 'A'] as const) {
        gw.setManifests(manifests(name));
        const r = await gw.orch(['apply', '--auto-approve']);
        expect(r.code, r.stderr + r.stdout).toBe(0);
        sets[name] = withoutStatus(gw.snapshot());
      }
      current = 'A';
    }, 120_000);
    afterAll(async () => {
      for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
      await gw?.stop();
      if (seen.length > 0) console.log(`apply-storage outcomes: ${seen.join('; ')}`);
    });

    /** What every failed apply must leave: the old generation live and served, nothing of the apply. */
    async function expectUnchanged(r: CliResult, from: SetName, context: string, path: RegExp): Promise<void> {
      expect(r.code, `${context}: exit\n${r.stderr}${r.stdout}`).toBe(1);
      expect(r.stderr, context).not.toMatch(STACK_LINE);
      expect(r.stderr, context).not.toContain('Internal error');
      expect(r.stderr, context).toMatch(path);
      expect(r.stderr, context).toMatch(/Nothing (live )?(was )?changed/);
      expect(sameFiles(withoutStatus(gw.snapshot()), sets[from]), `${context}: the old generation is intact`).toBe(true);
      expect(gw.journalExists(), `${context}: journal`).toBe(false);
      expect(gw.leftovers(), `${context}: left in the managed directory`).toEqual([]);
      expect(existsSync(join(gw.stateDir, 'staging')), `${context}: staging`).toBe(false);
      const tmp = readdirSync(gw.stateDir).filter((n) => n.endsWith('.tmp') || n.includes('.tmp-') || n.startsWith('.'));
      expect(
        tmp.filter((n) => n !== '.filler'),
        `${context}: temp files in the state directory`,
      ).toEqual([]);
      expect(existsSync(join(gw.stateDir, 'orch.lock')), `${context}: lock file`).toBe(false);
      const token = gw.statusFileToken()!;
      expect(await gw.served(), `${context}: nginx serves the old generation`).toBe(token);
      expect((await gw.nginxT()).ok, context).toBe(true);
    }

    async function applyAt(dir: string, leave: number, label: string): Promise<void> {
      const from = current;
      const to = other(from);
      gw.setManifests(manifests(to));
      fill(dir, leave);
      let r: CliResult;
      try {
        r = await gw.orch(['apply', '--auto-approve']);
      } finally {
        unfill(dir);
      }
      const context = `${label} with ${leave} bytes free`;
      const failedStep = /^FAIL\s+(.*?) \(/m.exec(r.stderr)?.[1] ?? /while (.*?)\. /.exec(r.stderr)?.[1] ?? null;
      if (r.code === 0) {
        expect(sameFiles(withoutStatus(gw.snapshot()), sets[to]), `${context}: applied`).toBe(true);
        expect(await gw.served()).toBe(gw.statusFileToken());
        const warning = /Warning: (.*)/.exec(r.stderr)?.[1];
        seen.push(`${context}: applied${warning ? ` (warning: ${warning})` : ''}`);
        current = to;
        return;
      }
      await expectUnchanged(r, from, context, new RegExp(`No space left on the file system holding ${dir.replace(/[/.]/g, '\\$&')}/`));
      seen.push(`${context}: refused at "${failedStep ?? '?'}"`);
      // The next apply, with space again, goes through.
      const again = await gw.orch(['apply', '--auto-approve']);
      expect(again.code, `${context}: with space again\n${again.stderr}`).toBe(0);
      expect(sameFiles(withoutStatus(gw.snapshot()), sets[to])).toBe(true);
      current = to;
    }

    it('the managed directory full at different levels', async () => {
      for (const leave of [0, 8192, 65536, 262144, 393216, 524288, 1048576]) await applyAt(gw.nginxDir, leave, 'managed directory');
      expect(seen.some((s) => s.startsWith('managed directory') && s.includes('refused'))).toBe(true);
    }, 600_000);

    it('the state directory full at different levels', async () => {
      for (const leave of [0, 4096, 12288, 24576, 49152, 98304, 196608, 393216, 1048576])
        await applyAt(gw.stateDir, leave, 'state directory');
      expect(seen.some((s) => s.startsWith('state directory') && s.includes('refused'))).toBe(true);
    }, 600_000);

    it('a read-only managed directory: exit 1 naming it, the old generation intact and served', async () => {
      gw.setManifests(manifests(other(current)));
      remount(gw.nginxDir, 'ro');
      let r: CliResult;
      try {
        r = await gw.orch(['apply', '--auto-approve']);
      } finally {
        remount(gw.nginxDir, 'rw');
      }
      await expectUnchanged(
        r,
        current,
        'read-only managed directory',
        new RegExp(`${gw.nginxDir.replace(/[/.]/g, '\\$&')}\\S* is on a read-only file system \\(EROFS\\)`),
      );
      seen.push(`read-only managed directory: ${/^Error: .*$/m.exec(r.stderr)?.[0]}`);
    }, 120_000);

    it('a read-only state directory: exit 1 naming it, nothing changed', async () => {
      remount(gw.stateDir, 'ro');
      let r: CliResult;
      try {
        r = await gw.orch(['apply', '--auto-approve']);
      } finally {
        remount(gw.stateDir, 'rw');
      }
      await expectUnchanged(
        r,
        current,
        'read-only state directory',
        new RegExp(`${gw.stateDir.replace(/[/.]/g, '\\$&')}\\S* is on a read-only file system \\(EROFS\\)`),
      );
      seen.push(`read-only state directory: ${/^Error: .*$/m.exec(r.stderr)?.[0]}`);
      const ok = await gw.orch(['apply', '--auto-approve']);
      expect(ok.code, ok.stderr).toBe(0);
    }, 120_000);
  });
