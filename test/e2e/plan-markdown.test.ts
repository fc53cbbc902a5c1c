import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { marked, type Token, type Tokens } from 'marked';
import { afterAll, describe, expect, it } from 'vitest';
import type { PlanJson } from '../../src/cli/views/plan-json.js';
import { planJsonToMarkdown } from '../../src/cli/views/plan-markdown.js';
import { runCli, STACK_LINE } from '../helpers/cli.js';
import { expectContract } from '../helpers/json-contract.js';

/** Every token of a Markdown document, nested ones included. */
function tokens(md: string): Token[] {
  const all: Token[] = [];
  marked.walkTokens(marked.lexer(md), (t) => {
    all.push(t);
  });
  return all;
}

const diffBlocks = (md: string) => tokens(md).filter((t): t is Tokens.Code => t.type === 'code' && t.lang === 'diff');

describe('plans for people and for CI: --format markdown, orch show', () => {
  const work = mkdtempSync(join(tmpdir(), 'orch-plan-md-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const base = ['-m', 'examples/gateway', '--nginx-dir', join(work, 'nginx'), '--state-dir', join(work, 'state'), '--no-refresh'];

  it('orch plan --format markdown renders (marked) to a summary table and one collapsible diff per resource', async () => {
    const r = await runCli(['plan', ...base, '--format', 'markdown']);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.code, r.stderr).toBe(0);
    const md = r.stdout;
    expect(md).toMatch(/^### orch plan: \d+ to add, 0 to change, 0 to destroy/);
    const table = tokens(md).find((t): t is Tokens.Table => t.type === 'table');
    expect(table?.header.map((h) => h.text)).toEqual(['action', 'resource', 'files', 'manifest']);
    const json = expectContract<PlanJson>('plan', (await runCli(['plan', ...base, '--json'])).stdout);
    expect(table!.rows.length).toBe(json.changes.length);
    const blocks = diffBlocks(md);
    expect(blocks.length).toBe(json.changes.length);
    for (const b of blocks)
      for (const line of b.text.split('\n')) expect(line, `diff line in a \`\`\`diff block: ${line}`).toMatch(/^(\+|-| |@@|$)/);
    const html = await marked.parse(md);
    expect(html).toContain('<table>');
    expect(html.match(/<details><summary>/g)?.length).toBe(json.changes.length);
    expect(html).toContain('<code class="language-diff">');
  });

  it('orch show FILE prints a saved plan as text, JSON or Markdown, the same as the plan that saved it', async () => {
    const file = join(work, 'gateway.plan');
    const saved = await runCli(['plan', ...base, '--out', file]);
    expect(saved.code, saved.stderr).toBe(0);
    const planMd = await runCli(['plan', ...base, '--format', 'markdown']);
    const showMd = await runCli(['show', file, '--format', 'markdown']);
    expect(showMd.code, showMd.stderr).toBe(0);
    // The same plan; only the hint at the end names the command that shows it.
    expect(showMd.stdout.split('\n').slice(0, -3)).toEqual(planMd.stdout.split('\n').slice(0, -3));
    const showJson = await runCli(['show', file, '--json']);
    expect(expectContract('plan', showJson.stdout)).toEqual((JSON.parse(readFileSync(file, 'utf8')) as { plan: unknown }).plan);
    const showText = await runCli(['show', file]);
    expect(showText.code).toBe(0);
    expect(showText.stdout).toContain(`Saved plan ${file}`);
    expect(showText.stdout).toMatch(/\+ Pool\/\S+/);
    expect(showText.stdout).toMatch(/^Plan: \d+ to add, 0 to change, 0 to destroy\./m);
    const missing = await runCli(['show', join(work, 'nope.plan')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('does not exist');
    expect(missing.stderr).not.toMatch(STACK_LINE);
  });

  it('escapes what it shows and keeps a comment under the size limit (unit)', () => {
    const diff = '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-```old\n+````new `` `\n';
    const plan: PlanJson = {
      format_version: '1.1',
      orch_version: '0.0.0',
      fingerprint: 'sha256:x',
      has_changes: true,
      summary: { add: 0, change: 2, destroy: 0, migrations_to_start: 0, buckets_to_create: 0 },
      changes: ['a|b <script>', 'second'].map((name) => ({
        resource: { kind: 'VirtualHost', name },
        action: 'update' as const,
        origin: { file: 'vhosts/a|b.yaml', index: 0 },
        files: [
          {
            path: 'vhosts/x|y.conf',
            role: 'config' as const,
            action: 'update' as const,
            before_sha256: 'a',
            after_sha256: 'b',
            drift: false,
            adopt: false,
            diff,
          },
        ],
      })),
      migrations: [],
      buckets: [],
      refresh: { performed: false, pools: [] },
      drift: [],
      unmanaged: [],
      not_in_inventory: [],
      unchanged: { resources: 3, files: 6 },
      diagnostics: [],
    };
    const md = planJsonToMarkdown(plan);
    const table = tokens(md).find((t): t is Tokens.Table => t.type === 'table')!;
    expect(table.header.length).toBe(4);
    expect(table.rows.every((r) => r.length === 4)).toBe(true);
    expect(md).not.toContain('<script>');
    const blocks = diffBlocks(md);
    expect(blocks.map((b) => b.text)).toEqual([diff.trimEnd(), diff.trimEnd()]);
    const short = planJsonToMarkdown(plan, { maxChars: md.length - 200, command: 'orch show x.plan' });
    expect(diffBlocks(short).length).toBe(1);
    expect(short).toContain('1 diff left out to keep this comment short: run `orch show x.plan` to see them.');
  });
});
