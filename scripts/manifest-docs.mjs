// Renders docs/manifests.md from the JSON Schemas in schemas/: every field, its type, whether it is
// required, its description and an example. `node scripts/gen-manifest-docs.mjs` writes the file;
// test/unit/manifest-docs.test.ts fails when the committed file is out of date.
import { readFileSync } from 'node:fs';

export const KIND_FILES = [
  ['Pool', 'pool.schema.json'],
  ['VirtualHost', 'virtualhost.schema.json'],
  ['Route', 'route.schema.json'],
  ['Migration', 'migration.schema.json'],
];

export function loadSchemas(schemasDir) {
  return KIND_FILES.map(([kind, file]) => ({ kind, file, schema: JSON.parse(readFileSync(`${schemasDir}/${file}`, 'utf8')) }));
}

function resolve(schema, node) {
  if (node && node.$ref && node.$ref.startsWith('#/$defs/')) {
    const target = schema.$defs[node.$ref.slice('#/$defs/'.length)];
    const { $ref, ...rest } = node;
    return { ...resolve(schema, target), ...rest };
  }
  return node;
}

function typeOf(schema, node) {
  node = resolve(schema, node);
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.enum) return node.enum.map((v) => `\`${v}\``).join(', ');
  if (node.oneOf || node.anyOf) return (node.oneOf ?? node.anyOf).map((n) => typeOf(schema, n)).join(' or ');
  if (node.type === 'array') return `list of ${typeOf(schema, node.items ?? {})}`;
  if (node.type === 'object' && node.properties) {
    const keys = Object.keys(node.properties);
    return keys.length <= 2 ? `{${keys.join(', ')}}` : 'object';
  }
  if (node.type === 'object') return 'map';
  const range = [];
  if (node.minimum !== undefined) range.push(`≥ ${node.minimum}`);
  if (node.maximum !== undefined) range.push(`≤ ${node.maximum}`);
  return `${node.type ?? 'any'}${range.length ? ` (${range.join(', ')})` : ''}`;
}

function cell(s) {
  return String(s ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\n+/g, ' ');
}

function example(node) {
  if (!node.examples || node.examples.length === 0) return '';
  const v = node.examples[0];
  return `\`${JSON.stringify(v)}\``;
}

function walk(schema, node, path, required, rows) {
  node = resolve(schema, node);
  rows.push({
    path,
    required,
    type: typeOf(schema, node),
    description: node.description ?? '',
    example: example(node),
    default: node.default,
  });
  if (node.type === 'object' && node.properties) {
    const req = new Set(node.required ?? []);
    for (const [k, child] of Object.entries(node.properties)) walk(schema, child, `${path}.${k}`, req.has(k), rows);
  } else if (node.type === 'array' && node.items) {
    const item = resolve(schema, node.items);
    if (item.type === 'object' && item.properties) {
      const req = new Set(item.required ?? []);
      for (const [k, child] of Object.entries(item.properties)) walk(schema, child, `${path}[].${k}`, req.has(k), rows);
    }
  } else if (node.oneOf) {
    for (const alt of node.oneOf) {
      const a = resolve(schema, alt);
      if (a.type === 'object' && a.properties)
        for (const [k, child] of Object.entries(a.properties)) walk(schema, child, `${path}.${k}`, (a.required ?? []).includes(k), rows);
    }
  }
}

