import { BugError } from '../errors.js';
import type { Origin } from '../model/desired-state.js';
import type { LineOrigin } from './rendered-tree.js';

/** A field path inside a manifest document, e.g. `['spec', 'members', 2, 'address']`. */
export type FieldPath = ReadonlyArray<string | number>;

/**
 * Sentinel delimiter. Templates end a line with `at(origin, field)`, which emits `\0<n>\0`;
 * `finish()` strips the sentinels and turns them into the line map. NUL can never appear in a
 * rendered value: `nginx-syntax.ts` rejects control characters in every value it lets through,
 * and `finish()` fails loudly on any stray NUL, so a sentinel cannot be forged by manifest text.
 */
const SENTINEL = '\u0000';
const SENTINEL_CODE = 0;
/** The field path of a line that belongs to the document as a whole (`server {`, `}`). */
const DOCUMENT: FieldPath = Object.freeze([]);
const NEWLINE = 10;
const DIGIT_0 = 48;
const DIGIT_9 = 57;

/**
 * Collects the origin of every line of one rendered file. One tracker per file render:
 * the sentinel numbers index into this tracker's own list.
 */
export class LineTracker {
  private readonly origins: LineOrigin[] = [];

  /** Marks the current line as produced by `field` of the document at `origin`. Use at line end. */
  readonly at = (origin: Origin, field: FieldPath = DOCUMENT): string => {
    const n = this.origins.length;
    this.origins.push({ origin, field: field as Array<string | number> });
    return SENTINEL + n + SENTINEL;
  };

  /**
   * Strips the sentinels from `raw` and returns the clean text plus `lineMap`, where
   * `lineMap[i]` is the origin of line `i + 1` (null: a line orch adds on its own).
   * `raw` must end with exactly one newline, which the clean text keeps.
   *
   * Invariants checked: every sentinel ends a line, and sentinels appear in the order `at()` was
   * called (0, 1, 2, ...), each exactly once, so no text can forge or reorder one.
   * One pass over the sentinels, no per-line strings: this runs on every line of a fleet.
   */
  finish(raw: string): { content: string; lineMap: Array<LineOrigin | null> } {
    const n = raw.length;
    if (n === 0 || raw.charCodeAt(n - 1) !== NEWLINE || (n > 1 && raw.charCodeAt(n - 2) === NEWLINE)) {
      throw new BugError('render: a rendered file must end with exactly one newline');
    }
    const lineMap: Array<LineOrigin | null> = [];
    let content = '';
    let pos = 0; // start of the raw text not yet copied to content
    let scan = 0; // where the newline count has reached
    let line = 0; // 0-based line of `scan`
    let expected = 0;
    for (;;) {
      const open = raw.indexOf(SENTINEL, pos);
      if (open < 0) break;
      for (let nl = raw.indexOf('\n', scan); nl >= 0 && nl < open; nl = raw.indexOf('\n', nl + 1)) {
        lineMap[line++] = null;
        scan = nl + 1;
      }
      let close = open + 1;
      let value = 0;
      for (let c = raw.charCodeAt(close); c >= DIGIT_0 && c <= DIGIT_9; c = raw.charCodeAt(++close)) {
        value = value * 10 + (c - DIGIT_0);
      }
      if (close === open + 1 || raw.charCodeAt(close) !== SENTINEL_CODE || value !== expected) {
        throw new BugError(`render: stray NUL or malformed line-map sentinel on line ${line + 1}`);
      }
      if (raw.charCodeAt(close + 1) !== NEWLINE) {
        throw new BugError(`render: line-map sentinel not at the end of line ${line + 1}`);
      }
      lineMap[line++] = this.origins[expected++]!;
      content += raw.slice(pos, open) + '\n';
      pos = close + 2;
      scan = pos;
    }
    if (expected !== this.origins.length) {
      throw new BugError('render: a line-map sentinel was recorded but never written');
    }
    for (let nl = raw.indexOf('\n', scan); nl >= 0; nl = raw.indexOf('\n', nl + 1)) lineMap[line++] = null;
    content += raw.slice(pos);
    return { content, lineMap };
  }
}
