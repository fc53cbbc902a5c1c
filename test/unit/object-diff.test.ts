import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  compareKeys,
  diffObjects,
  isPlainMd5,
  type CopyRecord,
  type DiffInput,
  type ListedObject,
  lateWrites,
  SETTLE_SECONDS,
} from '../../src/domain/migrations/object-diff.js';

const md5 = (content: string) => createHash('md5').update(content).digest('hex');
/** A multipart ETag as S3 writes it: md5 of the part md5s, then `-<parts>`. */
const multipart = (content: string, parts = 2) => `${md5(`parts:${content}`)}-${parts}`;

const obj = (key: string, content: string, etag = md5(content)): ListedObject => ({ key, size: Buffer.byteLength(content), etag });
const rec = (key: string, src: ListedObject, dstEtag: string): CopyRecord => ({ key, srcEtag: src.etag, srcSize: src.size, dstEtag });

function diff(partial: Partial<DiffInput> & Pick<DiffInput, 'source' | 'destination'>) {
  return diffObjects({ records: new Map(), baseline: new Map(), mode: 'sync', ...partial });
}
const keys = (list: readonly ListedObject[]) => list.map((o) => o.key);

describe('diffObjects', () => {
  it('copies what is missing at the destination, and totals the source', () => {
    const a = obj('a', 'alpha');
    const b = obj('b', 'bravo!');
    const d = diff({ source: [b, a], destination: [] });
    expect(keys(d.copy)).toEqual(['a', 'b']);
    expect(d.compare).toEqual([]);
    expect(d.delete).toEqual([]);
    expect(d.inSync).toEqual({ objects: 0, bytes: 0 });
    expect(d.source).toEqual({ objects: 2, bytes: 11 });
  });

  it('an empty source and an empty destination: nothing to do', () => {
    const d = diff({ source: [], destination: [] });
    expect(d).toEqual({ copy: [], compare: [], delete: [], inSync: { objects: 0, bytes: 0 }, source: { objects: 0, bytes: 0 } });
  });

  it('different sizes are copied even when a record vouched for the old pair', () => {
    const old = obj('k', 'old');
    const now = obj('k', 'newer', multipart('newer'));
    const dst = obj('k', 'old', multipart('old'));
    const d = diff({ source: [now], destination: [dst], records: new Map([['k', rec('k', old, dst.etag)]]) });
    expect(d.copy).toEqual([now]);
    expect(d.inSync.objects).toBe(0);
  });

  it('two plain MD5 ETags are compared: equal is in sync, different is copied (same size)', () => {
    const same = obj('same', 'xxxx');
    const s2 = obj('diff', 'aaaa');
    const d2 = obj('diff', 'bbbb');
    const d = diff({ source: [same, s2], destination: [obj('same', 'xxxx'), d2] });
    expect(d.copy).toEqual([s2]);
    expect(d.inSync).toEqual({ objects: 1, bytes: 4 });
    expect(d.compare).toEqual([]);
  });

  it('MD5 ETags compare case-insensitively', () => {
    const s = obj('k', 'content');
    const d = diff({ source: [s], destination: [{ ...s, etag: s.etag.toUpperCase() }] });
    expect(d.inSync.objects).toBe(1);
    expect(d.copy).toEqual([]);
  });

  it('multipart ETags on either side, same size, no record: both must be hashed', () => {
    const s1 = obj('m1', 'same size', multipart('same size'));
    const d1 = obj('m1', 'same size');
    const s2 = obj('m2', 'other one');
    const d2 = obj('m2', 'other one', multipart('other one', 3));
    const s3 = obj('m3', 'both multi', multipart('both multi', 2));
    const d3 = obj('m3', 'both multi', multipart('both multi', 2));
    const d = diff({ source: [s3, s1, s2], destination: [d2, d1, d3] });
    // Even identical multipart ETags are not trusted across servers (formats differ).
    expect(d.compare).toEqual([
      { source: s1, destination: d1, hash: true, destinationMeta: null },
      { source: s2, destination: d2, hash: true, destinationMeta: null },
      { source: s3, destination: d3, hash: true, destinationMeta: null },
    ]);
    expect(d.copy).toEqual([]);
    expect(d.inSync.objects).toBe(0);
  });

  it('a record that vouches for a multipart pair keeps it in sync without hashing', () => {
    const s = obj('big', 'payload', multipart('payload', 4));
    const dst = obj('big', 'payload', multipart('payload', 2));
    const d = diff({ source: [s], destination: [dst], records: new Map([['big', rec('big', s, dst.etag)]]) });
    expect(d.inSync).toEqual({ objects: 1, bytes: 7 });
    expect(d.compare).toEqual([]);
    expect(d.copy).toEqual([]);
  });

  it('an overwrite at the source with the same size is detected through the record and copied (no hash)', () => {
    const before = obj('photo.jpg', 'AAAA', multipart('AAAA'));
    const after = obj('photo.jpg', 'BBBB', multipart('BBBB'));
    const dst = obj('photo.jpg', 'AAAA', multipart('AAAA', 1));
    const d = diff({ source: [after], destination: [dst], records: new Map([['photo.jpg', rec('photo.jpg', before, dst.etag)]]) });
    expect(d.copy).toEqual([after]);
    expect(d.compare).toEqual([]);
    expect(d.inSync.objects).toBe(0);
  });

  it('the same overwrite with plain MD5 ETags is copied too, and a record whose destination changed sends the pair to compare', () => {
    const before = obj('a', 'AAAA');
    const after = obj('a', 'BBBB');
    const d1 = diff({ source: [after], destination: [obj('a', 'AAAA')], records: new Map([['a', rec('a', before, md5('AAAA'))]]) });
    expect(d1.copy).toEqual([after]);

    // The destination is no longer what orch wrote (someone wrote there since): hash both.
    const s = obj('b', 'CCCC', multipart('CCCC'));
    const dst = obj('b', 'DDDD', multipart('DDDD'));
    const d2 = diff({ source: [s], destination: [dst], records: new Map([['b', rec('b', s, multipart('EEEE'))]]) });
    expect(d2.compare).toEqual([{ source: s, destination: dst, hash: true, destinationMeta: null }]);
    expect(d2.copy).toEqual([]);
  });

  it('a record vouches before ETags are compared: a server whose 32-hex ETag is not the MD5 is not recopied forever', () => {
    const s = obj('enc', 'same bytes');
    const dst = { ...obj('enc', 'same bytes'), etag: md5('not the content md5') };
    const d = diff({ source: [s], destination: [dst], records: new Map([['enc', rec('enc', s, dst.etag)]]) });
    expect(d.inSync.objects).toBe(1);
    expect(d.copy).toEqual([]);
  });

  it('a record with the right ETags but another size does not vouch', () => {
    const s = obj('k', 'abcd', multipart('abcd'));
    const dst = obj('k', 'abcd', multipart('dst'));
    const d = diff({
      source: [s],
      destination: [dst],
      records: new Map([['k', { key: 'k', srcEtag: s.etag, srcSize: 3, dstEtag: dst.etag }]]),
    });
    // The destination is orch's, the source is not the version it read: copy.
    expect(d.copy).toEqual([s]);
  });

  it('equal plain MD5s are in sync even when an old record says the source changed', () => {
    const before = obj('k', 'v1v1');
    const now = obj('k', 'v2v2');
    const d = diff({ source: [now], destination: [obj('k', 'v2v2')], records: new Map([['k', rec('k', before, md5('v1v1'))]]) });
    expect(d.inSync.objects).toBe(1);
    expect(d.copy).toEqual([]);
  });

  it('a lost database (no records) falls back to ETags and hashes, never to trusting the destination', () => {
    const s = obj('k', 'data', multipart('data'));
    const dst = obj('k', 'data', multipart('data'));
    const withRecord = diff({ source: [s], destination: [dst], records: new Map([['k', rec('k', s, dst.etag)]]) });
    const lost = diff({ source: [s], destination: [dst] });
    expect(withRecord.inSync.objects).toBe(1);
    expect(lost.compare).toHaveLength(1);
  });

  it('a key deleted at the source is deleted at the destination, in sync mode and in copy mode', () => {
    const kept = obj('kept', 'k');
    const goneDst = obj('gone', 'g');
    for (const mode of ['sync', 'copy'] as const) {
      const d = diff({
        mode,
        source: [kept],
        destination: [obj('kept', 'k'), goneDst],
        records: new Map([['gone', rec('gone', obj('gone', 'g'), goneDst.etag)]]),
      });
      expect(d.delete, mode).toEqual(['gone']);
      expect(d.inSync.objects, mode).toBe(1);
    }
  });

  it('copy mode keeps the destination objects of the baseline, unless they changed since', () => {
    const pre = obj('pre-existing', 'was here before');
    const changed = obj('pre-changed', 'orch overwrote it');
    const newcomer = obj('newcomer', 'appeared since');
    const baseline = new Map([
      ['pre-existing', pre.etag],
      ['pre-changed', md5('original content')],
    ]);
    const copy = diff({ mode: 'copy', source: [], destination: [newcomer, changed, pre], baseline });
    expect(copy.delete).toEqual(['newcomer', 'pre-changed']);
    // Sync mode mirrors: the baseline does not matter.
    const sync = diff({ mode: 'sync', source: [], destination: [newcomer, changed, pre], baseline });
    expect(sync.delete).toEqual(['newcomer', 'pre-changed', 'pre-existing']);
  });

  it('a baseline key that is also at the source is copied over, like any other', () => {
    const s = obj('both', 'source version');
    const dst = obj('both', 'destination one');
    const d = diff({ mode: 'copy', source: [s], destination: [dst], baseline: new Map([['both', dst.etag]]) });
    expect(d.copy).toEqual([s]);
    expect(d.delete).toEqual([]);
  });

  it('keys with unicode, spaces, % and reserved characters are matched exactly and sorted by code unit', () => {
    const odd = [
      'a b/c d.txt',
      'x+y&z=1;2',
      'caf\u00e9/\u{1f600}.png',
      '100%25 done',
      'a//double//slash',
      'Zeta',
      'a',
      '\u00e9t\u00e9',
      'ab',
    ];
    const src = odd.map((k) => obj(k, `content of ${k}`));
    // Same bytes at the destination for every other key; the rest missing. A destination key that
    // differs from a source key only by encoding or normalisation is another key.
    const dst = src.filter((_, i) => i % 2 === 0).map((o) => ({ ...o }));
    dst.push(obj('100% done', 'content of 100%25 done'), obj('cafe\u0301/\u{1f600}.png', 'x'));
    const d = diff({ source: src, destination: dst });
    const expectedCopy = odd.filter((_, i) => i % 2 === 1).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(keys(d.copy)).toEqual(expectedCopy);
    expect(d.inSync.objects).toBe(5);
    expect(d.delete).toEqual(['100% done', 'cafe\u0301/\u{1f600}.png']);
    // Code-unit order: uppercase before lowercase, 'a' before 'a b...' before 'ab', astral after BMP letters.
    const all = diff({ source: src, destination: [] });
    expect(keys(all.copy)).toEqual([
      '100%25 done',
      'Zeta',
      'a',
      'a b/c d.txt',
      'a//double//slash',
      'ab',
      'caf\u00e9/\u{1f600}.png',
      'x+y&z=1;2',
      '\u00e9t\u00e9',
    ]);
  });

  it('output is deterministic whatever the input order', () => {
    const src = Array.from({ length: 50 }, (_, i) => obj(`k${(i * 37) % 50}`, `v${i}`, i % 3 === 0 ? multipart(`v${i}`) : md5(`v${i}`)));
    const dst = src.filter((_, i) => i % 2 === 0).map((o, i) => (i % 4 === 0 ? { ...o, etag: md5('other') } : o));
    dst.push(obj('only-dst-1', 'x'), obj('only-dst-0', 'y'));
    const a = diff({ source: src, destination: dst });
    const b = diff({ source: [...src].reverse(), destination: [...dst].reverse() });
    expect(b).toEqual(a);
    expect(a.copy.length + a.compare.length + a.inSync.objects).toBe(50);
    expect(keys(a.copy)).toEqual([...keys(a.copy)].sort(compareKeys));
  });

  it('isPlainMd5 and compareKeys', () => {
    expect(isPlainMd5(md5('x'))).toBe(true);
    expect(isPlainMd5(multipart('x'))).toBe(false);
    expect(isPlainMd5('')).toBe(false);
    expect(isPlainMd5(`"${md5('x')}"`)).toBe(false);
    expect(['b', 'B', '\u{1f600}', '\uff5e', 'a'].sort(compareKeys)).toEqual(['B', 'a', 'b', '\u{1f600}', '\uff5e']);
  });
});

