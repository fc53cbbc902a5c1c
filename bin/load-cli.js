// Loads the bundled CLI (dist/bundle/cli.cjs, built by scripts/bundle.mjs) with V8's code cache.
//
// Compiling the 2 MB bundle is most of a small command's start-up: V8 parses it and compiles every
// function a run calls. V8 can save that work as "cached data" and take it back next time, which
// Node 22's module compile cache does for every module but Node 20 (which orch supports) does not
// offer. So the bundle is compiled here as a vm.Script with the cached data of an earlier run of
// the same command, and a run that had none (or whose data V8 rejected: another Node, other V8
// flags) leaves the code it compiled for the next one. One file per command (`plan` compiles other
// functions than `--version`) and per bundle (its path, inode, size and modification time) and
// Node version.
//
// Where: $XDG_CACHE_HOME/orch/code-cache (default ~/.cache/orch/code-cache), the user's own
// directory, never the shared temp directory where another account could plant compiled code; a
// directory that is not the user's, or that others can write to, is not used at all.
// ORCH_CODE_CACHE=0 turns it off. Any failure to read or write the cache only costs speed.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const BUNDLE = fileURLToPath(new URL('../dist/bundle/cli.cjs', import.meta.url));

/** @returns {{ execute: (options: { dir: string }) => Promise<void> }} */
export function loadCli() {
  const source = readFileSync(BUNDLE, 'utf8');
  const cacheFile = process.env.ORCH_CODE_CACHE === '0' ? null : codeCacheFile(process.argv[2]);
  let cachedData;
  if (cacheFile && ownDirectory(dirname(cacheFile))) {
    try {
      cachedData = readFileSync(cacheFile);
    } catch {
      // No cache yet.
    }
  }
  const script = new vm.Script(Module.wrap(source), {
    filename: BUNDLE,
    cachedData,
  });
  const mod = new Module(BUNDLE, null);
  mod.filename = BUNDLE;
  mod.paths = Module._nodeModulePaths(dirname(BUNDLE));
  // oclif loads the commands by requiring the bundle (package.json `oclif.commands.target`): it
  // finds this instance in the cache.
  Module._cache[BUNDLE] = mod;
  script.runInThisContext().call(mod.exports, mod.exports, createRequire(BUNDLE), mod, BUNDLE, dirname(BUNDLE));
  mod.loaded = true;
  if (cacheFile && (cachedData === undefined || script.cachedDataRejected)) {
    // Saved at exit, when the code cache holds every function the command compiled.
    process.once('exit', () => saveCodeCache(cacheFile, script));
  }
  return mod.exports;
}

function codeCacheFile(command) {
  try {
    const st = statSync(BUNDLE);
    const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
    const name = /^[a-z][a-z-]{0,39}$/.test(command ?? '') ? command : '_';
    // V8 checks cached data against the source's length only: the name must never be shared by
    // two bundles (two installations, two builds), hence the path, inode, size and mtime.
    const build = createHash('sha256').update(JSON.stringify([BUNDLE, st.ino, st.size, st.mtimeMs, process.version, process.arch])).digest('hex').slice(0, 32);
    return join(base, 'orch', 'code-cache', `${name}-${build}.bin`);
  } catch {
    return null;
  }
}

/**
 * Whether `dir` is this user's and nobody else can write to it (or does not exist yet): compiled
 * code is only taken from, and left in, such a directory.
 */
function ownDirectory(dir) {
  try {
    const st = statSync(dir);
    return st.isDirectory() && (typeof process.getuid !== 'function' || st.uid === process.getuid()) && (st.mode & 0o022) === 0;
  } catch {
    return true; // made by saveCodeCache, with mode 0700
  }
}

function saveCodeCache(file, script) {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    if (!ownDirectory(dirname(file))) return;
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
    renameSync(tmp, file);
    // The same command's entries for other builds (an upgrade) are of no more use.
    const prefix = basename(file).replace(/[0-9a-f]{32}\.bin$/, '');
    for (const old of readdirSync(dirname(file))) {
      if (old !== basename(file) && old.startsWith(prefix) && /^[0-9a-f]{32}\.bin$/.test(old.slice(prefix.length))) rmSync(join(dirname(file), old), { force: true });
    }
  } catch {
    // No cache: only a slower start next time.
  }
}
