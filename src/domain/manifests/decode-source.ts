import type { Diagnostic } from '../diagnostics.js';
import type { SourceText } from './parse-manifests.js';
import { shellWord } from '../shell-word.js';
import { describeChar } from './text.js';

/**
 * Limits on what the manifest reader accepts, before any YAML is parsed. A fleet of thousands of
 * virtual hosts in one file stays far below them; 50 MB of garbage does not.
 */
export const MANIFEST_LIMITS = {
  /** Bytes of one manifest file. */
  fileBytes: 16 * 1024 * 1024,
  /** Bytes of every manifest file of a tree together. */
  treeBytes: 256 * 1024 * 1024,
  /** Manifest files in a tree. */
  files: 100_000,
} as const;

export type DecodedSource = { ok: true; source: SourceText } | { ok: false; diagnostic: Diagnostic };

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A manifest file's bytes as text: strict UTF-8 (an invalid byte is refused at its line and
 * column, never turned into U+FFFD), a leading byte order mark dropped, and no control character
 * other than tab, line feed and carriage return (YAML allows none; a NUL means a binary file).
 */
export function decodeManifestBytes(path: string, bytes: Uint8Array): DecodedSource {
  let text: string;
  try {
    text = STRICT_UTF8.decode(bytes);
  } catch {
    const bad = firstInvalidUtf8(bytes);
    const { line, column } = positionOfByte(bytes, bad);
    return {
      ok: false,
      diagnostic: {
        severity: 'error',
        code: 'manifest.encoding',
        message: `byte 0x${(bytes[bad] ?? 0).toString(16).padStart(2, '0')} at offset ${bad} is not valid UTF-8`,
        hint: 'Save the file as UTF-8 (iconv -f LATIN1 -t UTF-8 FILE, or your editor\'s "save with encoding").',
        source: { file: path, line, column },
      },
    };
  }
  const control = firstControlChar(text);
  if (control) {
    return {
      ok: false,
      diagnostic: {
        severity: 'error',
        code: 'manifest.control-char',
        message: `contains ${describeChar(control.ch)}${control.ch === '\u0000' ? ': this looks like a binary file, not YAML' : ''}`,
        hint: 'Manifests are YAML text: remove the character (write it as an escape such as "\\u0007" inside a double-quoted string if it is really wanted), or move the file out of the manifests directory.',
        source: { file: path, line: control.line, column: control.column },
      },
    };
  }
  return { ok: true, source: { path, text } };
}

/** A manifest file orch refused to read, as a positioned diagnostic (line 1 of the file). */
export function unreadableManifest(
  path: string,
  why: 'too-large' | 'tree-too-large' | 'too-many-files' | 'permission' | 'symlink-loop' | 'not-a-file' | 'unreadable',
  detail: string,
): Diagnostic {
  const table = {
    'too-large': {
      code: 'manifest.too-large',
      hint: `A manifest file may hold at most ${MANIFEST_LIMITS.fileBytes / 1024 / 1024} MiB; split it into several files, or move what is not a manifest out of the directory.`,
    },
    'tree-too-large': {
      code: 'manifest.too-large',
      hint: `The manifest files together may hold at most ${MANIFEST_LIMITS.treeBytes / 1024 / 1024} MiB; move what is not a manifest out of the directory.`,
    },
    'too-many-files': {
      code: 'manifest.too-large',
      hint: `A manifest tree may hold at most ${MANIFEST_LIMITS.files} files; point --manifests at the directory of the manifests only.`,
    },
    'permission': {
      code: 'manifest.unreadable',
      hint: `Give the user running orch read access (chmod a+r ${shellWord(path)}, or run orch as the owner).`,
    },
    'symlink-loop': {
      code: 'manifest.symlink-loop',
      hint: 'A symbolic link points back at a directory that contains it; remove or fix the link.',
    },
    'not-a-file': {
      code: 'manifest.unreadable',
      hint: 'Manifest files must be regular files (or links to them); move the FIFO, socket or device out of the directory.',
    },
    'unreadable': {
      code: 'manifest.unreadable',
      hint: 'Check the file exists and can be read (a dangling symbolic link cannot).',
    },
  } as const;
  const { code, hint } = table[why];
  return { severity: 'error', code, message: detail, hint, source: { file: path, line: 1, column: 1 } };
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] ?? 0;
    let need = 0;
    let min = 0;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    let cp = b & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return Math.max(0, bytes.length - 1);
}

/** 1-based line and column (in characters) of byte `offset`. */
function positionOfByte(bytes: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  const before = new TextDecoder('utf-8').decode(bytes.subarray(lineStart, offset));
  return { line, column: [...before].length + 1 };
}

function firstControlChar(text: string): { ch: string; line: number; column: number } | null {
  const m = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.exec(text);
  if (!m) return null;
  const before = text.slice(0, m.index);
  const lineStart = before.lastIndexOf('\n') + 1;
  const line = before.split('\n').length;
  return { ch: m[0], line, column: [...before.slice(lineStart)].length + 1 };
}
