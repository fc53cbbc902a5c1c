#!/usr/bin/env node
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { createRequire } from 'node:module';

// The CLI is one bundled file (dist/bundle/cli.cjs, built by scripts/bundle.mjs): one file to load
// and compile at start-up instead of ~400 modules to resolve and read.
const cli = createRequire(import.meta.url)('../dist/bundle/cli.cjs');

await cli.execute({ dir: import.meta.url });
