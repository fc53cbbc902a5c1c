import { ExitCode, isOrchError, ValidationError, type ExitCodeValue } from '../domain/errors.js';
import type { Style } from './style.js';
import { diagnosticToJson, formatDiagnostics } from './views/diagnostics-text.js';
import { safeLines } from './views/safe-text.js';
import { completeHintCommands } from './hint-commands.js';

export interface ErrorSink {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  style: Style;
  json: boolean;
  /** Settings flags of the command line, added to the orch commands hints name (completeHintCommands). */
  settingsArgs?: readonly string[];
}

/**
 * The one place that turns an error into output and an exit code. User errors: a message and a
 * hint, never a stack trace. Anything else is a bug: stack trace and a request to report it.
 */
export function reportError(err: unknown, sink: ErrorSink): ExitCodeValue {
  if (isOclifParseError(err)) {
    const message = safeLines((err as Error).message);
    if (sink.json) sink.stdout(errorJson({ code: 'usage', message, hint: 'See --help.' }));
    else sink.stderr(`${sink.style.red('Error:')} ${message}\n${sink.style.cyan('hint:')} see --help for usage.`);
    return ExitCode.error;
  }
  if (isOrchError(err)) {
    const settingsArgs = sink.settingsArgs ?? [];
    const hint = err.hint === undefined ? undefined : completeHintCommands(err.hint, settingsArgs);
    // The diagnostics' hints name orch commands too (orch node-config for a refusing pool's members).
    const placed =
      err instanceof ValidationError
        ? err.diagnostics.map((d) => (d.hint === undefined ? d : { ...d, hint: completeHintCommands(d.hint, settingsArgs) }))
        : [];
    if (sink.json) {
      const diagnostics = placed.map(diagnosticToJson);
      const body: Record<string, unknown> = { code: err.code, message: err.message, hint: hint ?? null, diagnostics };
      sink.stdout(errorJson(body));
    } else {
      const parts: string[] = [];
      if (err instanceof ValidationError) parts.push(formatDiagnostics(placed, sink.style));
      if (err.code === 'bug') {
        parts.push(`${sink.style.red('Internal error (a bug in orch):')} ${err.message}`, err.stack ?? '');
        parts.push('Please report it with the command you ran and the output above.');
      } else {
        parts.push(`${sink.style.red('Error:')} ${safeLines(err.message)}`);
        if (hint) parts.push(`${sink.style.cyan('hint:')} ${safeLines(hint)}`);
      }
      sink.stderr(parts.join('\n'));
    }
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  if (sink.json) sink.stdout(errorJson({ code: 'bug', message: e.message, hint: 'This is a bug in orch; please report it.' }));
  sink.stderr(
    `${sink.style.red('Internal error (a bug in orch):')} ${e.message}\n${e.stack ?? ''}\nPlease report it with the command you ran and the output above.`,
  );
  return ExitCode.error;
}

/** A failed command's JSON (docs/json.md, schemas/cli/error.schema.json). */
function errorJson(error: Record<string, unknown>): string {
  return JSON.stringify({ format_version: '1.0', error: { diagnostics: [], ...error } }, null, 2);
}

function isOclifParseError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const anyErr = err as Error & { oclif?: unknown; parse?: unknown };
  return (
    anyErr.oclif !== undefined ||
    anyErr.parse !== undefined ||
    err.constructor.name.endsWith('FlagError') ||
    err.constructor.name === 'RequiredArgsError' ||
    err.constructor.name === 'UnexpectedArgsError'
  );
}
