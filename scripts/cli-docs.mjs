// Renders docs/cli.md from the oclif command classes: every command (whatever files exist in the
// commands directory when it runs), its usage, description, examples, arguments and flags with
// their defaults and environment variables. `node scripts/gen-cli-docs.mjs` (after `npm run
// build`) writes the file from dist/commands; test/unit/cli-docs.test.ts renders it from
// src/commands and fails when the committed file is out of date.
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Every command file below `dir` (ending in `ext`), with its oclif id (pattern strategy: path, `index` = the topic). */
export function commandFiles(dir, ext) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(ext) && !name.endsWith(`.d${ext}`) && !name.endsWith(`.test${ext}`)) {
        const parts = relative(dir, p).slice(0, -ext.length).split(sep);
        if (parts[parts.length - 1] === 'index') parts.pop();
        out.push({ id: parts.join(' '), path: p });
      }
    }
  };
  walk(dir);
  return out;
}

/** Imports each command file; `importer` lets a test runner load TypeScript sources. */
export async function loadCommands(dir, ext, importer = (p) => import(pathToFileURL(p).href)) {
  const commands = [];
  for (const f of commandFiles(dir, ext)) {
    const mod = await importer(f.path);
    const cls = mod.default;
    if (!cls || cls.hidden) continue;
    commands.push({ id: f.id, cls });
  }
  return commands.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const BIN = 'orch';

function text(s) {
  return String(s ?? '')
    .replace(/<%= config\.bin %>/g, BIN)
    .replace(/<%= command\.id %>/g, '');
}

/** Markdown prose: `<x>` and `*` kept literal outside code spans (`pools/*.conf`, `<nginxDir>`). */
function prose(s) {
  return s
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\*/g, '\\*')))
    .join('');
}

function cell(s) {
  return prose(
    text(s)
      .replace(/\s*\n\s*/g, ' ')
      .trim(),
  ).replace(/\|/g, '\\|');
}

function flagEnv(flag) {
  if (flag.env) return flag.env;
  const m = /\bEnv: ([A-Z][A-Z0-9_]*)/.exec(flag.description ?? '');
  return m ? m[1] : null;
}

function flagDefault(flag) {
  if (flag.default !== undefined && typeof flag.default !== 'function') {
    if (flag.type === 'boolean' && flag.default === false) return null;
    return Array.isArray(flag.default) ? flag.default.join(', ') : String(flag.default);
  }
  const d = flag.description ?? '';
  const m = /\bDefault: (.+?)\.?$/.exec(d) ?? /\(default: ([^)]+)\)/.exec(d);
  return m ? m[1] : null;
}

function flagName(name, flag) {
  const long = flag.type === 'boolean' && flag.allowNo ? `--[no-]${name}` : `--${name}`;
  const value = flag.type === 'boolean' ? '' : flag.options ? ` <${flag.options.join('|')}>` : ' <value>';
  return `${flag.char ? `-${flag.char}, ` : ''}${long}${value}`;
}

function flagTable(flags) {
  const rows = ['| flag | env | default | description |', '|---|---|---|---|'];
  for (const [name, flag] of Object.entries(flags)) {
    if (flag.hidden) continue;
    const notes = [flag.required ? 'required' : null, flag.multiple ? 'repeatable' : null].filter(Boolean);
    const desc = `${cell(flag.description)}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
    rows.push(
      `| \`${flagName(name, flag)}\` | ${flagEnv(flag) ? `\`${flagEnv(flag)}\`` : '—'} | ${flagDefault(flag) !== null ? `\`${text(flagDefault(flag)).replace(/\|/g, '\\|')}\`` : '—'} | ${desc} |`,
    );
  }
  return rows.join('\n');
}

/** Paragraphs as prose; a paragraph with indented lines or an ALL-CAPS heading (EXIT CODES) verbatim. */
function description(s) {
  return text(s)
    .split(/\n\s*\n/)
    .map((p) => {
      const lines = p.split('\n');
      const verbatim = lines.some((l) => /^\s/.test(l)) || /^[A-Z][A-Z ]+$/.test(lines[0]);
      return verbatim ? `\`\`\`\n${p}\n\`\`\`` : prose(p);
    })
    .join('\n\n');
}

