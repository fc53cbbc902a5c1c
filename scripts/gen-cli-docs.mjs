// Writes docs/cli.md from the built command classes (dist/commands): run `npm run build` first.
// test/unit/cli-docs.test.ts renders the same from src/commands and fails when the file is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadCommands, renderCliDocs } from './cli-docs.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
const commands = await loadCommands(`${root}dist/commands`, '.js');
writeFileSync(`${root}docs/cli.md`, renderCliDocs(commands, pkg.oclif?.topics ?? {}));
console.log(`wrote docs/cli.md (${commands.length} commands)`);
