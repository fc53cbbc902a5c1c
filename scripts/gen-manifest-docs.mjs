import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadSchemas, renderManifestDocs } from './manifest-docs.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
writeFileSync(`${root}docs/manifests.md`, renderManifestDocs(loadSchemas(`${root}schemas`)));
console.log('wrote docs/manifests.md');
