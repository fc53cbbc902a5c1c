import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

/**
 * Free loopback ports for listeners a test starts later (nginx virtual hosts, the status address,
 * a member that is down), chosen so that nothing else can take them before the listener binds:
 *
 * - below the kernel's ephemeral range (ip_local_port_range), where no outgoing connection's local
 *   port can land. A port the kernel hands out for `listen(0)` is in that range, and once released
 *   any client socket of any test may get it as its local port: seen in CI, where nginx then failed
 *   with "bind() to 127.0.0.1:36827 failed (98: Address already in use)";
 * - from a band of its own per vitest worker (VITEST_POOL_ID), so that test files running in
 *   parallel never choose the same port.
 *
 * Each port is checked free by binding it, and all are held until the call returns, so one call
 * never returns a port twice.
 */
export async function freePorts(n: number): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    const { start, size } = band();
    let offset = Math.floor(Math.random() * size);
    for (let tried = 0; ports.length < n && tried < size; tried++, offset = (offset + 1) % size) {
      const port = start + offset;
      const s = await tryListen(port);
      if (s) {
        held.push(s);
        ports.push(port);
      }
    }
    // No band (an unusual ephemeral range) or a full one: ports the kernel chooses.
    while (ports.length < n) {
      const s = (await tryListen(0))!;
      held.push(s);
      ports.push((s.address() as { port: number }).port);
    }
    return ports;
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  }
}

const LOWEST = 10_000;
const BANDS = 16;

function band(): { start: number; size: number } {
  let ephemeralMin = 32_768;
  try {
    ephemeralMin = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralMin;
  } catch {
    // Not Linux: the usual default.
  }
  const size = Math.floor((ephemeralMin - LOWEST) / BANDS);
  if (size < 16) return { start: 0, size: 0 };
  const worker = Number(process.env.VITEST_POOL_ID ?? 0) % BANDS;
  return { start: LOWEST + worker * size, size };
}

function tryListen(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(null));
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}
