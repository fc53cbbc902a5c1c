#!/usr/bin/env node
// The CLI of the crash tests: the built bundle (dist/bundle/cli.cjs) exactly as bin/run.js runs it,
// plus a fault hook that SIGKILLs the process (no cleanup, like a power cut) when it reaches the
// fault point named by ORCH_FAULT_INJECT. The shipped bin/run.js installs no hook, so there the
// variable does nothing (test/integration/apply-faults.test.ts proves it).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { createRequire } from 'node:module';

const wanted = process.env.ORCH_FAULT_INJECT;
const cli = createRequire(import.meta.url)('../../dist/bundle/cli.cjs');
if (wanted) {
  cli.installFaultHook((point) => {
    if (point === wanted) process.kill(process.pid, 'SIGKILL');
  });
}
// oclif finds the package (package.json, oclif.manifest.json) from the directory of bin/run.js.
await cli.execute({ dir: new URL('../../bin/run.js', import.meta.url).href });
