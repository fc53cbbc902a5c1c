import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import type { CliResult, Gateway } from './gateway.js';
import { freePorts } from './ports.js';

/**
 * `orch watch` (the BUILT CLI) as a child process of the test, against a Gateway: its JSON log
 * lines as they arrive, its health listener, and a graceful or forced stop.
 */
export interface LogLine {
  time: string;
  level: string;
  event: string;
  [field: string]: unknown;
}

export interface HttpAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

export class WatchProcess {
  readonly logs: LogLine[] = [];
  /** Lines of standard output that are not JSON (must stay empty: every log line is JSON). */
  readonly strayLines: string[] = [];
  private partial = '';
  private exited: CliResult | null = null;

  private constructor(
    readonly child: ChildProcess,
    readonly done: Promise<CliResult>,
    readonly port: number,
  ) {
    child.stdout!.on('data', (d: Buffer | string) => {
      const parts = (this.partial + d.toString()).split('\n');
      this.partial = parts.pop() ?? '';
      for (const line of parts) {
        if (line.trim() === '') continue;
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.strayLines.push(line);
        }
      }
    });
    void done.then((r) => (this.exited = r));
  }

  /** Starts `orch watch ARGS` with `--listen 127.0.0.1:<free port>` and waits until /healthz answers. */
  static async start(gw: Gateway, args: string[] = [], env: Record<string, string> = {}): Promise<WatchProcess> {
    const [port] = await freePorts(1);
    const { child, done } = gw.spawnOrch(['watch', '--listen', `127.0.0.1:${port}`, '--log-level', 'debug', ...args], {
      env: { ORCH_DRIFT_INTERVAL: '0', ORCH_BUCKET_SYNC_INTERVAL: '0', ORCH_BACKUP_INTERVAL: '0', ...env },
      timeoutMs: 300_000,
    });
    const w = new WatchProcess(child, done, port!);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (w.exited) throw new Error(`orch watch exited at start (${w.exited.code}):\n${w.exited.stderr}\n${w.exited.stdout}`);
      const a = await w.get('/healthz');
      if (a?.status === 200) return w;
      if (Date.now() > deadline) throw new Error(`orch watch did not answer /healthz within 30 s:\n${w.logText()}`);
      await sleep(50);
    }
  }

  get(path: string, method = 'GET'): Promise<HttpAnswer | null> {
    return new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: this.port, path, method, agent: false, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        res.on('error', () => resolve(null));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(null));
      req.end();
    });
  }

  async status(): Promise<WatchStatusDoc> {
    const a = await this.get('/status');
    if (!a || a.status !== 200) throw new Error(`/status answered ${a?.status ?? 'nothing'}`);
    return JSON.parse(a.body) as WatchStatusDoc;
  }

  async metrics(): Promise<string> {
    const a = await this.get('/metrics');
    if (!a || a.status !== 200) throw new Error(`/metrics answered ${a?.status ?? 'nothing'}`);
    return a.body;
  }

  /** Polls /status until `pred` holds; returns that status. */
  async waitStatus(pred: (s: WatchStatusDoc) => boolean, timeoutMs = 20_000, what = 'a status'): Promise<WatchStatusDoc> {
    const deadline = Date.now() + timeoutMs;
    let last: WatchStatusDoc | null = null;
    for (;;) {
      last = await this.status();
      if (pred(last)) return last;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; last /status:\n${JSON.stringify(last, null, 2)}\nlogs:\n${this.logText()}`);
      await sleep(50);
    }
  }

  /** Waits until the daemon is idle after at least `reconciles` reconciles: nothing running, nothing pending. */
  waitIdle(reconciles: number, timeoutMs = 20_000): Promise<WatchStatusDoc> {
    return this.waitStatus(
      (s) => s.reconciles >= reconciles && s.running === null && s.pending_triggers.length === 0,
      timeoutMs,
      `idle after ${reconciles} reconciles`,
    );
  }

  /** Waits for a log line matching `pred` (among all lines so far, or only those after `from`). */
  async waitLog(pred: (l: LogLine) => boolean, timeoutMs = 20_000, from = 0): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.slice(from).find(pred);
      if (hit) return hit;
      if (this.exited)
        throw new Error(`orch watch exited (${this.exited.code}) before the expected log line:\n${this.logText()}\n${this.exited.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for a log line:\n${this.logText()}`);
      await sleep(20);
    }
  }

  logText(): string {
    return this.logs.map((l) => JSON.stringify(l)).join('\n');
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** SIGTERM, and the process result. */
  async stop(): Promise<CliResult> {
    if (!this.exited) this.child.kill('SIGTERM');
    return this.done;
  }
}

/** The /status document (schemas/watch-status.schema.json), as far as tests read it. */
export interface WatchStatusDoc {
  format_version: string;
  mode: string;
  drift_policy: string;
  ready: boolean;
  ready_reason: string | null;
  running: string | null;
  /** orch suspend in force (since 1.1), or null. */
  suspended: null | { since: string; by: string; reason: string | null };
  reconciles: number;
  last_reconcile: null | {
    triggers: string[];
    outcome: string;
    generation: number | null;
    changes: null | { add: number; change: number; destroy: number; files: number };
    error: null | {
      code: string;
      message: string;
      hint: string | null;
      diagnostics: Array<{
        severity: string;
        code: string;
        message: string;
        file: string | null;
        line: number | null;
        column: number | null;
        kind: string | null;
        name: string | null;
        field: string | null;
      }>;
    };
  };
  generation: number | null;
  last_successful_apply: null | { generation: number; at: string; command: string };
  drift: { files: Array<{ path: string; kind: string }>; checked_at: string | null };
  buckets: unknown;
  migrations: unknown[];
  last_error: null | { source: string; code: string; message: string; at: string; diagnostics: unknown[] };
  pending_triggers: string[];
  consecutive_failures: number;
  next_retry_at: string | null;
  resources: Array<{
    kind: string;
    name: string;
    conditions: Array<{ type: string; status: string; reason: string; message: string; last_transition_time: string | null }>;
  }>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