describe('diffObjects: metadata (what a client reads back besides the bytes)', () => {
  // Listings with Last-Modified (whole seconds, as nanio lists them).
  const T = Date.UTC(2026, 11, 7, 0, 0, 0) / 1000;
  const at = (sec: number) => new Date(sec * 1000).toISOString();
  const listed = (key: string, content: string, modified: number, etag = md5(content)): ListedObject => ({
    ...obj(key, content, etag),
    lastModified: at(modified),
  });
  const copied = (src: ListedObject, over: Partial<CopyRecord> = {}): CopyRecord => ({
    key: src.key,
    srcEtag: src.etag,
    srcSize: src.size,
    dstEtag: src.etag,
    srcModified: Math.floor(Date.parse(src.lastModified!) / 1000),
    meta: 'M1',
    settled: true,
    ...over,
  });

  it('a settled record of the version listed vouches for bytes and metadata: in sync, no request', () => {
    const s = listed('k', 'bytes', T);
    const d = listed('k', 'bytes', T + 5);
    const out = diff({ source: [s], destination: [d], records: new Map([['k', copied(s)]]) });
    expect(out.inSync.objects).toBe(1);
    expect(out.compare).toEqual([]);
  });

  it('a metadata-only overwrite (same ETag and size, new Last-Modified) sends the pair to a metadata compare against what orch wrote', () => {
    const before = listed('k', 'bytes', T);
    const now = listed('k', 'bytes', T + 30);
    const d = listed('k', 'bytes', T + 5);
    const out = diff({ source: [now], destination: [d], records: new Map([['k', copied(before)]]) });
    expect(out.inSync.objects).toBe(0);
    expect(out.copy).toEqual([]);
    expect(out.compare).toEqual([{ source: now, destination: d, hash: false, destinationMeta: 'M1' }]);
  });

  it('a record read within SETTLE_SECONDS of the write is checked again (a second write in the same second keeps Last-Modified)', () => {
    const s = listed('k', 'bytes', T);
    const d = listed('k', 'bytes', T + 1);
    const out = diff({ source: [s], destination: [d], records: new Map([['k', copied(s, { settled: false })]]) });
    expect(out.compare).toEqual([{ source: s, destination: d, hash: false, destinationMeta: 'M1' }]);
    expect(SETTLE_SECONDS).toBeGreaterThanOrEqual(2);
  });

  it('records without metadata (made before orch compared it) and equal MD5s without a record: the metadata is compared by HEAD', () => {
    const s1 = listed('a', 'alpha', T);
    const s2 = listed('b', 'bravo', T);
    const d1 = listed('a', 'alpha', T + 3);
    const d2 = listed('b', 'bravo', T + 3);
    const old: CopyRecord = { key: 'a', srcEtag: s1.etag, srcSize: s1.size, dstEtag: d1.etag };
    const out = diff({ source: [s1, s2], destination: [d1, d2], records: new Map([['a', old]]) });
    expect(out.compare).toEqual([
      { source: s1, destination: d1, hash: false, destinationMeta: null },
      { source: s2, destination: d2, hash: false, destinationMeta: null },
    ]);
  });

  it('different bytes are still copied outright, whatever the metadata', () => {
    const s = listed('k', 'new!!', T + 9);
    const d = listed('k', 'old!!', T + 1);
    const out = diff({ source: [s], destination: [d], records: new Map([['k', copied(listed('k', 'old!!', T))]]) });
    expect(keys(out.copy)).toEqual(['k']);
  });

  it('late writes: a metadata-only write to the source after the snapshot is a late write', () => {
    const snap = listed('k', 'bytes', T);
    const now = listed('k', 'bytes', T + 4);
    const d = listed('k', 'bytes', T + 2);
    const out = lateWrites({ snapshot: [snap], source: [now], destination: [d], records: new Map([['k', copied(snap)]]) });
    expect(out.late.map((o) => o.key)).toEqual(['k']);
    expect(out.copy.map((o) => o.key)).toEqual(['k']);
  });
});
