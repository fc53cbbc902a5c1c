import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  ftruncateSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';
import { composeOrch } from '../../src/composition-root.js';
import { applyGateway } from '../../src/use-cases/apply/apply-gateway.js';
import { REPO_ROOT, STACK_LINE } from '../helpers/cli.js';
import { runBatch, type Batch } from '../helpers/cli-batch.js';
import { Gateway, sha256 } from '../helpers/gateway.js';
import { BAD_CASES, BASE, GOOD_CASES, MEMBER, PORT, PORT2, STATUS_PORT, type BadCase, type CaseFile } from '../helpers/hostile-cases.js';

/**
 * The hostile-input corpus (test/helpers/hostile-cases.ts) against a gateway a first apply made
 * live on a real nginx.
 *
 * Every bad case runs through the built CLI (`orch apply --auto-approve`, oclif's execute and
 * orch's error boundary, as bin/run.js runs it), all of them in one child process
 * (test/helpers/cli-batch.mjs) killed above 400 MB of resident memory or after 180 s (the peak is
 * over all the cases, so it bounds each of them). Each must exit 1 (5 when nginx -t refuses) with
 * a diagnostic at the expected file:line (and column where given) naming the expected field and
 * code, a hint, no stack trace, escaped and bounded output (no raw control character, no forged
 * line), nothing on stdout, within 20 s; and the managed nginx tree and the state directory,
 * hashed before and after each case, must be unchanged by it.
 *
 * Every valid-but-unusual case must apply through the apply use case (a real nginx -t and
 * reload), pass nginx -t, and answer its probe request; the CORS one also through the built CLI.
 */

const MEMORY_LIMIT_KB = 400 * 1024;
const TIME_LIMIT_MS = 20_000;
/** The whole batch of bad cases through the built CLI (about 280 applies in one process). */
const BATCH_TIME_LIMIT_MS = 180_000;
const CLI = join(REPO_ROOT, 'bin', 'run.js');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  peakKb: number;
  killedFor: 'memory' | 'time' | null;
}

/** Runs the built CLI, watching its resident memory (VmHWM) and its time; kills it above either limit. */
function runWatched(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let peakKb = 0;
  let killedFor: Run['killedFor'] = null;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    if (stdout.length < 4_000_000) stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 4_000_000) stderr += d;
  });
  const watch = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      return; // exited between two looks
    }
    if (peakKb > MEMORY_LIMIT_KB) {
      killedFor = 'memory';
      child.kill('SIGKILL');
    } else if (performance.now() - started > TIME_LIMIT_MS) {
      killedFor = 'time';
      child.kill('SIGKILL');
    }
  }, 20);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(watch);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started, peakKb, killedFor });
    });
  });
}

/**
 * sha256 of every file below `dir`, by path. The state directory's `cache/` (the validation
 * cache, a speed-up keyed by the manifests' contents, see docs/architecture.md) is left out: it
 * may remember a refused validation, which changes nothing orch applies or records.
 */
function treeHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (d === dir && e.name === 'cache' && dir === gwStateDir) continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out[relative(dir, p)] = sha256(readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

let gwStateDir = '';

const DIAGNOSTIC_LINE = /^(.+?):(\d+):(\d+): (error|warning): (.*) \[([a-z0-9.-]+)\]$/;
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

describe.sequential('hostile input: orch apply against a real nginx', () => {
  let gw: Gateway;
  let fill: (text: string) => string;
  let n = 0;

  /** Writes a case's manifests into a fresh workspace: BASE, then the case's files. */
  function writeCase(files: Record<string, CaseFile | null>): string {
    const ws = gw.workspace(join(gw.root, 'cases', String(n++)));
    const manifests = join(ws, 'manifests');
    const all: Record<string, CaseFile | null> = { ...BASE, ...files };
    for (const [rel, file] of Object.entries(all)) {
      const p = join(manifests, rel);
      if (file === null) continue;
      mkdirSync(dirname(p), { recursive: true });
      if (typeof file === 'string') writeFileSync(p, fill(file));
      else if ('bytes' in file) writeFileSync(p, Buffer.from(fill(file.bytes.toString('latin1')), 'latin1'));
      else if ('symlink' in file) symlinkSync(file.symlink, p);
      else if ('fifo' in file) execFileSync('mkfifo', [p]);
      else if ('sparse' in file) {
        const fd = openSync(p, 'w');
        ftruncateSync(fd, file.sparse);
        closeSync(fd);
      } else mkdirSync(p, { recursive: true });
    }
    return ws;
  }

  beforeAll(async () => {
    gw = await Gateway.start({ pools: { hot: 1 }, vhostPorts: 2 });
    gwStateDir = gw.stateDir;
    const values: Record<string, string> = {
      [MEMBER]: gw.membersOf('hot')[0]!,
      [PORT]: String(gw.ports[0]),
      [PORT2]: String(gw.ports[1]),
      [STATUS_PORT]: String(gw.statusPort),
    };
    fill = (text) => text.replace(/@(MEMBER|PORT|PORT2|STATUS)@/g, (m) => values[m] ?? m);
    gw.setManifests(Object.fromEntries(Object.entries(BASE).map(([k, v]) => [k, fill(v)])));
    const first = await gw.orch(['apply', '--auto-approve']);
    expect(first.code, first.stderr).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
  });

  it('has at least 150 bad cases and 20 valid unusual ones, with unique names', () => {
    expect(BAD_CASES.length).toBeGreaterThanOrEqual(150);
    expect(GOOD_CASES.length).toBeGreaterThanOrEqual(20);
    expect(new Set(BAD_CASES.map((c) => c.name)).size).toBe(BAD_CASES.length);
  });

  /** The diagnostic line of a case in printed output (`file` as printed), or undefined. */
  function findDiagnostic(c: BadCase, printed: string, prefix: string): RegExpExecArray | undefined {
    const [, file, line, column] = /^(.*?):(\d+)(?::(\d+))?$/.exec(c.at)!;
    return printed
      .split('\n')
      .map((l) => DIAGNOSTIC_LINE.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .find(
        (m) =>
          m[1] === `${prefix}${file}` &&
          m[2] === line &&
          (column === undefined || m[3] === column) &&
          m[4] === 'error' &&
          (typeof c.code === 'string' ? m[6] === c.code : c.code.test(m[6]!)) &&
          (c.field === undefined || m[5]!.includes(` ${c.field}: `) || m[5]!.startsWith(`${c.field}: `)),
      );
  }

  /** Printed output is escaped and bounded: no raw control character, no forged line, no stack. */
  function expectSafeOutput(out: string): void {
    expect(out).not.toMatch(STACK_LINE);
    expect(out).not.toContain('Internal error');
    expect(out).not.toMatch(RAW_CONTROL);
    expect(out).not.toMatch(/^Manifests are valid/m);
    expect(out.length, 'diagnostics are capped').toBeLessThan(64 * 1024);
    expect(out.split('\n').length).toBeLessThan(130);
  }

  /** `orch apply --auto-approve` in this process: the apply use case on the adapters the CLI composes. */
  async function applyInProcess(ws: string): Promise<unknown> {
    const settings = resolveSettings({
      flags: {},
      env: gw.env(ws),
      configPath: null,
      candidates: [],
      readFile: (p) => (existsSync(p) ? readFileSync(p, 'utf8') : null),
    });
    try {
      await applyGateway(composeOrch(settings), {
        planFile: null,
        dryRun: false,
        overwriteDrift: new Set(),
        maxDelete: settings.maxDelete,
        allowEmpty: false,
        confirm: null,
        emit: () => {},
        command: 'apply',
      });
      return null;
    } catch (e) {
      return e;
    }
  }

  let batch: Batch | null = null;

  it(
    'runs every bad case through the built CLI, in one process watched for memory and time',
    async () => {
      const workspaces = BAD_CASES.map((c) => writeCase(c.files));
      const tree = treeHashes(gw.nginxDir);
      const state = treeHashes(gw.stateDir);
      const orchEnv = (ws: string): Record<string, string> =>
        Object.fromEntries(Object.entries(gw.env(ws)).filter((e): e is [string, string] => e[0].startsWith('ORCH_') && e[1] !== undefined));
      batch = await runBatch(
        workspaces.map((ws) => ({ args: ['apply', '--auto-approve'], cwd: ws, env: orchEnv(ws) })),
        { memoryLimitKb: MEMORY_LIMIT_KB, timeLimitMs: BATCH_TIME_LIMIT_MS },
        [gw.nginxDir, gw.stateDir],
      );
      const during = batch.killedDuring === null ? '-' : BAD_CASES[batch.killedDuring]!.name;
      expect(batch.killedFor, `killed during ${during}: peak ${batch.peakKb} kB`).toBeNull();
      expect(batch.exitCode, batch.stderr).toBe(0);
      console.log(`hostile corpus: ${BAD_CASES.length} bad cases through the built CLI, peak ${Math.round(batch.peakKb / 1024)} MB`);
      // And after all of them, the managed tree and the state are as they were (the content store aside).
      expect(treeHashes(gw.nginxDir)).toEqual(tree);
      const stateAfter = treeHashes(gw.stateDir);
      for (const k of Object.keys(stateAfter)) if (k.startsWith('objects/') && !(k in state)) delete stateAfter[k];
      expect(stateAfter).toEqual(state);
      for (const ws of workspaces) rmSync(ws, { recursive: true, force: true });
    },
    BATCH_TIME_LIMIT_MS + 60_000,
  );

  it.each(BAD_CASES.map((c, i) => [c.name, c, i] as const))('refuses %s', (_, c: BadCase, i: number) => {
    const r = batch?.results[i];
    expect(r, 'not run').toBeDefined();
    const out = `${r!.stdout}${r!.stderr}`;
    expect(r!.crash).toBeNull();
    expect(r!.code, out.slice(0, 4000)).toBe(c.exit ?? 1);
    expect(r!.stdout).toBe('');
    expectSafeOutput(out);
    expect(
      findDiagnostic(c, r!.stderr, 'manifests/'),
      `want ${String(c.code)} at manifests/${c.at}${c.field ? ` (${c.field})` : ''}; got:\n${r!.stderr.slice(0, 3000)}`,
    ).toBeDefined();
    expect(r!.stderr).toContain('hint:');
    expect(r!.ms).toBeLessThan(TIME_LIMIT_MS);
    // Nothing written: no file of the managed tree or the state directory was created, changed or
    // removed by this case (a case nginx -t refuses may add to the content store, state/objects/).
    const objects = `+${join(gw.stateDir, 'objects')}/`;
    expect(r!.changed.filter((p) => !(c.contentStoreMayGrow && p.startsWith(objects)))).toEqual([]);
  });

  it.each(GOOD_CASES.map((c) => [c.name, c] as const))('applies %s', async (_, c) => {
    const ws = writeCase(c.files);
    const error = await applyInProcess(ws);
    expect(error).toBeNull();
    const t = await gw.nginxT();
    expect(t.ok, t.output).toBe(true);
    if (c.probe) {
      const answer = await gw.request(gw.ports[0]!, c.probe.host, c.probe.path, c.probe.method ?? 'GET');
      expect(answer?.status, JSON.stringify(answer)).toBe(c.probe.status);
    }
    rmSync(ws, { recursive: true, force: true });
  });

  it('applies the CORS forms through the built CLI too', async () => {
    const ws = writeCase(GOOD_CASES[1]!.files);
    const r = await runWatched(['apply', '--auto-approve'], ws, gw.env(ws));
    expect(r.killedFor).toBeNull();
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    rmSync(ws, { recursive: true, force: true });
  }, 30_000);
});
