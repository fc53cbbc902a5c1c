import { describe, expect, it } from 'vitest';
import { buildTestConfig, mapTestPaths, type TestConfigInput } from '../../src/domain/apply/test-config.js';

/**
 * The configuration one nginx -t validates a new generation with: the operator's main
 * configuration, its includes of the managed directory pointed at the generation, wherever they
 * are written; everything else read where it is.
 */

function input(files: Record<string, string>, over: Partial<TestConfigInput> = {}): TestConfigInput {
  const names = Object.keys(files).sort();
  return {
    mainConf: '/etc/nginx/nginx.conf',
    nginxDirs: ['/etc/nginx/orch'],
    generationDir: '/etc/nginx/orch/generations/13',
    read: (f) => files[f] ?? null,
    glob: (pattern) => {
      const re = new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
      return names.filter((n) => re.test(n) && !n.slice(n.lastIndexOf('/') + 1).startsWith('.'));
    },
    realpath: (d) => d,
    copyPath: (original, i) => `/var/lib/orch/staging/included/${i}-${original.slice(original.lastIndexOf('/') + 1)}`,
    ...over,
  };
}

describe('test configuration: the main configuration with the managed includes pointed at the new generation', () => {
  it('includes written in the main file (absolute and relative) are pointed at the generation; the rest is untouched', () => {
    const main = [
      'user www-data;',
      'events {}',
      'http {',
      '    include mime.types;',
      '    include /etc/nginx/orch/pools/*.conf;',
      '    include orch/vhosts/*.conf;',
      '    server { listen 80; }',
      '}',
      '',
    ].join('\n');
    const c = buildTestConfig(input({ '/etc/nginx/nginx.conf': main, '/etc/nginx/mime.types': 'types {}\n' }));
    expect(c.reachesManaged).toBe(true);
    expect(c.files).toHaveLength(1);
    expect(c.files[0]!.path).toBeNull();
    expect(c.files[0]!.text).toBe(
      main
        .replace('include /etc/nginx/orch/pools/*.conf;', 'include /etc/nginx/orch/generations/13/pools/*.conf;')
        .replace('include orch/vhosts/*.conf;', 'include /etc/nginx/orch/generations/13/vhosts/*.conf;'),
    );
  });

  it('includes reached through other files (sites-enabled/*, conf.d/...) are rewritten in copies, in nginx order', () => {
    const files = {
      '/etc/nginx/nginx.conf': 'events {}\nhttp {\n    include /etc/nginx/conf.d/*.conf;\n    include /etc/nginx/sites-enabled/*;\n}\n',
      '/etc/nginx/conf.d/a-gzip.conf': 'gzip on;\n',
      '/etc/nginx/conf.d/orch.conf': '# the gateway\ninclude /etc/nginx/orch/pools/*.conf;\ninclude /etc/nginx/orch/vhosts/*.conf;\n',
      '/etc/nginx/conf.d/z-log.conf': 'access_log off;\n',
      '/etc/nginx/sites-enabled/default': 'server { listen 8080; }\n',
    };
    const c = buildTestConfig(input(files));
    expect(c.reachesManaged).toBe(true);
    const [main, copy] = c.files;
    expect(c.files).toHaveLength(2);
    expect(copy).toEqual({
      original: '/etc/nginx/conf.d/orch.conf',
      path: '/var/lib/orch/staging/included/0-orch.conf',
      text: '# the gateway\ninclude /etc/nginx/orch/generations/13/pools/*.conf;\ninclude /etc/nginx/orch/generations/13/vhosts/*.conf;\n',
    });
    // The glob include becomes one include per match, the rewritten copy in its place; the other
    // include (nothing of orch below it) stays as written.
    expect(main!.text).toBe(
      'events {}\nhttp {\n    include /etc/nginx/conf.d/a-gzip.conf; include /var/lib/orch/staging/included/0-orch.conf; include /etc/nginx/conf.d/z-log.conf;\n    include /etc/nginx/sites-enabled/*;\n}\n',
    );
  });

  it('the managed directory spelled through a symlink is recognized by its real path', () => {
    const c = buildTestConfig(
      input(
        { '/etc/nginx/nginx.conf': 'http { include /srv/gw/vhosts/*.conf; }\n' },
        { realpath: (d) => (d === '/srv/gw/vhosts' || d === '/etc/nginx/orch/vhosts' ? '/data/orch/generations/12/vhosts' : d) },
      ),
    );
    expect(c.files[0]!.text).toBe('http { include /etc/nginx/orch/generations/13/vhosts/*.conf; }\n');
  });

  it('a main configuration that includes nothing of the managed directory says so', () => {
    const c = buildTestConfig(input({ '/etc/nginx/nginx.conf': 'events {}\nhttp { server { listen 80; } }\n' }));
    expect(c.reachesManaged).toBe(false);
  });

  it('include loops and unreadable files end; paths with spaces are quoted', () => {
    const c = buildTestConfig(
      input(
        {
          '/etc/nginx/nginx.conf': 'http { include /etc/nginx/a.conf; include /etc/nginx/missing.conf; }\n',
          '/etc/nginx/a.conf': 'include /etc/nginx/a.conf;\ninclude "/etc/nginx/orch/vhosts/*.conf";\n',
        },
        { generationDir: '/etc/nginx/orch/generations/with space' },
      ),
    );
    expect(c.reachesManaged).toBe(true);
    expect(c.unfollowed).toEqual(['/etc/nginx/missing.conf']);
    expect(c.files[1]!.text).toBe('include /etc/nginx/a.conf;\ninclude "/etc/nginx/orch/generations/with space/vhosts/*.conf";\n');
  });

  it("nginx's messages name the operator's files again", () => {
    expect(
      mapTestPaths(
        'nginx: [emerg] duplicate upstream "x" in /var/lib/orch/staging/included/0-orch.conf:2 (/var/lib/orch/staging/conf/nginx.conf)',
        [
          ['/var/lib/orch/staging/conf/nginx.conf', '/etc/nginx/nginx.conf'],
          ['/var/lib/orch/staging/conf/', '/etc/nginx/'],
          ['/var/lib/orch/staging/included/0-orch.conf', '/etc/nginx/conf.d/orch.conf'],
        ],
      ),
    ).toBe('nginx: [emerg] duplicate upstream "x" in /etc/nginx/conf.d/orch.conf:2 (/etc/nginx/nginx.conf)');
  });
});
