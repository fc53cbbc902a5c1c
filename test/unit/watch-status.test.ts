import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/use-cases/watch/log.js';
import { resolveSettings } from '../../src/config/settings.js';
import { WatchDaemon } from '../../src/use-cases/watch/daemon.js';
import { classify } from '../../src/use-cases/watch/reconcile.js';
import { readiness } from '../../src/use-cases/watch/status.js';
import { UserError, ValidationError } from '../../src/domain/errors.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { composeOrch, composeWatchAdapters } from '../../src/composition-root.js';

const daemonPorts = { compose: composeOrch, ...(await composeWatchAdapters()), pid: process.pid };

function validator() {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  ajv.addFormat('date-time', {
    type: 'string',
    validate: (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)),
  });
  return ajv.compile(JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', 'watch-status.schema.json'), 'utf8')) as object);
}

describe('/status shape (schemas/watch-status.schema.json)', () => {
  const validate = validator();
  const dir = mkdtempSync(join(tmpdir(), 'orch-watch-status-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the example in docs/watch.md is valid, and the schema rejects what it should', () => {
    const md = readFileSync(join(REPO_ROOT, 'docs', 'watch.md'), 'utf8');
    const m = /<!-- watch-status-example -->\n```json\n([\s\S]*?)\n```/.exec(md);
    expect(m, 'the example block in docs/watch.md').not.toBeNull();
    const doc = JSON.parse(m![1]!) as Record<string, unknown>;
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    // Unknown fields, unknown outcomes, a missing field: refused.
    expect(validate({ ...doc, extra: 1 })).toBe(false);
    expect(validate({ ...doc, last_reconcile: { ...(doc['last_reconcile'] as object), outcome: 'done' } })).toBe(false);
    const { pending_triggers: _p, ...missing } = doc;
    expect(validate(missing)).toBe(false);
    expect(validate({ ...doc, last_error: { ...(doc['last_error'] as object), source: 'elsewhere' } })).toBe(false);
    // The 1.1 (camelCase) shape is not 2.0; a condition with an unknown status is refused.
    expect(validate({ ...doc, formatVersion: '1.1' })).toBe(false);
    const resources = doc['resources'] as Array<{ conditions: Array<Record<string, unknown>> }>;
    const bad = [
      { ...resources[0]!, conditions: [{ ...resources[0]!.conditions[0]!, status: 'true' }, ...resources[0]!.conditions.slice(1)] },
    ];
    expect(validate({ ...doc, resources: bad })).toBe(false);
  });

  it('what a daemon answers before its first reconcile is valid and not ready', () => {
    const settings = resolveSettings({
      flags: { nginxDir: join(dir, 'nginx'), stateDir: join(dir, 'state'), manifests: join(dir, 'manifests') },
      env: {},
      configPath: null,
      candidates: [],
      readFile: () => null,
    });
    const d = new WatchDaemon({
      settings,
      loadSettings: () => settings,
      ...daemonPorts,
      policy: { mode: 'plan', drift: 'correct', maxDelete: 10, allowEmpty: false },
      log: createLogger({ now: () => new Date(), write: () => {}, json: true }),
    });
    const s = d.status();
    expect(validate(s), JSON.stringify(validate.errors)).toBe(true);
    expect(s).toMatchObject({
      format_version: '2.0',
      mode: 'plan',
      drift_policy: 'correct',
      ready: false,
      ready_reason: 'no reconcile has finished yet',
      last_reconcile: null,
      migrations: [],
      resources: [],
    });
  });
});

describe('SIGHUP and the migration supervisor', () => {
  it('hands re-read settings to the supervisor (drivers started later use them); a broken reload keeps the old ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'orch-watch-hup-'));
    try {
      const at = (maxParallelMigrations: string) =>
        resolveSettings({
          flags: { nginxDir: join(dir, 'nginx'), stateDir: join(dir, 'state'), manifests: join(dir, 'manifests') },
          env: { ORCH_MAX_PARALLEL_MIGRATIONS: maxParallelMigrations },
          configPath: null,
          candidates: [],
          readFile: () => null,
        });
      const seen: number[] = [];
      let next: () => ReturnType<typeof at> = () => at('2');
      const d = new WatchDaemon({
        settings: at('2'),
        loadSettings: () => next(),
        ...daemonPorts,
        policy: { mode: 'plan', drift: 'correct', maxDelete: 10, allowEmpty: false },
        log: createLogger({ now: () => new Date(), write: () => {}, json: true }),
        migrations: (settings) => {
          seen.push(settings.maxParallelMigrations);
          return {
            tick: () => {},
            snapshot: () => [],
            stop: async () => {},
            updateSettings: (s) => void seen.push(s.maxParallelMigrations),
          };
        },
      });
      next = () => at('5');
      d.reloadSettings();
      next = () => {
        throw new UserError('config.invalid', 'broken');
      };
      d.reloadSettings();
      expect(seen).toEqual([2, 5]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reconcile outcomes', () => {
  it('readiness follows the last reconcile', () => {
    const base = { triggers: [], startedAt: '', finishedAt: '', durationMs: 1, generation: null, changes: null, error: null };
    for (const outcome of ['applied', 'no_changes', 'planned'] as const) expect(readiness({ ...base, outcome }).ready).toBe(true);
    for (const outcome of ['invalid', 'blocked', 'failed'] as const) {
      const r = readiness({ ...base, outcome, error: { code: 'x.y', message: 'first line\nsecond', hint: null, diagnostics: [] } });
      expect(r).toEqual({ ready: false, reason: `last reconcile ${outcome} (x.y: first line)` });
    }
  });

  it('classifies errors: input (invalid), guards (blocked), anything else (failed, retried)', () => {
    expect(classify(new ValidationError([])).outcome).toBe('invalid');
    expect(classify(new UserError('manifests.not-found', 'x')).outcome).toBe('invalid');
    expect(classify(new UserError('nginx.test-failed', 'x')).outcome).toBe('invalid');
    for (const code of ['apply.drift', 'apply.max-delete', 'apply.empty'])
      expect(classify(new UserError(code, 'x')).outcome).toBe('blocked');
    // manifests.unreadable: also a tree on a network or FUSE mount that did not answer (or whose
    // earlier read still hangs): retried with backoff, read again once that read has ended.
    for (const code of ['nginx.reload-not-confirmed', 'nginx.conf-missing', 'state.corrupt', 'manifests.unreadable'])
      expect(classify(new UserError(code, 'x')).outcome).toBe('failed');
    const e = Object.assign(new Error('disk full'), { code: 'ENOSPC' });
    expect(classify(e)).toEqual({
      outcome: 'failed',
      error: { code: 'internal.ENOSPC', message: 'disk full', hint: null, diagnostics: [] },
    });
  });
});
