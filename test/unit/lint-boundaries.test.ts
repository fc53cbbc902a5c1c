import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

/**
 * The layer rule (eslint.config.js): source text linted with the project's own config as if it
 * sat at a layer's path. Each deliberate violation is reported by the boundary rules; the imports
 * each layer is allowed are not.
 */
const BOUNDARY_RULES = new Set(['no-restricted-imports', 'no-restricted-globals', 'no-restricted-properties', 'no-restricted-syntax']);

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: REPO_ROOT });
});

/** The boundary findings (rule: message) for `code` placed at `filePath`. */
async function boundaryFindings(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  const fatal = result!.messages.filter((m) => m.fatal);
  if (fatal.length > 0) throw new Error(`${filePath}: ${fatal.map((m) => m.message).join('; ')}`);
  return result!.messages.filter((m) => m.ruleId !== null && BOUNDARY_RULES.has(m.ruleId)).map((m) => `${m.ruleId}: ${m.message}`);
}

const VIOLATIONS: Array<{ what: string; file: string; code: string; rule: string }> = [
  {
    what: 'domain imports node:fs',
    file: 'src/domain/plan/x.ts',
    code: "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'domain imports fs (no prefix)',
    file: 'src/domain/x.ts',
    code: "import fs from 'fs';\nexport const f = fs;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'domain imports node:child_process',
    file: 'src/domain/render/x.ts',
    code: "import { execFileSync } from 'node:child_process';\nexport const f = execFileSync;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'domain imports a socket from node:net',
    file: 'src/domain/x.ts',
    code: "import { createServer } from 'node:net';\nexport const f = createServer;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'domain imports an adapter',
    file: 'src/domain/plan/x.ts',
    code: "import { readManagedTree } from '../../adapters/fs/read-managed-tree.js';\nexport const f = readManagedTree;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'domain imports a use case',
    file: 'src/domain/x.ts',
    code: "import { computePlan } from '../use-cases/plan/compute-plan.js';\nexport const f = computePlan;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'domain imports config',
    file: 'src/domain/plan/x.ts',
    code: "import type { Settings } from '../../config/settings.js';\nexport type S = Settings;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'domain reads process.env',
    file: 'src/domain/x.ts',
    code: "export const v = process.env['X'];\n",
    rule: 'no-restricted-globals',
  },
  {
    what: 'domain reads the clock (Date.now)',
    file: 'src/domain/x.ts',
    code: 'export const now = () => Date.now();\n',
    rule: 'no-restricted-syntax',
  },
  {
    what: 'domain reads the clock (new Date())',
    file: 'src/domain/x.ts',
    code: 'export const now = () => new Date();\n',
    rule: 'no-restricted-syntax',
  },
  {
    what: 'domain loads an adapter with import()',
    file: 'src/domain/x.ts',
    code: "export const load = () => import('../adapters/s3/pool-s3-client.js');\n",
    rule: 'no-restricted-syntax',
  },
  {
    what: 'a port imports an adapter',
    file: 'src/ports/x.ts',
    code: "import type { SqliteStateStore } from '../adapters/sqlite/state-store.js';\nexport type S = SqliteStateStore;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'a use case imports an adapter',
    file: 'src/use-cases/plan/x.ts',
    code: "import { nginxVersion } from '../../adapters/nginx/nginx-cli.js';\nexport const f = nginxVersion;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'a use case re-exports an adapter',
    file: 'src/use-cases/x.ts',
    code: "export { nginxVersion } from '../adapters/nginx/nginx-cli.js';\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'a use case imports the composition root',
    file: 'src/use-cases/apply/x.ts',
    code: "import { composeOrch } from '../../composition-root.js';\nexport const f = composeOrch;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'a use case imports node:fs',
    file: 'src/use-cases/apply/x.ts',
    code: "import { existsSync } from 'node:fs';\nexport const f = existsSync;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'a use case reads process.env',
    file: 'src/use-cases/plan/x.ts',
    code: "export const env = () => process.env['ORCH_SPLICE'];\n",
    rule: 'no-restricted-globals',
  },
  {
    what: 'a use case reads globalThis.process',
    file: 'src/use-cases/x.ts',
    code: 'export const cwd = () => globalThis.process.cwd();\n',
    rule: 'no-restricted-properties',
  },
  {
    what: 'a use case reads the clock',
    file: 'src/use-cases/watch/x.ts',
    code: 'export const t = () => Date.now();\n',
    rule: 'no-restricted-syntax',
  },
  {
    what: 'an adapter imports a use case',
    file: 'src/adapters/fs/x.ts',
    code: "import { computePlan } from '../../use-cases/plan/compute-plan.js';\nexport const f = computePlan;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'an adapter imports the CLI',
    file: 'src/adapters/fs/x.ts',
    code: "import { makeStyle } from '../../cli/style.js';\nexport const f = makeStyle;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'a command imports an adapter',
    file: 'src/commands/plan.ts',
    code: "import { SqliteStateStore } from '../adapters/sqlite/state-store.js';\nexport const f = SqliteStateStore;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'a command in a topic imports an adapter',
    file: 'src/commands/buckets/x.ts',
    code: "import { listPools } from '../../adapters/s3/list.js';\nexport const f = listPools;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'a CLI view imports an adapter',
    file: 'src/cli/views/x.ts',
    code: "import { nginxVersion } from '../../adapters/nginx/nginx-cli.js';\nexport const f = nginxVersion;\n",
    rule: 'no-restricted-imports',
  },
  {
    what: 'config imports an adapter',
    file: 'src/config/x.ts',
    code: "import { nginxVersion } from '../adapters/nginx/nginx-cli.js';\nexport const f = nginxVersion;\n",
    rule: 'no-restricted-imports',
  },
];

