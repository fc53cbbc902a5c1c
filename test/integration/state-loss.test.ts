import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_LINE } from '../helpers/cli.js';
import { docs, Gateway, poolYaml, routeYaml, vhostYaml } from '../helpers/gateway.js';
import { WatchProcess } from '../helpers/watch-daemon.js';

/**
 * The state lost, every way, on a real gateway: the database deleted, zero bytes, truncated,
 * random bytes, the whole state directory deleted, the database and its backups deleted. In each
 * case a hand edit is made meanwhile and the manifests change so that an apply would rewrite the
 * edited file. Asserted for each: what plan, apply, drift, status, history and watch print (what was
 * found, the exact command to run), that they exit 1 without a stack trace and change nothing (the
 * edit survives, no database is created, the backups and generation directories stay as they
 * were); then the command the message gives brings the state back, after which the edit is reported
 * as drift and the apply refuses to overwrite it, and the generation numbers go on.
 */

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe.sequential('a lost state is never silent', () => {
  let gw: Gateway;
  let s3Port: number;
  let filesPort: number;
  let generation = 0;

  const manifests = (photos: string) => ({
    'pools.yaml': docs(poolYaml('hot', gw.membersOf('hot')), poolYaml('archive', gw.membersOf('archive'))),
    'vhosts/s3.yaml': vhostYaml('s3', { serverNames: ['s3.test'], port: s3Port, defaultPool: 'hot' }),
    'vhosts/files.yaml': vhostYaml('files', { serverNames: ['files.test'], port: filesPort, defaultPool: 'archive' }),
    'routes/photos.yaml': routeYaml('s3-photos', { virtualHost: 's3', path: '/photos/', pool: photos }),
  });

  /** Everything that must not change while the state is lost: the live files, the generations, the state directory. */
  const fingerprint = () => {
    const state: Record<string, string> = {};
    if (existsSync(gw.stateDir))
      for (const n of readdirSync(gw.stateDir)) {
        const p = join(gw.stateDir, n);
        if (n === 'cache') continue;
        state[n] = existsSync(p) && !n.endsWith('objects') ? sha(readFileSync(p)) : 'dir';
      }
    const gens = existsSync(join(gw.nginxDir, 'generations')) ? readdirSync(join(gw.nginxDir, 'generations')).sort() : [];
    return { live: gw.snapshot(), gens, state };
  };

  beforeAll(async () => {
    gw = await Gateway.start({ pools: { hot: 1, archive: 1 }, vhostPorts: 2 });
    [s3Port, filesPort] = gw.ports as [number, number];
    for (const pool of ['hot', 'archive']) {
      gw.setManifests(manifests(pool));
      const r = await gw.orch(['apply', '--auto-approve']);
      expect(r.code, r.stderr).toBe(0);
    }
    generation = gw.readState().generation!;
  }, 120_000);
  afterAll(async () => {
    await gw?.stop();
  });

  const db = () => join(gw.stateDir, 'orch.db');
  const CASES: Array<{
    name: string;
    lose: () => void;
    says: RegExp;
    /** The command the message gives (the restore of the newest backup, or a rebuild). */
    fix: RegExp;
  }> = [
    {
      name: 'database deleted (backups kept)',
      lose: () => rmSync(db()),
      says: /The state database \S+orch\.db is missing, but orch has applied here before: .*files carrying orch's marker .*database backups/,
      fix: /Restore the newest backup, which records generation \d+, the one live: (cp -p \S+ \S+)\./,
    },
    {
      name: 'database of zero bytes',
      lose: () => truncateSync(db(), 0),
      says: /The state database \S+orch\.db is empty \(0 bytes\), but orch has applied here before/,
      fix: /Restore the newest backup, which records generation \d+, the one live: (mv \S+ \S+ && cp -p \S+ \S+) /,
    },
    {
      name: 'database truncated',
      lose: () => truncateSync(db(), 4096),
      says: /The state database \S+orch\.db is truncated \(4,096 bytes; its header says [\d,]+ bytes\), but orch has applied here before/,
      fix: /(mv \S+ \S+ && cp -p \S+ \S+) /,
    },
    {
      name: 'database of random bytes',
      lose: () => writeFileSync(db(), Buffer.from(Array.from({ length: 40_000 }, (_, i) => (i * 7919 + 13) % 251))),
      says: /\S+orch\.db is not a SQLite database .*, but orch has applied here before/,
      fix: /(mv \S+ \S+ && cp -p \S+ \S+) /,
    },
    {
      name: 'state directory deleted',
      lose: () => rmSync(gw.stateDir, { recursive: true }),
      says: /The state database \S+orch\.db is missing, but orch has applied here before: \d+ files carrying orch's marker in \S+ \(generation \d+ is live\); \d+ generation director/,
      fix: /Rebuild the state from the files: '(orch rebuild-db[^']*)', then check with 'orch plan[^']*'\./,
    },
    {
      name: 'database and backups deleted',
      lose: () => {
        for (const n of readdirSync(gw.stateDir)) if (n.startsWith('orch.db')) rmSync(join(gw.stateDir, n));
      },
      says: /The state database \S+orch\.db is missing, but orch has applied here before: \d+ files carrying orch's marker/,
      fix: /Rebuild the state from the files: '(orch rebuild-db[^']*)', then check with 'orch plan[^']*'\./,
    },
  ];

  for (const c of CASES) {
    it(`${c.name}: every command stops, says what it found and what to run; nothing changes; the fix brings the edit back as drift`, async () => {
      // A healthy gateway: photos on archive, generation `generation`.
      c.lose();
      // A hand edit while the state is lost, and manifests whose apply would rewrite that file.
      const edited = `${gw.readManaged('vhosts/s3.conf')}# edited by hand while the state was lost\n`;
      gw.writeManaged('vhosts/s3.conf', edited);
      gw.setManifests(manifests('hot'));
      const before = fingerprint();

      let fixCommand: string | null = null;
      for (const args of [['plan'], ['apply', '--auto-approve'], ['drift'], ['status'], ['history'], ['rollback', '--auto-approve']]) {
        const r = await gw.orch(args);
        const what = `${c.name}: orch ${args.join(' ')}`;
        expect(r.code, `${what}\n${r.stdout}${r.stderr}`).toBe(1);
        expect(r.stderr, what).toMatch(c.says);
        expect(r.stderr, what).not.toMatch(STACK_LINE);
        expect(r.stderr, what).not.toContain('Internal error');
        expect(r.stderr, what).toContain('Nothing was changed');
        fixCommand ??= c.fix.exec(r.stderr)?.[1] ?? null;
        expect(fixCommand, `${what}: the command to run\n${r.stderr}`).not.toBeNull();
        expect(fingerprint(), `${what}: nothing changed`).toEqual(before);
      }
      expect(gw.readManaged('vhosts/s3.conf')).toBe(edited);
      expect(existsSync(join(gw.stateDir, 'orch.lock'))).toBe(false);

      // orch watch reconciles on start: it stops too, and says why on /status.
      const w = await WatchProcess.start(gw);
      try {
        const s = await w.waitStatus((st) => st.last_error !== null, 30_000, 'a reconcile error');
        expect(s.last_error!.code).toMatch(/^state\./);
        expect(s.last_error!.message).toMatch(c.says);
      } finally {
        await w.stop();
      }
      expect(fingerprint(), `${c.name}: orch watch changed nothing`).toEqual(before);

      // The command the message gives brings the state back, run as the operator would.
      const [cmd, ...rest] = fixCommand!.split(' ');
      if (cmd === 'orch') {
        const r = await gw.orch(rest);
        expect(r.code, r.stderr + r.stdout).toBe(0);
      } else execFileSync('sh', ['-c', fixCommand!]);
      // The edit is drift (never silently overwritten): drift shows it, apply refuses it.
      const drift = await gw.orch(['drift', '--detailed-exitcode']);
      expect(drift.code, drift.stdout + drift.stderr).toBe(2);
      expect(drift.stdout).toContain('! vhosts/s3.conf was edited outside orch');
      const refused = await gw.orch(['apply', '--auto-approve']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('was edited outside orch and would be overwritten: vhosts/s3.conf');
      expect(gw.readManaged('vhosts/s3.conf')).toBe(edited);
      // Discarding it on purpose works, and the generation numbers go on (never back to 1).
      const applied = await gw.orch(['apply', '--auto-approve', '--overwrite-drift']);
      expect(applied.code, applied.stderr).toBe(0);
      expect(gw.readState().generation).toBeGreaterThan(generation);
      generation = gw.readState().generation!;
      // Back to the healthy state for the next case.
      gw.setManifests(manifests('archive'));
      expect((await gw.orch(['apply', '--auto-approve'])).code).toBe(0);
      generation = gw.readState().generation!;
      expect((await gw.orch(['plan', '--detailed-exitcode', '--no-refresh'])).code).toBe(0);
    }, 240_000);
  }

  it('never applied here: no database and no trace of orch is a fresh start, not a loss', async () => {
    const fresh = await Gateway.start({ pools: { hot: 1 }, vhostPorts: 1 });
    try {
      const s = await fresh.orch(['status']);
      expect(s.code, s.stderr).toBe(0);
      expect(s.stdout).toContain('none applied yet');
      expect((await fresh.orch(['history'])).stdout).toContain('No generation applied yet.');
      expect((await fresh.orch(['drift'])).code).toBe(0);
    } finally {
      await fresh.stop();
    }
  });
});
