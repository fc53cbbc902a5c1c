// Bundles the compiled CLI (dist/, from tsc) into dist/bundle/ with esbuild; `npm run build` runs
// it after tsc. Start-up is most of a small command's time: unbundled, `orch plan` resolves, reads
// and compiles ~400 modules (ours, oclif's and the libraries'); bundled, it compiles one file, whose
// compiled code bin/run.js keeps in V8's code cache between runs (see bin/run.js).
//
// - dist/bundle/cli.cjs (CommonJS, so that bin/run.js can compile it with a code cache): oclif and
//   every command (src/cli.ts); each command's modules are initialized on first use.
// - dist/bundle/manifest-worker.js (ES module): the manifest worker thread, which
//   src/use-cases/plan/manifest-preload.ts starts from `./manifest-worker.js` beside itself;
// - dist/bundle/manifest-preload.js (ES module, node built-ins only): what starts that worker,
//   loaded by bin/run.js before the CLI's bundle is compiled (the session is handed over through
//   the global object).
//
// Kept outside the bundle, loaded from node_modules when used: better-sqlite3 (a native addon), the
// AWS SDK (loaded on demand for multipart uploads and bucket management), typescript (oclif asks
// for it only when run from TypeScript sources), and the libraries loaded on first use by lazyModule
// (yaml, diff: `require` of a computed name). Paths the code finds from its own file
// (`new URL('../../schemas', import.meta.url)`) resolve the same from dist/bundle/ as from
// dist/use-cases/plan/: both are two levels below the package root.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;
rmSync(outdir, { recursive: true, force: true });
const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', '@aws-sdk/*', 'typescript'],
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
};
const results = await Promise.all([
  build({
    ...common,
    entryPoints: { cli: 'dist/cli.js' },
    outExtension: { '.js': '.cjs' },
    outdir,
    format: 'cjs',
    // import() becomes require() (of the CommonJS build, for the AWS SDK): the bundle runs as a
    // vm.Script with a code cache, where Node 20 has no dynamic import callback.
    supported: { 'dynamic-import': false },
    // import.meta.url of the bundled ES modules is the bundle's own URL.
    define: { 'import.meta.url': '__orchImportMetaUrl' },
    banner: { js: "'use strict';\nvar __orchImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  }),
  build({
    ...common,
    entryPoints: { 'manifest-worker': 'dist/use-cases/plan/manifest-worker.js', 'manifest-preload': 'dist/use-cases/plan/manifest-preload.js' },
    outdir,
    format: 'esm',
    // CommonJS libraries inside an ES module bundle call require() for Node's built-ins.
    banner: { js: "import { createRequire as __orchCreateRequire } from 'node:module';\nconst require = __orchCreateRequire(import.meta.url);" },
  }),
]);
const outputs = results.flatMap((r) => Object.entries(r.metafile.outputs));
const bytes = outputs.reduce((n, [, o]) => n + o.bytes, 0);
console.log(`bundled dist/bundle/: ${outputs.map(([f]) => f.replace(/^dist\/bundle\//, '')).join(', ')} (${(bytes / 1024).toFixed(0)} KiB)`);
