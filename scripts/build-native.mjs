// Builds orch's splice relay (src/adapters/s3/native: a Node-API addon, Linux only) with node-gyp;
// `npm install` / `npm ci` run it (package.json "install"). It never fails the install: where the
// addon cannot be built (not Linux, no make/g++/python3), orch copies through Node's HTTP client
// instead (docs/operations.md). Node's own headers are used when they sit beside the node binary.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../src/adapters/s3/native', import.meta.url));
const say = (m) => console.error(`orch: ${m}`);

if (process.platform !== 'linux') {
  say(`the splice relay is Linux only; on ${process.platform} copies go through Node's HTTP client.`);
  process.exit(0);
}

/** node-gyp: the one npm gives its scripts, npm's own, or one on the PATH. */
function nodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  if (process.env.npm_execpath)
    candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not a dependency of ours
  }
  const js = candidates.find((c) => c && existsSync(c));
  return js ? [process.execPath, js] : ['node-gyp'];
}

const args = ['rebuild', '--release'];
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const [cmd, ...pre] = nodeGyp();
const r = spawnSync(cmd, [...pre, ...args], { cwd: dir, encoding: 'utf8' });
if (r.status === 0) {
  say('built the splice relay (src/adapters/s3/native/build/Release/orch_splice.node).');
} else {
  const why = (r.error?.message ?? `${r.stderr}${r.stdout}`)
    .trim()
    .split('\n')
    .filter((l) => /error|not found|ERR/i.test(l))
    .slice(-5)
    .join('\n');
  say(
    `could not build the splice relay; copies will go through Node's HTTP client (more CPU).\n${why}\nInstall make, g++ and python3, then run: npm run build:native`,
  );
}
