import { execFileSync } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants, copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import type { HostSystem } from '../../ports/host-system.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { runCommand } from '../nginx/nginx-cli.js';

function missing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ENOENT';
}

/** This machine, as the running process sees it (PATH and working directory of the process). */
export const localHost: HostSystem = {
  runsAsRoot: typeof process.getuid === 'function' ? process.getuid() === 0 : null,
  nodePath: process.execPath,
  findExecutable(name) {
    const candidates = name.includes('/')
      ? [name]
      : (process.env['PATH'] ?? '')
          .split(delimiter)
          .filter(Boolean)
          .map((d) => join(d, name));
    for (const c of candidates) {
      try {
        accessSync(c, constants.X_OK);
        if (statSync(c).isFile()) return isAbsolute(c) ? c : join(process.cwd(), c);
      } catch {
        /* next */
      }
    }
    return null;
  },
  stat(path) {
    try {
      const st = statSync(path);
      return { isFile: st.isFile(), isDirectory: st.isDirectory(), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    } catch (e) {
      if (missing(e)) return null;
      throw e;
    }
  },
  readText(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      if (missing(e)) return null;
      throw e;
    }
  },
  writeText: (path, text, mode) => writeFileAtomic(path, text, { mode }),
  makeDir: (path) => void mkdirSync(path, { recursive: true }),
  setMode: (path, mode) => chmodSync(path, mode),
  setOwner: (path, uid, gid) => chownSync(path, uid, gid),
  copy: (from, to) => copyFileSync(from, to),
  lookupUser(user) {
    try {
      const line = execFileSync('getent', ['passwd', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      const f = line.split(':');
      return { uid: Number(f[2]), gid: Number(f[3]) };
    } catch {
      return null;
    }
  },
  createSystemUser(user, home) {
    execFileSync('useradd', ['--system', '--user-group', '--home-dir', home, '--no-create-home', '--shell', '/usr/sbin/nologin', user], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  },
  run: (cmd, args, timeoutMs) => runCommand(cmd, args, { timeoutMs }),
};
