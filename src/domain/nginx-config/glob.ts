/**
 * nginx's `include` glob (glob(3) without flags) as a regular expression: `*` and `?` never cross a
 * `/` (`component: false`, a whole path) or match anything (`component: true`, one path component),
 * `[...]` and `[!...]` are classes, everything else is literal.
 */
export function globRegExp(glob: string, opts: { component: boolean }): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += opts.component ? '.*' : '[^/]*';
    else if (c === '?') re += opts.component ? '.' : '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) re += '\\[';
      else {
        const body = glob
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}
