// Bundles the compiled CLI (dist/, from tsc) into dist/bundle/cli.cjs with esbuild; `npm run build`
// runs it after tsc. Start-up is most of a small command's time: unbundled, `orch plan` resolves,
// reads and compiles ~400 modules (ours, oclif's and the libraries'); bundled, it loads one file,
// oclif and every command (src/cli.ts), each command's modules initialized on first use.
//
// Kept outside the bundle, loaded from node_modules when used: better-sqlite3 (a native addon), the
// AWS SDK (loaded on demand for multipart uploads and bucket management), and typescript (oclif asks
// for it only when run from TypeScript sources). orch finds its own files (schemas/, examples/,
// bin/) by walking up to its package.json (src/config/package-root.ts), the same from the bundle,
// from dist/ and from the sources.
//
// Beside it, dist/bundle/build-id: a SHA-256 of the bundle, which identifies the build for the
// validation cache (src/adapters/manifests/build-identity.ts).
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;
// Built in memory, then each file written beside its final name and renamed over it: a CLI run
// while a build runs (npm test rebuilds) finds the previous bundle or the new one, never none.
const result = await build({
  write: false,
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', '@aws-sdk/*', 'typescript'],
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  entryPoints: { cli: 'dist/cli.js' },
  outExtension: { '.js': '.cjs' },
  outdir,
  format: 'cjs',
  // import() becomes require() (of the CommonJS build, for the AWS SDK): the bundle is one CommonJS
  // module graph.
  supported: { 'dynamic-import': false },
  // import.meta.url of the bundled ES modules is the bundle's own URL.
  define: { 'import.meta.url': '__orchImportMetaUrl' },
  banner: { js: "'use strict';\nvar __orchImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});
mkdirSync(outdir, { recursive: true });
const put = (file, content) => {
  const tmp = join(outdir, `.${basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, content);
  renameSync(tmp, file);
};
const cli = result.outputFiles.find((f) => f.path === join(outdir, 'cli.cjs'));
if (!cli) throw new Error('esbuild wrote no dist/bundle/cli.cjs');
for (const f of result.outputFiles) put(f.path, f.contents);
// Files of earlier builds that this one did not write.
const written = new Set([...result.outputFiles.map((f) => basename(f.path)), 'build-id']);
for (const name of readdirSync(outdir)) if (!written.has(name)) rmSync(join(outdir, name), { recursive: true, force: true });
put(join(outdir, 'build-id'), `${createHash('sha256').update(cli.contents).digest('hex')}\n`);
const outputs = Object.entries(result.metafile.outputs);
const bytes = outputs.reduce((n, [, o]) => n + o.bytes, 0);
console.log(
  `bundled dist/bundle/: ${outputs.map(([f]) => f.replace(/^dist\/bundle\//, '')).join(', ')} (${(bytes / 1024).toFixed(0)} KiB), build-id`,
);
