// Runs many orch command lines in ONE node process, each through the built CLI exactly as
// bin/run.js runs it (dist/bundle/cli.cjs, oclif's execute, orch's error boundary): what a test
// of many cases needs without paying a node start-up per case. Each run gets its own argv,
// working directory and ORCH_* environment; its stdout, stderr and exit code are captured.
//
// stdin: { runs: [{ args: string[], cwd?: string, env?: Record<string,string> }], watch?: string[] }.
// stdout: one JSON line per run as it starts ({"start": i}) and as it ends
//   ({"i", "code", "stdout", "stderr", "ms", "crash", "changed"}), so that a parent that kills this
//   process (over a memory or time limit) knows which run was going on. `changed`: the files below
//   the `watch` directories that the run created (+path), changed (~path) or removed (-path), a
//   top-level `cache/` of a watched directory left out (the validation cache).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = createRequire(import.meta.url)(`${root}dist/bundle/cli.cjs`);
const dir = pathToFileURL(`${root}bin/run.js`).href;
const { runs, watch = [] } = JSON.parse(readFileSync(0, 'utf8'));

/** sha256 of every file below the watched directories, by path. */
function hashes() {
  const out = {};
  for (const top of watch) {
    const walk = (d) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (d === top && e.name === 'cache') continue;
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) out[join(top, relative(top, p))] = createHash('sha256').update(readFileSync(p)).digest('hex');
      }
    };
    walk(top);
  }
  return out;
}
let before = hashes();
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
  const after = hashes();
  const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((k) => before[k] !== after[k])
    .sort()
    .map((k) => `${!(k in before) ? '+' : !(k in after) ? '-' : '~'}${k}`);
  before = after;
  write.stdout(`${JSON.stringify({ i, code, stdout: out.text, stderr: err.text, ms, crash, changed })}\n`);
}
