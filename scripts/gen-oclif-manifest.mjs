// Writes oclif.manifest.json after `tsc`: with it, oclif loads only the command being run instead
// of importing every command (and listr2, SQLite, the AWS SDK...) at start-up.
import { renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Config } from '@oclif/core';

const root = fileURLToPath(new URL('..', import.meta.url));
const target = `${root}oclif.manifest.json`;
const config = await Config.load({ root, ignoreManifest: true });
const plugin = config.plugins.get(config.pjson.name);
if (!plugin) throw new Error('orch plugin not found');
// Written beside and renamed over the old one: a CLI started meanwhile reads a whole manifest.
writeFileSync(`${target}.${process.pid}.tmp`, `${JSON.stringify(plugin.manifest, null, 2)}\n`);
renameSync(`${target}.${process.pid}.tmp`, target);
console.log(`wrote oclif.manifest.json (${Object.keys(plugin.manifest.commands).length} commands)`);
