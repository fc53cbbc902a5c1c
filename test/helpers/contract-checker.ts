import type { FinalState, OpError, OpRecord, RawResponse, ReadResult, WorkloadHistory } from './s3-workload.js';

/**
 * The migration contract of issue 6, checked on a recorded client workload (`s3-workload.ts`).
 * PURE: history + what the bucket holds at the end + the source pool's listings in, violations in
 * words out (one check per contract point), plus the refusal window as clients saw it.
 *
 *   1. no acknowledged write is lost, or replaced by older data;
 *   2. no acknowledged delete is undone;
 *   3. a read that starts after a write was acknowledged returns that write or a newer one;
 *   4. a multipart upload either completes or fails with an error the client sees;
 *   5. reads never fail; writes are only refused with 503 SlowDown (a multipart upload straddling
 *      the cutover may also fail with an explicit S3 error such as NoSuchUpload); the refusal
 *      window is at most the freeze budget (+ slack);
 *   6. source data is never deleted by orch.
 *
 * A write's effect is judged by its outcome: `acked` took effect; an error after which every
 * attempt had an HTTP answer (`definite`) did NOT take effect (the server refused it); any other
 * error (or a write still `pending` in a history taken before the workload stopped) may or may
 * not have taken effect. Every key is written by one
 * sequential client, so its writes are totally ordered by start time.
 */

export interface PoolObject {
  size: number;
  etag?: string;
}
/** A pool's listing of the bucket: key -> size (and ETag, compared only when both sides have one). */
export type PoolListing = ReadonlyMap<string, PoolObject>;

export interface CheckOptions {
  /**
   * Workload-clock times of nginx reloads. On every reload nginx's old workers close their idle
   * keep-alive connections, and a client that reuses one at that instant gets a connection reset
   * (no answer: the request was never processed), which SDKs retry like any transient network
   * error. Attempts reset within `slackMs` of a reload are counted (`counts.reloadResets`), not
   * reported; any other attempt without an answer is a violation. Default: none.
   */
  reloadTimes?: number[];
  /** The migration's freeze budget (ms): the longest a refusal window may last. */
  freezeBudgetMs: number;
  /**
   * Added to the budget, and used around refusal windows and cutovers when deciding whether a
   * multipart upload straddled one: a freeze as clients see it also spans a reload on each side.
   * Default 1500 ms.
   */
  slackMs?: number;
  /** Raw 503s further apart than this belong to different refusal windows (several freezes). Default 3000 ms. */
  windowGapMs?: number;
  /** Moments (workload clock) the routing changed (freeze on/off, route flip): multipart uploads spanning one may fail with an explicit S3 error. */
  cutoverTimes?: number[];
  /**
   * When the route was switched to the destination (workload clock). Client writes that started
   * before it went to the source, so the source may have lost or changed those keys. Default:
   * never switched (every client write may have reached the source).
   */
  routeFlippedAt?: number;
}

export interface ContractInput {
  history: WorkloadHistory;
  /** The bucket at the end, read back through the gateway (`readFinalState`). */
  final: FinalState;
  /** The source pool's listing of the bucket before the workload and migration, and after. */
  source?: { before: PoolListing; after: PoolListing };
  options: CheckOptions;
}

export type ContractPoint = 1 | 2 | 3 | 4 | 5 | 6;

export interface Violation {
  point: ContractPoint;
  message: string;
  key?: string;
  opId?: number;
}

export interface RefusalWindow {
  /** First and last raw 503 of the window (workload clock, ms). */
  first: number;
  last: number;
  ms: number;
  refusals: number;
}

