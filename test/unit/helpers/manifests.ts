import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { parseManifestSources, type SourceText } from '../../../src/domain/manifests/parse-manifests.js';
import { validateManifests, type ValidationResult } from '../../../src/domain/manifests/validate-manifests.js';
import { formatPosition, type Diagnostic } from '../../../src/domain/diagnostics.js';

/** Every *.yaml / *.yml file under `dir`, with paths relative to `dir` (forward slashes), sorted. */
export function loadSources(dir: string): SourceText[] {
  const out: SourceText[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d).sort()) {
      const full = join(d, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.ya?ml$/.test(entry)) out.push({ path: relative(dir, full).split(sep).join('/'), text: readFileSync(full, 'utf8') });
    }
  };
  walk(dir);
  return out;
}

/** Validates manifest texts given inline: `{ 'a.yaml': '...' }`. */
export function validateTexts(files: Record<string, string>): ValidationResult {
  const sources = Object.entries(files).map(([path, text]) => ({ path, text }));
  return validateManifests(parseManifestSources(sources));
}

export function validateDir(dir: string): ValidationResult {
  return validateManifests(parseManifestSources(loadSources(dir)));
}

/** One line per diagnostic, for readable assertion failures. */
export function summarize(list: readonly Diagnostic[]): string[] {
  return list.map((d) => `${d.severity} ${d.code} ${formatPosition(d.source)} ${d.field ?? ''}: ${d.message}`);
}

export function errorsOf(result: ValidationResult): Diagnostic[] {
  return result.diagnostics.filter((d) => d.severity === 'error');
}

/** Minimal valid documents to build test cases on. */
export const POOL = `apiVersion: orch/v1
kind: Pool
metadata:
  name: main
spec:
  type: nanio
  members:
    - address: 10.0.0.1:9000
  credentials:
    accessKeyId: { env: AK }
    secretAccessKey: { env: SK }
`;

export const VHOST = `apiVersion: orch/v1
kind: VirtualHost
metadata:
  name: gw
spec:
  serverNames: [s3.example.com]
  defaultPool: main
`;
