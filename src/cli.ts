// The CLI as one module, for oclif's "explicit" command discovery strategy (package.json
// `oclif.commands`): oclif's `execute` and every command. scripts/bundle.mjs bundles it with its
// imports and libraries into dist/bundle/cli.cjs, which bin/run.js loads: one file to compile at
// start-up instead of ~400 modules to resolve, read and compile.
//
// Each command is `require`d on first access, which esbuild turns into a lazy initializer of the
// bundled module: oclif reads the command list from oclif.manifest.json and asks for the one
// command it runs, so only that command's modules are initialized (not listr2, chokidar, the
// migration engine... for `orch plan`). This file only works bundled (an ES module has no
// `require`); add a command here when adding one under commands/ (test/unit/cli-commands.test.ts
// checks that every command file is listed).
import type { Command } from '@oclif/core';

/** oclif's `execute`, loaded on the call. */
export function execute(options: Parameters<typeof import('@oclif/core').execute>[0]): ReturnType<typeof import('@oclif/core').execute> {
  return (require('@oclif/core') as typeof import('@oclif/core')).execute(options);
}

/**
 * Test builds only (test/helpers/faulty-cli.mjs): installs the hook called at each fault point.
 * bin/run.js never calls it, so the shipped CLI honours no fault point.
 */
export function installFaultHook(hook: (point: string) => void): void {
  (require('./composition-root.js') as typeof import('./composition-root.js')).installFaultHook(hook);
}

/** oclif's command_not_found hook (package.json `oclif.hooks`): exit 1 and "did you mean". */
export { commandNotFound } from './cli/command-not-found.js';

type CommandModule = { default: Command.Class };
const command = (load: () => CommandModule) => ({ enumerable: true, get: () => load().default });

/** Command id (topics joined by `:`) -> command class, loaded on first access. */
export const COMMANDS: Record<string, Command.Class> = Object.defineProperties({} as Record<string, Command.Class>, {
  'apply': command(() => require('./commands/apply.js') as CommandModule),
  'buckets': command(() => require('./commands/buckets/index.js') as CommandModule),
  'buckets:forget-pool': command(() => require('./commands/buckets/forget-pool.js') as CommandModule),
  'buckets:orphans': command(() => require('./commands/buckets/orphans.js') as CommandModule),
  'buckets:purge-orphans': command(() => require('./commands/buckets/purge-orphans.js') as CommandModule),
  'completion': command(() => require('./commands/completion.js') as CommandModule),
  'drift': command(() => require('./commands/drift.js') as CommandModule),
  'help': command(() => require('./commands/help.js') as CommandModule),
  'history': command(() => require('./commands/history/index.js') as CommandModule),
  'history:show': command(() => require('./commands/history/show.js') as CommandModule),
  'import': command(() => require('./commands/import.js') as CommandModule),
  'install': command(() => require('./commands/install.js') as CommandModule),
  'migrate:cancel': command(() => require('./commands/migrate/cancel.js') as CommandModule),
  'migrate:run': command(() => require('./commands/migrate/run.js') as CommandModule),
  'migrations': command(() => require('./commands/migrations/index.js') as CommandModule),
  'migrations:orphaned': command(() => require('./commands/migrations/orphaned.js') as CommandModule),
  'node-config': command(() => require('./commands/node-config.js') as CommandModule),
  'plan': command(() => require('./commands/plan.js') as CommandModule),
  'rebuild-db': command(() => require('./commands/rebuild-db.js') as CommandModule),
  'resume': command(() => require('./commands/resume.js') as CommandModule),
  'rollback': command(() => require('./commands/rollback.js') as CommandModule),
  'sandbox:down': command(() => require('./commands/sandbox/down.js') as CommandModule),
  'sandbox:up': command(() => require('./commands/sandbox/up.js') as CommandModule),
  'secret-key:generate': command(() => require('./commands/secret-key/generate.js') as CommandModule),
  'show': command(() => require('./commands/show.js') as CommandModule),
  'status': command(() => require('./commands/status.js') as CommandModule),
  'suspend': command(() => require('./commands/suspend.js') as CommandModule),
  'validate': command(() => require('./commands/validate.js') as CommandModule),
  'version': command(() => require('./commands/version.js') as CommandModule),
  'watch': command(() => require('./commands/watch.js') as CommandModule),
});
