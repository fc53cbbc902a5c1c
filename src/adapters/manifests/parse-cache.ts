import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Diagnostic } from '../../domain/diagnostics.js';
import { documentsFromValues, type ParsedDocument, type ParseResult, type SourceText } from '../../domain/manifests/parse-manifests.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { jsonExact } from './json-exact.js';

/** How texts become parsed documents (parseManifestSources, or it behind this cache). */
export type ParseSources = (sources: readonly SourceText[]) => ParseResult;

/**
 * The parse cache: the plain values of each manifest file's documents, keyed on a SHA-256 of the
 * file's text, kept in one file of the state directory (`cache/parsed.bin`). When one route of
 * a 1,000-vhost repository changes, the validation cache (keyed on the whole tree) misses, and
 * without this every one of the 11,000 files would be parsed again (~1.4 s of `yaml` on the
 * bench machine); with it, only the changed file is. Validation itself always runs on the
 * values: the cache replaces only the YAML parser, so a damaged or tampered entry can at worst
 * produce values that validation then checks like any other.
 *
 * Only files that parsed without a diagnostic, into values a JSON copy gives back exactly, are
 * kept; every other file is parsed each time. Positions are found again from the text when a
 * diagnostic needs one (documentsFromValues), the same positions an eager parse gives.
 * The file is written for the current set of texts only (so it never grows beyond the
 * repository), atomically, best effort, and only into a state directory that already exists; its
 * header names the build that parsed (build-identity.ts), and another build's file is ignored.
 */
export interface ParseCacheOptions {
  /** The cache directory, `<stateDir>/cache`: nothing is written unless the state directory exists. */
  dir: string;
  /** An identifier of the running build, or null when it has none: then no cache. */
  build: () => string | null;
}

export const PARSE_CACHE_FILE = 'parsed.bin';
const FORMAT = 'orch-parse-cache 1';

/** `parse`, with each clean file's values kept in and taken from the cache. */
export function cachedParsing(parse: ParseSources, options: ParseCacheOptions): ParseSources {
  return (sources) => {
    const build = options.build();
    if (build === null) return parse(sources);
    const header = `${FORMAT} ${createHash('sha256').update(build).digest('hex')}\n`;
    const stored = readEntries(join(options.dir, PARSE_CACHE_FILE), header);
    const documents: ParsedDocument[] = [];
    const diagnostics: Diagnostic[] = [];
    const kept = new Map<string, string>();
    let changed = false;
    for (const source of sources) {
      const key = createHash('sha256').update(source.text).digest('hex');
      const json = kept.get(key) ?? stored.get(key);
      const hit = json === undefined ? null : valuesOf(json);
      if (hit) {
        documents.push(...documentsFromValues(source, hit));
        kept.set(key, json!);
        continue;
      }
      changed = true;
      const parsed = parse([source]);
      documents.push(...parsed.documents);
      diagnostics.push(...parsed.diagnostics);
      const values = parsed.documents.map((d) => [d.index, d.value] as const);
      if (parsed.diagnostics.length === 0 && jsonExact(values, new Set())) kept.set(key, JSON.stringify(values));
    }
    if (changed || kept.size !== stored.size) writeEntries(options.dir, header, kept);
    return { documents, diagnostics };
  };
}

/** The entries of the cache file (text hash -> JSON of [index, value] pairs); empty on anything unexpected. */
function readEntries(path: string, header: string): Map<string, string> {
  const entries = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return entries;
  }
  if (!text.startsWith(header) || !text.endsWith('\n')) return entries;
  // One line per file: the text's SHA-256, a tab, the JSON (which holds no raw tab or line break).
  let at = header.length;
  while (at < text.length) {
    const end = text.indexOf('\n', at);
    const tab = at + 64;
    if (text[tab] !== '\t') return new Map();
    entries.set(text.slice(at, tab), text.slice(tab + 1, end));
    at = end + 1;
  }
  return entries;
}

/** The [index, value] pairs of a cache entry, or null when it is not what this cache writes. */
function valuesOf(json: string): Array<{ index: number; value: unknown }> | null {
  try {
    const pairs = JSON.parse(json) as unknown;
    if (!Array.isArray(pairs)) return null;
    const out: Array<{ index: number; value: unknown }> = [];
    for (const p of pairs) {
      if (!Array.isArray(p) || p.length !== 2 || !Number.isInteger(p[0])) return null;
      out.push({ index: p[0] as number, value: p[1] as unknown });
    }
    return out;
  } catch {
    return null;
  }
}

function writeEntries(dir: string, header: string, entries: Map<string, string>): void {
  try {
    if (!existsSync(dirname(dir))) return; // no state directory yet: a plan creates none
    const lines = [header];
    for (const [key, json] of entries) lines.push(`${key}\t${json}\n`);
    writeFileAtomic(join(dir, PARSE_CACHE_FILE), lines.join(''), { durable: false, mode: 0o600 });
  } catch {
    // A cache that cannot be written is only a slower next run.
  }
}
