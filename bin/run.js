#!/usr/bin/env node
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { loadCli } from './load-cli.js';

const argv = process.argv.slice(2);
const cli = loadCli();

// Commands that read every manifest (plan, validate) start a worker thread that reads and checks
// them while oclif and the command load (src/app/manifest-preload.ts); it changes no output.
if (argv[0] === 'plan' || argv[0] === 'validate') {
  try {
    cli.preloadManifests(argv);
  } catch {
    // No worker: the command reads the manifests itself.
  }
}

await cli.execute({ dir: import.meta.url });
