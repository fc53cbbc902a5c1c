import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script without type declarations
import { commandFiles, loadCommands, renderCliDocs } from '../../scripts/cli-docs.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface FlagDef {
  char?: string;
  hidden?: boolean;
}
interface LoadedCommand {
  id: string;
  cls: { flags?: Record<string, FlagDef>; baseFlags?: Record<string, FlagDef>; args?: Record<string, unknown>; hidden?: boolean };
}

/**
 * docs/cli.md is generated from the command classes. This renders it from src/commands (whatever
 * commands exist now) and compares: a new command, flag, default or description that is not in
 * the committed file fails here. Fix: npm run build && node scripts/gen-cli-docs.mjs
 */
describe('docs/cli.md', () => {
  let commands: LoadedCommand[];
  let docs: string;
  beforeAll(async () => {
    commands = (await loadCommands(`${root}src/commands`, '.ts', (p: string) => import(p))) as LoadedCommand[];
    docs = readFileSync(`${root}docs/cli.md`, 'utf8');
  });

  it('is generated from the current commands (run `npm run build && node scripts/gen-cli-docs.mjs`)', () => {
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
    expect(docs).toBe(renderCliDocs(commands, pkg.oclif?.topics ?? {}));
  });

  it('has a section for every command file, and every flag of every command', () => {
    const ids = (commandFiles(`${root}src/commands`, '.ts') as Array<{ id: string }>).map((f) => f.id);
    expect(ids).toContain('install');
    expect(ids).toContain('node-config');
    for (const c of commands) {
      expect(docs, c.id).toContain(`\n## orch ${c.id}\n`);
      const section = docs.slice(
        docs.indexOf(`\n## orch ${c.id}\n`),
        docs.indexOf('\n## orch ', docs.indexOf(`\n## orch ${c.id}\n`) + 1) >>> 0,
      );
      for (const [name, flag] of Object.entries(c.cls.flags ?? {})) {
        if (flag.hidden) continue;
        expect(section, `${c.id} --${name}`).toMatch(new RegExp(`\\| \`(-\\w, )?--(\\[no-\\])?${name}( <[^>]+>)?\` \\|`));
      }
      for (const name of Object.keys(c.cls.args ?? {})) expect(section, `${c.id} ${name}`).toContain(`\`${name.toUpperCase()}\``);
    }
    // The global flags, with their environment variables and defaults.
    expect(docs).toContain('| `-m, --manifests <value>` | `ORCH_MANIFESTS` | `./manifests` |');
    expect(docs).toContain('| `--[no-]refresh` | — | `true` |');
  });

  it('keeps literal text literal (no HTML tags or emphasis from descriptions)', () => {
    const install = docs.slice(docs.indexOf('\n## orch install\n'));
    expect(install).toContain('&lt;nginxDir&gt;/pools/\\*.conf');
    expect(docs).not.toMatch(/<%=/);
  });
});

/**
 * docs/operations.md keeps the metric names its alert rules use in one table at the top. They must
 * be metrics the daemon registers (src/use-cases/watch/watch-metrics.ts), with the label values it uses,
 * and the rules must be valid YAML using no other orch metric.
 */
describe('docs/operations.md metrics and alert rules', () => {
  const ops = readFileSync(`${root}docs/operations.md`, 'utf8');
  const metricsSource = readFileSync(`${root}src/use-cases/watch/watch-metrics.ts`, 'utf8');
  const listed = [...ops.slice(0, ops.indexOf('## Installing')).matchAll(/^\| `(orch_[a-z_]+)` \|/gm)].map((m) => m[1]!);

  it('lists the metrics once, at the top, each one registered by orch watch', () => {
    expect(listed).toEqual([
      'orch_up',
      'orch_reconcile_total',
      'orch_last_successful_apply_timestamp_seconds',
      'orch_drifted_files',
      'orch_migration_phase',
    ]);
    for (const name of listed) expect(metricsSource, name).toContain(`'${name}'`);
    // The outcome values the rules match on are the daemon's.
    for (const outcome of ['applied', 'no_changes', 'planned', 'invalid', 'blocked', 'failed'])
      expect(metricsSource).toMatch(new RegExp(`orch_reconcile_total'[^\\n]*\\b${outcome}\\b`));
  });

  it('has alert rules that parse and use only the listed metrics', async () => {
    const { parse } = await import('yaml');
    const block = /```yaml\n(groups:[\s\S]*?)```/.exec(ops)?.[1];
    expect(block).toBeDefined();
    const rules = (parse(block!) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThanOrEqual(5);
    const phases = readFileSync(`${root}src/domain/migrations/migration-record.ts`, 'utf8');
    for (const r of rules) {
      for (const m of r.expr.matchAll(/\borch_[a-z_]+/g)) expect(listed, `${r.alert}: ${m[0]}`).toContain(m[0]);
      for (const m of r.expr.matchAll(/phase=~?"([^"]+)"/g))
        for (const p of m[1]!.split('|')) expect(phases, `${r.alert}: phase ${p}`).toMatch(new RegExp(`MIGRATION_PHASES[^;]*'${p}'`));
    }
  });
});
