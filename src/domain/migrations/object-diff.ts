/**
 * What a copy pass of a bucket migration must do: the source listing against the destination
 * listing, with what orch itself copied earlier (records) and, in copy mode, what the destination
 * held before the migration started (baseline). Pure: no I/O, no clock; the output is sorted by key
 * (UTF-16 code-unit order, the order `<` gives) and depends only on the input.
 *
 * Rules, for each key at the source (S = source object, D = destination object, R = record):
 *
 * 1. No D: **copy**.
 * 2. Sizes differ: **copy** (they cannot hold the same bytes).
 * 3. R vouches for the pair (`R.srcEtag === S.etag && R.srcSize === S.size && R.dstEtag === D.etag`):
 *    **in sync**. orch wrote D from exactly this version of S, and neither side changed since.
 *    (Checked before rule 4: a server whose 32-hex ETag is not the content's MD5, as some write
 *    for multipart or encrypted objects, must not make orch copy the same object on every pass.)
 * 4. S and D both carry plain MD5 ETags (32 hex digits, no `-N` multipart suffix): comparable.
 *    Equal: **in sync** (same content, whatever R says); different: **copy**.
 * 5. R exists, D is still what orch wrote (`R.dstEtag === D.etag`) but S is not the version orch
 *    read (`R.srcEtag !== S.etag` or `R.srcSize !== S.size`): the source changed since the copy
 *    (an overwrite with the same size, typically): **copy**, no need to hash.
 * 6. Otherwise (same size, ETags not comparable, no record that vouches, D not known to be orch's):
 *    **compare**: orch must hash both sides to decide.
 *
 * For each key at the destination that is not at the source (deleted at the source, or never there):
 *
 * - sync mode: **delete** (the destination mirrors the source);
 * - copy mode: **delete** unless the baseline holds the key with D's current ETag (an object that
 *   was there before the migration started and that orch never touched is left alone; one orch
 *   overwrote, or that appeared since, is deleted: its source was deleted).
 *
 * A key listed twice on one side counts once (the last listing wins).
 */

export interface ListedObject {
  key: string;
  size: number;
  /** Without quotes. */
  etag: string;
}

/** What orch copied: the source version it read and the destination version it wrote. */
export interface CopyRecord {
  key: string;
  srcEtag: string;
  srcSize: number;
  dstEtag: string;
}

export interface DiffInput {
  source: readonly ListedObject[];
  destination: readonly ListedObject[];
  /** Copies orch made earlier (from the state database), by key; may be empty (e.g. database lost). */
  records: ReadonlyMap<string, CopyRecord>;
  /** copy mode: destination objects that existed before the migration started (key -> etag); never deleted. */
  baseline: ReadonlyMap<string, string>;
  mode: 'copy' | 'sync';
}

export interface ObjectDiff {
  /** Missing at the destination, or known to differ (size differs, or both ETags are plain MD5s and differ, or the record says the source changed). */
  copy: ListedObject[];
  /** Same size, ETags not comparable (either is a multipart ETag `...-N`) and no record vouches for them: orch must hash both. */
  compare: Array<{ source: ListedObject; destination: ListedObject }>;
  /** Destination keys to delete: not at the source, and (sync mode) any such key, or (copy mode) not in the baseline with the same ETag. */
  delete: string[];
  inSync: { objects: number; bytes: number };
  /** Totals of the source listing. */
  source: { objects: number; bytes: number };
}

const PLAIN_MD5 = /^[0-9a-fA-F]{32}$/;

/** A single-part ETag: the MD5 of the content (32 hex digits), comparable across servers. */
export function isPlainMd5(etag: string): boolean {
  return PLAIN_MD5.test(etag);
}

