import { describe, expect, it } from 'vitest';
import {
  bucketFromPath,
  canonicalMemberAddress,
  checkResourceName,
  cidrHostBitsWarning,
  parseBandwidth,
  parseDurationMs,
} from '../../src/domain/manifests/value-types.js';
import { INJECTION_SAMPLES, TABLES } from './helpers/value-samples.js';

describe('typed value checks', () => {
  for (const [name, table] of Object.entries(TABLES)) {
    describe(name, () => {
      it.each(table.valid)('accepts %j', (v) => {
        expect(table.check(v)).toBeNull();
      });
      it.each(table.invalid)('rejects %j', (v) => {
        const p = table.check(v);
        expect(p).not.toBeNull();
        expect(p?.message).toBeTruthy();
        expect(p?.hint).toBeTruthy();
      });
      if (table.rejectsInjection !== false) {
        it.each(INJECTION_SAMPLES)('rejects the injection sample %j', (v) => {
          expect(table.check(v)).not.toBeNull();
          expect(table.check(`/${v}/`)).not.toBeNull();
          expect(table.check(`10.0.0.1:80${v}`)).not.toBeNull();
        });
      }
    });
  }
});

describe('messages name the offending character', () => {
  it.each([
    ['a;b', 'name "a;b" contains a semicolon (;), which is not allowed'],
    ['a\nb', 'name "a\\nb" contains a line break, which is not allowed'],
    ['a\u0007b', 'name "a\\u0007b" contains a control character (U+0007), which is not allowed'],
    ['a\u00a0b', 'name "a\\u00a0b" contains a whitespace character (U+00A0), which is not allowed'],
  ])('%j', (value, message) => {
    expect(checkResourceName(value)?.message).toBe(message);
  });
});

describe('parsers', () => {
  it('parses nginx time to milliseconds', () => {
    expect(parseDurationMs('10s')).toBe(10_000);
    expect(parseDurationMs('1m30s')).toBe(90_000);
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('30')).toBe(30_000);
    expect(parseDurationMs('1d2h3m4s5ms')).toBe(93_784_005);
    expect(parseDurationMs('1s1m')).toBeNull();
    expect(parseDurationMs('')).toBeNull();
  });

  it('parses bandwidth with binary units', () => {
    expect(parseBandwidth('50M')).toBe(50 * 1024 * 1024);
    expect(parseBandwidth('512K')).toBe(512 * 1024);
    expect(parseBandwidth('1G')).toBe(1024 ** 3);
    expect(parseBandwidth('1000')).toBe(1000);
    expect(parseBandwidth('0')).toBeNull();
  });

  it('finds the bucket of a bucket route only', () => {
    expect(bucketFromPath('/photos/')).toBe('photos');
    expect(bucketFromPath('/my.bucket-2/')).toBe('my.bucket-2');
    expect(bucketFromPath('/Photos/')).toBeNull();
    expect(bucketFromPath('/a/b/')).toBeNull();
    expect(bucketFromPath('/ab/')).toBeNull();
    expect(bucketFromPath('/10.0.0.1/')).toBeNull();
    expect(bucketFromPath('/')).toBeNull();
  });

  it('warns about CIDR host bits for IPv4 and IPv6', () => {
    expect(cidrHostBitsWarning('10.1.2.3/8')).not.toBeNull();
    expect(cidrHostBitsWarning('10.0.0.0/8')).toBeNull();
    expect(cidrHostBitsWarning('192.0.2.17')).toBeNull();
    expect(cidrHostBitsWarning('fd00::1/8')).not.toBeNull();
    expect(cidrHostBitsWarning('fd00::/8')).toBeNull();
    expect(cidrHostBitsWarning('::ffff:10.0.0.0/104')).toBeNull();
    expect(cidrHostBitsWarning('::ffff:10.0.0.1/104')).not.toBeNull();
  });

  it('canonicalises member addresses for duplicate detection', () => {
    expect(canonicalMemberAddress('[FD00:0::1]:80')).toBe(canonicalMemberAddress('[fd00::1]:80'));
    expect(canonicalMemberAddress('Files.Internal:80')).toBe(canonicalMemberAddress('files.internal:80'));
    expect(canonicalMemberAddress('10.0.0.1:80')).not.toBe(canonicalMemberAddress('10.0.0.1:81'));
  });
});
