import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT, runCli, STACK_LINE } from '../helpers/cli.js';
import { nginxBinary } from '../helpers/nginx.js';

/**
 * `orch install --prefix` through the built CLI, against the REAL nginx: `nginx -T` of a main
 * configuration that includes the managed files (through conf.d, as on Debian) and of one that
 * does not; the unit checked by `systemd-analyze verify`; idempotence, --dry-run, the config
 * file never overwritten without --force; the config it writes used by `orch plan`.
 */
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';

describe('orch install --prefix', () => {
  let work: string;
  let ngx: string;
  let prefix: string;
  const mainConf = (dir: string, withOrch: boolean, orchRoot: string) => `pid ${dir}/run/nginx.pid;
error_log ${dir}/logs/error.log;
events {}
http {
    access_log ${dir}/logs/access.log;
    client_body_temp_path ${dir}/temp/client_body;
    proxy_temp_path ${dir}/temp/proxy;
    fastcgi_temp_path ${dir}/temp/fastcgi;
    uwsgi_temp_path ${dir}/temp/uwsgi;
    scgi_temp_path ${dir}/temp/scgi;
    include ${dir}/conf.d/*.conf;
}
${withOrch ? '' : `# no orch includes for ${orchRoot}\n`}`;

  /** A private nginx layout: main conf, conf.d, logs and temp dirs. */
  function nginxLayout(name: string, withOrch: boolean, orchRoot: string): string {
    const dir = join(work, name);
    for (const d of ['conf.d', 'logs', 'temp', 'run']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, 'nginx.conf'), mainConf(dir, withOrch, orchRoot));
    writeFileSync(join(dir, 'conf.d/10-status.conf'), 'server { listen 127.0.0.1:18197; return 204; }\n');
    if (withOrch)
      writeFileSync(
        join(dir, 'conf.d/50-orch.conf'),
        `include ${orchRoot}/etc/nginx/orch/pools/*.conf;\ninclude ${orchRoot}/etc/nginx/orch/vhosts/*.conf;\n`,
      );
    return dir;
  }

  const install = (root: string, nginxDir: string, extra: string[] = []) =>
    runCli([
      'install',
      '--prefix',
      root,
      '--nginx',
      nginxBinary(),
      '--nginx-conf',
      join(nginxDir, 'nginx.conf'),
      '--nginx-prefix',
      nginxDir,
      ...extra,
    ]);

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'orch-install-'));
    prefix = join(work, 'root');
    ngx = nginxLayout('nginx', true, prefix);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('installs below the prefix: directories, config, unit and polkit rule', async () => {
    const r = await install(prefix, ngx);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ok  nginx includes ${prefix}/etc/nginx/orch/pools/*.conf and vhosts/*.conf inside http { }`);
    expect(r.stdout).toMatch(/skipped\s+system user orch .*useradd --system/);
    expect(r.stdout).toContain('Installed.');

    const mode = (p: string) => statSync(join(prefix, p)).mode & 0o7777;
    expect(mode('etc/nginx/orch')).toBe(0o755);
    expect(mode('etc/nginx/orch/pools')).toBe(0o755);
    expect(mode('etc/nginx/orch/vhosts')).toBe(0o755);
    expect(mode('var/lib/orch')).toBe(0o700);
    expect(mode('etc/orch')).toBe(0o750);
    expect(mode('etc/orch/config.yaml')).toBe(0o640);
    expect(mode('etc/systemd/system/orch.service')).toBe(0o644);
    expect(mode('etc/polkit-1/rules.d/50-orch-reload-nginx.rules')).toBe(0o644);

    const unit = readFileSync(join(prefix, 'etc/systemd/system/orch.service'), 'utf8');
    expect(unit).toContain(
      `ExecStart=${process.execPath} ${join(REPO_ROOT, 'bin/run.js')} watch --config ${prefix}/etc/orch/config.yaml\n`,
    );
    expect(unit).toContain(`ReadWritePaths=${prefix}/etc/nginx/orch ${prefix}/var/lib/orch\n`);
    expect(unit).toContain(`WorkingDirectory=${prefix}/srv/orch\n`);
    expect(mode('srv/orch')).toBe(0o755);
    // Found in the real `nginx -T`: the pid file and the log directory of this nginx.
    expect(unit).toContain(`ReadWritePaths=-${ngx}/run/nginx.pid ${ngx}/logs\n`);

    const config = parseYaml(readFileSync(join(prefix, 'etc/orch/config.yaml'), 'utf8'));
    expect(config).toEqual({
      manifests: `${prefix}/srv/orch/manifests`,
      nginxDir: `${prefix}/etc/nginx/orch`,
      stateDir: `${prefix}/var/lib/orch`,
      nginxBin: expect.stringMatching(/^\/.*nginx$/),
      nginxConf: join(ngx, 'nginx.conf'),
      nginxPrefix: ngx,
      reload: 'systemctl',
    });
  });

  it('writes a unit that systemd-analyze verify accepts (and rejects when broken)', async () => {
    const unitPath = join(prefix, 'etc/systemd/system/orch.service');
    if (!existsSync(SYSTEMD_ANALYZE)) {
      console.warn(`SKIPPED ASSERTION: ${SYSTEMD_ANALYZE} is not installed on this machine; the unit was not verified by systemd.`);
      return;
    }
    const ok = spawnSync(SYSTEMD_ANALYZE, ['verify', unitPath], { encoding: 'utf8' });
    // verify exits 0 on unknown keys too (a warning): no output at all is the real pass.
    expect(ok.stderr + ok.stdout).toBe('');
    expect(ok.status).toBe(0);
    // The check can fail: a unit whose binary does not exist, or with a misspelt setting.
    const broken = join(work, 'broken.service');
    writeFileSync(
      broken,
      readFileSync(unitPath, 'utf8')
        .replace(`ExecStart=${process.execPath}`, 'ExecStart=/nonexistent/node')
        .replace('ProtectHome=yes', 'ProtectHomes=yes'),
    );
    const bad = spawnSync(SYSTEMD_ANALYZE, ['verify', broken], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('/nonexistent/node');
    expect(bad.stderr).toContain("Unknown key 'ProtectHomes'");
  });

  it('changes nothing the second time, and says so', async () => {
    const files = ['etc/orch/config.yaml', 'etc/systemd/system/orch.service', 'etc/polkit-1/rules.d/50-orch-reload-nginx.rules'].map((p) =>
      join(prefix, p),
    );
    const before = files.map((f) => [readFileSync(f, 'utf8'), statSync(f).mtimeMs]);
    const r = await install(prefix, ngx);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Nothing to change: orch is already installed as described.');
    expect(r.stdout).not.toMatch(/^(created|updated)/m);
    expect(files.map((f) => [readFileSync(f, 'utf8'), statSync(f).mtimeMs])).toEqual(before);
  });

  it('--dry-run writes nothing', async () => {
    const fresh = join(work, 'dry');
    const r = await install(fresh, nginxLayout('nginx-dry', true, fresh), ['--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Dry run: nothing is written.');
    expect(r.stdout).toMatch(/would create\s+.*\/etc\/systemd\/system\/orch\.service/);
    expect(existsSync(fresh)).toBe(false);
  });

  it('refuses a main nginx configuration without the includes, printing the exact lines to add', async () => {
    const fresh = join(work, 'noinc');
    const dir = nginxLayout('nginx-noinc', false, fresh);
    const r = await install(fresh, dir);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stderr).toContain(`http { } (${dir}/nginx.conf:4) does not include ${fresh}/etc/nginx/orch/pools/*.conf.`);
    expect(r.stderr).toContain(
      `Add these lines inside the http { } block of ${dir}/nginx.conf (opened at line 4), before its closing brace at line 12`,
    );
    expect(r.stderr).toContain(`\n    include ${fresh}/etc/nginx/orch/pools/*.conf;\n    include ${fresh}/etc/nginx/orch/vhosts/*.conf;\n`);
    expect(r.stderr).toContain('Nothing was installed.');
    expect(existsSync(fresh)).toBe(false);

    // The printed lines, added where it says, satisfy the check.
    const conf = readFileSync(join(dir, 'nginx.conf'), 'utf8').split('\n');
    expect(conf[11]).toBe('}');
    conf.splice(11, 0, `    include ${fresh}/etc/nginx/orch/pools/*.conf;`, `    include ${fresh}/etc/nginx/orch/vhosts/*.conf;`);
    writeFileSync(join(dir, 'nginx.conf'), conf.join('\n'));
    const fixed = await install(fresh, dir, ['--dry-run']);
    expect(fixed.stderr).toBe('');
    expect(fixed.code).toBe(0);
  });

  it('--skip-nginx-check installs anyway, with the lines as a warning', async () => {
    const fresh = join(work, 'skip');
    const r = await install(fresh, nginxLayout('nginx-skip', false, fresh), ['--skip-nginx-check']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("warning: The main nginx configuration does not load orch's managed files (--skip-nginx-check)");
    expect(r.stdout).toContain(`include ${fresh}/etc/nginx/orch/vhosts/*.conf;`);
    expect(existsSync(join(fresh, 'etc/systemd/system/orch.service'))).toBe(true);
  });

  it('reports nginx -T failing on a broken main configuration', async () => {
    const fresh = join(work, 'broken');
    const dir = nginxLayout('nginx-broken', true, fresh);
    writeFileSync(join(dir, 'conf.d/20-bad.conf'), 'server { listen 127.0.0.1:18198; bogus_directive on; }\n');
    const r = await install(fresh, dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Cannot check the main nginx configuration: `.* -T` failed:/);
    expect(r.stderr).toContain('unknown directive "bogus_directive"');
    expect(existsSync(fresh)).toBe(false);
  });

  it("never overwrites an operator's config file; --force replaces it and keeps a .bak", async () => {
    const configPath = join(prefix, 'etc/orch/config.yaml');
    const edited = `${readFileSync(configPath, 'utf8')}\n# operator's note\nmaxDelete: 3\n`;
    writeFileSync(configPath, edited);
    const kept = await install(prefix, ngx);
    expect(kept.code).toBe(0);
    expect(kept.stdout).toMatch(/kept\s+.*config\.yaml\s+\(exists and is never overwritten/);
    expect(readFileSync(configPath, 'utf8')).toBe(edited);

    // A flag that contradicts the kept file is refused, not silently half-applied.
    const conflict = await install(prefix, ngx, ['--state-dir', '/var/lib/other']);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain(
      `The existing ${configPath} says otherwise than --state-dir ${prefix}/var/lib/other (config: ${prefix}/var/lib/orch)`,
    );

    const forced = await install(prefix, ngx, ['--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/backed up\s+.*config\.yaml\s+\(previous file kept as .*config\.yaml\.bak\)/);
    expect(readFileSync(`${configPath}.bak`, 'utf8')).toBe(edited);
    expect(readFileSync(configPath, 'utf8')).not.toContain('maxDelete: 3');
  });

  it('refuses a kept config file the unit cannot work with: reload: nginx, relative paths', async () => {
    const fresh = join(work, 'kept');
    const dir = nginxLayout('nginx-kept', true, fresh);
    mkdirSync(join(fresh, 'etc/orch'), { recursive: true });
    const abs = `manifests: ${fresh}/srv/orch/manifests\nnginxDir: ${fresh}/etc/nginx/orch\nstateDir: ${fresh}/var/lib/orch\nnginxConf: ${dir}/nginx.conf\nnginxPrefix: ${dir}\n`;
    writeFileSync(join(fresh, 'etc/orch/config.yaml'), `${abs}reload: nginx\n`);
    const r1 = await install(fresh, dir);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain('has reload: nginx');
    expect(r1.stderr).toContain('hint: Set reload: systemctl in');
    writeFileSync(
      join(fresh, 'etc/orch/config.yaml'),
      `${abs.replace(`stateDir: ${fresh}/var/lib/orch`, 'stateDir: state')}reload: systemctl\n`,
    );
    const r2 = await install(fresh, dir);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('stateDir is a relative path ("state")');
    expect(existsSync(join(fresh, 'etc/systemd'))).toBe(false);
  });

  it('writes a config file orch itself runs with', async () => {
    cpSync(join(REPO_ROOT, 'examples/gateway'), join(prefix, 'srv/orch/manifests'), { recursive: true });
    const config = join(prefix, 'etc/orch/config.yaml');
    const validate = await runCli(['validate', '--config', config]);
    expect(validate.code).toBe(0);
    const plan = await runCli(['plan', '--config', config, '--no-refresh', '--detailed-exitcode', '--json']);
    expect(plan.code).toBe(2);
    const files = JSON.parse(plan.stdout).changes.flatMap((c: { files: Array<{ path: string }> }) => c.files.map((f) => f.path));
    expect(files).toContain('vhosts/s3-main.conf');
    // The real nginx accepts the main configuration with the (still empty) managed directory.
    expect(() => execFileSync(nginxBinary(), ['-t', '-p', ngx, '-c', join(ngx, 'nginx.conf')], { stdio: 'pipe' })).not.toThrow();
  });
});
