import { describe, expect, it } from 'vitest';
import { isLoopbackHostPort, resolveSettings, SETTING_ENV, type SettingsSources } from '../../src/config/settings.js';

const sources = (o: Partial<SettingsSources> & { file?: string } = {}): SettingsSources => ({
  flags: o.flags ?? {},
  env: o.env ?? {},
  configPath: o.file === undefined ? null : 'orch.yaml',
  candidates: [],
  readFile: () => o.file ?? null,
});

describe('orch watch settings', () => {
  it('defaults: loopback listener, 60 s drift, 300 s bucket sync, 5 s migration tick, 3600 s backup, 500 ms debounce', () => {
    const s = resolveSettings(sources());
    expect(s).toMatchObject({
      watchListen: '127.0.0.1:18098',
      driftIntervalSeconds: 60,
      bucketSyncIntervalSeconds: 300,
      migrationTickSeconds: 5,
      backupIntervalSeconds: 3600,
      debounceMs: 500,
    });
  });

  it('each has an ORCH_ variable and a config-file key; the variable wins over the file', () => {
    expect(SETTING_ENV).toMatchObject({
      watchListen: 'ORCH_WATCH_LISTEN',
      driftIntervalSeconds: 'ORCH_DRIFT_INTERVAL',
      bucketSyncIntervalSeconds: 'ORCH_BUCKET_SYNC_INTERVAL',
      migrationTickSeconds: 'ORCH_MIGRATION_TICK',
      backupIntervalSeconds: 'ORCH_BACKUP_INTERVAL',
      debounceMs: 'ORCH_DEBOUNCE_MS',
    });
    const file =
      'watchListen: 127.0.0.2:9000\ndriftIntervalSeconds: 30\nbucketSyncIntervalSeconds: 0\nmigrationTickSeconds: 2\nbackupIntervalSeconds: 600\ndebounceMs: 250\n';
    expect(resolveSettings(sources({ file }))).toMatchObject({
      watchListen: '127.0.0.2:9000',
      driftIntervalSeconds: 30,
      bucketSyncIntervalSeconds: 0,
      migrationTickSeconds: 2,
      backupIntervalSeconds: 600,
      debounceMs: 250,
    });
    const s = resolveSettings(
      sources({ file, env: { ORCH_WATCH_LISTEN: '[::1]:9001', ORCH_DRIFT_INTERVAL: '15', ORCH_DEBOUNCE_MS: '0' } }),
    );
    expect(s).toMatchObject({ watchListen: '[::1]:9001', driftIntervalSeconds: 15, debounceMs: 0, migrationTickSeconds: 2 });
  });

  it('the listener is loopback only (or off): anything else is refused with the reason', () => {
    for (const ok of ['127.0.0.1:18098', '127.1.2.3:1', 'localhost:65535', '[::1]:80', 'off']) {
      expect(resolveSettings(sources({ env: { ORCH_WATCH_LISTEN: ok } })).watchListen).toBe(ok);
    }
    for (const bad of [
      '0.0.0.0:18098',
      '10.0.0.1:80',
      '[::]:80',
      'example.com:80',
      '127.0.0.1',
      '127.0.0.1:0',
      '127.0.0.1:70000',
      '127.0.0.300:80',
      ':18098',
      '127.0.0.1:80 ; rm',
    ]) {
      expect(() => resolveSettings(sources({ env: { ORCH_WATCH_LISTEN: bad } })), bad).toThrow(/watchListen must be a loopback address/);
      expect(isLoopbackHostPort(bad), bad).toBe(false);
    }
    expect(() => resolveSettings(sources({ file: 'watchListen: 192.168.1.5:9000\n' }))).toThrow(/loopback/);
  });

  it('intervals are non-negative integers', () => {
    expect(() => resolveSettings(sources({ env: { ORCH_DRIFT_INTERVAL: '-1' } }))).toThrow(/driftIntervalSeconds .* non-negative integer/);
    expect(() => resolveSettings(sources({ file: 'debounceMs: 0.5\n' }))).toThrow(/debounceMs .* non-negative integer/);
    expect(() => resolveSettings(sources({ file: 'backupIntervalSeconds: soon\n' }))).toThrow(/backupIntervalSeconds/);
  });
});
