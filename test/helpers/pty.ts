import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';

const CLI = join(REPO_ROOT, 'bin', 'run.js');
const PTY = join(REPO_ROOT, 'test', 'helpers', 'pty-run.py');

/** Ctrl-C and Ctrl-D as pty-run.py writes them. */
export const CTRL_KEYS = [
  ['Ctrl-C', '\\x03'],
  ['Ctrl-D', '\\x04'],
] as const;

export interface PtyResult {
  code: number | null;
  signal: number | null;
  output: string;
  sent: boolean;
  timeout: boolean;
}

/**
 * Runs the built CLI on a pseudo-terminal (test/helpers/pty-run.py): once its output shows
 * `waitFor`, types `send` (Python escapes: "\\x03" is Ctrl-C, "yes\\r" an answer). Killed after 60 s.
 */
export function onTerminal(args: string[], waitFor: string, send: string, env: NodeJS.ProcessEnv, cwd: string): Promise<PtyResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'python3',
      [PTY, waitFor, send, '60', '--', process.execPath, CLI, ...args],
      { env, cwd, maxBuffer: 16 << 20 },
      (err, stdout) => {
        if (err) return reject(err);
        resolve(JSON.parse(stdout) as PtyResult);
      },
    );
  });
}
