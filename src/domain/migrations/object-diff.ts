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
 * 3. R vouches for the bytes (`R.srcEtag === S.etag && R.srcSize === S.size && R.dstEtag === D.etag`):
 *    orch wrote D from this content of S, and neither side's content changed since. The metadata
 *    (Content-Type, Content-Encoding, Content-Disposition, Content-Language, Cache-Control,
 *    Expires, x-amz-meta-*) is vouched for too when R saw the version S lists (`R.srcModified` is
 *    S's Last-Modified, to the second) and R is settled (read at least SETTLE_SECONDS after that
 *    Last-Modified, or while the source was frozen: no later write can carry the same one): **in
 *    sync**. Otherwise (a write since, possibly of the same bytes with new metadata, or one that
 *    may have come in the same second as orch's read): **compare metadata** (a HEAD of the source
 *    against R's record of what the destination got).
 *    (Checked before rule 4: a server whose 32-hex ETag is not the content's MD5, as some write
 *    for multipart or encrypted objects, must not make orch copy the same object on every pass.)
 * 4. S and D both carry plain MD5 ETags (32 hex digits, no `-N` multipart suffix): comparable.
 *    Different: **copy**. Equal: same bytes; **compare metadata** (HEADs of both sides).
 * 5. R exists, D is still what orch wrote (`R.dstEtag === D.etag`) but S is not the version orch
 *    read (`R.srcEtag !== S.etag` or `R.srcSize !== S.size`): the source changed since the copy
 *    (an overwrite with the same size, typically): **copy**, no need to hash.
 * 6. Otherwise (same size, ETags not comparable, no record that vouches, D not known to be orch's):
 *    **compare** bytes and metadata: orch must hash both sides to decide.
 *
 * A listing without Last-Modified (never the case on S3 servers) leaves metadata as vouched for by
 * a record or equal MD5s (the rules before metadata was compared).
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
  /** Last-Modified as listed (ISO); a metadata-only overwrite changes it, not the ETag. */
  lastModified?: string;
}

/** What orch copied: the source version it read and the destination version it wrote. */
export interface CopyRecord {
  key: string;
  srcEtag: string;
  srcSize: number;
  dstEtag: string;
  /** The source version's Last-Modified (epoch seconds) as read; null/absent: unknown. */
  srcModified?: number | null;
  /** What the destination holds besides the bytes (an opaque digest of the metadata as read); null/absent: unknown. */
  meta?: string | null;
  /**
   * Read at least SETTLE_SECONDS after the source's Last-Modified (by the server's clock), or while
   * the source was frozen: a later write cannot carry the same Last-Modified.
   */
  settled?: boolean;
}

/**
 * Last-Modified has a resolution of one second (HTTP dates; nanio lists whole seconds): a read
 * this long after it cannot miss a later write with the same Last-Modified, clock differences
 * between a pool's members (NTP-synchronised) included.
 */
export const SETTLE_SECONDS = 2;

/** Whole epoch seconds of an ISO or HTTP date; null when absent or unreadable. */
export function secondsOf(date: string | undefined | null): number | null {
  if (!date) return null;
  const ms = Date.parse(date);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
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

export interface ComparePair {
  source: ListedObject;
  destination: ListedObject;
  hash: boolean;
  destinationMeta: string | null;
}

export interface ObjectDiff {
  /** Missing at the destination, or known to differ (size differs, or both ETags are plain MD5s and differ, or the record says the source changed). */
  copy: ListedObject[];
  /**
   * Pairs orch must look at: `hash` (ETags not comparable, no record vouches: hash both sides and
   * compare their metadata), or not (same bytes known: compare the metadata only, by HEAD; the
   * destination's from `destinationMeta` when a record knows it).
   */
  compare: ComparePair[];
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
  const compare: ComparePair[] = [];
  const del: string[] = [];
  const inSync = { objects: 0, bytes: 0 };
  const totals = { objects: 0, bytes: 0 };
  const synced = (s: ListedObject) => {
    inSync.objects++;
    inSync.bytes += s.size;
  };

  for (const s of source.values()) {
    totals.objects++;
    totals.bytes += s.size;
    const d = destination.get(s.key);
    if (d === undefined || d.size !== s.size) {
      copy.push(s);
      continue;
    }
    const r = input.records.get(s.key);
    const listedSeconds = s.lastModified === undefined ? undefined : secondsOf(s.lastModified);
    if (r !== undefined && r.srcEtag === s.etag && r.srcSize === s.size && r.dstEtag === d.etag) {
      const sameVersion = listedSeconds === undefined || (r.srcModified != null && r.srcModified === listedSeconds);
      const metaKnown = listedSeconds === undefined || (r.meta != null && r.settled === true);
      if (sameVersion && metaKnown) synced(s);
      else compare.push({ source: s, destination: d, hash: false, destinationMeta: r.meta ?? null });
    } else if (isPlainMd5(s.etag) && isPlainMd5(d.etag)) {
      if (s.etag.toLowerCase() !== d.etag.toLowerCase()) copy.push(s);
      else if (listedSeconds === undefined) synced(s);
      else compare.push({ source: s, destination: d, hash: false, destinationMeta: null });
    } else if (r !== undefined && r.dstEtag === d.etag) {
      // The destination is what orch wrote, from a source version that is no longer there.
      copy.push(s);
    } else {
      compare.push({ source: s, destination: d, hash: true, destinationMeta: null });
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
    // A metadata-only write keeps the ETag and size: its Last-Modified tells it (when both listings have one).
    const rewritten = b?.lastModified !== undefined && o.lastModified !== undefined && b.lastModified !== o.lastModified;
    return !b || b.etag !== o.etag || b.size !== o.size || rewritten;
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
