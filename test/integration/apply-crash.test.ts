import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gateway, poolYaml, routeYaml, sameFiles, vhostYaml, withoutStatus } from '../helpers/gateway.js';

/**
 * SIGKILL of a real `orch apply` at random moments over its whole run, on a fleet of 310 virtual
 * hosts served by a real nginx. The change between the two generations renames a pool (and so
 * rewrites the virtual hosts that use it), moves routes to other pools, deletes ten virtual hosts
 * and adds ten: about 150 files change.
 *
 * After each kill, before any orch command runs:
 * - the live tree (what nginx reads through <nginxDir>/pools and vhosts) is exactly the old or
 *   exactly the new generation (sha256 of every file): zero mixes;
 * - `nginx -t` with the main configuration passes;
 * - a fresh nginx (a restart, as anyone could do at that moment) starts on it and serves one
 *   generation: its status location answers the token of the live status file, and the routing is
 *   that generation's;
 * then the next apply converges and the plan after it exits 0.
 */

const VHOSTS = 310;
// 30 kills (one in each thirtieth of the run, at a random point in it) in about 200 s of the suite;
// ORCH_CRASH_KILLS=200 for a longer hunt.
const KILLS = Number(process.env.ORCH_CRASH_KILLS ?? 30);

type SetName = 'A' | 'B';

