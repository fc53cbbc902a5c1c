import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// src/cli.ts lists every command for oclif's "explicit" discovery (the bundle has no commands
// directory to scan). A command file missing from it would be a command that cannot be run.
const root = join(import.meta.dirname, '..', '..');

function commandFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? commandFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The id oclif's pattern strategy gives a command file: `migrate/run.ts` -> `migrate:run`, `buckets/index.ts` -> `buckets`. */
function idOf(file: string): string {
  const parts = relative(join(root, 'src', 'commands'), file)
    .replace(/\.ts$/, '')
    .split('/');
  if (parts.at(-1) === 'index') parts.pop();
  return parts.join(':');
}

describe('src/cli.ts (the bundled command list)', () => {
  const text = readFileSync(join(root, 'src', 'cli.ts'), 'utf8');
  const listed = [...text.matchAll(/^ {2}'([^']+)': command\(\(\) => require\('\.\/commands\/([^']+)\.js'\)/gm)].map((m) => ({
    id: m[1]!,
    file: m[2]!,
  }));

  it('lists every command under src/commands, once, under the id of its file', () => {
    const files = commandFiles(join(root, 'src', 'commands'));
    expect(files.length).toBeGreaterThan(15);
    const expected = files.map((f) => ({ id: idOf(f), file: relative(join(root, 'src', 'commands'), f).replace(/\.ts$/, '') }));
    const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
    expect([...listed].sort(byId)).toEqual(expected.sort(byId));
  });

  it('agrees with the oclif manifest the build writes', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> };
    expect(Object.keys(manifest.commands).sort()).toEqual(listed.map((c) => c.id).sort());
  });
});
