import { createInterface } from 'node:readline/promises';

/** Asks on the terminal; true only when the operator types exactly `expected`. */
export async function confirmTyped(question: string, expected: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(question);
    return answer.trim() === expected;
  } finally {
    rl.close();
  }
}
