import { describe, expect, it } from 'vitest';
import {
  checkManagedIncludes,
  includeInstructions,
  nginxWritablePaths,
  parseNginxBuildPaths,
  parseNginxDump,
  type NginxBuildPaths,
} from '../../src/domain/install/nginx-dump.js';

/** What `nginx -T` prints on stdout for these files (the main one first). */
function dumpOf(files: Array<[string, string]>): string {
  return files.map(([name, text]) => `# configuration file ${name}:\n${text}\n`).join('');
}

const MAIN = (httpBody: string) => `user www-data;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
events {
    worker_connections 768;
}
http {
    sendfile on;
${httpBody}
}
`;

const DEBIAN_BUILD: NginxBuildPaths = {
  prefix: '/usr/share/nginx',
  confPath: '/etc/nginx/nginx.conf',
  pidPath: '/run/nginx.pid',
  errorLogPath: 'stderr',
  httpLogPath: '/var/log/nginx/access.log',
};

describe('nginx -T dump', () => {
  it('splits the files nginx printed, keeping their exact text', () => {
    const dump = parseNginxDump(
      dumpOf([
        ['/etc/nginx/nginx.conf', 'events {}\nhttp {\n}\n'],
        ['/etc/nginx/conf.d/a.conf', '# a\n\nserver { }'],
      ]),
    );
    expect(dump.files).toEqual([
      { file: '/etc/nginx/nginx.conf', text: 'events {}\nhttp {\n}\n' },
      { file: '/etc/nginx/conf.d/a.conf', text: '# a\n\nserver { }' },
    ]);
  });

  it('reads the compiled-in paths from nginx -V', () => {
    const v =
      "nginx version: nginx/1.22.1\nbuilt with OpenSSL 3.0.11\nconfigure arguments: --with-cc-opt='-g -O2 -ffile-prefix-map=/build=.' --prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf --http-log-path=/var/log/nginx/access.log --error-log-path=stderr --lock-path=/var/lock/nginx.lock --pid-path=/run/nginx.pid --modules-path=/usr/lib/nginx/modules\n";
    expect(parseNginxBuildPaths(v)).toEqual(DEBIAN_BUILD);
  });
});

