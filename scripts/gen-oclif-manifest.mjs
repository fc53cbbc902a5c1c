// Writes oclif.manifest.json after `tsc`: with it, oclif loads only the command being run instead
// of importing every command (and listr2, SQLite, the AWS SDK...) at start-up.
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Config } from '@oclif/core';

const root = fileURLToPath(new URL('..', import.meta.url));
const target = `${root}oclif.manifest.json`;
// Removed first: oclif would read the old one. Meanwhile the CLI still runs (oclif then loads every
// command from the bundle: slower, not broken).
rmSync(target, { force: true });
const config = await Config.load({ root, ignoreManifest: true });
const plugin = config.plugins.get(config.pjson.name);
if (!plugin) throw new Error('orch plugin not found');
writeFileSync(target, `${JSON.stringify(plugin.manifest, null, 2)}\n`);
console.log(`wrote oclif.manifest.json (${Object.keys(plugin.manifest.commands).length} commands)`);
