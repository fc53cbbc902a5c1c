import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runProcess, STACK_LINE } from '../helpers/cli.js';
import { docs, Gateway, oneHostManifests, poolYaml } from '../helpers/gateway.js';
import { CTRL_KEYS, onTerminal } from '../helpers/pty.js';
import { mountSlowFuse } from '../helpers/slow-fuse.js';
import { readManifestTreeInChild } from '../../src/adapters/fs/read-manifest-sources.js';
import { UserError } from '../../src/domain/errors.js';

/**
 * The CLI as an operator at a terminal meets it, against a real nginx: Ctrl-C and Ctrl-D at the
 * confirmation prompts of apply and rollback (on a pseudo-terminal, test/helpers/pty-run.py),
 * piped standard input to every command with an optional argument, and hints run exactly as
 * printed.
 */

const CLI = join(REPO_ROOT, 'bin', 'run.js');
const PROMPT = "Only 'yes' will be accepted";

function withInput(
  args: string[],
  input: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runProcess(process.execPath, [CLI, ...args], { env, cwd, input });
}

/** A hint's command as printed ('orch ...' or `orch ...`), split into words (orch's hints quote no word with spaces). */
function hintCommand(text: string, pattern: RegExp): string[] {
  const m = pattern.exec(text);
  if (!m?.[1]) throw new Error(`no hint matching ${String(pattern)} in:\n${text}`);
  const words = m[1].trim().split(/\s+/);
  expect(words[0]).toBe('orch');
  return words.slice(1);
}

