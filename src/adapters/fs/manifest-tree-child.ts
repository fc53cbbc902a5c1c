/**
 * The child process that reads a manifest tree on a network or FUSE file system for
 * readManifestTree (read-manifest-sources.ts), which waits for it at most a deadline:
 * `node manifest-tree-child.js TARGET CWD` prints each path on its standard error before it
 * touches it, then the tree (or the UserError) as JSON on its standard output.
 */
import { UserError } from '../../domain/errors.js';
import { readManifestTreeHere, type ChildTreeAnswer } from './read-manifest-sources.js';

const [target, cwd] = process.argv.slice(2);
let answer: ChildTreeAnswer;
try {
  answer = {
    tree: readManifestTreeHere(target ?? '.', cwd ?? process.cwd(), { localOnly: false, onEnter: (p) => process.stderr.write(`${p}\n`) }),
  };
} catch (e) {
  if (!(e instanceof UserError)) throw e;
  answer = { userError: { code: e.code, message: e.message, ...(e.hint === undefined ? {} : { hint: e.hint }) } };
}
process.stdout.write(JSON.stringify(answer));
