import { UserError } from '../errors.js';

/** How orch runs an nginx binary. */
export interface NginxInvocation {
  bin: string;
  /** Main configuration, passed with -c. */
  conf: string | null;
  /** Prefix, passed with -p. */
  prefix: string | null;
  /** Error log passed with -e (nginx >= 1.19.5), so a private nginx never touches /var/log. */
  errorLog?: string | null;
}

/** The -p, -c and -e arguments of an invocation. */
export function nginxArgs(inv: NginxInvocation): string[] {
  const args: string[] = [];
  if (inv.prefix) args.push('-p', inv.prefix);
  if (inv.conf) args.push('-c', inv.conf);
  if (inv.errorLog) args.push('-e', inv.errorLog);
  return args;
}

export function nginxMissingError(bin: string): UserError {
  return new UserError('nginx.not-found', `nginx binary "${bin}" was not found.`, {
    hint: 'Install nginx (Debian/Ubuntu: `sudo apt-get install -y nginx-light`) or point ORCH_NGINX / nginxBin at it.',
  });
}
