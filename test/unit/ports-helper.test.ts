import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePorts } from '../helpers/ports.js';

/** The tests' port chooser: distinct free ports below the ephemeral range (no client socket can take them). */
describe('freePorts (test helper)', () => {
  it('gives distinct ports below the ephemeral range that can be bound', async () => {
    const ephemeralMin = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = await freePorts(6);
    expect(new Set(ports).size).toBe(6);
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(10_000);
      expect(p).toBeLessThan(ephemeralMin);
      const s = createServer();
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(p, '127.0.0.1', () => resolve());
      });
      await new Promise((r) => s.close(r));
    }
  });

  it('skips a port that is taken', async () => {
    const [taken] = await freePorts(1);
    const s = createServer();
    await new Promise<void>((r) => s.listen(taken, '127.0.0.1', () => r()));
    try {
      for (let i = 0; i < 20; i++) expect(await freePorts(3)).not.toContain(taken);
    } finally {
      await new Promise((r) => s.close(r));
    }
  });
});
