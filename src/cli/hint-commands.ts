/**
 * Hints name orch commands in quotes ('orch drift', `orch plan --out FILE`). Pasted as printed,
 * such a command must act on the same manifests, nginx directory and state as the command that
 * printed it: the settings flags given on its command line (--config, -m, --nginx-dir,
 * --state-dir, --nginx) are added to every quoted `orch ...` command of a hint. Settings from the
 * environment or the config file carry over by themselves.
 */
export function completeHintCommands(hint: string, settingsArgs: readonly string[]): string {
  if (settingsArgs.length === 0) return hint;
  const extra = settingsArgs.join(' ');
  // A settings value with shell quotes (`--state-dir '/a b'`) cannot sit inside a single-quoted
  // command: such a command is then set in backquotes, as a command holding quoted words is.
  const quote = extra.includes("'") ? '`' : "'";
  // In backquotes a command may hold single-quoted words (`orch suspend --reason 'a b'`).
  return hint.replace(/`(orch [^`]*?)`|'(orch [^'`]*?)'/g, (whole: string, inBackquotes?: string, inQuotes?: string) =>
    inBackquotes !== undefined ? `\`${inBackquotes} ${extra}\`` : inQuotes !== undefined ? `${quote}${inQuotes} ${extra}${quote}` : whole,
  );
}

export { shellWord } from '../domain/shell-word.js';
