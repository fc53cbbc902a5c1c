import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { buildTestConfig, mapTestPaths } from '../../domain/apply/test-config.js';
import { UserError } from '../../domain/errors.js';
import { globRegExp } from '../../domain/nginx-config/glob.js';

/**
 * Writes the configuration one `nginx -t` validates a new generation with (the pure rewrite is
 * src/domain/apply/test-config.ts) under `stagingDir`:
 *
 *   <staging>/conf/<main>        the operator's main file, its managed includes pointed at the generation
 *   <staging>/conf/<other>       a symlink to every other entry of the main file's directory, so that
 *                                relative paths (mime.types, snippets/, certificates) mean what they mean
 *   <staging>/included/<n>-<f>   rewritten copies of included files that lead to the managed includes
 *
 * or, when the main configuration includes nothing of the managed directory, a wrapper that
 * includes only the generation (`scope: 'wrapper'`).
 */
export interface PreparedTest {
  scope: 'main' | 'wrapper';
  /** The file to pass with -c. */
  conf: string;
  /** -p for the test: the operator's prefix, or the wrapper's private one. */
  prefix: string | null;
  errorLog: string | null;
  /** Maps the test's paths in nginx's output back to the operator's. */
  mapOutput(output: string): string;
}

export function prepareGenerationTest(opts: {
  stagingDir: string;
  mainConf: string;
  prefix: string | null;
  errorLog: string | null;
  nginxDir: string;
  generationDir: string;
}): PreparedTest {
  const staging = opts.stagingDir;
  try {
    readFileSync(opts.mainConf, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new UserError('nginx.conf-unreadable', `Cannot read nginx's main configuration ${opts.mainConf} (${code}).`, {
      hint: 'orch validates every new generation with it before switching: make it readable by the user orch runs as, or set nginxConf (ORCH_NGINX_CONF) to the right file. Nothing was changed.',
    });
  }
  rmSync(staging, { recursive: true, force: true });
  const confDir = join(staging, 'conf');
  const includedDir = join(staging, 'included');
  mkdirSync(confDir, { recursive: true });
  const nginxDirs = [opts.nginxDir];
  try {
    const real = realpathSync(opts.nginxDir);
    if (real !== opts.nginxDir) nginxDirs.push(real);
  } catch {
    /* not there yet */
  }
  const config = buildTestConfig({
    mainConf: opts.mainConf,
    nginxDirs,
    generationDir: opts.generationDir,
    read: (file) => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return null;
      }
    },
    glob: nginxGlob,
    realpath: (dir) => {
      try {
        return realpathSync(dir);
      } catch {
        return null;
      }
    },
    copyPath: (original, index) => join(includedDir, `${index}-${basename(original)}`),
  });

  if (!config.reachesManaged) {
    const wrapper = join(staging, 'wrapper');
    for (const d of ['logs', 'temp']) mkdirSync(join(wrapper, d), { recursive: true });
    const conf = join(wrapper, 'nginx.conf');
    writeFileSync(conf, wrapperConf(wrapper, opts.generationDir));
    return { scope: 'wrapper', conf, prefix: wrapper, errorLog: join(wrapper, 'logs', 'error.log'), mapOutput: (o) => o };
  }

  const mainDir = dirname(opts.mainConf);
  const mainName = basename(opts.mainConf);
  for (const name of readdirSync(mainDir)) {
    if (name === mainName) continue;
    symlinkSync(join(mainDir, name), join(confDir, name));
  }
  const [main, ...included] = config.files;
  const conf = join(confDir, mainName);
  writeFileSync(conf, main!.text);
  if (included.length > 0) mkdirSync(includedDir, { recursive: true });
  for (const f of included) writeFileSync(f.path!, f.text);
  const replacements: Array<readonly [string, string]> = [
    [conf, opts.mainConf],
    [`${confDir}/`, `${mainDir}/`],
    ...included.map((f) => [f.path!, f.original] as const),
  ];
  return {
    scope: 'main',
    conf,
    prefix: opts.prefix,
    errorLog: opts.errorLog,
    mapOutput: (o) => mapTestPaths(o, replacements),
  };
}

/** nginx's `include` glob (glob(3) without flags, C locale): byte order, `*` skips dotfiles. */
export function nginxGlob(pattern: string): string[] {
  if (!isAbsolute(pattern)) return [];
  let paths = ['/'];
  for (const comp of pattern.split('/').slice(1)) {
    if (comp === '') continue;
    if (!/[*?[]/.test(comp)) {
      paths = paths.map((p) => join(p, comp));
      continue;
    }
    const re = globRegExp(comp, { component: true });
    paths = paths.flatMap((p) => {
      let names: string[];
      try {
        names = readdirSync(p);
      } catch {
        return [];
      }
      return names.filter((n) => (comp.startsWith('.') || !n.startsWith('.')) && re.test(n)).map((n) => join(p, n));
    });
  }
  return paths.filter((p) => existsSync(p)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** A wrapper nginx.conf testing one generation alone, everything nginx writes under a private prefix. */
export function wrapperConf(prefix: string, generationDir: string): string {
  const t = (name: string) => join(prefix, 'temp', name);
  return `# orch: tests one generation alone (the main configuration includes none of it). Not a live configuration.
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')};
events {}
http {
    access_log off;
    server_names_hash_bucket_size 128;
    server_names_hash_max_size 65536;
    client_body_temp_path ${t('client_body')};
    proxy_temp_path ${t('proxy')};
    fastcgi_temp_path ${t('fastcgi')};
    uwsgi_temp_path ${t('uwsgi')};
    scgi_temp_path ${t('scgi')};
    include ${join(generationDir, 'pools')}/*.conf;
    include ${join(generationDir, 'vhosts')}/*.conf;
}
`;
}
