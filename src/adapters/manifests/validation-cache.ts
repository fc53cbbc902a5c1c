import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import type { Diagnostic } from '../../domain/diagnostics.js';
import type { DesiredState } from '../../domain/model/desired-state.js';
import { documentsFromValues, type ParsedDocument, type SourceText } from '../../domain/manifests/parse-manifests.js';
import type { ValidationResult } from '../../domain/manifests/validate-manifests.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import type { ValidateSources } from './file-manifest-loader.js';
import { jsonExact } from './json-exact.js';

/**
 * The validation cache: the last validation results (a few), kept in the state directory
 * (`cache/manifests-<key>.bin`) so that a plan of unchanged manifests does not parse and check
 * thousands of files again. A wrapper around the validation step of the file manifest loader,
 * chosen by the composition root (on unless ORCH_MANIFEST_CACHE=0); nothing else knows it exists.
 *
 * Content-addressed, so a stale result cannot be returned: the entry's key is a SHA-256 of the
 * manifest texts and their names, in reading order, and of the build that validates them
 * (build-identity.ts: orch's version, a digest of the built bundle or of the sources, the YAML
 * library's version, the Node version). The manifests are always read; the cache only replaces
 * parsing and checking. The result comes back exactly as it was computed (JSON when that is
 * exact, else a V8 serialization, which keeps -0, NaN and shared objects); document positions are
 * found again from the texts, as before.
 * Anything unexpected (no entry, another key, an unreadable, damaged or foreign file) is a miss,
 * and a miss is the normal path. Writing is best effort (never an error), atomic (temporary file +
 * rename), and only into a state directory that already exists.
 */
export interface ValidationCacheOptions {
  /** The cache directory, `<stateDir>/cache`: nothing is written unless the state directory exists. */
  dir: string;
  /** An identifier of the running build (build-identity.ts), or null when it has none: then no cache. */
  build: () => string | null;
}

/** `validate`, with its results kept in and taken from the cache. */
export function cachedValidation(validate: ValidateSources, options: ValidationCacheOptions): ValidateSources {
  return (sources) => {
    const key = cacheKey(options.build(), sources);
    if (key === null) return validate(sources);
    const cached = readCachedValidation(options.dir, key, sources);
    if (cached) return cached;
    const validation = validate(sources);
    writeCachedValidation(options.dir, key, validation);
    return validation;
  };
}

export const FORMAT = 'orch-manifest-cache 2';

const fileFor = (key: string): string => `manifests-${key}.bin`;

/** The key of a validation of these sources by this build; null when the build cannot be identified. */
export function cacheKey(build: string | null, sources: readonly SourceText[]): string | null {
  if (build === null) return null;
  const h = createHash('sha256');
  h.update(`${FORMAT}\0${build}\0${sources.length}\0`);
  // One update over one string: thousands of small updates cost more than the hashing itself.
  const parts: string[] = [];
  for (const s of sources) parts.push(s.path, String(s.text.length), s.text);
  h.update(parts.join('\0'));
  return h.digest('hex');
}

/** Entries kept: a few, so that switching between two branches (or two builds) does not thrash. */
const KEEP = 3;

interface CachedResult {
  diagnostics: Diagnostic[];
  desired: DesiredState;
  documents: Array<{ file: string; index: number; value: unknown }>;
}

/**
 * The cached validation of `sources` when the cache holds exactly it, else null.
 *
 * In the JSON form, each document's value is its own line after the rest, read on first use:
 * a plan never looks at the values of 11,000 documents (the desired state is what it uses), and
 * reading them would be half the cost of a hit.
 */
