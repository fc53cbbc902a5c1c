import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { environmentSecrets } from '../../src/adapters/secrets/environment-secrets.js';
import { loadKeyring } from '../../src/adapters/secrets/keyring-source.js';
import { readSecretFileInChild } from '../../src/adapters/secrets/read-secret-file.js';
import { resolveSecretRef, SECRET_FILE_MAX_BYTES } from '../../src/adapters/secrets/resolve-secret-ref.js';
import { completeHintCommands, shellWord } from '../../src/cli/hint-commands.js';
import { DIAGNOSTICS_SHOWN, formatDiagnostics } from '../../src/cli/views/diagnostics-text.js';
import { safeLine, safeLines } from '../../src/cli/views/safe-text.js';
import { makeStyle } from '../../src/cli/style.js';
import type { Diagnostic } from '../../src/domain/diagnostics.js';
import { ValidationError } from '../../src/domain/errors.js';
import { reportError } from '../../src/cli/report-error.js';
import { tokenizeNginx } from '../../src/domain/manifests/nginx-tokens.js';

const plain = makeStyle(false);

describe('terminal-safe output', () => {
  it('escapes control characters, ANSI sequences, separators and bidi overrides', () => {
    expect(safeLine('a\u001b[2J\u001b]0;t\u0007b')).toBe('a\\u001b[2J\\u001b]0;t\\u0007b');
    expect(safeLine('x\nManifests are valid\r')).toBe('x\\nManifests are valid\\r');
    expect(safeLine('a\u2028b\u202ec\u0085')).toBe('a\\u2028b\\u202ec\\u0085');
    expect(safeLines('line one\nline \u001b two')).toBe('line one\nline \\u001b two');
    expect(safeLine('é ✓ 日本')).toBe('é ✓ 日本');
  });

  it('shortens long text and says by how much', () => {
    const s = safeLine('k'.repeat(1_000_000), 500);
    expect(s.length).toBeLessThan(600);
    expect(s).toMatch(/\.\.\. \(999500 more characters\)$/);
  });

  it('prints each diagnostic on one line plus its hint, whatever its parts hold', () => {
    const d: Diagnostic = {
      severity: 'error',
      code: 'value.name',
      message: 'name "x\\ny" is bad',
      hint: 'Rename it.',
      source: { file: 'm/a\nb.yaml', line: 3, column: 1 },
      document: { kind: 'Pool', name: 'x\nManifests are valid\u001b[2J' },
      field: 'metadata.name',
    };
    const text = formatDiagnostics([d], plain);
    expect(text.split('\n')).toHaveLength(2);
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
    expect(text).toContain('Pool/x\\nManifests are valid\\u001b[2J');
    expect(text).toContain('m/a\\nb.yaml:3:1');
  });

  it(`prints at most ${DIAGNOSTICS_SHOWN} diagnostics, errors first, and counts the rest`, () => {
    const mk = (i: number, severity: 'error' | 'warning'): Diagnostic => ({
      severity,
      code: 'yaml.syntax',
      message: `problem ${i}`,
      source: { file: 'a.yaml', line: i + 1, column: 1 },
    });
    const list = [
      ...Array.from({ length: 30 }, (_, i) => mk(i, 'warning')),
      ...Array.from({ length: 100 }, (_, i) => mk(100 + i, 'error')),
    ];
    const text = formatDiagnostics(list, plain);
    const lines = text.split('\n');
    expect(lines.filter((l) => l.includes(': error: '))).toHaveLength(DIAGNOSTICS_SHOWN);
    expect(lines.filter((l) => l.includes(': warning: '))).toHaveLength(0);
    expect(lines.at(-1)).toBe('... and 80 more diagnostics not shown (50 errors); fix the ones above first.');
  });
});

