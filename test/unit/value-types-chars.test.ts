import { describe, expect, it } from 'vitest';
import { firstCharOutside } from '../../src/domain/manifests/value-types.js';
// @ts-expect-error plain ESM helper of the benchmark, without types
import { prng } from '../bench/fleet.mjs';

/**
 * firstCharOutside tests a whole value at once before looking for the first character outside
 * the allowed class; it must always return what the character-by-character loop returns.
 */
function reference(value: string, allowed: RegExp): string | null {
  for (const ch of value) if (!allowed.test(ch)) return ch;
  return null;
}

describe('firstCharOutside', () => {
  it('agrees with the character loop for every class the value checks use, and for classes it must not shortcut', () => {
    const classes = [
      /^[A-Za-z0-9_.-]$/,
      /^[a-z0-9.*-]$/,
      /^[0-9A-Fa-f:.]$/,
      /^[0-9A-Fa-f:./]$/,
      /^[A-Za-z0-9_.:[\]-]$/,
      /^[0-9A-Za-z]$/,
      /^[A-Za-z0-9._~!*()+,=@:/-]$/,
      /^[a-z0-9.-]$/,
      /^[^a-z]$/,
      /^[\s]$/,
      /^[\u00e0-\uffff]$/,
      /^[a-z]$/i,
    ];
    const pool = [
      'a',
      'Z',
      '0',
      '9',
      '_',
      '.',
      '-',
      '*',
      ':',
      '/',
      '[',
      ']',
      '~',
      ' ',
      '\t',
      ';',
      '{',
      '"',
      '$',
      'é',
      '\u00a0',
      '\u2028',
      '😀',
      '\ud83d',
      '\ude00',
      '\u0000',
      'ß',
    ];
    const r = prng(42);
    for (let i = 0; i < 4_000; i++) {
      let value = '';
      for (let n = r.int(0, 8); n > 0; n--) value += r.pick(pool);
      for (const allowed of classes)
        expect(firstCharOutside(value, allowed), `${JSON.stringify(value)} ${allowed}`).toBe(reference(value, allowed));
    }
  });
});
