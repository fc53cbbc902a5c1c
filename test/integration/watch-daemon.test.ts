import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { docs, Gateway, poolYaml, printedCommand, routeYaml, sha256, vhostYaml } from '../helpers/gateway.js';
import { onTerminal } from '../helpers/pty.js';
import { hangingMember } from '../helpers/s3-servers.js';
import { parsePrometheusText, sampleValue } from '../helpers/watch-prom-parser.js';
import { sleep, WatchProcess, type WatchStatusDoc } from '../helpers/watch-daemon.js';

/**
 * `orch watch` as a child process against a real nginx: manifest edits served within 2 s, a burst
 * of edits folded into one reload, a broken manifest kept out (error with file:line in /status),
 * drift reported or corrected, SIGHUP with a bad config file, the lock of another writer waited
 * for, /metrics parsed strictly, /status validated against its JSON Schema.
 */
describe.sequential('orch watch against a real nginx', () => {
  let gw: Gateway;
  let port: number;
  let w: WatchProcess | null = null;
  const validateStatus = statusValidator();

  const photos = (pool: string) => routeYaml('s3-photos', { virtualHost: 's3', path: '/photos/', pool });
  const served = async (path: string) => (await gw.request(port, 's3.test', path))?.pool ?? null;
  /** Polls through nginx until `path` is answered by `pool`; returns the milliseconds it took. */
  const waitServedBy = async (path: string, pool: string, timeoutMs = 30_000): Promise<number> => {
    const t0 = performance.now();
    for (;;) {
      if ((await served(path)) === pool) return performance.now() - t0;
      if (performance.now() - t0 > timeoutMs)
        throw new Error(`${path} not served by ${pool} within ${timeoutMs} ms (now: ${await served(path)})\n${w?.logText() ?? ''}`);
      await sleep(10);
    }
  };
  const checkStatus = (s: WatchStatusDoc) => {
    const ok = validateStatus(s);
    expect(ok, JSON.stringify(validateStatus.errors, null, 2)).toBe(true);
  };

  beforeAll(async () => {
    gw = await Gateway.start({ pools: { hot: 1, archive: 1, cold: 1 }, vhostPorts: 1 });
    port = gw.ports[0]!;
    gw.setManifests({
      'pools.yaml': docs(
        poolYaml('hot', gw.membersOf('hot')),
        poolYaml('archive', gw.membersOf('archive')),
        poolYaml('cold', gw.membersOf('cold')),
      ),
      'vhosts/s3.yaml': vhostYaml('s3', { serverNames: ['s3.test'], port, defaultPool: 'hot' }),
      'routes/photos.yaml': photos('archive'),
    });
  });
  afterEach(async () => {
    // A failed test must not leave a daemon running into the next one.
    if (w) await w.stop();
    w = null;
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('applies on start, then serves a manifest edit through nginx within 2 s, and folds a burst of 50 edits into at most 2 reloads', async () => {
    w = await WatchProcess.start(gw);
    let s = await w.waitStatus((x) => x.ready, 30_000, 'ready after the first reconcile');
    expect(s.last_reconcile).toMatchObject({ outcome: 'applied', generation: 1, triggers: ['startup'] });
    expect((await w.get('/readyz'))?.status).toBe(200);
    expect(await served('/photos/a.jpg')).toBe('archive');
    expect(gw.readState().generations.map((g) => g.command)).toEqual(['watch']);
    checkStatus(s);

    // One edit: saved -> served by the new pool.
    const t0 = performance.now();
    gw.writeManifest('routes/photos.yaml', photos('cold'));
    await waitServedBy('/photos/a.jpg', 'cold');
    const latencyMs = performance.now() - t0;
    expect(latencyMs).toBeLessThan(2000);
    s = await w.waitIdle(2);
    expect(s.last_reconcile).toMatchObject({ outcome: 'applied', generation: 2, triggers: ['manifest-change'] });

    // An editor saving by rename: write a temp file, rename it over the manifest.
    const t1 = performance.now();
    const tmp = join(gw.manifestsDir, 'routes', '.photos.yaml.swp');
    writeFileSync(tmp, photos('hot'));
    const { renameSync } = await import('node:fs');
    renameSync(tmp, join(gw.manifestsDir, 'routes', 'photos.yaml'));
    await waitServedBy('/photos/a.jpg', 'hot');
    const renameLatencyMs = performance.now() - t1;
    expect(renameLatencyMs).toBeLessThan(2000);
    s = await w.waitIdle(3);

    // 50 edits within 1 s (a git checkout, a deploy job): one reconcile, at most 2 reloads.
    const before = gw.readState().generations.length;
    const metricsBefore = parsePrometheusText(await w.metrics());
    const reloadsBefore = sampleValue(metricsBefore, 'orch_reload_duration_seconds_count') ?? 0;
    const pools = ['archive', 'cold', 'hot'];
    const burst0 = performance.now();
    for (let i = 0; i < 50; i++) {
      gw.writeManifest('routes/photos.yaml', photos(pools[i % 3]!));
      // Other files of the checkout too: new directories and files appear.
      if (i % 10 === 0)
        gw.writeManifest(`routes/extra-${i}/logs.yaml`, routeYaml(`s3-logs-${i}`, { virtualHost: 's3', path: `/logs${i}/`, pool: 'cold' }));
      // One edit every 10 ms, on a schedule (not 10 ms after the previous one: a loaded machine).
      await sleep(Math.max(0, burst0 + (i + 1) * 10 - performance.now()));
    }
    gw.writeManifest('routes/photos.yaml', photos('archive'));
    const burstMs = performance.now() - burst0;
    expect(burstMs).toBeLessThan(1000);
    await waitServedBy('/photos/a.jpg', 'archive');
    await waitServedBy('/logs40/x', 'cold');
    // Idle, and still idle a moment later (file events of the burst that arrive late fold into one
    // more reconcile, which finds nothing to change).
    const idle = (x: WatchStatusDoc) => x.running === null && x.pending_triggers.length === 0;
    await w.waitStatus(idle, 30_000, 'idle after the burst');
    await sleep(1500);
    s = await w.waitStatus(idle, 30_000, 'idle after the burst');
    expect(['applied', 'no_changes']).toContain(s.last_reconcile?.outcome);
    expect(s.generation).toBe(gw.readState().generation);
    const after = gw.readState().generations.length;
    const metricsAfter = parsePrometheusText(await w.metrics());
    const reloads = (sampleValue(metricsAfter, 'orch_reload_duration_seconds_count') ?? 0) - reloadsBefore;
    expect(after - before).toBeGreaterThanOrEqual(1);
    expect(after - before).toBeLessThanOrEqual(2);
    expect(reloads).toBe(after - before);
    const events =
      (sampleValue(metricsAfter, 'orch_manifest_events_total') ?? 0) - (sampleValue(metricsBefore, 'orch_manifest_events_total') ?? 0);
    // chokidar coalesces rapid changes of one file; the new files and directories are each seen.
    expect(events).toBeGreaterThanOrEqual(10);
    console.log(
      `watch: edit->served ${latencyMs.toFixed(0)} ms, rename-save->served ${renameLatencyMs.toFixed(0)} ms; burst of 51 writes in ${burstMs.toFixed(0)} ms (${events} file events) -> ${after - before} generation(s), ${reloads} reload(s)`,
    );

    // Files, state and nginx agree.
    const { problems } = await gw.consistency({ now: withoutStatusFile(gw.snapshot()) }, { waitMs: 2000 });
    expect(problems).toEqual([]);
    checkStatus(await w.status());

    const r = await w.stop();
    expect(r.code).toBe(0);
    expect(w.strayLines).toEqual([]);
    expect(w.logs.at(-1)).toMatchObject({ event: 'shutdown.done', lockHeld: false });
  });

  it('keeps the last good configuration on a broken manifest, with file:line in /status, then applies the fix', async () => {
    w = await WatchProcess.start(gw);
    await w.waitStatus((s) => s.ready && s.running === null && s.pending_triggers.length === 0, 30_000, 'ready and idle');
    const snap = gw.snapshot();
    const generation = gw.readState().generation;

    // A route to a pool that does not exist: a reference error on line 8 (`pool:`).
    gw.writeManifest('routes/photos.yaml', photos('nowhere'));
    let s = await w.waitStatus((x) => x.last_reconcile?.outcome === 'invalid', 30_000, 'an invalid reconcile');
    const err = s.last_reconcile!.error!;
    expect(err.code).toBe('validation.failed');
    const d = err.diagnostics.find((x) => x.severity === 'error')!;
    expect(d.file).toMatch(/routes\/photos\.yaml$/);
    expect(d.line).toBe(8);
    expect(d).toMatchObject({ kind: 'Route', name: 's3-photos', field: 'spec.pool' });
    expect(s.ready).toBe(false);
    // Every resource is Stalled by the invalid manifests (the daemon cannot reconcile them).
    expect(s.resources.find((r) => r.kind === 'Route' && r.name === 's3-photos')?.conditions).toEqual([
      expect.objectContaining({ type: 'Ready', status: 'False', reason: 'ManifestsInvalid' }),
      expect.objectContaining({ type: 'Reconciling', status: 'False' }),
      expect.objectContaining({ type: 'Stalled', status: 'True', reason: 'ManifestsInvalid', last_transition_time: expect.any(String) }),
    ]);
    expect(s.last_error).toMatchObject({ source: 'reconcile', code: 'validation.failed' });
    checkStatus(s);
    const ready = await w.get('/readyz');
    expect(ready?.status).toBe(503);
    expect(ready?.body).toMatch(/invalid/);
    // Nothing applied: same files, same generation, nginx serves the old route.
    expect(gw.snapshot()).toEqual(snap);
    expect(gw.readState().generation).toBe(generation);
    expect(await served('/photos/a.jpg')).toBe('archive');
    // The log says where, once.
    const logged = await w.waitLog((l) => l.event === 'reconcile.done' && l['outcome'] === 'invalid');
    expect(JSON.stringify(logged['diagnostics'])).toMatch(/routes\/photos\.yaml:8:\d+: /);
    // Not retried in a loop: an invalid manifest waits for the next change.
    const count = s.reconciles;
    await sleep(2500);
    expect((await w.status()).reconciles).toBe(count);

    // YAML that does not even parse: still invalid, still the old configuration.
    gw.writeManifest('routes/photos.yaml', 'apiVersion: orch/v1\nkind: Route\nmetadata: {name: [unclosed\n');
    s = await w.waitStatus((x) => x.reconciles > count && x.last_reconcile?.outcome === 'invalid', 30_000, 'invalid YAML');
    expect(s.last_reconcile!.error!.diagnostics[0]).toMatchObject({
      file: expect.stringMatching(/routes\/photos\.yaml$/),
      line: expect.any(Number),
    });
    expect(gw.snapshot()).toEqual(snap);

    // The fix is applied.
    gw.writeManifest('routes/photos.yaml', photos('cold'));
    await waitServedBy('/photos/a.jpg', 'cold');
    s = await w.waitStatus((x) => x.ready && x.last_reconcile?.outcome === 'applied', 30_000, 'the fix applied');
    expect(s.last_reconcile!.generation).toBe(generation! + 1);
    expect((await w.get('/readyz'))?.status).toBe(200);
    expect((await w.stop()).code).toBe(0);
  });

  it('reports a hand-edited file under --drift warn without touching it, refuses to overwrite it, and corrects it under --drift correct', async () => {
    w = await WatchProcess.start(gw);
    await w.waitStatus((s) => s.ready, 30_000, 'ready');
    const edited = `${gw.readManaged('vhosts/s3.conf')}# edited by hand\n`;
    gw.writeManaged('vhosts/s3.conf', edited);

    // SIGHUP schedules a reconcile (as the drift interval does).
    const n0 = (await w.status()).reconciles;
    w.signal('SIGHUP');
    let s = await w.waitStatus((x) => x.reconciles > n0, 30_000, 'a reconcile after SIGHUP');
    expect(s.last_reconcile).toMatchObject({ outcome: 'no_changes', triggers: ['sighup'] });
    expect(s.drift.files).toEqual([{ path: 'vhosts/s3.conf', kind: 'modified' }]);
    expect(s.ready).toBe(true);
    expect(gw.readManaged('vhosts/s3.conf')).toBe(edited);
    const warned = await w.waitLog((l) => l.event === 'drift.detected');
    expect(warned).toMatchObject({ level: 'warn', policy: 'warn', files: ['vhosts/s3.conf (modified)'] });
    const m = parsePrometheusText(await w.metrics());
    expect(sampleValue(m, 'orch_drifted_files')).toBe(1);

    // A manifest change to that virtual host would overwrite the edit: blocked, reported, not retried hot.
    const generation = gw.readState().generation;
    gw.writeManifest('routes/photos.yaml', photos('hot'));
    s = await w.waitStatus((x) => x.last_reconcile?.outcome === 'blocked', 30_000, 'a blocked reconcile');
    expect(s.last_reconcile!.error).toMatchObject({ code: 'apply.drift' });
    expect(s.last_reconcile!.error!.message).toContain('vhosts/s3.conf');
    expect((await w.get('/readyz'))?.status).toBe(503);
    expect(gw.readManaged('vhosts/s3.conf')).toBe(edited);
    expect(gw.readState().generation).toBe(generation);
    const count = s.reconciles;
    await sleep(2500);
    s = await w.status();
    expect(s.reconciles).toBe(count);
    expect(s.consecutive_failures).toBe(0);
    checkStatus(s);

    // The drift report's hint, run as printed at a terminal (it asks before applying): the edit is
    // discarded and the blocked change applied.
    const hint = printedCommand(String(warned['hint']), /discard them with '(orch apply --overwrite-drift[^']*)'/);
    expect(hint).not.toMatch(/['"`\\$]/); // plain words: split as the shell splits them
    const t = await onTerminal(hint.split(' ').slice(1), "Only 'yes' will be accepted", 'yes\\r', gw.env(), gw.work);
    expect(t.code, t.output).toBe(0);
    expect(gw.readManaged('vhosts/s3.conf')).not.toContain('# edited by hand');
    expect(gw.readState().generation).toBe(generation! + 1);
    expect(await served('/photos/a.jpg')).toBe('hot');
    expect((await w.stop()).code).toBe(0);

    // --drift correct: the start-up reconcile overwrites an edit and applies a change.
    gw.writeManaged('vhosts/s3.conf', `${gw.readManaged('vhosts/s3.conf')}# edited by hand\n`);
    gw.writeManifest('routes/photos.yaml', photos('cold'));
    w = await WatchProcess.start(gw, ['--drift', 'correct']);
    s = await w.waitStatus((x) => x.ready, 30_000, 'ready under --drift correct');
    expect(s.last_reconcile).toMatchObject({ outcome: 'applied', generation: generation! + 2 });
    expect(s.drift.files).toEqual([]);
    expect(s.drift_policy).toBe('correct');
    expect(gw.readManaged('vhosts/s3.conf')).not.toContain('# edited by hand');
    expect(sha256(gw.readManaged('vhosts/s3.conf'))).toBe(gw.readState().inventory['vhosts/s3.conf']);
    expect(await served('/photos/a.jpg')).toBe('cold');
    await w.waitLog((l) => l.event === 'drift.corrected' && JSON.stringify(l['files']) === '["vhosts/s3.conf"]');
    expect((await w.stop()).code).toBe(0);
  });

  it('SIGHUP with a broken config file keeps the old settings; the lock of another writer is waited for, not failed on', async () => {
    w = await WatchProcess.start(gw);
    await w.waitStatus((s) => s.ready, 30_000, 'ready');
    const configPath = join(gw.work, 'orch.yaml');
    const config = readFileSync(configPath, 'utf8');
    try {
      writeFileSync(configPath, 'maxDelete: [not a number\n');
      const from = w.logs.length;
      w.signal('SIGHUP');
      const failed = await w.waitLog((l) => l.event === 'settings.reload-failed', 30_000, from);
      expect(failed['error']).toMatch(/orch\.yaml/);
      let s = await w.status();
      expect(s.last_error).toMatchObject({ source: 'settings', code: 'config.invalid' });
      // Still running, still reconciling with the old settings.
      gw.writeManifest('routes/photos.yaml', photos('archive'));
      await waitServedBy('/photos/a.jpg', 'archive');
      await w.waitStatus(
        (x) => x.running === null && x.pending_triggers.length === 0 && x.last_reconcile?.outcome === 'applied',
        30_000,
        'the edit applied',
      );

      // Another writer holds the lock (this test process, alive): the daemon defers and retries.
      writeFileSync(configPath, config);
      const lock = join(gw.stateDir, 'orch.lock');
      writeFileSync(
        lock,
        `${JSON.stringify({ pid: process.pid, command: 'apply', since: new Date().toISOString(), host: (await import('node:os')).hostname(), startTime: startTimeOf(process.pid) })}\n`,
      );
      const generation = gw.readState().generation;
      const from2 = w.logs.length;
      gw.writeManifest('routes/photos.yaml', photos('cold'));
      await w.waitLog((l) => l.event === 'reconcile.deferred', 30_000, from2);
      await sleep(1500);
      expect(gw.readState().generation).toBe(generation);
      expect(await served('/photos/a.jpg')).toBe('archive');
      s = await w.status();
      expect(s.consecutive_failures).toBe(0);
      // The other writer is done: the change goes through.
      (await import('node:fs')).unlinkSync(lock);
      await waitServedBy('/photos/a.jpg', 'cold', 30_000);
      const m = parsePrometheusText(await w.metrics());
      expect(sampleValue(m, 'orch_reconcile_deferred_total', { reason: 'lock_busy' })).toBeGreaterThanOrEqual(1);
    } finally {
      writeFileSync(configPath, config);
      (await import('node:fs')).rmSync(join(gw.stateDir, 'orch.lock'), { force: true });
    }
    expect((await w.stop()).code).toBe(0);
  });

  it('exposes /metrics in the Prometheus text format and /status in its documented shape', async () => {
    w = await WatchProcess.start(gw);
    await w.waitStatus((s) => s.ready, 30_000, 'ready');
    gw.writeManifest('routes/photos.yaml', photos('hot'));
    await waitServedBy('/photos/a.jpg', 'hot');
    await w.waitIdle(2);

    const res = await w.get('/metrics');
    expect(res?.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const m = parsePrometheusText(res!.body);
    for (const [name, type] of Object.entries({
      orch_up: 'gauge',
      orch_reconcile_total: 'counter',
      orch_apply_total: 'counter',
      orch_nginx_test_duration_seconds: 'histogram',
      orch_reload_duration_seconds: 'histogram',
      orch_last_successful_apply_timestamp_seconds: 'gauge',
      orch_generation: 'gauge',
      orch_drifted_files: 'gauge',
      orch_buckets: 'gauge',
      orch_migration_phase: 'gauge',
      orch_migration_objects_copied_total: 'counter',
      orch_migration_bytes_copied_total: 'counter',
    })) {
      expect(m.get(name)?.type, name).toBe(type);
      expect(m.get(name)?.help, name).toBeTruthy();
    }
    expect(sampleValue(m, 'orch_up')).toBe(1);
    expect(sampleValue(m, 'orch_ready')).toBe(1);
    expect(sampleValue(m, 'orch_reconcile_total', { outcome: 'applied' })).toBe(1);
    expect(sampleValue(m, 'orch_reconcile_total', { outcome: 'no_changes' })).toBe(1);
    expect(sampleValue(m, 'orch_reconcile_total', { outcome: 'failed' })).toBe(0);
    expect(sampleValue(m, 'orch_apply_total', { outcome: 'applied' })).toBe(1);
    const state = gw.readState();
    expect(sampleValue(m, 'orch_generation')).toBe(state.generation);
    const lastApplied = Date.parse((await w.status()).last_successful_apply!.at) / 1000;
    expect(sampleValue(m, 'orch_last_successful_apply_timestamp_seconds')).toBeCloseTo(lastApplied, 3);
    // One nginx -t (the main configuration with the new generation, before the switch), one confirmed reload, with plausible durations.
    expect(sampleValue(m, 'orch_nginx_test_duration_seconds_count', { stage: 'staged' })).toBeUndefined();
    expect(sampleValue(m, 'orch_nginx_test_duration_seconds_count', { stage: 'live' })).toBe(1);
    expect(sampleValue(m, 'orch_reload_duration_seconds_count')).toBe(1);
    const reloadSum = sampleValue(m, 'orch_reload_duration_seconds_sum')!;
    expect(reloadSum).toBeGreaterThan(0);
    expect(reloadSum).toBeLessThan(15);
    const info = m.get('orch_info')!.samples;
    expect(info).toHaveLength(1);
    expect(info[0]).toMatchObject({
      value: 1,
      labels: { mode: 'apply', drift_policy: 'warn', version: expect.stringMatching(/^\d+\.\d+\.\d+/) },
    });

    const status = await w.status();
    checkStatus(status);
    expect(status).toMatchObject({
      format_version: '2.0',
      mode: 'apply',
      drift_policy: 'warn',
      generation: state.generation,
      migrations: [],
    });
    // Each resource of the live generation, Ready (the daemon applied it; it does not probe nginx).
    const ready = (kind: string, name: string) => ({
      kind,
      name,
      conditions: [
        expect.objectContaining({ type: 'Ready', status: 'True', reason: 'Current' }),
        expect.objectContaining({ type: 'Reconciling', status: 'False' }),
        expect.objectContaining({ type: 'Stalled', status: 'False' }),
      ],
    });
    expect(status.resources).toEqual(
      expect.arrayContaining([ready('Pool', 'hot'), ready('VirtualHost', 's3'), ready('Route', 's3-photos')]),
    );
    // A HEAD and an unknown path.
    expect((await w.get('/status', 'HEAD'))?.status).toBe(200);
    expect((await w.get('/nope'))?.status).toBe(404);
    expect((await w.get('/status', 'POST'))?.status).toBe(405);
    expect((await w.stop()).code).toBe(0);
  });

  it('SIGTERM during an apply lets it finish: files, state and nginx agree, the lock is released, exit 0', async () => {
    // A slow reload: the apply is still in flight when SIGTERM arrives.
    const nginxReload = `${gw.env()['ORCH_NGINX']} -p ${gw.prefix} -c ${gw.conf} -e ${gw.errorLog} -s reload`;
    w = await WatchProcess.start(gw, [], { ORCH_RELOAD: 'command', ORCH_RELOAD_COMMAND: `sleep 1.5; ${nginxReload}` });
    await w.waitStatus((s) => s.ready, 30_000, 'ready');
    const oldFiles = withoutStatusFile(gw.snapshot());
    const generation = gw.readState().generation!;
    const from = w.logs.length;
    gw.writeManifest('routes/photos.yaml', photos('archive'));
    // The new generation passed nginx -t and is switched to; the reload command is running.
    await w.waitLog((l) => l.event === 'apply.step' && l['step'] === 'switch', 30_000, from);
    w.signal('SIGTERM');
    const r = await w.done;
    expect(r.code, r.stderr).toBe(0);
    const events = w.logs.slice(from).map((l) => `${l.event}${l['outcome'] ? `:${l['outcome']}` : ''}`);
    expect(events.indexOf('shutdown.start')).toBeGreaterThan(-1);
    expect(events.indexOf('reconcile.done:applied')).toBeGreaterThan(events.indexOf('shutdown.start'));
    expect(events.at(-1)).toBe('shutdown.done');
    // Everything agrees on the new generation, and nginx serves it.
    const state = gw.readState();
    expect(state.generation).toBe(generation + 1);
    const newFiles = withoutStatusFile(gw.snapshot());
    expect(newFiles).not.toEqual(oldFiles);
    const { landed, problems } = await gw.consistency({ old: oldFiles, new: newFiles }, { waitMs: 2000 });
    expect(problems).toEqual([]);
    expect(landed).toBe('new');
    expect(await served('/photos/a.jpg')).toBe('archive');
    expect(existsSync(join(gw.stateDir, 'orch.lock'))).toBe(false);
    expect(gw.journalExists()).toBe(false);
    // The next writer finds nothing to do.
    const plan = await gw.orch(['plan', '--detailed-exitcode']);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    w = null;
  });

  it('SIGTERM during a bucket sync stuck on a member that never answers: the sync is aborted (its connections closed, never reported as a failed sync), exit 0', async () => {
    // A nanio pool with credentials whose only member accepts requests and never answers.
    const member = await hangingMember();
    try {
      gw.writeManifest(
        'pools-stuck.yaml',
        `${poolYaml('stuck', [member.address])}  credentials:\n    accessKeyId: {env: STUCK_ACCESS_KEY}\n    secretAccessKey: {env: STUCK_SECRET_KEY}\n`,
      );
      gw.writeManifest('vhosts/sync.yaml', vhostYaml('sync', { serverNames: ['sync.test'], port, defaultPool: 'stuck' }));
      const env = {
        ORCH_BUCKET_SYNC_INTERVAL: '300',
        // Far beyond the test: only the abort can end the sync's request.
        ORCH_S3_TIMEOUT: '120',
        STUCK_ACCESS_KEY: 'AKSTUCK',
        STUCK_SECRET_KEY: `stuck-secret-${randomBytes(8).toString('hex')}`,
        ORCH_SECRET_KEY: randomBytes(32).toString('base64'),
      };
      w = await WatchProcess.start(gw, [], env);
      const s = await w.waitStatus(
        (x) => x.running === 'bucket-sync' && member.requests() > 0,
        30_000,
        'a bucket sync waiting on the stuck member',
      );
      expect(s.ready).toBe(true);
      expect(member.openConnections()).toBeGreaterThan(0);
      const from = w.logs.length;
      w.signal('SIGTERM');
      const r = await w.done;
      expect(r.code, r.stderr).toBe(0);
      const events = w.logs.slice(from).map((l) => l.event);
      // Aborted before the shutdown ends, not left behind after a wait; never reported as a failed sync.
      expect(events.indexOf('buckets.sync-aborted')).toBeGreaterThan(events.indexOf('shutdown.start'));
      expect(events.indexOf('buckets.sync-aborted')).toBeLessThan(events.indexOf('shutdown.done'));
      expect(events).not.toContain('shutdown.abandoned');
      expect(events).not.toContain('buckets.sync-failed');
      expect(w.logText()).not.toContain(env.STUCK_SECRET_KEY);
      expect(member.openConnections()).toBe(0);
      w = null;
    } finally {
      await member.close();
      gw.removeManifest('pools-stuck.yaml');
      gw.removeManifest('vhosts/sync.yaml');
    }
  });

  it('SIGTERM while idle exits 0 at once; a listen address in use fails at start with a clear message', async () => {
    w = await WatchProcess.start(gw);
    await w.waitStatus((s) => s.ready, 30_000, 'ready');
    const t0 = performance.now();
    const r = await w.stop();
    expect(r.code).toBe(0);
    expect(performance.now() - t0).toBeLessThan(3000);

    const other = await WatchProcess.start(gw);
    try {
      const clash = await gw.orch(['watch', '--listen', `127.0.0.1:${other.port}`], {
        env: { ORCH_DRIFT_INTERVAL: '0' },
        timeoutMs: 30_000,
      });
      expect(clash.code).toBe(1);
      expect(clash.stderr).toContain(`cannot listen on 127.0.0.1:${other.port}: the address is already in use`);
      expect(clash.stderr).not.toMatch(/^\s+at /m);
      const bad = await gw.orch(['watch', '--listen', '0.0.0.0:18098'], { timeoutMs: 30_000 });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('--listen must be a loopback address');
    } finally {
      expect((await other.stop()).code).toBe(0);
    }
  });
});

function withoutStatusFile(snap: Record<string, string>): Record<string, string> {
  const { ['vhosts/_orch-status.conf']: _s, ...rest } = snap;
  return rest;
}

function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function statusValidator() {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  ajv.addFormat('date-time', {
    type: 'string',
    validate: (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)),
  });
  const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', 'watch-status.schema.json'), 'utf8')) as object;
  return ajv.compile(schema);
}
