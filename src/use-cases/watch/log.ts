/**
 * orch's logger: one line per event. JSON lines (`{"time","level","event",...fields}`) when the
 * output is not a terminal (journald, a file, a pipe), readable lines on a terminal.
 *
 * The redaction guard: secret values registered with `registerSecret` (pool credentials, the
 * secret key) are replaced by `[redacted]` wherever they appear in a line, and fields whose name
 * says they hold a secret (`secret`, `password`, `token`, `credential`, `authorization`,
 * `secretAccessKey`...) are never written, whatever their value.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
export const LOG_LEVELS = Object.keys(LEVELS) as LogLevel[];

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** Values never to be written (shorter than 4 characters: ignored, they would mask everything). */
  registerSecret(value: string | null | undefined): void;
  /** The same redaction for text that leaves orch by another way (the /status JSON). */
  redact(text: string): string;
}

export interface LoggerOptions {
  write: (line: string) => void;
  /** JSON lines (not a terminal) or readable lines (a terminal). */
  json: boolean;
  level?: LogLevel;
  /** Colours for readable lines. */
  color?: boolean;
  /** The time of each line (the daemon's clock). */
  now: () => Date;
  /**
   * Applied to a line's `hint` field: the command adds its command line's settings flags to the
   * orch commands a hint names, so that pasted they act on the daemon's directories.
   */
  hint?: (text: string) => string;
}

export const REDACTED = '[redacted]';
const SECRET_FIELD = /secret|passw|token|credential|authorization|private.?key|access.?key/i;
const MIN_SECRET_LENGTH = 4;

export function createLogger(opts: LoggerOptions): Logger {
  const threshold = LEVELS[opts.level ?? 'info'];
  const now = opts.now;
  const secrets = new Set<string>();
  let sorted: string[] = [];

  const redact = (text: string): string => {
    let out = text;
    // Longest first: a secret containing another is replaced whole.
    for (const s of sorted) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  };
  const clean = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return redact(value);
    if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? String(value) : value;
    if (depth > 6) return '[…]';
    if (value instanceof Error) return redact(value.message);
    if (Array.isArray(value)) return value.map((v) => clean(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      out[k] = SECRET_FIELD.test(k) && v !== null && v !== undefined && typeof v !== 'boolean' ? REDACTED : clean(v, depth + 1);
    return out;
  };

  const emit = (level: LogLevel, event: string, fields: LogFields = {}) => {
    if (LEVELS[level] < threshold) return;
    const time = now().toISOString();
    const hinted = opts.hint && typeof fields.hint === 'string' ? { ...fields, hint: opts.hint(fields.hint) } : fields;
    const body = clean(hinted, 0) as Record<string, unknown>;
    let line: string;
    if (opts.json) {
      const { time: _t, level: _l, event: _e, ...rest } = body;
      line = JSON.stringify({ time, level, event, ...rest });
    } else {
      line = readable(time, level, event, body, opts.color ?? false);
    }
    opts.write(redact(line));
  };

  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    registerSecret(value) {
      if (!value || value.length < MIN_SECRET_LENGTH || secrets.has(value)) return;
      secrets.add(value);
      // JSON output escapes some characters: register the escaped form too.
      const escaped = JSON.stringify(value).slice(1, -1);
      if (escaped !== value) secrets.add(escaped);
      sorted = [...secrets].sort((a, b) => b.length - a.length);
    },
    redact,
  };
}

/** `2026-05-01T10:00:00.000Z info  reconcile.done outcome=applied generation=4 message="..."` */
function readable(time: string, level: LogLevel, event: string, fields: Record<string, unknown>, color: boolean): string {
  const paint = (code: string, s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const lvl =
    level === 'error' ? paint('31', 'ERROR') : level === 'warn' ? paint('33', 'WARN ') : level === 'debug' ? paint('2', 'debug') : 'info ';
  const parts = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${formatValue(v)}`);
  return `${time.slice(11, 23)} ${lvl} ${paint('1', event)}${parts.length > 0 ? ` ${parts.join(' ')}` : ''}`;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[\w./:@+-]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}
