import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, STACK_LINE } from '../helpers/cli.js';

/** A block of `n` consecutive free loopback ports (probed by binding each). */
async function freeBlock(n: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((ok) => {
      const s = createServer();
      s.once('error', () => ok(false));
      s.listen(port, '127.0.0.1', () => s.close(() => ok(true)));
    });
  for (let base = 30000 + Math.floor(Math.random() * 20000); ; base += 97) {
    let all = true;
    for (let i = 0; i < n && all; i++) all = await free(base + i);
    if (all) return base;
  }
}

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

/**
 * The quick start as a new user runs it: `orch sandbox up` in a directory of their own, the hints
 * it prints run as printed, `orch sandbox down`. The example's ports are moved to free ones (the
 * machine may run a sandbox of its own); everything else is the shipped example.
 */
describe('orch sandbox up / plan / down (the quick start)', () => {
  const work = mkdtempSync(join(tmpdir(), 'orch-sandbox-e2e-'));
  afterAll(async () => {
    await runCli(['sandbox', 'down'], { cwd: work });
    rmSync(work, { recursive: true, force: true });
  });

  it('uses ./manifests when there is one (nothing copied over it), prints hints that work as printed, never edits the shipped example', async () => {
    const example = join(REPO_ROOT, 'examples', 'sandbox');
    const before = files(example).map((f) => [f, readFileSync(join(example, f), 'utf8')]);
    // A working directory with its own ./manifests: used as is, nothing copied over it.
    const base = await freeBlock(10);
    cpSync(example, join(work, 'manifests'), { recursive: true });
    const ports: Record<string, number> = { 18080: base, 18081: base + 1, 19101: base + 2, 19102: base + 3, 19111: base + 4 };
    Object.assign(ports, { 19121: base + 5, 19122: base + 6 });
    for (const f of files(join(work, 'manifests'))) {
      const p = join(work, 'manifests', f);
      writeFileSync(
        p,
        readFileSync(p, 'utf8').replace(/\b(18080|18081|19101|19102|19111|19121|19122)\b/g, (m) => String(ports[m])),
      );
    }
    const env = { ORCH_STATUS_LISTEN: `127.0.0.1:${base + 7}` };
    const up = await runCli(['sandbox', 'up'], { cwd: work, env });
    expect(up.stderr).not.toMatch(STACK_LINE);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).not.toContain('Copied the example');
    expect(up.stdout).toContain(`curl -s -H 'Host: s3.localhost' http://127.0.0.1:${base}/`);
    expect(up.stdout).toMatch(/\n {4}200 /);
    // The hints, as printed: `orch plan`, `orch apply`, `orch sandbox down` (orch on PATH).
    const hints = /Next: edit a manifest under manifests, then\n {2}orch plan\n {2}orch apply\nStop with: orch sandbox down/.exec(
      up.stdout,
    );
    expect(hints, up.stdout).not.toBeNull();
    const plan = await runCli(['plan', '--detailed-exitcode'], { cwd: work, env });
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    const status = await runCli(['status'], { cwd: work, env });
    expect(status.code, status.stdout + status.stderr).toBe(0);
    const down = await runCli(['sandbox', 'down'], { cwd: work, env });
    expect(down.code, down.stdout + down.stderr).toBe(0);
    expect(files(example).map((f) => [f, readFileSync(join(example, f), 'utf8')])).toEqual(before);
    expect(existsSync(join(REPO_ROOT, 'manifests'))).toBe(false);
  });
});
