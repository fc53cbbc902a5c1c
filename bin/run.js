#!/usr/bin/env node
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Commands that read every manifest (plan, validate) start a worker thread that reads and checks
// them while oclif and the command load (src/app/manifest-preload.ts); it changes no output.
// Imported before oclif on purpose, so the worker starts as early as possible.
const argv = process.argv.slice(2);
if (argv[0] === 'plan' || argv[0] === 'validate') {
  try {
    (await import('../dist/app/manifest-preload.js')).preloadManifests(argv);
  } catch {
    // No worker: the command reads the manifests itself.
  }
}

const { execute } = await import('@oclif/core');
await execute({ dir: import.meta.url });
