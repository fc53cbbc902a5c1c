import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A library loaded on first use (its CommonJS build), then kept: for packages that only some runs
 * need (the `yaml` document API for positions and config files, `diff` for changed files), so that
 * a no-op plan does not pay for loading them.
 */
export function lazyModule<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(name) as T);
}