describe('hints that name orch commands', () => {
  it("repeat the command line's settings flags in every quoted orch command", () => {
    const hint = "See the edits with 'orch drift'. Either ..., or 'orch apply --overwrite-drift-path vhosts/a.conf'.";
    expect(completeHintCommands(hint, ['-m', 'my/manifests', '--state-dir', "'/a b'"])).toBe(
      "See the edits with `orch drift -m my/manifests --state-dir '/a b'`. Either ..., or `orch apply --overwrite-drift-path vhosts/a.conf -m my/manifests --state-dir '/a b'`.",
    );
    expect(completeHintCommands(hint, ['-m', 'my/manifests'])).toBe(
      "See the edits with 'orch drift -m my/manifests'. Either ..., or 'orch apply --overwrite-drift-path vhosts/a.conf -m my/manifests'.",
    );
    expect(completeHintCommands('Create one with `orch plan --out FILE`.', ['--nginx-dir', '/x'])).toBe(
      'Create one with `orch plan --out FILE --nginx-dir /x`.',
    );
    expect(completeHintCommands("See 'orch history'.", [])).toBe("See 'orch history'.");
    expect(completeHintCommands("Shorten it, e.g. `orch suspend --reason 'maintenance of pool-b'`", ['--state-dir', '/s'])).toBe(
      "Shorten it, e.g. `orch suspend --reason 'maintenance of pool-b' --state-dir /s`",
    );
  });

  it("complete the diagnostics' hints of a refused plan too, in text and JSON", () => {
    const diagnostics: Diagnostic[] = [
      {
        severity: 'error',
        code: 'identity.refused',
        message: 'pool cold refuses client identity AKIA1',
        hint: "run 'orch node-config cold 10.0.0.1:9000 --out ./node-config/cold/10.0.0.1:9000'",
      },
    ];
    const err = new ValidationError(diagnostics, '1 error: the plan is refused; nothing was written.');
    const printed: string[] = [];
    const sink = {
      stdout: (s: string) => printed.push(s),
      stderr: (s: string) => printed.push(s),
      style: plain,
      settingsArgs: ['-m', 'm'],
    };
    expect(reportError(err, { ...sink, json: false })).toBe(1);
    expect(printed.join('\n')).toContain("hint: run 'orch node-config cold 10.0.0.1:9000 --out ./node-config/cold/10.0.0.1:9000 -m m'");
    printed.length = 0;
    reportError(err, { ...sink, json: true });
    const json = JSON.parse(printed.join('')) as { error: { diagnostics: Array<{ hint: string }> } };
    expect(json.error.diagnostics[0]!.hint).toBe("run 'orch node-config cold 10.0.0.1:9000 --out ./node-config/cold/10.0.0.1:9000 -m m'");
    // The error itself is untouched (a caller may print it again).
    expect(err.diagnostics[0]!.hint).not.toContain('-m m');
  });

  it('quote a value for the shell only when it needs it', () => {
    expect(shellWord('/etc/orch/manifests')).toBe('/etc/orch/manifests');
    expect(shellWord('my dir')).toBe("'my dir'");
    expect(shellWord("it's")).toBe("'it'\\''s'");
    expect(shellWord('$(rm -rf /)')).toBe("'$(rm -rf /)'");
  });
});

describe('standard input is never an argument', () => {
  it('every positional argument of every command ignores piped input', async () => {
    const root = join(import.meta.dirname, '..', '..', 'src', 'commands');
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
      );
    let args = 0;
    for (const file of files(root)) {
      const mod = (await import(file)) as { default: { args?: Record<string, { ignoreStdin?: boolean }> } };
      for (const [name, arg] of Object.entries(mod.default.args ?? {})) {
        args++;
        expect(arg.ignoreStdin, `${relative(root, file)} argument ${name}`).toBe(true);
      }
    }
    expect(args).toBeGreaterThanOrEqual(9);
  });
});

describe('the nginx tokenizer reads what nginx reads', () => {
  it('a quoted string may be followed by ")": the ) starts the next word', () => {
    for (const text of [
      'if ($request_method = "OPTIONS") { return 204; }',
      'if ($http_origin ~* "^https://(a|b)\\.test$") { set $cors 1; }',
      "if ($request_method = 'OPTIONS') { return 204; }",
    ]) {
      const r = tokenizeNginx(text);
      expect(r.problem, text).toBeNull();
      const first = r.events[0];
      expect(first?.type === 'statement' ? first.words.at(-1)?.text : null).toBe(')');
    }
  });

  it('other text glued to a quoted string is still refused, as nginx refuses it', () => {
    expect(tokenizeNginx('add_header X "a"b;').problem?.message).toBe('unexpected "b" right after a quoted string');
  });
});

