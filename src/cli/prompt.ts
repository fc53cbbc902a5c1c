import { createInterface } from 'node:readline';
import { CancelledError } from '../domain/errors.js';

/**
 * Asks on the terminal; true only when the operator types exactly `expected`. Ctrl-C (SIGINT at
 * the prompt) and Ctrl-D (end of input) cancel: a CancelledError, exit 130, "nothing changed" —
 * the caller asks before it changes anything, and its locks are released on the way out.
 */
export function confirmTyped(question: string, expected: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: Boolean(process.stdin.isTTY) });
    let done = false;
    const finish = (settle: () => void): void => {
      if (done) return;
      done = true;
      rl.close();
      settle();
    };
    const cancel = (): void =>
      finish(() => {
        process.stdout.write('\n');
        reject(new CancelledError('Cancelled; nothing was changed.'));
      });
    rl.on('SIGINT', cancel);
    rl.on('close', cancel);
    rl.question(question, (answer) => finish(() => resolve(answer.trim() === expected)));
  });
}
