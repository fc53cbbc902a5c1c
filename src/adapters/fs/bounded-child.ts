import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';

/**
 * Runs a child process synchronously but bounded in time and in output, for reads from a network
 * or FUSE file system (secret files, manifest trees) that may never answer. The child is driven
 * from a helper thread while the caller waits on an atomic: past `timeoutMs` the child is killed
 * and abandoned. A read stuck in the kernel cannot be killed (a FUSE request already sent is
 * waited for), so the child is left behind, never waited for: orch exits on time.
 *
 * runBoundedRead adds a memory per thing read (a secret file, a manifest tree): while a child
 * abandoned for it has not ended, it is not started again, so a long-running process (`orch
 * watch`) asking again and again neither waits the deadline each time nor piles up stuck children.
 */

export type ChildAnswer =
  /** The child did not end in time; `stderr`: the tail of what it printed there so far. */
  | { status: 'timeout'; stderr: string }
  /** The child could not be started. */
  | { status: 'spawn'; detail: string }
  /** `stdout`: at most `maxBytes` + 1 bytes of it (more means the child printed too much); `stderr`: its tail. */
  | { status: 'exit'; code: number | null; stdout: Buffer; stderr: string };

/**
 * runBoundedRead's answers: a child's, or `hanging`: none started, because the child abandoned
 * for the same key has not ended yet (`stderr`: the tail of what that one printed).
 */
export type ReadAnswer = ChildAnswer | { status: 'hanging'; stderr: string };

/** Characters of the child's standard error kept (its end). */
const STDERR_TAIL = 4000;

/**
 * The helper thread: spawns the child for each request and answers with what it printed, or
 * "timeout" (then the child is killed and left behind, and "ended" is posted, without waking the
 * caller, once it is gone). The thread itself never waits in the kernel, so it ends with the process.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const { port, flag } = workerData;
const done = (id, answer) => { port.postMessage({ id, ...answer }); Atomics.store(flag, 0, id); Atomics.notify(flag, 0); };
port.on('message', ({ id, command, args, timeoutMs, max }) => {
  let child;
  try {
    child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    return done(id, { status: 'spawn', detail: String(e && e.message) });
  }
  const chunks = []; let length = 0; let stderr = ''; let settled = false; let abandoned = false;
  child.on('exit', () => { if (abandoned) port.postMessage({ id, status: 'ended' }); });
  const timer = setTimeout(() => {
    if (settled) return; settled = true; abandoned = true;
    try { child.kill('SIGKILL'); } catch {}
    child.stdout.destroy(); child.stderr.destroy(); child.unref();
    done(id, { status: 'timeout', stderr });
  }, timeoutMs);
  child.stdout.on('data', (d) => { if (length <= max) { chunks.push(d); length += d.length; } });
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr = (stderr + d).slice(-${STDERR_TAIL}); });
  child.on('error', (e) => { if (settled) return; settled = true; clearTimeout(timer); done(id, { status: 'spawn', detail: String(e && e.message) }); });
  child.on('close', (code) => {
    if (settled) return; settled = true; clearTimeout(timer);
    const stdout = Buffer.concat(chunks);
    done(id, { status: 'exit', code, stdout, stderr });
    stdout.fill(0);
  });
});
`;

let helper: { port: MessagePort; flag: Int32Array; next: number } | null = null;

function startHelper(): { port: MessagePort; flag: Int32Array; next: number } {
  if (helper) return helper;
  const { port1, port2 } = new MessageChannel();
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { port: port2, flag }, transferList: [port2] });
  worker.unref();
  port1.unref();
  helper = { port: port1, flag, next: 1 };
  return helper;
}

type Received = { id: number } & (
  | { status: 'timeout'; stderr: string }
  | { status: 'ended' }
  | { status: 'spawn'; detail: string }
  | { status: 'exit'; code: number | null; stdout: Uint8Array; stderr: string }
);

/**
 * Runs `command args`, its standard input closed, and waits for it at most `timeoutMs`. Output
 * past `maxBytes` + 1 bytes is dropped (the caller sees that it was too much). The caller should
 * zero `stdout` once done with it when it holds a secret. `id`: the request's, which later notices
 * about its child carry.
 */
function request(command: string, args: readonly string[], timeoutMs: number, maxBytes: number): { id: number; answer: ChildAnswer } {
  const h = startHelper();
  const id = h.next++;
  h.port.postMessage({ id, command, args, timeoutMs, max: maxBytes });
  // The thread answers within timeoutMs of receiving the request; its own start may take a while
  // on a loaded machine, hence the margin.
  const deadline = Date.now() + timeoutMs + 10_000;
  for (;;) {
    const seen = Atomics.load(h.flag, 0);
    const received = receiveMessageOnPort(h.port)?.message as Received | undefined;
    if (received) heard(received);
    if (received?.id === id && received.status !== 'ended') {
      if (received.status !== 'exit') return { id, answer: received };
      const out = received.stdout; // a view, not a copy: a manifest tree can be large, a secret is zeroed by the caller
      return {
        id,
        answer: {
          status: 'exit',
          code: received.code,
          stdout: Buffer.from(out.buffer, out.byteOffset, out.byteLength),
          stderr: received.stderr,
        },
      };
    }
    if (received) continue; // drain the port before waiting
    const left = deadline - Date.now();
    if (left <= 0) return { id, answer: { status: 'timeout', stderr: '' } };
    Atomics.wait(h.flag, 0, seen, Math.min(left, 50));
  }
}

/** Children abandoned (their request id) by key, with the tail of what they printed; removed once they end. */
const abandoned = new Map<string, { id: number; stderr: string }>();

/** Forgets an abandoned child once the helper says it ended (or, for one the caller stopped waiting for, answered). */
function heard(message: Received): void {
  if (message.status === 'timeout') return;
  for (const [key, child] of abandoned) if (child.id === message.id) abandoned.delete(key);
}

/**
 * Runs `command args` for one thing read, named by `key` (see request): a child that did not end in time is
 * remembered until it has ended, and while it has not, `hanging` is answered at once instead of
 * starting another (a FUSE read that never answers cannot be killed: a second child would be
 * stuck beside the first). Once it has ended (the mount answered, or its connection closed), the
 * next call starts a child again.
 */
export function runBoundedRead(key: string, command: string, args: readonly string[], timeoutMs: number, maxBytes: number): ReadAnswer {
  if (helper) for (let m = receiveMessageOnPort(helper.port); m; m = receiveMessageOnPort(helper.port)) heard(m.message as Received);
  const earlier = abandoned.get(key);
  if (earlier) return { status: 'hanging', stderr: earlier.stderr };
  const { id, answer } = request(command, args, timeoutMs, maxBytes);
  if (answer.status === 'timeout') abandoned.set(key, { id, stderr: answer.stderr });
  return answer;
}