describe.sequential('apply: SIGKILL at random moments over a 310-vhost fleet never leaves a mix', () => {
  let gw: Gateway;
  let port: number;
  const sets: Record<SetName, Record<string, string>> = { A: {}, B: {} };
  let applyMs = 0;

  /**
   * A: pools hot, archive, legacy; vhosts v000-v309. B: legacy renamed vault (same member), v000-v009
   * deleted, v310-v319 added, every tenth route moved to the other pool. Vhost i: default pool
   * legacy/vault when i % 31 == 0, else hot or archive; its one route `/b/` to legacy/vault when
   * i % 31 == 1, else archive (odd i) or hot (even i), swapped in B when i % 10 == 0.
   */
  const manifests = (name: SetName): Record<string, string> => {
    const legacy = name === 'A' ? 'legacy' : 'vault';
    const files: Record<string, string> = {
      'pools.yaml': [
        poolYaml('hot', gw.membersOf('hot')),
        poolYaml('archive', gw.membersOf('archive')),
        poolYaml(legacy, gw.membersOf('legacy')),
      ].join('---\n'),
    };
    const [first, last] = name === 'A' ? [0, VHOSTS - 1] : [10, VHOSTS + 9];
    for (let i = first; i <= last; i++) {
      const v = `v${String(i).padStart(3, '0')}`;
      const defaultPool = i % 31 === 0 ? legacy : i % 2 === 0 ? 'archive' : 'hot';
      let route = i % 2 === 1 ? 'archive' : 'hot';
      if (name === 'B' && i % 10 === 0) route = route === 'hot' ? 'archive' : 'hot';
      if (i % 31 === 1) route = legacy;
      files[`vhosts/${v}.yaml`] = vhostYaml(v, { serverNames: [`${v}.test`], port, defaultPool });
      files[`routes/${v}.yaml`] = routeYaml(`${v}-b`, { virtualHost: v, path: '/b/', pool: route });
    }
    return files;
  };
  const other = (s: SetName): SetName => (s === 'A' ? 'B' : 'A');

  /** nginx routes as generation `name`: a host both have (its route moved), one only A has, one only B has. */
  async function expectRouting(name: SetName, context: string): Promise<void> {
    // v100: its route goes to hot in A, moved to archive in B.
    const both = await gw.request(port, 'v100.test', '/b/k');
    expect(both, `${context}: v100 routed as ${name}`).toMatchObject({ status: 200, member: name === 'A' ? 'hot-1' : 'archive-1' });
    // A host a generation does not have falls to the port's default server (the first one nginx
    // read: v000 in A, v010 in B), whose route goes elsewhere: v004 (A: hot; else v010's, archive)
    // and v315 (B: archive; else v000's, hot).
    const onlyA = await gw.request(port, 'v004.test', '/b/k');
    const onlyB = await gw.request(port, 'v315.test', '/b/k');
    expect(onlyA, `${context}: v004 as ${name}`).toMatchObject({ status: 200, member: name === 'A' ? 'hot-1' : 'archive-1' });
    expect(onlyB, `${context}: v315 as ${name}`).toMatchObject({ status: 200, member: name === 'B' ? 'archive-1' : 'hot-1' });
    // v032's route goes to legacy, renamed vault in B (same member).
    expect(await gw.request(port, 'v032.test', '/b/k'), `${context}: v032`).toMatchObject({ status: 200, member: 'legacy-1' });
  }

  beforeAll(async () => {
    gw = await Gateway.start({ pools: { hot: 1, archive: 1, legacy: 1 }, vhostPorts: 1 });
    port = gw.ports[0]!;
    for (const name of ['A', 'B'] as const) {
      gw.setManifests(manifests(name));
      const r = await gw.orch(['apply', '--auto-approve', '--max-delete', '100']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      if (name === 'B') applyMs = r.ms;
      if (process.env.ORCH_CRASH_DEBUG) console.log(name, r.ms, r.stderr);
      sets[name] = withoutStatus(gw.snapshot());
    }
    expect(Object.keys(sets.A).length).toBe(2 * (VHOSTS + 3));
  }, 300_000);
  afterAll(async () => {
    await gw?.stop();
  });

  it(`${KILLS} kills spread over the whole run of an apply: exactly one generation each time`, async () => {
    let current: SetName = 'B';
    const outcomes: string[] = [];
    const landedAt: Record<'old' | 'new', number> = { old: 0, new: 0 };
    let killedCount = 0;
    for (let i = 0; i < KILLS; i++) {
      const from = current;
      const to = other(from);
      gw.setManifests(manifests(to));
      // Uniform over the whole run, from the process start to its end (and a little beyond).
      const delay = Math.round(applyMs * 1.05 * ((i + Math.random()) / KILLS));
      const run = gw.spawnOrch(['apply', '--auto-approve', '--max-delete', '100']);
      await new Promise((r) => setTimeout(r, delay));
      run.child.kill('SIGKILL');
      const r = await run.done;
      const killed = r.signal === 'SIGKILL';
      if (killed) killedCount++;
      else expect(r.code, `kill ${i} (${delay} ms): not killed, so it must have succeeded:\n${r.stderr}`).toBe(0);
      const context = `kill ${i} after ${delay} ms (${from} -> ${to})`;

      // Before any orch command: exactly one generation, valid for nginx, served by a fresh nginx.
      const live = withoutStatus(gw.snapshot());
      const landed = (['A', 'B'] as const).find((n) => sameFiles(sets[n], live)) ?? null;
      expect(landed, `${context}: the live tree is a mix`).not.toBeNull();
      landedAt[landed === from ? 'old' : 'new']++;
      const t = await gw.nginxT();
      expect(t.ok, `${context}: nginx -t on the live tree\n${t.output}`).toBe(true);
      const restarted = await gw.restartNginx();
      expect(restarted.ok, `${context}: a fresh nginx does not start:\n${restarted.output}`).toBe(true);
      const token = gw.statusFileToken()!;
      expect(await gw.waitServed(token, 10_000), `${context}: the fresh nginx serves the live generation`).toBe(token);
      await expectRouting(landed!, context);

      // The next apply converges; the plan after it is empty.
      const converge = await gw.orch(['apply', '--auto-approve', '--max-delete', '100']);
      expect(converge.code, `${context}: converging apply\n${converge.stderr}${converge.stdout}`).toBe(0);
      expect(sameFiles(withoutStatus(gw.snapshot()), sets[to]), `${context}: converged on ${to}`).toBe(true);
      expect(gw.journalExists(), context).toBe(false);
      expect(gw.leftovers(), `${context}: left in the managed directory`).toEqual([]);
      const plan = await gw.orch(['plan', '--detailed-exitcode', '--no-refresh']);
      expect(plan.code, `${context}: plan after converging\n${plan.stdout}${plan.stderr}`).toBe(0);
      outcomes.push(`${delay}ms:${killed ? (landed === from ? 'old' : 'new') : 'done'}`);
      current = to;
    }
    console.log(
      `apply of the 310-vhost change: ${Math.round(applyMs)} ms; ${KILLS} kills (${killedCount} before it ended): ${landedAt.old} left the old generation, ${landedAt.new} the new one, 0 mixes. ${outcomes.join(' ')}`,
    );
    expect(killedCount).toBeGreaterThan(KILLS / 2);
  }, 1_200_000);
});