function usage(id, cls) {
  const args = Object.entries(cls.args ?? {}).map(([name, a]) => (a.required ? name.toUpperCase() : `[${name.toUpperCase()}]`));
  return [BIN, id, ...args, '[flags]'].join(' ');
}

function sameFlags(a, b) {
  return (
    JSON.stringify(Object.keys(a ?? {})) === JSON.stringify(Object.keys(b ?? {})) &&
    Object.keys(a ?? {}).every((k) => a[k].description === b[k].description)
  );
}

function anchor(id) {
  return `orch-${id.replace(/ /g, '-')}`;
}

/** docs/cli.md for these commands; `topics` from package.json's oclif.topics. */
export function renderCliDocs(commands, topics = {}) {
  // The global flags: the base flags most commands share.
  const counts = new Map();
  for (const c of commands) {
    const key = JSON.stringify(Object.keys(c.cls.baseFlags ?? {}));
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const common =
    commands.find((c) => JSON.stringify(Object.keys(c.cls.baseFlags ?? {})) === [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0])
      ?.cls.baseFlags ?? {};
  const out = [
    '# orch command reference',
    '',
    '<!-- Generated from the command classes by scripts/gen-cli-docs.mjs: do not edit by hand.',
    '     After changing a command: npm run build && node scripts/gen-cli-docs.mjs -->',
    '',
    'Every command, its arguments and flags. `orch COMMAND --help` prints the same on a terminal.',
    'Settings precedence: flags > `ORCH_*` environment variables > config file > defaults (see the',
    '[README](../README.md#configuration)).',
    '',
    '| command | summary |',
    '|---|---|',
    ...commands.map((c) => `| [\`orch ${c.id}\`](#${anchor(c.id)}) | ${cell(c.cls.summary ?? c.cls.description?.split('\n')[0])} |`),
    '',
  ];
  const topicNames = [...new Set(commands.filter((c) => c.id.includes(' ')).map((c) => c.id.split(' ')[0]))].filter((t) => topics[t]);
  if (topicNames.length > 0) {
    out.push('Topics (commands grouped under a common first word):', '');
    for (const t of topicNames) out.push(`- \`orch ${t}\`: ${cell(topics[t].description)}`);
    out.push('');
  }
  out.push('## Global flags', '', 'Accepted by every command unless its section lists its own.', '', flagTable(common), '');
  for (const c of commands) {
    const cls = c.cls;
    out.push(`## orch ${c.id}`, '');
    if (cls.summary) out.push(cell(cls.summary), '');
    out.push('```', usage(c.id, cls), '```', '');
    if (cls.description) out.push(description(cls.description), '');
    const args = Object.entries(cls.args ?? {});
    if (args.length > 0) {
      out.push('Arguments:', '');
      for (const [name, a] of args) out.push(`- \`${name.toUpperCase()}\`${a.required ? '' : ' (optional)'}: ${cell(a.description)}`);
      out.push('');
    }
    const own = sameFlags(cls.baseFlags, common) ? (cls.flags ?? {}) : { ...(cls.baseFlags ?? {}), ...(cls.flags ?? {}) };
    if (Object.keys(own).length > 0) out.push('Flags:', '', flagTable(own), '');
    out.push(sameFlags(cls.baseFlags, common) ? 'And the [global flags](#global-flags).' : 'No global flags other than those listed.', '');
    const examples = (cls.examples ?? []).map((e) => (typeof e === 'string' ? e : e.command));
    if (examples.length > 0) out.push('Examples:', '', '```sh', ...examples.map(text), '```', '');
  }
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}