const ALLOWED: Array<{ what: string; file: string; code: string }> = [
  {
    what: 'domain imports domain, pure node modules and pure libraries',
    file: 'src/domain/plan/x.ts',
    code: [
      "import { createHash } from 'node:crypto';",
      "import { posix } from 'node:path';",
      "import { isIP } from 'node:net';",
      "import { parse } from 'yaml';",
      "import type { Diagnostic } from '../diagnostics.js';",
      "import { renderTree } from '../render/render-tree.js';",
      "import { parseNginxConfig } from '../nginx-config/parse-nginx-config.js';",
      'export const f = [createHash, posix, isIP, parse, renderTree, parseNginxConfig];',
      'export type D = Diagnostic;',
      'export const at = (ms: number) => new Date(ms).toISOString();',
      '',
    ].join('\n'),
  },
  {
    what: 'a port imports domain and ports',
    file: 'src/ports/x.ts',
    code: "import type { Plan } from '../domain/plan/plan-types.js';\nimport type { Clock } from './clock.js';\nexport type P = Plan | Clock;\n",
  },
  {
    what: 'a use case imports domain, ports, config and other use cases',
    file: 'src/use-cases/plan/x.ts',
    code: [
      "import { join } from 'node:path';",
      "import { makePlan } from '../../domain/plan/make-plan.js';",
      "import type { StateDatabase } from '../../ports/state-store.js';",
      "import type { Settings } from '../../config/settings.js';",
      "import { listPools } from '../buckets/list-pools.js';",
      "import { loadManifests } from './load-manifests.js';",
      'export const f = [join, makePlan, listPools, loadManifests];',
      'export type T = StateDatabase | Settings;',
      '',
    ].join('\n'),
  },
  {
    what: 'an adapter imports domain, ports, config, node and SDKs',
    file: 'src/adapters/sqlite/x.ts',
    code: [
      "import { readFileSync } from 'node:fs';",
      "import Database from 'better-sqlite3';",
      "import type { StateDatabase } from '../../ports/state-store.js';",
      "import { CorruptStateError } from '../../domain/errors.js';",
      "import type { Settings } from '../../config/settings.js';",
      "import { fileWriterLocks } from '../fs/writer-lock.js';",
      'export const f = [readFileSync, Database, CorruptStateError, fileWriterLocks, process.env, Date.now()];',
      'export type T = StateDatabase | Settings;',
      '',
    ].join('\n'),
  },
  {
    what: 'a command imports use cases, domain, config, ports, the CLI and the composition root',
    file: 'src/commands/x.ts',
    code: [
      "import { Flags } from '@oclif/core';",
      "import { computePlan } from '../use-cases/plan/compute-plan.js';",
      "import { ExitCode } from '../domain/errors.js';",
      "import type { Settings } from '../config/settings.js';",
      "import type { Clock } from '../ports/clock.js';",
      "import { composeOrch } from '../composition-root.js';",
      "import { OrchCommand } from '../cli/orch-command.js';",
      'export const f = [Flags, computePlan, ExitCode, composeOrch, OrchCommand];',
      'export type T = Settings | Clock;',
      '',
    ].join('\n'),
  },
  {
    what: 'the composition root imports adapters',
    file: 'src/composition-root.ts',
    code: "import { SqliteStateStore } from './adapters/sqlite/state-store.js';\nexport const f = [SqliteStateStore, process.env];\n",
  },
];

describe('the layer rule (eslint.config.js)', () => {
  for (const v of VIOLATIONS) {
    it(`reports: ${v.what}`, async () => {
      const found = await boundaryFindings(v.file, v.code);
      expect(found.length, `${v.file}:\n${v.code}`).toBeGreaterThan(0);
      expect(
        found.every((f) => f.startsWith(`${v.rule}: `)),
        found.join('\n'),
      ).toBe(true);
    });
  }
  for (const a of ALLOWED) {
    it(`allows: ${a.what}`, async () => {
      expect(await boundaryFindings(a.file, a.code)).toEqual([]);
    });
  }
});
