import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, STACK_LINE } from '../helpers/cli.js';
import { runBatch, type Batch } from '../helpers/cli-batch.js';

/**
 * The bad-manifest corpus (test/fixtures/bad) through the built CLI: every case exits 1 with a
 * positioned, hinted message naming the expected diagnostic, no stack trace, and nothing on
 * stdout. test/unit/bad-corpus.test.ts checks the same cases in-process in more detail.
 *
 * Each case runs as `orch validate -m CASE` through the built CLI's own entry (oclif's execute and
 * orch's error boundary, as bin/run.js runs it), all of them in one node process
 * (test/helpers/cli-batch.mjs) rather than one process each; that process's memory (400 MB) and
 * time are watched. One case also runs as a process of its own, for what only a process shows (its
 * exit status, its streams): the same output.
 */
const corpus = join(REPO_ROOT, 'test/fixtures/bad');
const cases = readdirSync(corpus).sort();

describe('bad manifests through the CLI', () => {
  let batch: Batch;
  beforeAll(async () => {
    batch = await runBatch(
      cases.map((name) => ({ args: ['validate', '-m', join('test/fixtures/bad', name)], cwd: REPO_ROOT })),
      { memoryLimitKb: 400 * 1024, timeLimitMs: 90_000 },
    );
  }, 120_000);

  it('has the cases, all run within 400 MB and 90 s', () => {
    expect(cases.length).toBeGreaterThanOrEqual(45);
    const during = batch.killedDuring === null ? '-' : cases[batch.killedDuring];
    expect(batch.killedFor, `killed during ${during} (peak ${batch.peakKb} kB)`).toBeNull();
    expect(batch.exitCode, batch.stderr).toBe(0);
  });

  for (const [index, name] of cases.entries()) {
    it(`${name}: exit 1, ${name} diagnostic, no stack trace`, () => {
      const expected = JSON.parse(readFileSync(join(corpus, name, 'expect.json'), 'utf8')) as { code: string; file: string; line: number };
      const r = batch.results[index];
      expect(r, 'not run').toBeDefined();
      expect(r!.crash).toBeNull();
      expect(r!.code, r!.stderr).toBe(1);
      expect(r!.stdout).toBe('');
      expect(r!.stderr).toContain(`test/fixtures/bad/${name}/${expected.file}:${expected.line}:`);
      expect(r!.stderr).toContain(`[${expected.code}]`);
      expect(r!.stderr).toContain('hint:');
      expect(r!.stderr).not.toMatch(STACK_LINE);
    });
  }

  it('as a process of its own, a case exits 1 with the same output', async () => {
    const name = cases[0]!;
    const r = await runCli(['validate', '-m', join('test/fixtures/bad', name)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(batch.results[0]!.stderr);
  });
});
