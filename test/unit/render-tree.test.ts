import { describe, expect, it } from 'vitest';
import { BugError } from '../../src/domain/errors.js';
import { LineTracker } from '../../src/domain/render/line-tracker.js';
import { renderPoolFiles, renderTree, renderVirtualHostFiles } from '../../src/domain/render/render-tree.js';
import { nginxFeaturesFor, type RenderedFile } from '../../src/domain/render/rendered-tree.js';
import { desiredState, member, origin, pool, route, virtualHost } from '../helpers/desired-builders.js';

const OLD = nginxFeaturesFor('1.22.1');
const NEW = nginxFeaturesFor('1.27.0');

function conf(files: RenderedFile[]): string {
  return files.find((f) => f.role === 'config')!.content;
}

describe('renderTree', () => {
  it('renders one file pair per resource; single-resource renderers agree with the tree', () => {
    const state = desiredState({
      pools: [pool('b'), pool('a')],
      virtualHosts: [virtualHost('gw', { defaultPool: 'a', routes: [route('gw', '/x/', 'b')] })],
    });
    const tree = renderTree(state, OLD);
    expect(tree.files.map((f) => f.path)).toEqual([
      'pools/a.conf',
      'pools/a.meta.json',
      'pools/b.conf',
      'pools/b.meta.json',
      'vhosts/gw.conf',
      'vhosts/gw.meta.json',
    ]);
    expect(tree.files.slice(0, 2)).toEqual(renderPoolFiles(state.pools[1]!));
    expect(tree.files.slice(4)).toEqual(renderVirtualHostFiles(state.virtualHosts[0]!, OLD));
    expect(tree.files.map((f) => f.role)).toEqual(['config', 'sidecar', 'config', 'sidecar', 'config', 'sidecar']);
  });

  it.each([
    { tls: null, features: OLD, listen: 'listen 80;', http2On: false },
    { tls: { http2: false }, features: OLD, listen: 'listen 443 ssl;', http2On: false },
    { tls: { http2: true }, features: OLD, listen: 'listen 443 ssl http2;', http2On: false },
    { tls: { http2: false }, features: NEW, listen: 'listen 443 ssl;', http2On: false },
    { tls: { http2: true }, features: NEW, listen: 'listen 443 ssl;', http2On: true },
    { tls: { http2: true }, features: nginxFeaturesFor(null), listen: 'listen 443 ssl http2;', http2On: false },
  ])('listen/http2 for tls=$tls on nginx $features.version', ({ tls, features, listen, http2On }) => {
    const v = virtualHost('gw', { tls: tls === null ? null : { certificate: '/c', key: '/k', http2: tls.http2 } });
    const text = conf(renderVirtualHostFiles(v, features));
    expect(text).toContain(`\n    ${listen}\n`);
    expect(text.includes('http2 on;')).toBe(http2On);
  });

  it.each([
    { address: '::1', expected: 'listen [::1]:8080;' },
    { address: '[::1]', expected: 'listen [::1]:8080;' },
    { address: '2001:db8::5', expected: 'listen [2001:db8::5]:8080;' },
    { address: '192.0.2.1', expected: 'listen 192.0.2.1:8080;' },
  ])('listen address $address', ({ address, expected }) => {
    expect(conf(renderVirtualHostFiles(virtualHost('gw', { address, port: 8080 }), OLD))).toContain(`    ${expected}\n`);
  });

  it('keeps free text out of nginx files: descriptions only reach the sidecar', () => {
    const files = renderPoolFiles(pool('p', { description: 'evil\n}\nserver { listen 1;' }));
    expect(conf(files)).not.toContain('evil');
    expect(JSON.parse(files[1]!.content).description).toBe('evil\n}\nserver { listen 1;');
  });

  it('a control character in the origin file name cannot split the marker line', () => {
    const p = pool('p', { origin: origin('Pool', 'p', 'weird\nname.yaml') });
    const text = conf(renderPoolFiles(p));
    expect(text.split('\n')[0]).toContain('weird?name.yaml');
    expect(text.split('\n')[1]).toBe('upstream p {');
  });

  it('a key prefix rewrites object requests only, never the bucket itself', () => {
    const v = virtualHost('gw', { routes: [route('gw', '/photos/', 'p', { keyPrefix: 'archive/' })] });
    const text = conf(renderVirtualHostFiles(v, OLD));
    expect(text).toContain('    location = /photos {\n        proxy_pass http://p;\n    }\n');
    expect(text).toContain(
      '    location /photos/ {\n        rewrite ^/photos/(.+)$ /photos/archive/$1 break;\n        proxy_pass http://p;\n    }\n',
    );
    const rewrite = /rewrite \^(\S+) (\S+) break;/.exec(text)!;
    // nginx's `$1` and JavaScript's `$1` mean the same here, so JS can replay the rewrite.
    const apply = (uri: string) => uri.replace(new RegExp(`^${rewrite[1]}`), rewrite[2]!);
    expect(apply('/photos/')).toBe('/photos/');
    expect(apply('/photos/a/b.jpg')).toBe('/photos/archive/a/b.jpg');
  });

  it('extra block zones: comment only when non-empty, content indented, trailing newlines dropped', () => {
    const v = virtualHost('gw', {
      extraBlocks: [
        { zone: 'end', content: 'a;\n\n\tb;\n\n' },
        { zone: 'top', content: '' },
      ],
    });
    const text = conf(renderVirtualHostFiles(v, OLD));
    expect(text).not.toContain('# extra: top');
    expect(text).toContain('\n    # extra: end\n    a;\n\n    \tb;\n}\n');
  });

  it('disabled routes are not rendered but stay in the sidecar', () => {
    const v = virtualHost('gw', { routes: [route('gw', '/off/', 'p', { enabled: false })] });
    const [c, s] = renderVirtualHostFiles(v, OLD);
    expect(c!.content).not.toContain('/off');
    expect(JSON.parse(s!.content).routes).toMatchObject([{ path: '/off/', enabled: false }]);
  });

  it('without a default pool, unrouted requests get 404', () => {
    expect(conf(renderVirtualHostFiles(virtualHost('gw'), OLD))).toContain('    location / {\n        return 404;\n    }\n');
  });

  const unsafe: Array<[string, () => unknown]> = [
    ['server name with ;', () => renderVirtualHostFiles(virtualHost('gw', { serverNames: ['a;b'] }), OLD)],
    ['member address with a space', () => renderPoolFiles(pool('p', { members: [member('10.0.0.1:80 down')] }))],
    ['member address with a newline', () => renderPoolFiles(pool('p', { members: [member('10.0.0.1:80\n}')] }))],
    [
      'extra block with NUL',
      () => renderVirtualHostFiles(virtualHost('gw', { extraBlocks: [{ zone: 'top', content: 'a;\u00000\u0000' }] }), OLD),
    ],
    [
      'extra block with an unknown zone',
      () => renderVirtualHostFiles(virtualHost('gw', { extraBlocks: [{ zone: 'middle' as 'top', content: 'a;' }] }), OLD),
    ],
    ['route path without leading /', () => renderVirtualHostFiles(virtualHost('gw', { routes: [route('gw', 'photos/', 'p')] }), OLD)],
    ['route path with a variable', () => renderVirtualHostFiles(virtualHost('gw', { routes: [route('gw', '/$x/', 'p')] }), OLD)],
    ['key prefix with ?', () => renderVirtualHostFiles(virtualHost('gw', { routes: [route('gw', '/b/', 'p', { keyPrefix: 'a?' })] }), OLD)],
    ['pool name with /', () => renderPoolFiles(pool('../etc'))],
    [
      'TLS key path with a quote',
      () => renderVirtualHostFiles(virtualHost('gw', { tls: { certificate: '/c', key: '/k"', http2: false } }), OLD),
    ],
    ['negative weight', () => renderPoolFiles(pool('p', { members: [member('10.0.0.1:80', { weight: -1 })] }))],
    ['duplicate pool names', () => renderTree(desiredState({ pools: [pool('p'), pool('p')] }), OLD)],
  ];
  it.each(unsafe)('refuses %s with a BugError', (_name, fn) => {
    expect(fn).toThrow(BugError);
  });
});

describe('LineTracker', () => {
  const o = origin('Pool', 'p', 'f.yaml');

  it('maps sentinels to lines and strips them', () => {
    const t = new LineTracker();
    const { content, lineMap } = t.finish(`a${t.at(o, ['x'])}\nb\nc${t.at(o)}\n`);
    expect(content).toBe('a\nb\nc\n');
    expect(lineMap).toEqual([{ origin: o, field: ['x'] }, null, { origin: o, field: [] }]);
  });

  it.each([
    ['a sentinel in the middle of a line', (t: LineTracker) => `a${t.at(o)}b\n`],
    ['a stray NUL', () => 'a\u0000b\n'],
    ['a forged sentinel index', () => 'a\u00009\u0000\n'],
    ['no final newline', () => 'a'],
    ['two final newlines', () => 'a\n\n'],
  ])('refuses %s', (_name, make) => {
    const t = new LineTracker();
    expect(() => t.finish(make(t))).toThrow(BugError);
  });
});
