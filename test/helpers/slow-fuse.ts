import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';

/**
 * Mounts test/helpers/slow-fuse.py at `dir`: a real FUSE file system (root and /dev/fuse needed,
 * as on this project's machines) with one regular file, `secret`, whose reads are never answered,
 * the way a hung network or FUSE mount behaves. `stop()` closes the connection (a read still
 * waiting then fails) and detaches the mount.
 */
export async function mountSlowFuse(dir: string): Promise<{ file: string; stop: () => Promise<void> }> {
  mkdirSync(dir, { recursive: true });
  const child = spawn('python3', [join(REPO_ROOT, 'test', 'helpers', 'slow-fuse.py'), dir], { stdio: ['pipe', 'pipe', 'pipe'] });
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
    file: join(dir, 'secret'),
    stop: async () => {
      child.stdin.end();
      await closed;
    },
  };
}
