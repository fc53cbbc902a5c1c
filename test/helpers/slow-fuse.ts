import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';

/**
 * Mounts test/helpers/slow-fuse.py at `dir`: a real FUSE file system (root and /dev/fuse needed,
 * as on this project's machines and in CI) with one regular file, `secret`, whose reads are never
 * answered, the way a hung network or FUSE mount behaves; or, with `files`, one file per entry:
 * `name: null` never answers a read, `name: PATH` answers with the bytes of the local file PATH.
 * `stop()` closes the connection (a read still waiting then fails) and detaches the mount.
 */
export async function mountSlowFuse(
  dir: string,
  files: Record<string, string | null> = { secret: null },
): Promise<{ file: string; stop: () => Promise<void> }> {
  mkdirSync(dir, { recursive: true });
  const specs = Object.entries(files).map(([name, content]) => (content === null ? name : `${name}=${content}`));
  const child = spawn('python3', [join(REPO_ROOT, 'test', 'helpers', 'slow-fuse.py'), dir, ...specs], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`slow-fuse.py did not mount within 20 s: ${output}`)), 20_000);
    const look = (d: Buffer): void => {
      output += d.toString();
      if (output.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`slow-fuse.py exited (${code}) before mounting: ${output}`));
    });
  });
  return {
    file: join(dir, Object.keys(files)[0] ?? 'secret'),
    stop: async () => {
      child.stdin.end();
      await closed;
    },
  };
}