describe('secret files are read bounded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-secret-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a device, a FIFO, a directory and a huge file at once, and reads a regular file', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const big = join(dir, 'big');
    writeFileSync(big, 'x'.repeat(SECRET_FILE_MAX_BYTES + 1));
    const good = join(dir, 'good');
    writeFileSync(good, 'AKIDEXAMPLE\n');
    const started = performance.now();
    expect(resolveSecretRef({ file: '/dev/zero' }, {})).toEqual({
      ok: false,
      problem: 'file /dev/zero is a device, not a regular file; write the secret into a file',
      refused: true,
    });
    expect(resolveSecretRef({ file: fifo }, {})).toEqual({
      ok: false,
      problem: `file ${fifo} is a FIFO (named pipe), not a regular file; write the secret into a file`,
      refused: true,
    });
    expect(resolveSecretRef({ file: dir }, {})).toMatchObject({ ok: false, refused: true });
    expect(resolveSecretRef({ file: join(dir, 'missing') }, {})).toEqual({
      ok: false,
      problem: `file ${join(dir, 'missing')} does not exist`,
    });
    expect(resolveSecretRef({ file: big }, {})).toEqual({
      ok: false,
      problem: `file ${big} holds ${SECRET_FILE_MAX_BYTES + 1} bytes; a secret file may hold at most ${SECRET_FILE_MAX_BYTES}`,
      refused: true,
    });
    expect(resolveSecretRef({ file: good }, {})).toEqual({ ok: true, value: 'AKIDEXAMPLE' });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses a secret key file that is a FIFO or a device at once, with a user error naming it', () => {
    const fifo = join(dir, 'key-fifo');
    execFileSync('mkfifo', [fifo]);
    const started = performance.now();
    expect(() => loadKeyring(fifo, {})).toThrow(`The secret key file ${fifo} is a FIFO (named pipe), not a regular file`);
    expect(() => loadKeyring('/dev/zero', {})).toThrow('The secret key file /dev/zero is a device, not a regular file');
    expect(() => loadKeyring(join(dir, 'no-key'), {})).toThrow(`The secret key file ${join(dir, 'no-key')} does not exist.`);
    expect(environmentSecrets({}).keyMaterial('/dev/zero')).toEqual([]);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('gives the same answers through the child process that reads files on network and FUSE mounts', () => {
    const fifo = join(dir, 'fifo2');
    execFileSync('mkfifo', [fifo]);
    const big = join(dir, 'big2');
    writeFileSync(big, 'x'.repeat(SECRET_FILE_MAX_BYTES + 1));
    const good = join(dir, 'good2');
    writeFileSync(good, 'AKIDEXAMPLE\n');
    const dangling = join(dir, 'dangling');
    symlinkSync(join(dir, 'nowhere'), dangling);
    const started = performance.now();
    expect(readSecretFileInChild(good)).toEqual({ text: 'AKIDEXAMPLE\n' });
    expect(readSecretFileInChild('/dev/zero')).toEqual({
      problem: 'is a device, not a regular file; write the secret into a file',
      refused: true,
    });
    expect(readSecretFileInChild(fifo)).toEqual({
      problem: 'is a FIFO (named pipe), not a regular file; write the secret into a file',
      refused: true,
    });
    expect(readSecretFileInChild(dir)).toMatchObject({
      problem: 'is a directory, not a regular file; write the secret into a file',
      refused: true,
    });
    expect(readSecretFileInChild(big)).toMatchObject({ refused: true });
    expect(readSecretFileInChild(join(dir, 'missing'))).toEqual({ problem: 'does not exist', refused: false });
    expect(readSecretFileInChild(dangling)).toEqual({ problem: 'is a symbolic link to nothing', refused: false });
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