export interface ContractReport {
  violations: Violation[];
  refusal: {
    /** Raw 503 answers seen (every attempt, retries included). */
    count: number;
    windows: RefusalWindow[];
    /** The longest window (0 when there was no refusal). */
    longestMs: number;
    /** First to last raw 503 over the whole history (0 when none). */
    overallMs: number;
    budgetMs: number;
    slackMs: number;
  };
  counts: {
    keys: number;
    writesAcked: number;
    writesRefused: number;
    writesUnknown: number;
    deletesAcked: number;
    multipartAcked: number;
    multipartFailed: number;
    readsChecked: number;
    listsChecked: number;
    finalKeysChecked: number;
    sourceKeysChecked: number;
    /** Attempts reset without an answer at an nginx reload (see CheckOptions.reloadTimes). */
    reloadResets: number;
  };
}

type Effect = 'acked' | 'refused' | 'unknown';

interface WriteEntry {
  rec: OpRecord;
  index: number;
  effect: Effect;
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);
const RELOAD_LEAD_MS = 10_000;
const WRITE_OPS = new Set(['seed', 'put', 'delete', 'multipart']);

function effectOf(rec: OpRecord): Effect {
  if (rec.outcome === 'acked') return 'acked';
  if (rec.outcome === 'error' && rec.error?.definite) return 'refused';
  return 'unknown';
}

const ms = (t: number) => `${Math.round(t)} ms`;
const describeWrite = (w: OpRecord) =>
  w.op === 'seed' ? `seeded object ${w.writeId}` : `${w.op === 'multipart' ? 'multipart upload' : w.op} ${w.writeId} by client ${w.client}`;
const describeError = (e: OpError | undefined) =>
  e ? `${e.code}${e.status !== undefined ? ` (HTTP ${e.status})` : ' (no answer)'}` : 'an error';

/** What a read of one key could legitimately have returned, from writes ordered per key. */
interface Judgement {
  ok: boolean;
  point?: ContractPoint;
  why?: string;
}

class KeyIndex {
  readonly byKey = new Map<string, WriteEntry[]>();
  readonly byWriteId = new Map<string, WriteEntry>();

  constructor(
    ops: readonly OpRecord[],
    private readonly violations: Violation[],
  ) {
    for (const rec of ops) {
      if (!WRITE_OPS.has(rec.op)) continue;
      const list = this.byKey.get(rec.key) ?? [];
      list.push({ rec, index: 0, effect: effectOf(rec) });
      this.byKey.set(rec.key, list);
    }
    for (const [key, list] of this.byKey) {
      list.sort((a, b) => a.rec.start - b.rec.start || a.rec.id - b.rec.id);
      list.forEach((w, i) => {
        w.index = i;
        if (w.rec.writeId) this.byWriteId.set(w.rec.writeId, w);
        const prev = list[i - 1];
        if (prev && prev.rec.op !== 'seed' && (prev.rec.outcome === 'pending' || prev.rec.end > w.rec.start)) {
          this.violations.push({
            point: 1,
            key,
            message: `harness: writes ${prev.rec.writeId} and ${w.rec.writeId} of ${key} overlap; the workload must write each key from one sequential client`,
          });
        }
      });
    }
  }

  /** Index of the last write acknowledged before `t` (-1: none). */
  lastAckedBefore(seq: WriteEntry[], t: number): number {
    let a = -1;
    for (const w of seq) if (w.effect === 'acked' && w.rec.end < t) a = w.index;
    return a;
  }

