import { describe, expect, it } from 'vitest';
import { isForbiddenDirective } from '../../src/domain/manifests/check-extra-blocks.js';
import { parseManifestSources } from '../../src/domain/manifests/parse-manifests.js';
import { summarize, validateTexts } from './helpers/manifests.js';

const doc = (blocks: string): string => `apiVersion: orch/v1
kind: VirtualHost
metadata:
  name: site
spec:
  serverNames: [a.example.com]
  tls:
    certificate: /etc/ssl/a.crt
    key: /etc/ssl/a.key
  extraBlocks:
${blocks}`;

describe('extra blocks point at the manifest line of the offending text', () => {
  it('in a literal block scalar: content line N is header line + 1 + N', () => {
    const text = doc(`    - zone: top
      content: |
        gzip on;

        location /a/ {
            include /etc/nginx/x.conf;
        }
`);
    const r = validateTexts({ 'v.yaml': text });
    expect(summarize(r.diagnostics)).toEqual([
      'error extra.forbidden-directive v.yaml:16:13 spec.extraBlocks[0].content: extra block: directive "include" is not allowed',
    ]);
  });

  it('with an indentation indicator and a second block', () => {
    const text = doc(`    - zone: ssl
      content: "ssl_stapling on;"
    - zone: end
      content: |2
          return 204;
        }
`);
    const r = validateTexts({ 'v.yaml': text });
    expect(summarize(r.diagnostics)).toEqual([
      'error extra.closes-enclosing-block v.yaml:16:9 spec.extraBlocks[1].content: extra block: this "}" has no matching "{" and would close the block orch renders around it',
    ]);
  });

  it('in a quoted scalar: the column after the quote', () => {
    const r = validateTexts({ 'v.yaml': doc(`    - zone: proxy\n      content: "proxy_next_upstream off; load_module x.so;"\n`) });
    expect(summarize(r.diagnostics)).toEqual([
      'error extra.forbidden-directive v.yaml:12:42 spec.extraBlocks[0].content: extra block: directive "load_module" is not allowed',
    ]);
  });

  it('reports every block of a virtual host', () => {
    const r = validateTexts({ 'v.yaml': doc(`    - zone: top\n      content: "a"\n    - zone: end\n      content: "}"\n`) });
    expect(r.diagnostics.map((d) => `${d.code} ${d.field}`)).toEqual([
      'extra.unterminated-directive spec.extraBlocks[0].content',
      'extra.closes-enclosing-block spec.extraBlocks[1].content',
    ]);
  });

  it('accepts well-formed blocks in every zone of a TLS virtual host', () => {
    const r = validateTexts({
      'v.yaml': doc(`    - zone: top
      content: |
        access_log /var/log/nginx/a.log combined if=$loggable;
        map_hash_bucket_size 128; # harmless here for the test
    - zone: ssl
      content: ssl_protocols TLSv1.2 TLSv1.3;
    - zone: proxy
      content: 'proxy_set_header X-Tenant-Ip $remote_addr;'
    - zone: end
      content: |
        location = /robots.txt {
            return 200 "User-agent: *\\nDisallow: /\\n";
        }
        location ~ "^/a{2,3}/" { return 404; }
`),
    });
    expect(r.diagnostics).toEqual([]);
  });
});

describe('an unclosed quote is reported at the opening quote, in every scalar style', () => {
  // Lines 11 on of doc(): `    - zone: proxy` is line 11, the content key line 12.
  const cases: Array<[string, string, string]> = [
    ['literal block', `      content: |\n        add_header X-A b;\n        add_header X-B "c d;\n        add_header X-C e;\n`, '14:24'],
    [
      'literal block, keep chomping, indentation indicator',
      `      content: |+2\n          add_header X-A b;\n          add_header X-B 'c d;\n`,
      '14:26',
    ],
    ['folded block with a blank line', `      content: >\n        add_header X-A b;\n\n        add_header X-B "c d;\n`, '15:24'],
    ['plain scalar', `      content: add_header X-A b; add_header X-B "c d;\n`, '12:49'],
    ['plain scalar over two lines', `      content: add_header X-A b;\n        add_header X-B "c d;\n`, '13:24'],
    ['double-quoted with escapes', `      content: "add_header X-A \\"b\\";\\n  add_header X-B \\"c d;\\n"\n`, '12:57'],
    ['double-quoted with \\u escapes before it', `      content: "add_header X-A \\u0062;\\tadd_header X-B 'c d;"\n`, '12:56'],
    ['double-quoted over two lines', `      content: "add_header X-A b;\n        add_header X-B 'c d;"\n`, '13:24'],
    ['single-quoted with a doubled quote', `      content: 'add_header X-A b; add_header X-B "c'' d;'\n`, '12:50'],
  ];
  for (const [style, block, at] of cases) {
    it(style, () => {
      const r = validateTexts({ 'v.yaml': doc(`    - zone: proxy\n${block}`) });
      const errors = r.diagnostics.filter((d) => d.severity === 'error');
      expect(summarize(errors)).toEqual([expect.stringMatching(/^error extra\.unbalanced-quote /)]);
      expect(`${errors[0]!.source!.line}:${errors[0]!.source!.column}`).toBe(at);
      expect(errors[0]!.field).toBe('spec.extraBlocks[0].content');
      // The position is the quote's: the file's character there opens the unclosed string (or
      // starts the escape \" that writes it in a double-quoted scalar).
      const line = doc(`    - zone: proxy\n${block}`).split('\n')[errors[0]!.source!.line - 1]!;
      expect(line.slice(errors[0]!.source!.column - 1)).toMatch(/^(["']|\\")/);
    });
  }

  it('other problems after escapes and folds point at their own character', () => {
    const r = validateTexts({
      'v.yaml': doc(`    - zone: proxy\n      content: "add_header X-A \\"b\\";\n        server_name evil.test;"\n`),
    });
    expect(summarize(r.diagnostics.filter((d) => d.severity === 'error'))).toEqual([
      expect.stringMatching(/^error extra\.claimed-directive v\.yaml:13:9 spec\.extraBlocks\[0\]\.content: /),
    ]);
  });
});

describe('doc.at(path, "content")', () => {
  it('gives the first content line of a block scalar', () => {
    const parsed = parseManifestSources([{ path: 'a.yaml', text: 'a:\n  b: |-\n    x\n    y\n  c: "q"\n  d: plain\n' }]);
    const at = parsed.documents[0]?.at;
    expect(at?.(['a', 'b'], 'content')).toEqual({ file: 'a.yaml', line: 3, column: 5 });
    expect(at?.(['a', 'b'], 'value')).toEqual({ file: 'a.yaml', line: 2, column: 6 });
    expect(at?.(['a', 'c'], 'content')).toEqual({ file: 'a.yaml', line: 5, column: 7 });
    expect(at?.(['a', 'd'], 'content')).toEqual({ file: 'a.yaml', line: 6, column: 6 });
  });
});

describe('forbidden directives', () => {
  it.each([
    'include',
    'load_module',
    'lua_package_path',
    'content_by_lua_block',
    'access_by_lua_file',
    'perl',
    'perl_set',
    'js_import',
    'js_content',
    'njs_whatever',
  ])('%s', (name) => {
    expect(isForbiddenDirective(name)).toBe(true);
  });
  it.each(['gzip', 'proxy_read_timeout', 'add_header', 'location', 'json_log', 'ssl_protocols', 'includes_x'])('%s is allowed', (name) => {
    expect(isForbiddenDirective(name)).toBe(false);
  });
});
