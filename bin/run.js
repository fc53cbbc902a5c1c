#!/usr/bin/env node
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { loadCli } from './load-cli.js';

const argv = process.argv.slice(2);

// Commands that read every manifest (plan, validate) start a worker thread that reads and checks
// them while the CLI loads (src/use-cases/plan/manifest-preload.ts); it changes no output. First, so that it
// starts before the CLI's bundle is compiled.
if (argv[0] === 'plan' || argv[0] === 'validate') {
  try {
    (await import('../dist/bundle/manifest-preload.js')).preloadManifests(argv);
  } catch {
    // No worker: the command reads the manifests itself.
  }
}

const cli = loadCli();

await cli.execute({ dir: import.meta.url });