  /**
   * Judges what a read of `key` that ran over [start, end] returned (`got`; `present` for a
   * listing that only says whether the key exists).
   */
  judge(key: string, start: number, end: number, got: { writeId: string | null } | { present: boolean }, final: boolean): Judgement {
    const seq = this.byKey.get(key) ?? [];
    const a = this.lastAckedBefore(seq, start);
    const A = a >= 0 ? seq[a]! : null;
    // Writes that may be what the key holds: the last acknowledged one, and any later one that may
    // have taken effect and had started before the read ended.
    const later = seq.filter((w) => w.index > a && w.effect !== 'refused' && w.rec.start < end);
    const absentOk = A === null || A.rec.op === 'delete' || later.some((w) => w.rec.op === 'delete');
    const presentOk = (A !== null && A.rec.op !== 'delete') || later.some((w) => w.rec.op !== 'delete');
    const lossPoint: ContractPoint = final ? (A?.rec.op === 'multipart' ? 4 : 1) : 3;
    const Adesc = A ? `${describeWrite(A.rec)} (acknowledged at ${ms(A.rec.end)})` : '';

    if ('present' in got) {
      if (got.present && !presentOk) {
        if (A?.rec.op === 'delete') return { ok: false, point: 2, why: `is listed although ${Adesc} deleted it` };
        return {
          ok: false,
          point: final ? 1 : 3,
          why:
            seq.length === 0
              ? 'is listed although nobody ever wrote it'
              : 'is listed although no write that may have taken effect created it',
        };
      }
      if (!got.present && !absentOk) return { ok: false, point: lossPoint, why: `is missing from the listing although ${Adesc} wrote it` };
      return { ok: true };
    }

    if (got.writeId === null) {
      if (absentOk) return { ok: true };
      return { ok: false, point: lossPoint, why: `returned 404 although ${Adesc} wrote it${final ? ' (acknowledged write lost)' : ''}` };
    }
    const w = this.byWriteId.get(got.writeId);
    if (!w || w.rec.key !== key || w.rec.op === 'delete') {
      return {
        ok: false,
        point: final ? 1 : 3,
        why: `returned content of ${w ? `${describeWrite(w.rec)}, which wrote ${w.rec.key}` : `write ${got.writeId}, which is not in the history`}`,
      };
    }
    if (w.effect === 'refused') {
      return {
        ok: false,
        point: w.rec.op === 'multipart' ? 4 : 5,
        why: `returned ${describeWrite(w.rec)}, which the client saw refused with ${describeError(w.rec.error)}: a refused write took effect`,
      };
    }
    if (w.rec.start >= end)
      return { ok: false, point: 3, why: `returned ${describeWrite(w.rec)}, which started only after the read had ended` };
    if (A && w.index < a) {
      if (A.rec.op === 'delete')
        return { ok: false, point: 2, why: `returned ${describeWrite(w.rec)} although ${Adesc} had deleted it (delete undone)` };
      return {
        ok: false,
        point: final ? lossPoint : 3,
        why: `returned ${describeWrite(w.rec)}, older than ${Adesc}${final ? ' (replaced by older data)' : ' (stale read)'}`,
      };
    }
    return { ok: true };
  }
}

function clusterRefusals(times: number[], gap: number): RefusalWindow[] {
  const sorted = [...times].sort((x, y) => x - y);
  const out: RefusalWindow[] = [];
  for (const t of sorted) {
    const cur = out[out.length - 1];
    if (cur && t - cur.last <= gap) {
      cur.last = t;
      cur.ms = cur.last - cur.first;
      cur.refusals++;
    } else out.push({ first: t, last: t, ms: 0, refusals: 1 });
  }
  return out;
}

const READ_OK_RAW = new Set([404]);