describe('managed includes in the main configuration', () => {
  const ok = ['    include /etc/nginx/orch/pools/*.conf;', '    include /etc/nginx/orch/vhosts/*.conf;'].join('\n');

  it('accepts the two includes directly inside http, pools first', () => {
    const check = checkManagedIncludes(parseNginxDump(dumpOf([['/etc/nginx/nginx.conf', MAIN(ok)]])), '/etc/nginx/orch');
    expect(check.problems).toEqual([]);
    expect(check.ok).toBe(true);
  });

  it('accepts them from a file included inside http (conf.d), and relative include paths', () => {
    const main = MAIN('    include conf.d/*.conf;');
    const dump = dumpOf([
      ['/etc/nginx/nginx.conf', main],
      ['/etc/nginx/conf.d/00-orch.conf', 'include orch/pools/*.conf;\ninclude /etc/nginx/orch/vhosts/*.conf;\n'],
      ['/etc/nginx/conf.d/zz-other.conf', 'server { listen 81; }\n'],
    ]);
    expect(checkManagedIncludes(parseNginxDump(dump), '/etc/nginx/orch').ok).toBe(true);
  });

  it('names what is missing and prints the exact lines with the http block position', () => {
    const text = MAIN('    include /etc/nginx/mime.types;');
    const check = checkManagedIncludes(
      parseNginxDump(
        dumpOf([
          ['/etc/nginx/nginx.conf', text],
          ['/etc/nginx/mime.types', 'types { }'],
        ]),
      ),
      '/etc/nginx/orch',
    );
    expect(check.ok).toBe(false);
    expect(check.problems).toEqual([
      'http { } (/etc/nginx/nginx.conf:7) does not include /etc/nginx/orch/pools/*.conf.',
      'http { } (/etc/nginx/nginx.conf:7) does not include /etc/nginx/orch/vhosts/*.conf.',
    ]);
    expect(check.http).toEqual({ file: '/etc/nginx/nginx.conf', line: 7, endLine: 10 });
    const how = includeInstructions(check, '/etc/nginx/nginx.conf');
    expect(how).toContain('inside the http { } block of /etc/nginx/nginx.conf (opened at line 7), before its closing brace at line 10');
    expect(how).toContain('\n    include /etc/nginx/orch/pools/*.conf;\n    include /etc/nginx/orch/vhosts/*.conf;');
    expect(text.split('\n')[9]).toBe('}');
  });

  it('refuses vhosts before pools', () => {
    const check = checkManagedIncludes(
      parseNginxDump(dumpOf([['/etc/nginx/nginx.conf', MAIN(ok.split('\n').reverse().join('\n'))]])),
      '/etc/nginx/orch',
    );
    expect(check.ok).toBe(false);
    expect(check.problems[0]).toMatch(/pools\/\*\.conf is included after .*vhosts\/\*\.conf .*must come first/);
  });

  it('refuses the includes outside http, or inside a server block', () => {
    const top = `include /etc/nginx/orch/pools/*.conf;\n${MAIN('    include /etc/nginx/orch/vhosts/*.conf;')}`;
    const c1 = checkManagedIncludes(parseNginxDump(dumpOf([['/etc/nginx/nginx.conf', top]])), '/etc/nginx/orch');
    expect(c1.ok).toBe(false);
    expect(c1.problems).toContain('"include /etc/nginx/orch/pools/*.conf" at /etc/nginx/nginx.conf:1 is not directly inside http { }');
    const inServer = MAIN(`    server {\n        listen 80;\n${ok}\n    }`);
    const c2 = checkManagedIncludes(parseNginxDump(dumpOf([['/etc/nginx/nginx.conf', inServer]])), '/etc/nginx/orch');
    expect(c2.ok).toBe(false);
    expect(c2.problems.filter((p) => p.includes('is not directly inside http'))).toHaveLength(2);
  });

  it('refuses a glob that would load the sidecars', () => {
    const check = checkManagedIncludes(
      parseNginxDump(
        dumpOf([['/etc/nginx/nginx.conf', MAIN('    include /etc/nginx/orch/pools/*;\n    include /etc/nginx/orch/vhosts/*.conf;')]]),
      ),
      '/etc/nginx/orch',
    );
    expect(check.ok).toBe(false);
    expect(check.problems).toContain(
      '"include /etc/nginx/orch/pools/*" at /etc/nginx/nginx.conf:9 must be exactly "include /etc/nginx/orch/pools/*.conf" (only the .conf files)',
    );
  });

  it('says when there is no http block at all', () => {
    const check = checkManagedIncludes(parseNginxDump(dumpOf([['/etc/nginx/nginx.conf', 'events {}\n']])), '/etc/nginx/orch');
    expect(check.problems).toContain('/etc/nginx/nginx.conf has no http { } block.');
    expect(includeInstructions(check, '/etc/nginx/nginx.conf')).toContain(
      'http {\n    include /etc/nginx/orch/pools/*.conf;\n    include /etc/nginx/orch/vhosts/*.conf;\n}',
    );
  });
});

describe('paths the live nginx -t writes', () => {
  it('Debian layout: the pid file and the log directory', () => {
    const main = MAIN('    access_log /var/log/nginx/access.log;\n    include /etc/nginx/sites-enabled/*;');
    const site =
      'server {\n    listen 80;\n    access_log /srv/www/logs/site.log combined;\n    error_log syslog:server=127.0.0.1;\n    location /x { access_log off; }\n    location /y { access_log /var/log/nginx/$host.log; }\n}\n';
    const dump = parseNginxDump(
      dumpOf([
        ['/etc/nginx/nginx.conf', main],
        ['/etc/nginx/sites-enabled/default', site],
      ]),
    );
    expect(nginxWritablePaths(dump, DEBIAN_BUILD, { prefix: null, errorLogFlag: null })).toEqual({
      pidFile: '/run/nginx.pid',
      logDirs: ['/srv/www/logs', '/var/log/nginx'],
    });
  });

  it('compiled-in defaults where the configuration says nothing, relative paths under the prefix', () => {
    const dump = parseNginxDump(dumpOf([['/opt/gw/nginx.conf', 'events {}\nhttp {\n    server { listen 8080; }\n}\n']]));
    const build: NginxBuildPaths = {
      prefix: '/usr/local/nginx',
      confPath: null,
      pidPath: 'logs/nginx.pid',
      errorLogPath: 'logs/error.log',
      httpLogPath: 'logs/access.log',
    };
    expect(nginxWritablePaths(dump, build, { prefix: null, errorLogFlag: null })).toEqual({
      pidFile: '/usr/local/nginx/logs/nginx.pid',
      logDirs: ['/usr/local/nginx/logs'],
    });
    // -p and -e (orch passes -e <prefix>/logs/error.log with a prefix) take precedence.
    expect(nginxWritablePaths(dump, build, { prefix: '/opt/gw', errorLogFlag: '/opt/gw/err/error.log' })).toEqual({
      pidFile: '/opt/gw/logs/nginx.pid',
      logDirs: ['/opt/gw/err', '/opt/gw/logs'],
    });
  });
});