/** UTF-16 code-unit order (what `<` does; not locale order, not `localeCompare`). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byKey(list: readonly ListedObject[]): Map<string, ListedObject> {
  const map = new Map<string, ListedObject>();
  for (const o of list) map.set(o.key, o);
  return map;
}

export function diffObjects(input: DiffInput): ObjectDiff {
  const source = byKey(input.source);
  const destination = byKey(input.destination);
  const copy: ListedObject[] = [];
  const compare: Array<{ source: ListedObject; destination: ListedObject }> = [];
  const del: string[] = [];
  const inSync = { objects: 0, bytes: 0 };
  const totals = { objects: 0, bytes: 0 };

  for (const s of source.values()) {
    totals.objects++;
    totals.bytes += s.size;
    const d = destination.get(s.key);
    if (d === undefined || d.size !== s.size) {
      copy.push(s);
      continue;
    }
    const r = input.records.get(s.key);
    if (r !== undefined && r.srcEtag === s.etag && r.srcSize === s.size && r.dstEtag === d.etag) {
      inSync.objects++;
      inSync.bytes += s.size;
    } else if (isPlainMd5(s.etag) && isPlainMd5(d.etag)) {
      if (s.etag.toLowerCase() === d.etag.toLowerCase()) {
        inSync.objects++;
        inSync.bytes += s.size;
      } else {
        copy.push(s);
      }
    } else if (r !== undefined && r.dstEtag === d.etag) {
      // The destination is what orch wrote, from a source version that is no longer there.
      copy.push(s);
    } else {
      compare.push({ source: s, destination: d });
    }
  }

  for (const d of destination.values()) {
    if (source.has(d.key)) continue;
    if (input.mode === 'copy' && input.baseline.get(d.key) === d.etag) continue;
    del.push(d.key);
  }

  copy.sort((a, b) => compareKeys(a.key, b.key));
  compare.sort((a, b) => compareKeys(a.source.key, b.source.key));
  del.sort(compareKeys);
  return { copy, compare, delete: del, inSync, source: totals };
}

/** An object that could not be copied, compared or deleted; the message is safe to print (no credential). */
export interface TransferFailure {
  key: string;
  message: string;
}

/**
 * Writes that reached the source after the snapshot (a freeze that ended before the cutover was
 * served, or a slow request on an old worker) are copied to the destination — unless the
 * destination's object changed since orch wrote it (a newer client write wins). Without a snapshot
 * (database rebuilt) the source as listed now stands in for it.
 */
export function lateWrites(input: {
  snapshot: readonly ListedObject[] | null;
  source: readonly ListedObject[];
  destination: readonly ListedObject[];
  records: ReadonlyMap<string, CopyRecord>;
}): {
  late: ListedObject[];
  lateDeletes: string[];
  copy: ListedObject[];
  delete: string[];
} {
  const before = new Map((input.snapshot ?? input.source).map((o) => [o.key, o]));
  const destByKey = new Map(input.destination.map((o) => [o.key, o]));
  const late = input.source.filter((o) => {
    const b = before.get(o.key);
    return !b || b.etag !== o.etag || b.size !== o.size;
  });
  const nowKeys = new Set(input.source.map((o) => o.key));
  const lateDeletes = [...before.keys()].filter((k) => !nowKeys.has(k));
  const untouched = (key: string) => {
    const d = destByKey.get(key);
    const r = input.records.get(key);
    const s = before.get(key);
    // The destination still holds what orch put there (its copy record, or the snapshot's own version).
    return d === undefined
      ? true
      : (r !== undefined && r.dstEtag === d.etag) || (s !== undefined && s.etag === d.etag && s.size === d.size);
  };
  return {
    late,
    lateDeletes,
    copy: late.filter((o) => untouched(o.key)),
    delete: lateDeletes.filter((k) => destByKey.has(k) && untouched(k)),
  };
}

/** The copy-mode baseline: destination objects the source does not have (a key on both is the source's: a client's delete of it must reach the destination). */
export function baselineOf(
  mode: 'copy' | 'sync',
  destination: readonly ListedObject[],
  sourceKeys: readonly string[],
): Map<string, string> {
  if (mode !== 'copy') return new Map();
  const source = new Set(sourceKeys);
  return new Map(destination.filter((o) => !source.has(o.key)).map((o) => [o.key, o.etag]));
}

/**
 * The copy-mode baseline of an attempt that comes after earlier ones to the same pool and bucket
 * (cancelled, failed, or under another name): only objects the first attempt found there, still
 * with the ETag they had then. Anything else on the destination may be a copy an earlier attempt
 * made of an object since deleted at the source: keeping it would undo that delete.
 */
export function baselineAfterEarlier(earlier: ReadonlyMap<string, string> | null, now: ReadonlyMap<string, string>): Map<string, string> {
  if (earlier === null) return new Map(now);
  return new Map([...now].filter(([key, etag]) => earlier.get(key) === etag));
}