export function readCachedValidation(dir: string, key: string, sources: readonly SourceText[]): ValidationResult | null {
  let result: { diagnostics: Diagnostic[]; desired: DesiredState };
  let entries: Array<{ file: string; index: number; value: unknown; json?: string }>;
  try {
    const data = readFileSync(join(dir, fileFor(key)));
    const prefix = `${FORMAT} ${key} `;
    if (data.length < prefix.length + 5 || data.toString('latin1', 0, prefix.length) !== prefix) return null;
    const format = data.toString('latin1', prefix.length, prefix.length + 5);
    if (format === 'json\n') {
      const text = data.toString('utf8', prefix.length + 5);
      let end = text.indexOf('\n');
      const head = JSON.parse(text.slice(0, end)) as {
        diagnostics: Diagnostic[];
        desired: DesiredState;
        documents: Array<[string, number]>;
      };
      result = head;
      if (!Array.isArray(head.documents)) return null;
      entries = head.documents.map(([file, index]) => {
        const start = end + 1;
        end = text.indexOf('\n', start);
        if (end < 0) throw new Error('truncated');
        return { file, index, value: undefined, json: text.slice(start, end) };
      });
      if (end !== text.length - 1) return null;
    } else if (format.startsWith('v8\n')) {
      const stored = deserialize(data.subarray(prefix.length + 3)) as CachedResult;
      result = stored;
      entries = stored.documents;
    } else return null;
    if (!Array.isArray(result?.diagnostics) || !Array.isArray(entries) || !result.desired) return null;
  } catch {
    return null;
  }
  // The parsed documents, with position lookups from the texts (documents are in source order),
  // made on first use: a plan that has nothing to point at in the manifests never needs them.
  let next = 0;
  for (const source of sources) while (next < entries.length && entries[next]!.file === source.path) next++;
  if (next !== entries.length) return null;
  let documents: ParsedDocument[] | null = null;
  const parsedDocuments = (): ParsedDocument[] => {
    if (documents) return documents;
    documents = [];
    let at = 0;
    for (const source of sources) {
      const start = at;
      while (at < entries.length && entries[at]!.file === source.path) at++;
      const own = entries.slice(start, at);
      const docs = documentsFromValues(source, own);
      docs.forEach((doc, i) => {
        const json = own[i]!.json;
        if (json !== undefined) defineLazyValue(doc, json);
      });
      documents.push(...docs);
    }
    return documents;
  };
  return {
    desired: result.desired,
    diagnostics: result.diagnostics,
    get documents() {
      return parsedDocuments();
    },
  };
}

/** `doc.value` read from its JSON on first use (then kept: every read gives the same object). */
function defineLazyValue(doc: ParsedDocument, json: string): void {
  let value: unknown;
  let parsed = false;
  Object.defineProperty(doc, 'value', {
    enumerable: true,
    configurable: true,
    get: () => {
      if (!parsed) {
        value = JSON.parse(json) as unknown;
        parsed = true;
      }
      return value;
    },
  });
}

/** Keeps `validation` as the cached validation for `key`; silently does nothing when it cannot. */
export function writeCachedValidation(dir: string, key: string, validation: ValidationResult): void {
  try {
    if (!existsSync(dirname(dir))) return; // no state directory yet: a plan creates none
    const result: CachedResult = {
      diagnostics: validation.diagnostics,
      desired: validation.desired,
      documents: validation.documents.map((d) => ({ file: d.file, index: d.index, value: d.value })),
    };
    let blob: Buffer;
    let format: 'json' | 'v8';
    if (jsonExact(result, new Set())) {
      // The head line, then one line per document value (JSON text holds no raw line break).
      const lines = [
        JSON.stringify({
          diagnostics: result.diagnostics,
          desired: result.desired,
          documents: result.documents.map((d) => [d.file, d.index]),
        }),
      ];
      for (const d of result.documents) lines.push(JSON.stringify(d.value));
      blob = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
      format = 'json';
    } else {
      blob = serialize(result);
      format = 'v8';
    }
    writeFileAtomic(join(dir, fileFor(key)), Buffer.concat([Buffer.from(`${FORMAT} ${key} ${format}\n`, 'latin1'), blob]), {
      durable: false,
    });
    pruneCacheEntries(dir, 'manifests-', '.bin');
  } catch {
    // A cache that cannot be written is only a slower next run.
  }
}

/**
 * Removes all but the KEEP most recently written entries named `<prefix><sha256><suffix>` (and
 * temporary files older than a minute).
 */
function pruneCacheEntries(dir: string, prefix: string, suffix: string): void {
  const entries: Array<{ path: string; mtime: number }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const mtime = statSync(path).mtimeMs;
    if (name.startsWith(prefix) && name.endsWith(suffix) && /^[0-9a-f]{64}$/.test(name.slice(prefix.length, name.length - suffix.length)))
      entries.push({ path, mtime });
    else if (name.endsWith('.tmp') && Date.now() - mtime > 60_000) rmSync(path, { force: true });
  }
  entries.sort((a, b) => b.mtime - a.mtime);
  for (const e of entries.slice(KEEP)) rmSync(e.path, { force: true });
}
