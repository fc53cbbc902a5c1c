import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';

export interface BatchRun {
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
}

export interface BatchResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  /** An exception that escaped oclif's execute (orch's error boundary should make this impossible). */
  crash: string | null;
  /** Files below the watched directories the run created (`+path`), changed (`~path`) or removed (`-path`). */
  changed: string[];
}

export interface Batch {
  /** By run index; missing for the runs not reached (the process was killed or died). */
  results: Array<BatchResult | undefined>;
  /** Peak resident memory of the process (VmHWM), in kB. */
  peakKb: number;
  killedFor: 'memory' | 'time' | null;
  /** The run going on when the process was killed. */
  killedDuring: number | null;
  exitCode: number | null;
  stderr: string;
}

/**
 * Runs `runs` through the built CLI in one node process (test/helpers/cli-batch.mjs), with a clean
 * ORCH_* environment plus each run's own, watching the process's resident memory (VmHWM) and its
 * time: above `memoryLimitKb`, or after `timeLimitMs`, it is killed, and the run going on then is
 * reported. Every run of the batch is thereby bounded by the same limits.
 */
export function runBatch(
  runs: BatchRun[],
  limits: { memoryLimitKb: number; timeLimitMs: number },
  /** Directories whose files are hashed before and after each run (see BatchResult.changed). */
  watchDirs: string[] = [],
): Promise<Batch> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (k.startsWith('ORCH_') || k === 'FORCE_COLOR') delete env[k];
  const started = performance.now();
  const child = spawn(process.execPath, [join(REPO_ROOT, 'test', 'helpers', 'cli-batch.mjs')], {
    cwd: REPO_ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const batch: Batch = { results: [], peakKb: 0, killedFor: null, killedDuring: null, exitCode: null, stderr: '' };
  let current: number | null = null;
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    pending += d;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const msg = JSON.parse(line) as { start: number } | (BatchResult & { i: number });
      if ('start' in msg) current = msg.start;
      else {
        const { i, ...result } = msg;
        batch.results[i] = result;
        current = null;
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (batch.stderr.length < 100_000) batch.stderr += d;
  });
  const watch = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) batch.peakKb = Math.max(batch.peakKb, Number(m[1]));
    } catch {
      return; // exited between two looks
    }
    const over = batch.peakKb > limits.memoryLimitKb ? 'memory' : performance.now() - started > limits.timeLimitMs ? 'time' : null;
    if (over && batch.killedFor === null) {
      batch.killedFor = over;
      batch.killedDuring = current;
      child.kill('SIGKILL');
    }
  }, 20);
  child.stdin.end(JSON.stringify({ runs, watch: watchDirs }));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(watch);
      batch.exitCode = code;
      resolve(batch);
    });
  });
}