export function renderManifestDocs(schemas) {
  const out = [];
  out.push('# Manifests reference');
  out.push('');
  out.push('<!-- Generated from schemas/*.json by `node scripts/gen-manifest-docs.mjs`. Do not edit by hand. -->');
  out.push('');
  out.push('Manifests are YAML documents, several per file allowed (separated by `---`), read from a');
  out.push('directory recursively (`*.yaml`, `*.yml`; hidden entries skipped) or from one file. Every');
  out.push('document has `apiVersion: orch/v1`, a `kind`, `metadata.name` and a `spec`. Unknown fields are');
  out.push('errors. Every value that reaches nginx is checked by type, so no value can carry `;`, `{`, `}`,');
  out.push('quotes, `#`, `$`, whitespace or newlines into a directive; `extraBlocks` is the only verbatim');
  out.push('field, and it is checked too (balanced braces and quotes, no `include`, `load_module`,');
  out.push('`lua`/`perl`/`js` directives, nothing outside its zone, and nothing orch renders from a');
  out.push('field: `listen`, `server_name`, `ssl_certificate*`, its fixed proxy settings, `location /`).');
  out.push('');
  out.push('What orch reads, and refuses with the file, line and column:');
  out.push('');
  out.push('- Symbolic links are followed, to files and to directories; a link back to a directory that');
  out.push('  contains it is an error (`manifest.symlink-loop`), and so is a `*.yaml` entry that is a');
  out.push('  dangling link, a FIFO, a socket, a device or unreadable (`manifest.unreadable`). No file is');
  out.push('  skipped in silence.');
  out.push('- A file is at most 16 MiB and a tree at most 256 MiB and 100,000 files (`manifest.too-large`).');
  out.push('- A tree (or a file) on a network or FUSE mount (NFS, SMB, sshfs...), or reached through a');
  out.push('  symbolic link that leads onto one, is read whole by a child process that must finish within');
  out.push('  10 s: one that does not answer stops the command with nothing written, naming the file being');
  out.push('  read (`Manifest path manifests did not answer within 10 s (reading manifests/remote/x.yaml)`).');
  out.push('  A read stuck on such a mount cannot be killed: while it hangs, the same tree is refused at once');
  out.push('  (`... is not read again: an earlier read of it did not answer within 10 s and is still');
  out.push('  hanging ...`) rather than waited for again, which matters for `orch watch` (each such');
  out.push('  reconcile is `failed` and retried with backoff, [watch.md](watch.md)); once the read has ended');
  out.push('  (the mount answered or was detached), the tree is read again.');
  out.push('  Copy such manifests to a local directory. Trees on local file systems are read in process.');
  out.push('- Text is strict UTF-8 (`manifest.encoding` points at the first bad byte; a byte order mark is');
  out.push('  fine, so are CRLF line ends) without control characters other than tab and line ends');
  out.push('  (`manifest.control-char`: a NUL is a binary file).');
  out.push('- YAML 1.2 core schema only: tags other than `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`,');
  out.push('  `!!map`, `!!seq` are refused (`yaml.tag`: `!include` reads no file); `<<` is an ordinary');
  out.push('  key. Aliases may expand to at most 50 copies per document, mappings and lists nest at most');
  out.push('  64 deep, a file holds at most 50,000 documents (`yaml.limit`); at most 10 YAML errors are');
  out.push('  listed per file.');
  out.push('- Pool names that differ only in case are one nginx upstream (`collision.pool-name-case`); a');
  out.push("  virtual host may not listen on the port of orch's status listener (`statusListen`,");
  out.push('  `collision.status-listener`).');
  out.push('');
  out.push('Editors validate manifests as you type when the file starts with a schema line for');
  out.push('yaml-language-server, e.g. `# yaml-language-server: $schema=../schemas/pool.schema.json`.');
  out.push('');
  out.push('Kinds: ' + schemas.map(({ kind }) => `[${kind}](#${kind.toLowerCase()})`).join(', ') + '.');
  for (const { kind, file, schema } of schemas) {
    out.push('');
    out.push(`## ${kind}`);
    out.push('');
    out.push(`Schema: [\`schemas/${file}\`](../schemas/${file}). ${schema.description ?? ''}`);
    out.push('');
    const rows = [];
    walk(schema, schema.properties.spec, 'spec', true, rows);
    walk(schema, schema.properties.metadata, 'metadata', true, rows);
    out.push('| field | type | required | description | example |');
    out.push('|---|---|---|---|---|');
    for (const r of rows) {
      const desc = r.default !== undefined ? `${r.description} Default: \`${JSON.stringify(r.default)}\`.` : r.description;
      out.push(`| \`${r.path}\` | ${cell(r.type)} | ${r.required ? 'yes' : ''} | ${cell(desc)} | ${cell(r.example)} |`);
    }
    if (schema.examples?.[0]) {
      out.push('');
      out.push('Example:');
      out.push('');
      out.push('```json');
      out.push(JSON.stringify(schema.examples[0], null, 2));
      out.push('```');
    }
  }
  out.push('');
  return out.join('\n');
}
