/**
 * How a bucket route is served while a migration owns it. Four routings, each safe to have live
 * at any moment (that is what makes a crash at any point recoverable):
 *
 * - `source`: reads and writes go to the source pool (the route as the manifest has it).
 * - `freeze`: reads go to the source; writes are answered `503 SlowDown` until `freezeUntil`
 *   (epoch seconds), then go to the source again. nginx itself ends the freeze: if orch dies
 *   mid-freeze, writes are refused for at most the freeze budget, never longer.
 * - `cutover`: reads go to the destination; writes are refused until `freezeUntil`, then go to
 *   the destination. Only deployed after the destination was verified equal to the frozen source.
 * - `destination`: reads and writes go to the destination pool.
 *
 * A write is any method other than GET, HEAD and OPTIONS (PUT, POST — multipart and DeleteObjects
 * — DELETE, ...).
 */
export type MigrationRouting = 'source' | 'freeze' | 'cutover' | 'destination';

export const MIGRATION_ROUTINGS: readonly MigrationRouting[] = ['source', 'freeze', 'cutover', 'destination'];

/** The migration annotation of a rendered route (and of its sidecar entry). */
export interface RouteMigration {
  name: string;
  routing: MigrationRouting;
  from: string;
  to: string;
  /** Epoch seconds until which writes are refused (`freeze` and `cutover`); null otherwise. */
  freezeUntil: number | null;
  /** The pool the Route manifest names (may differ from the pool served while a migration owns the route). */
  manifestPool: string;
}

/** The pool that serves the route's reads (and, outside the freeze, its writes). */
export function servingPool(m: Pick<RouteMigration, 'routing' | 'from' | 'to'>): string {
  return m.routing === 'source' || m.routing === 'freeze' ? m.from : m.to;
}

/** Whether the routing refuses writes (until its `freezeUntil`). */
export function refusesWrites(m: Pick<RouteMigration, 'routing' | 'freezeUntil'>): boolean {
  return (m.routing === 'freeze' || m.routing === 'cutover') && m.freezeUntil !== null;
}

/**
 * A PCRE that matches `$msec` (`1763812345.678`) while the epoch second is lower than `until`,
 * i.e. before the freeze ends. nginx compares no numbers, so "less than" is spelled digit by digit
 * for 10-digit epoch seconds (2001-09-09 to 2286-11-20): for each position i, the first i digits
 * equal, digit i lower, any digits after. Only digits, `[`, `]`, `-`, `{`, `}`, `|`, `(`, `)`,
 * `^`, `\` and `.` appear, and the caller quotes the pattern.
 */
export function epochBeforeRegex(until: number): string {
  if (!Number.isSafeInteger(until) || until < 1_000_000_000 || until > 9_999_999_999) {
    throw new RangeError(`freeze end ${until} is not a 10-digit epoch second`);
  }
  const digits = String(until);
  const alternatives: string[] = [];
  for (let i = 0; i < digits.length; i++) {
    const d = Number(digits[i]);
    if (d === 0) continue;
    const rest = digits.length - i - 1;
    const lower = d === 1 ? '0' : `[0-${d - 1}]`;
    alternatives.push(`${digits.slice(0, i)}${lower}${rest > 0 ? `[0-9]{${rest}}` : ''}`);
  }
  return `^1:(${alternatives.join('|')})\\.`;
}

/** The S3 error a refused write gets: `SlowDown`, which the AWS SDKs retry with backoff. */
export const SLOWDOWN_BODY =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate: this bucket is moving to another pool; retry in a moment.</Message></Error>';

/** The named location refused writes are sent to (one per server block that needs it). */
export const SLOWDOWN_LOCATION = '@orch_slowdown';