/** Checks every point of the contract. */
export function checkContract(input: ContractInput): ContractReport {
  const { history, final, source } = input;
  const slackMs = input.options.slackMs ?? 1500;
  const gapMs = input.options.windowGapMs ?? 3000;
  const budgetMs = input.options.freezeBudgetMs;
  const flip = input.options.routeFlippedAt ?? Number.POSITIVE_INFINITY;
  const cutovers = input.options.cutoverTimes ?? [];
  const violations: Violation[] = [];
  const add = (point: ContractPoint, message: string, extra: { key?: string; opId?: number } = {}) =>
    violations.push({ point, message, ...extra });
  const idx = new KeyIndex(history.ops, violations);
  const opsById = new Map(history.ops.map((o) => [o.id, o]));

  // -- 5: the refusal windows (first to last raw 503) ---------------------------------------------
  const r503 = history.raw.filter((r) => r.status === 503);
  const windows = clusterRefusals(
    r503.map((r) => r.t),
    gapMs,
  );
  const longestMs = windows.reduce((m, w) => Math.max(m, w.ms), 0);
  for (const w of windows) {
    if (w.ms > budgetMs + slackMs)
      add(
        5,
        `writes were refused with 503 for ${ms(w.ms)} (${w.refusals} refusals from ${ms(w.first)} to ${ms(w.last)}), longer than the freeze budget ${ms(budgetMs)} + ${ms(slackMs)} slack`,
      );
  }
  const straddles = (rec: OpRecord) =>
    windows.some((w) => rec.start <= w.last + slackMs && rec.end >= w.first - slackMs) ||
    cutovers.some((t) => rec.start <= t + slackMs && rec.end >= t - slackMs);

  // -- 5: raw answers, below the SDK's retries ----------------------------------------------------
  let reloadResets = 0;
  const reloads = input.options.reloadTimes ?? [];
  // A reload is recorded when it was confirmed (the generation's commit): the reset happens up to a
  // reload's duration earlier (seconds on a loaded machine).
  const atReload = (raw: RawResponse) =>
    raw.status === 0 && RESET_CODES.has(raw.code ?? '') && reloads.some((t) => raw.t >= t - RELOAD_LEAD_MS && raw.t <= t + slackMs);
  const rawByOp = new Map<number, RawResponse[]>();
  for (const raw of history.raw) rawByOp.set(raw.opId, [...(rawByOp.get(raw.opId) ?? []), raw]);
  /** Every attempt of the operation that got no answer was a reset at a reload (never processed). */
  const onlyReloadResets = (rec: OpRecord) => {
    const unanswered = (rawByOp.get(rec.id) ?? []).filter((r) => r.status === 0);
    return unanswered.length > 0 && unanswered.every(atReload);
  };
  for (const raw of history.raw) {
    // The best-effort abort after a failed upload (s3rver answers it 405) is cleanup, not a client-visible outcome.
    if (raw.command === 'AbortMultipartUploadCommand') continue;
    const rec = opsById.get(raw.opId);
    const isRead = raw.op === 'get' || raw.op === 'list';
    const where = `${raw.command || raw.op} of ${raw.key || '(no key)'} by client ${raw.client} at ${ms(raw.t)}`;
    if (atReload(raw)) {
      reloadResets++;
    } else if (raw.status === 0) {
      add(
        5,
        `an attempt of ${where} got no answer (${raw.code ?? 'network error'})${isRead ? '' : ': a write whose outcome the client cannot know'}`,
        { key: raw.key, opId: raw.opId },
      );
    } else if (isRead) {
      if (!(raw.op === 'get' && READ_OK_RAW.has(raw.status)))
        add(
          5,
          `a read attempt (${where}) was answered HTTP ${raw.status} ${raw.code ?? ''}`.trimEnd() +
            ' (reads must never fail, even when a retry hides it)',
          { key: raw.key, opId: raw.opId },
        );
    } else if (raw.status === 503) {
      if (raw.code !== 'SlowDown')
        add(
          5,
          `a write attempt (${where}) was answered 503 without the S3 code SlowDown (code: ${raw.code ?? 'none, not an S3 error body'})`,
          { key: raw.key, opId: raw.opId },
        );
    } else if (!(raw.op === 'multipart' && raw.code && rec && straddles(rec))) {
      add(
        5,
        `a write attempt (${where}) was answered HTTP ${raw.status} ${raw.code ?? '(no S3 code)'}: the only refusal allowed is 503 SlowDown`,
        { key: raw.key, opId: raw.opId },
      );
    }
  }

  // -- every operation ------------------------------------------------------------------------------
  const counts: ContractReport['counts'] = {
    keys: idx.byKey.size,
    writesAcked: 0,
    writesRefused: 0,
    writesUnknown: 0,
    deletesAcked: 0,
    multipartAcked: 0,
    multipartFailed: 0,
    readsChecked: 0,
    listsChecked: 0,
    finalKeysChecked: 0,
    sourceKeysChecked: 0,
    reloadResets,
  };
  for (const rec of history.ops) {
    if (WRITE_OPS.has(rec.op)) {
      const eff = effectOf(rec);
      if (eff === 'acked') counts.writesAcked++;
      else if (eff === 'refused') counts.writesRefused++;
      else counts.writesUnknown++;
      if (rec.op === 'delete' && eff === 'acked') counts.deletesAcked++;
      if (rec.op === 'multipart') {
        if (eff === 'acked') counts.multipartAcked++;
        else counts.multipartFailed++;
        if (rec.outcome === 'error' && !rec.error?.definite && !onlyReloadResets(rec)) {
          add(
            4,
            `multipart upload ${rec.writeId} of ${rec.key} (client ${rec.client}, ${ms(rec.start)}-${ms(rec.end)}) ended without an answer the client could act on: ${describeError(rec.error)}`,
            { key: rec.key, opId: rec.id },
          );
        }
      }
      if (rec.outcome === 'error' && rec.error) {
        const e = rec.error;
        const slowDown = e.code === 'SlowDown' && e.status === 503;
        // Any explicit S3 error: AWS and nanio answer 404 NoSuchUpload to an upload the destination never saw; s3rver answers 500 InternalError.
        const explicitMultipart = rec.op === 'multipart' && e.status !== undefined && e.status >= 400 && Boolean(e.code) && straddles(rec);
        if (!slowDown && !explicitMultipart) {
          add(
            5,
            `${describeWrite(rec)} of ${rec.key} (${ms(rec.start)}-${ms(rec.end)}) failed with ${describeError(e)}: writes may only be refused with 503 SlowDown${rec.op === 'multipart' ? ' (or, straddling a cutover, an explicit S3 error)' : ''}`,
            { key: rec.key, opId: rec.id },
          );
        }
      }
      continue;
    }
    if (rec.outcome === 'pending') continue; // still running when the history was taken
    if (rec.outcome === 'error') {
      add(
        5,
        `read (${rec.op}) of ${rec.key || '(bucket)'} by client ${rec.client} at ${ms(rec.start)} failed with ${describeError(rec.error)}: reads never fail`,
        { key: rec.key, opId: rec.id },
      );
      continue;
    }
    if (rec.op === 'get' && rec.read) {
      counts.readsChecked++;
      judgeRead(rec, rec.read);
    } else if (rec.op === 'list' && rec.listed) {
      counts.listsChecked++;
      const listed = new Set(rec.listed);
      const candidates = new Set([...[...idx.byKey.keys()].filter((k) => k.startsWith(rec.key)), ...listed]);
      for (const key of candidates) {
        const j = idx.judge(key, rec.start, rec.end, { present: listed.has(key) }, false);
        if (!j.ok)
          add(j.point!, `listing of ${rec.key || '(bucket)'} by client ${rec.client} at ${ms(rec.start)}-${ms(rec.end)}: ${key} ${j.why}`, {
            key,
            opId: rec.id,
          });
      }
    }
  }

  function judgeRead(rec: OpRecord, read: ReadResult): void {
    const who = `read of ${rec.key} by client ${rec.client} at ${ms(rec.start)}-${ms(rec.end)}`;
    if (read.writeId !== null && !read.intact) {
      add(3, `${who} returned corrupted content (claims write ${read.writeId}, ${read.size} bytes, not that write's bytes)`, {
        key: rec.key,
        opId: rec.id,
      });
      return;
    }
    if (read.writeId === null && !read.intact) {
      add(3, `${who} returned content no write of the workload produced (${read.size} bytes)`, { key: rec.key, opId: rec.id });
      return;
    }
    const j = idx.judge(rec.key, rec.start, rec.end, { writeId: read.writeId }, false);
    if (!j.ok) add(j.point!, `${who} ${j.why}`, { key: rec.key, opId: rec.id });
  }

  // -- 1, 2, 4: the final state ---------------------------------------------------------------------
  const end = Number.POSITIVE_INFINITY;
  for (const key of new Set([...idx.byKey.keys(), ...final.objects.keys(), ...final.listed])) {
    const got = final.objects.get(key);
    if (!got) {
      add(1, `harness: ${key} was not read back at the end (pass every key of the history to readFinalState)`, { key });
      continue;
    }
    counts.finalKeysChecked++;
    const who = `at the end, ${key}`;
    if (got.error) {
      add(5, `${who} could not be read: ${got.error}`, { key });
      continue;
    }
    if (!got.intact) {
      add(
        1,
        `${who} holds corrupted content (${got.writeId ? `claims write ${got.writeId}` : 'no write of the workload'}, ${got.size} bytes)`,
        { key },
      );
      continue;
    }
    const j = idx.judge(key, end, end, { writeId: got.writeId }, true);
    if (!j.ok) add(j.point!, `${who} ${j.why}`, { key });
    const lj = idx.judge(key, end, end, { present: final.listed.has(key) }, true);
    if (j.ok && !lj.ok) add(lj.point!, `${who} ${lj.why} (final listing)`, { key });
    else if (j.ok && final.listed.has(key) !== (got.writeId !== null)) {
      add(
        got.writeId === null ? 2 : 1,
        `${who}: the final listing ${final.listed.has(key) ? 'shows it but a GET answers 404' : 'does not show it but a GET returns it'}`,
        { key },
      );
    }
  }

  // -- 6: the source pool -------------------------------------------------------------------------
  if (source) {
    for (const [key, before] of source.before) {
      counts.sourceKeysChecked++;
      const seq = idx.byKey.get(key) ?? [];
      const viaSource = seq.filter((w) => w.rec.op !== 'seed' && w.effect !== 'refused' && w.rec.start < flip);
      const after = source.after.get(key);
      if (!after) {
        if (!viaSource.some((w) => w.rec.op === 'delete'))
          add(6, `${key} was deleted from the source pool, and no client delete through the gateway reached the source`, { key });
      } else if (after.size !== before.size || (before.etag !== undefined && after.etag !== undefined && before.etag !== after.etag)) {
        if (viaSource.length === 0)
          add(
            6,
            `${key} was changed on the source pool (${before.size} -> ${after.size} bytes${before.etag !== after.etag ? ', ETag changed' : ''}), and no client write through the gateway reached the source`,
            { key },
          );
      }
    }
  }

  const all = r503.map((r) => r.t);
  return {
    violations,
    refusal: { count: r503.length, windows, longestMs, overallMs: all.length ? Math.max(...all) - Math.min(...all) : 0, budgetMs, slackMs },
    counts,
  };
}

/** The violations as text (at most `max` lines), for assertion messages. */
export function formatViolations(report: ContractReport, max = 40): string {
  const lines = report.violations.slice(0, max).map((v) => `[${v.point}] ${v.message}`);
  if (report.violations.length > max) lines.push(`... and ${report.violations.length - max} more`);
  return lines.join('\n');
}

/** One line about the run: counts and the refusal window, for printing. */
export function summarize(report: ContractReport): string {
  const c = report.counts;
  const r = report.refusal;
  return (
    `${c.keys} keys, ${c.writesAcked} writes acked (${c.deletesAcked} deletes, ${c.multipartAcked} multipart), ${c.writesRefused} refused, ${c.writesUnknown} unknown, ` +
    `${c.multipartFailed} multipart failed, ${c.readsChecked} reads and ${c.listsChecked} listings checked, ${c.finalKeysChecked} keys read back, ${c.sourceKeysChecked} source keys, ${c.reloadResets} connection resets at reloads; ` +
    `${r.count} raw 503s in ${r.windows.length} window(s), longest ${Math.round(r.longestMs)} ms (budget ${r.budgetMs} + ${r.slackMs} ms); ${report.violations.length} violations`
  );
}
