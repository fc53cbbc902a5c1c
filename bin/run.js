#!/usr/bin/env node
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Node 22.1+ keeps compiled code of the modules on disk for the next start: a CLI that loads a few
// hundred modules per run starts faster (Node 20 has no such cache). In the user's own cache
// directory, never the shared temp directory (Node's default), where another account could plant
// entries. ORCH_COMPILE_CACHE=0 turns it off.
import module from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
if (typeof module.enableCompileCache === 'function' && process.env.ORCH_COMPILE_CACHE !== '0') {
  try {
    const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
    module.enableCompileCache(join(base, 'orch', 'node-compile-cache'));
  } catch {
    // No cache: only a slower start.
  }
}

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
