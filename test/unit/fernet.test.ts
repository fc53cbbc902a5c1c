import { describe, expect, it } from 'vitest';
import { fernetDecrypt, fernetEncrypt, FernetError } from '../../src/domain/import/fernet.js';

// Known answers produced by the reference implementation (Python `cryptography`, Fernet.encrypt_at_time).
const KEY = 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=';
const TOKENS: Array<[string, string]> = [
  ['AKIAREFERENCE01', 'gAAAAABlU_EAmxlYmAhC-Oow1MJ22ePxpvjEYkvNM9IPsZGzHnr5g3YF555-XBcfZTjxj6d1_b0fmUYQ7HA9JOrpR4mgwd6_zA=='],
  [
    's3cr3t/with+chars=',
    'gAAAAABlU_EAZbX_qwQvQU7eQt3eUut-tXqUiD4x867-qNbmfH7UY2uOKH_lFU4LwQIHgG0XmtoX-9fJMq-SGIutENTjxyjyWcsWoJoTTWDrEthVj8aYXjg=',
  ],
];

describe('Fernet', () => {
  it.each(TOKENS)('decrypts a token of the reference implementation: %s', (plain, token) => {
    expect(fernetDecrypt(KEY, token)).toBe(plain);
  });

  it('round-trips its own tokens, with the reference layout (version, timestamp)', () => {
    const token = fernetEncrypt(KEY, 'päss wörd ✓', new Date(1_700_000_000_000));
    expect(fernetDecrypt(KEY, token)).toBe('päss wörd ✓');
    expect(token.slice(0, 11)).toBe(TOKENS[0]![1].slice(0, 11)); // 0x80 + the same timestamp
  });

  it('refuses a wrong key, a tampered token and garbage, with FernetError only', () => {
    const other = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
    expect(() => fernetDecrypt(other, TOKENS[0]![1])).toThrow(/wrong key or damaged token/);
    const t = TOKENS[0]![1];
    const tampered = t.slice(0, 30) + (t[30] === 'A' ? 'B' : 'A') + t.slice(31);
    expect(() => fernetDecrypt(KEY, tampered)).toThrow(FernetError);
    for (const bad of ['', 'not a token', 'gAAAA', '!!!!']) expect(() => fernetDecrypt(KEY, bad)).toThrow(FernetError);
    expect(() => fernetDecrypt('short', t)).toThrow(/32 bytes/);
  });
});