describe.sequential('a safe CLI at a terminal', () => {
  let gw: Gateway;
  let port: number;
  const manifests = (header: string): Record<string, string> => oneHostManifests(gw, port, header);
  const generations = (): number => gw.readState().generations.length;

  beforeAll(async () => {
    gw = await Gateway.start({ pools: { hot: 1 }, vhostPorts: 1 });
    port = gw.ports[0]!;
    gw.setManifests(manifests('one'));
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
  });

  for (const [key, send] of CTRL_KEYS) {
    it(`${key} at the apply prompt: exit 130, cancelled, nothing changed`, async () => {
      const before = gw.snapshot();
      const r = await onTerminal(['apply'], PROMPT, send, gw.env(), gw.work);
      expect(r.sent, r.output).toBe(true);
      expect(r.code, r.output).toBe(130);
      expect(r.output).toContain('Cancelled; nothing was changed.');
      expect(r.output).not.toMatch(STACK_LINE);
      expect(r.output).not.toContain('Internal error');
      expect(gw.snapshot()).toEqual(before);
    });
  }

  it('typing yes at the apply prompt applies', async () => {
    const r = await onTerminal(['apply'], PROMPT, 'yes\\r', gw.env(), gw.work);
    expect(r.code, r.output).toBe(0);
    expect(generations()).toBe(1);
    gw.setManifests(manifests('two'));
    const second = await gw.orch(['apply', '--auto-approve']);
    expect(second.code, second.stderr).toBe(0);
    expect(generations()).toBe(2);
  });

  for (const [key, send] of CTRL_KEYS) {
    it(`${key} at the rollback prompt: exit 130, cancelled, nothing changed`, async () => {
      const before = gw.snapshot();
      const r = await onTerminal(['rollback'], PROMPT, send, gw.env(), gw.work);
      expect(r.sent, r.output).toBe(true);
      expect(r.code, r.output).toBe(130);
      expect(r.output).toContain('Cancelled; nothing was changed.');
      expect(r.output).not.toMatch(STACK_LINE);
      expect(gw.snapshot()).toEqual(before);
      expect(generations()).toBe(2);
    });
  }

  it('piped standard input never becomes an argument: apply', async () => {
    const r = await withInput(['apply'], 'yes\n', gw.env(), gw.work);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Refusing to apply without confirmation');
    expect(r.stderr).not.toContain('yes');
  });

  it('piped standard input never becomes an argument: node-config', async () => {
    const plain = await withInput(['node-config', 'hot'], '', gw.env(), gw.work);
    const piped = await withInput(['node-config', 'hot'], '0\n', gw.env(), gw.work);
    expect(piped.code).toBe(plain.code);
    expect(piped.stdout).toBe(plain.stdout);
    expect(piped.stderr).toBe(plain.stderr);
  });

  it('piped standard input never becomes an argument: help', async () => {
    const plain = await withInput(['help'], '', gw.env(), gw.work);
    const piped = await withInput(['help'], 'apply\n', gw.env(), gw.work);
    expect(plain.code, plain.stderr).toBe(0);
    expect(piped.code).toBe(0);
    expect(piped.stdout).toBe(plain.stdout);
    expect(piped.stdout).not.toContain('PLANFILE');
  });

  it('piped standard input never becomes an argument: rollback', async () => {
    const r = await withInput(['rollback', '--auto-approve'], '12\n', gw.env(), gw.work);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Restored generation 1 as generation 3');
  });

  it("plan --out's hint, run as printed with the command line's settings flags, applies the plan", async () => {
    // Settings only on the command line: a hint that dropped them would act on other directories.
    const env = gw.env();
    for (const k of ['ORCH_MANIFESTS', 'ORCH_NGINX_DIR', 'ORCH_STATE_DIR']) delete env[k];
    const flags = ['-m', gw.manifestsDir, '--nginx-dir', gw.nginxDir, '--state-dir', gw.stateDir];
    gw.setManifests(manifests('three'));
    const out = join(gw.root, 'p.plan');
    const plan = await withInput(['plan', '--no-refresh', '--out', out, ...flags], '', env, gw.work);
    expect(plan.code, plan.stderr).toBe(0);
    const args = hintCommand(plan.stdout, /Apply exactly it with: (orch .*)$/m);
    const r = await withInput(args, '', env, gw.work);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(gw.readManaged('vhosts/s3.conf')).toContain('X-Test three');
  });

  it('the drift refusal hint, run as printed at a terminal, applies over the edit', async () => {
    gw.writeManaged('vhosts/s3.conf', `${gw.readManaged('vhosts/s3.conf')}# hand edit\n`);
    gw.setManifests(manifests('four'));
    const refused = await gw.orch(['apply', '--auto-approve']);
    expect(refused.code).toBe(1);
    const args = hintCommand(refused.stderr, /'(orch apply --overwrite-drift-path [^']*)'/);
    const r = await onTerminal(args, PROMPT, 'yes\\r', gw.env(), gw.work);
    expect(r.code, r.output).toBe(0);
    expect(gw.readManaged('vhosts/s3.conf')).toContain('X-Test four');
  });

  it("rebuild-db's own hint (--dry-run) works when pasted", async () => {
    const env = gw.env();
    delete env['ORCH_STATE_DIR'];
    const flags = ['--state-dir', gw.stateDir];
    const refused = await withInput(['rebuild-db', ...flags], '', env, gw.work);
    expect(refused.code).toBe(1);
    const args = hintCommand(refused.stderr, /'(orch rebuild-db --dry-run[^']*)'/);
    expect(args).toContain('--state-dir');
    const r = await withInput(args, '', env, gw.work);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('Nothing was written (--dry-run).');
  });

  it('an unreadable manifest (EACCES) is a user error with its position', async () => {
    const dir = join(gw.root, 'unreadable');
    gw.workspace(dir);
    writeFileSync(join(dir, 'manifests', 'pools.yaml'), docs(poolYaml('hot', gw.membersOf('hot'), 'http')));
    writeFileSync(join(dir, 'manifests', 'secret.yaml'), 'kind: Pool\n');
    chmodSync(join(dir, 'manifests', 'secret.yaml'), 0o000);
    chmodSync(gw.root, 0o755);
    // root reads any file: the CLI then runs as nobody, for whom the file is unreadable.
    const asNobody = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
    if (asNobody.length > 0) {
      // nobody must reach the built CLI: every directory above the checkout traversable (.ci/run sees to it).
      const reach = spawnSync('setpriv', [...asNobody.slice(1), 'test', '-r', CLI]);
      expect(reach.status, `nobody cannot read ${CLI}: make the directories above the checkout traversable (chmod o+x)`).toBe(0);
    }
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      execFile(
        asNobody[0] ?? process.execPath,
        [...asNobody.slice(1), ...(asNobody.length > 0 ? [process.execPath] : []), CLI, 'validate', '-m', 'manifests'],
        { cwd: dir, env: { ...gw.env(dir), HOME: dir } },
        (err, _stdout, stderr) => {
          if (err && typeof err.code !== 'number') return reject(err);
          resolve({ code: err ? (err.code as number) : 0, stderr });
        },
      );
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('manifests/secret.yaml:1:1: error: cannot be read: permission denied [manifest.unreadable]');
    expect(r.stderr).toContain('hint: Give the user running orch read access (chmod a+r manifests/secret.yaml, or run orch as the owner).');
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stderr).not.toContain('Internal error');
  });

  /** sha256 of the state directory's files (the validation cache left out), created by the first apply above. */
  const stateHashes = (): Record<string, string> =>
    Object.fromEntries(
      readdirSync(gw.stateDir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && !join(e.parentPath, e.name).startsWith(join(gw.stateDir, 'cache')))
        .map((e) => [
          join(e.parentPath, e.name),
          createHash('sha256')
            .update(readFileSync(join(e.parentPath, e.name)))
            .digest('hex'),
        ]),
    );

  it('a pool credential that is a FIFO, /dev/zero or a file on a FUSE mount that never answers: refused with its file and field, nothing written', async () => {
    const dir = join(gw.root, 'secrets');
    gw.workspace(dir);
    const fifo = join(dir, 'key.fifo');
    execFileSync('mkfifo', [fifo]); // nobody ever writes to it
    const fuse = await mountSlowFuse(join(dir, 'fuse'));
    try {
      const nanio = (name: string, access: string, secret: string): string =>
        `apiVersion: orch/v1\nkind: Pool\nmetadata:\n  name: ${name}\nspec:\n  type: nanio\n  members:\n    - address: 127.0.0.1:9\n  credentials:\n    accessKeyId: { file: ${access} }\n    secretAccessKey: { file: ${secret} }\n`;
      // Pool documents of 11 lines: accessKeyId on line 10 of each, secretAccessKey on line 11.
      writeFileSync(join(dir, 'manifests', 'pools.yaml'), docs(nanio('fifo', fifo, '/dev/zero'), nanio('fuse', fuse.file, fuse.file)));
      const tree = gw.snapshot();
      const state = stateHashes();
      const started = performance.now();
      const r = await withInput(['apply', '--auto-approve'], '', gw.env(dir), dir);
      const ms = performance.now() - started;
      // The read of the FUSE file times out once (5 s); the second reference to it is refused at
      // once, its reader still stuck (not a second child stuck beside it).
      expect(ms, r.stderr).toBeLessThan(15_000);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).not.toMatch(STACK_LINE);
      expect(r.stderr).not.toContain('Internal error');
      const lines = r.stderr.split('\n');
      const expectLine = (at: string, field: string, text: string): void =>
        expect(
          lines.find((l) => l.startsWith(`manifests/pools.yaml:${at}: error: `)),
          r.stderr,
        ).toMatch(new RegExp(`spec\\.credentials\\.${field}: .*${text.replace(/[.()]/g, '\\$&')}.*\\[credentials\\.unreadable\\]$`));
      expectLine('10:18', 'accessKeyId', `file ${fifo} is a FIFO (named pipe), not a regular file`);
      expectLine('11:22', 'secretAccessKey', 'file /dev/zero is a device, not a regular file');
      expectLine('22:18', 'accessKeyId', `file ${fuse.file} did not answer within 5 s`);
      expectLine(
        '23:22',
        'secretAccessKey',
        `file ${fuse.file} is not read again: an earlier read of it did not answer within 5 s and is still hanging`,
      );
      expect(gw.snapshot()).toEqual(tree);
      expect(stateHashes()).toEqual(state);
    } finally {
      await fuse.stop();
    }
  }, 60_000);

  it('a manifest tree on a FUSE mount: read by the bounded child; one that does not answer is refused within the 10 s deadline, naming the file, nothing written', async () => {
    const dir = gw.workspace(join(gw.root, 'remote-manifests'));
    const served = join(gw.root, 'served-pools.yaml');
    writeFileSync(served, docs(poolYaml('hot', gw.membersOf('hot'), 'http')));
    // pools.yaml answers with the served file's bytes; zz-hang.yaml (read after it) never answers.
    const fuse = await mountSlowFuse(join(dir, 'fuse'), { 'pools.yaml': served, 'zz-hang.yaml': null });
    try {
      const one = await withInput(['validate', '-m', 'fuse/pools.yaml'], '', gw.env(dir), dir);
      expect(one.code, one.stderr).toBe(0);
      expect(one.stdout).toContain('Manifests are valid: 1 document in 1 file (1 pool,');

      // A local tree whose symbolic link leads onto the mount: the whole tree goes to the child.
      writeFileSync(join(dir, 'manifests', 'pools.yaml'), docs(poolYaml('hot', gw.membersOf('hot'), 'http')));
      symlinkSync(join(dir, 'fuse'), join(dir, 'manifests', 'remote'));
      const tree = gw.snapshot();
      const state = stateHashes();
      const started = performance.now();
      const r = await withInput(['apply', '--auto-approve'], '', gw.env(dir), dir);
      const ms = performance.now() - started;
      expect(ms, r.stderr).toBeGreaterThanOrEqual(10_000);
      expect(ms, r.stderr).toBeLessThan(16_000);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(
        'Error: Manifest path manifests did not answer within 10 s (reading manifests/remote/zz-hang.yaml); is it on a network or FUSE file system that does not respond?',
      );
      expect(r.stderr).not.toMatch(STACK_LINE);
      expect(r.stderr).not.toContain('Internal error');
      expect(gw.snapshot()).toEqual(tree);
      expect(stateHashes()).toEqual(state);

      // A long-running reader (orch watch reconciles again and again), here this process with a
      // 3 s deadline (node's start under load must fit in it, for the child to reach the read): the tree is not read again while its abandoned child is stuck in the FUSE
      // read (which no signal ends), and is read again once that child has ended.
      const hangMessage = (f: () => unknown): string => {
        try {
          f();
        } catch (e) {
          return e instanceof UserError ? e.message : `not a UserError: ${String(e)}`;
        }
        return 'no error';
      };
      const readers = (): number => childrenRunning('manifest-tree-child.js');
      const DEADLINE = 3000;
      const first = performance.now();
      expect(hangMessage(() => readManifestTreeInChild('manifests', dir, DEADLINE))).toBe(
        'Manifest path manifests did not answer within 3 s (reading manifests/remote/zz-hang.yaml); is it on a network or FUSE file system that does not respond?',
      );
      expect(performance.now() - first).toBeGreaterThanOrEqual(DEADLINE);
      expect(readers()).toBe(1);
      const again = performance.now();
      for (let i = 0; i < 3; i++)
        expect(hangMessage(() => readManifestTreeInChild('manifests', dir, DEADLINE))).toBe(
          'Manifest path manifests is not read again: an earlier read of it did not answer within 3 s and is still hanging (reading manifests/remote/zz-hang.yaml); is it on a network or FUSE file system that does not respond?',
        );
      expect(performance.now() - again).toBeLessThan(500); // 3 refusals, no deadline waited
      expect(readers()).toBe(1);
      await fuse.stop(); // the connection closes: the stuck read fails, its child ends
      const retried = performance.now();
      let tree2: unknown = null;
      while (tree2 === null && performance.now() - retried < 10_000) {
        try {
          tree2 = readManifestTreeInChild('manifests', dir, DEADLINE);
        } catch (e) {
          expect(String(e)).toContain('is still hanging');
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      // Read again: the link now leads to the empty mount point, pools.yaml alone is read.
      expect(tree2).toMatchObject({ sources: [{ path: 'manifests/pools.yaml' }], problems: [] });
      expect(readers()).toBe(0);
    } finally {
      await fuse.stop();
    }
  }, 60_000);
});

/** Processes started by this one whose command line contains `text` (zombies excluded). */
function childrenRunning(text: string): number {
  let n = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === process.pid && state !== 'Z' && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)) n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}
