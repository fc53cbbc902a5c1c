import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { dirname } from 'node:path';
import type { ProvenanceSource } from '../../ports/provenance.js';
import type { GenerationProvenance } from '../../ports/state-store.js';

/** git is asked with a deadline and a bounded answer: a slow or huge repository never holds an apply up. */
const GIT_TIMEOUT_MS = 5_000;
const GIT_MAX_BUFFER = 1024 * 1024;

/**
 * The user orch runs as (and the one who ran sudo, when it did), on this host; the manifests' git
 * commit and whether files under them differ from it. Outside a git work tree, without git, or when
 * git refuses the repository (another owner), the commit is null: history says "not in git".
 */
export function provenanceSource(manifests: string, env: NodeJS.ProcessEnv): ProvenanceSource {
  return {
    actor: () => actorOf(env),
    async current(): Promise<GenerationProvenance> {
      const [gitCommit, gitDirty] = await gitRevision(manifests, env);
      return { actor: actorOf(env), gitCommit, gitDirty };
    },
  };
}

function actorOf(env: NodeJS.ProcessEnv): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = env['USER'] ?? `uid ${String(process.getuid?.() ?? '?')}`;
  }
  const sudo = env['SUDO_USER'];
  const who = sudo && sudo !== user ? `${sudo} (as ${user})` : user;
  return `${who}@${hostname()}`;
}

async function gitRevision(manifests: string, env: NodeJS.ProcessEnv): Promise<[string | null, boolean | null]> {
  let dir = manifests;
  try {
    if (!statSync(manifests).isDirectory()) dir = dirname(manifests);
  } catch {
    return [null, null];
  }
  const head = await git(dir, ['rev-parse', '--verify', '--quiet', 'HEAD'], env);
  if (head === null || !/^[0-9a-f]{40,64}$/.test(head.trim())) return [null, null];
  const status = await git(dir, ['status', '--porcelain', '--untracked-files=normal', '--', '.'], env);
  return [head.trim(), status === null ? null : status.trim() !== ''];
}

function git(cwd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(
      'git',
      args,
      { cwd, timeout: GIT_TIMEOUT_MS, maxBuffer: GIT_MAX_BUFFER, env: { ...env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' } },
      (error, stdout) => resolve(error ? null : stdout),
    );
  });
}
