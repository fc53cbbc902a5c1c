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
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;
rmSync(outdir, { recursive: true, force: true });
const result = await build({
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
const outputs = Object.entries(result.metafile.outputs);
const bytes = outputs.reduce((n, [, o]) => n + o.bytes, 0);
writeFileSync(
  `${outdir}/build-id`,
  `${createHash('sha256')
    .update(readFileSync(`${outdir}/cli.cjs`))
    .digest('hex')}\n`,
);
console.log(
  `bundled dist/bundle/: ${outputs.map(([f]) => f.replace(/^dist\/bundle\//, '')).join(', ')} (${(bytes / 1024).toFixed(0)} KiB), build-id`,
);
