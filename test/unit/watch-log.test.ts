import { describe, expect, it } from 'vitest';
import { completeHintCommands } from '../../src/cli/hint-commands.js';
import { createLogger, REDACTED } from '../../src/use-cases/watch/log.js';

const at = () => new Date('2026-05-01T10:00:00.123Z');

describe('watch logger (src/use-cases/watch/log.ts)', () => {
  it('writes one JSON object per line with time, level, event and the fields', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), json: true, now: at });
    log.info('reconcile.done', { outcome: 'applied', generation: 4, changes: { add: 1 } });
    log.warn('drift.detected', { files: ['vhosts/a.conf (modified)'] });
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).not.toContain('\n');
    expect(JSON.parse(lines[0]!)).toEqual({
      time: '2026-05-01T10:00:00.123Z',
      level: 'info',
      event: 'reconcile.done',
      outcome: 'applied',
      generation: 4,
      changes: { add: 1 },
    });
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: 'warn', event: 'drift.detected' });
  });

  it("gives a line's hint the command line's settings flags (the drift hint of orch watch --state-dir S)", () => {
    const lines: string[] = [];
    const log = createLogger({
      write: (l) => lines.push(l),
      json: true,
      now: at,
      hint: (text) => completeHintCommands(text, ['--state-dir', '/srv/orch/state']),
    });
    log.warn('drift.detected', { hint: "discard them with 'orch apply --overwrite-drift'", files: ['orch apply'] });
    log.info('reconcile.done', { outcome: 'applied' });
    expect(JSON.parse(lines[0]!)).toMatchObject({
      hint: "discard them with 'orch apply --overwrite-drift --state-dir /srv/orch/state'",
      files: ['orch apply'],
    });
    expect(JSON.parse(lines[1]!)).toEqual({ time: '2026-05-01T10:00:00.123Z', level: 'info', event: 'reconcile.done', outcome: 'applied' });
  });

  it('a field cannot overwrite time, level or event', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), json: true, now: at });
    log.info('x', { level: 'error', event: 'forged', time: 'then' });
    expect(JSON.parse(lines[0]!)).toEqual({ time: '2026-05-01T10:00:00.123Z', level: 'info', event: 'x' });
  });

  it('writes readable lines on a terminal', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), json: false, now: at });
    log.error('reconcile.done', { outcome: 'failed', error: 'nginx did not load it', generation: null });
    expect(lines[0]).toBe('10:00:00.123 ERROR reconcile.done outcome=failed error="nginx did not load it" generation=null');
  });

  it('drops levels below the threshold', () => {
    const lines: string[] = [];
    const log = createLogger({ now: () => new Date(), write: (l) => lines.push(l), json: true, level: 'warn' });
    log.debug('a');
    log.info('b');
    log.warn('c');
    log.error('d');
    expect(lines.map((l) => (JSON.parse(l) as { event: string }).event)).toEqual(['c', 'd']);
  });

  it('never writes a registered secret value, wherever it appears (messages, nested fields, arrays, errors, escaped in JSON)', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    const quoted = 'pa"ss\\word\nnext';
    for (const json of [true, false]) {
      const lines: string[] = [];
      const log = createLogger({ now: () => new Date(), write: (l) => lines.push(l), json, level: 'debug' });
      log.registerSecret(secret);
      log.registerSecret(quoted);
      log.registerSecret('ab'); // too short to mask: ignored
      log.error('reconcile.done', {
        error: `S3 said: bad key ${secret}`,
        nested: { deeper: [{ value: `x${secret}y` }, quoted] },
        cause: new Error(`with ${secret}`),
        list: [secret],
      });
      log.info(`event-${secret}`);
      const all = lines.join('\n');
      expect(all).not.toContain(secret);
      expect(all).not.toContain(secret.slice(0, 20));
      expect(all).not.toContain('pa"ss');
      expect(all).not.toContain(JSON.stringify(quoted).slice(1, -1));
      expect(all).toContain(REDACTED);
      expect(all).toContain('bad key');
    }
  });

  it('redacts fields whose name says they hold a secret, whatever the value', () => {
    const lines: string[] = [];
    const log = createLogger({ now: () => new Date(), write: (l) => lines.push(l), json: true });
    log.info('pool', {
      pool: 'hot',
      secretAccessKey: 'abc',
      accessKeyId: 'AKIA1',
      password: 'x',
      authorization: 'Bearer y',
      nested: { token: 'z', credentials: { a: 1 } },
      hasCredentials: true,
    });
    expect(JSON.parse(lines[0]!)).toEqual({
      time: expect.any(String),
      level: 'info',
      event: 'pool',
      pool: 'hot',
      secretAccessKey: REDACTED,
      accessKeyId: REDACTED,
      password: REDACTED,
      authorization: REDACTED,
      nested: { token: REDACTED, credentials: REDACTED },
      hasCredentials: true,
    });
  });

  it('redact() applies the same guard to text leaving by another way (/status)', () => {
    const log = createLogger({ now: () => new Date(), write: () => {}, json: true });
    log.registerSecret('s3cr3t-value');
    expect(log.redact(JSON.stringify({ lastError: { message: 'key s3cr3t-value refused' } }))).toBe(
      JSON.stringify({ lastError: { message: `key ${REDACTED} refused` } }),
    );
  });
});
