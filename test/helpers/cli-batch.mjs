// Runs many orch command lines in ONE node process, each through the built CLI exactly as
// bin/run.js runs it (dist/bundle/cli.cjs, oclif's execute, orch's error boundary): what a test
// of many cases needs without paying a node start-up per case. Each run gets its own argv,
// working directory and ORCH_* environment; its stdout, stderr and exit code are captured.
//
// stdin: a JSON array of { args: string[], cwd?: string, env?: Record<string,string> }.
// stdout: one JSON line per run as it starts ({"start": i}) and as it ends
//   ({"i", "code", "stdout", "stderr", "ms", "crash"}), so that a parent that kills this process
//   (over a memory or time limit) knows which run was going on.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = createRequire(import.meta.url)(`${root}dist/bundle/cli.cjs`);
const dir = pathToFileURL(`${root}bin/run.js`).href;
const runs = JSON.parse(readFileSync(0, 'utf8'));
const write = { stdout: process.stdout.write.bind(process.stdout), stderr: process.stderr.write.bind(process.stderr) };
const baseEnv = { ...process.env };
const baseCwd = process.cwd();

const capture = (sink) => (chunk, encoding, callback) => {
  sink.text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  const cb = typeof encoding === 'function' ? encoding : callback;
  if (typeof cb === 'function') cb();
  return true;
};

for (const [i, run] of runs.entries()) {
  write.stdout(`${JSON.stringify({ start: i })}\n`);
  for (const k of Object.keys(process.env)) if (!(k in baseEnv)) delete process.env[k];
  Object.assign(process.env, baseEnv, run.env ?? {});
  process.chdir(run.cwd ?? baseCwd);
  const out = { text: '' };
  const err = { text: '' };
  process.stdout.write = capture(out);
  process.stderr.write = capture(err);
  process.exitCode = undefined;
  let crash = null;
  const started = performance.now();
  try {
    await cli.execute({ dir, args: run.args });
  } catch (e) {
    crash = String(e?.stack ?? e);
  }
  const ms = performance.now() - started;
  process.stdout.write = write.stdout;
  process.stderr.write = write.stderr;
  const code = process.exitCode ?? 0;
  process.exitCode = undefined;
  write.stdout(`${JSON.stringify({ i, code, stdout: out.text, stderr: err.text, ms, crash })}\n`);
}
