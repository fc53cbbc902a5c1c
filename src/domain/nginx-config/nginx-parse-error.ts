/**
 * The only error the nginx parser throws: what is wrong, in nginx's words where nginx has words
 * for it, and where (file, 1-based line and column).
 */
export class NginxParseError extends Error {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The message without the position prefix. */
  readonly reason: string;

  constructor(reason: string, file: string, line: number, column: number) {
    super(`${file}:${line}:${column}: ${reason}`);
    this.name = 'NginxParseError';
    this.file = file;
    this.line = line;
    this.column = column;
    this.reason = reason;
  }
}
