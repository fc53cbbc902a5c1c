import { describe, expect, it } from 'vitest';
import { renderVirtualHostFiles } from '../../src/domain/render/render-tree.js';
import { nginxFeaturesFor } from '../../src/domain/render/rendered-tree.js';
import { virtualHost } from '../helpers/desired-builders.js';
import { validateTexts } from './helpers/manifests.js';

const FEATURES = nginxFeaturesFor('1.22.1');

function rendered(overrides: Parameters<typeof virtualHost>[1]) {
  const conf = renderVirtualHostFiles(virtualHost('s3', { defaultPool: 'hot', ...overrides }), FEATURES).find((f) => f.role === 'config')!;
  const lines = conf.content.split('\n');
  const at = (directive: string) => {
    const i = lines.findIndex((l) => l.trim().startsWith(`${directive} `));
    return i === -1 ? null : { line: lines[i]!.trim(), field: conf.lineMap[i]?.field.join('.') ?? null };
  };
  return { read: at('proxy_read_timeout'), send: at('proxy_send_timeout'), content: conf.content };
}

describe('proxy timeouts of a virtual host', () => {
  it('default to 600s (a multipart Complete assembles every part before it answers)', () => {
    const r = rendered({});
    expect(r.read).toEqual({ line: 'proxy_read_timeout 600s;', field: null });
    expect(r.send).toEqual({ line: 'proxy_send_timeout 600s;', field: null });
  });

  it('take the manifest value, mapped to its field (an nginx -t error points at it)', () => {
    const r = rendered({ proxyReadTimeout: '15m', proxySendTimeout: '120s' });
    expect(r.read).toEqual({ line: 'proxy_read_timeout 15m;', field: 'spec.proxyReadTimeout' });
    expect(r.send).toEqual({ line: 'proxy_send_timeout 120s;', field: 'spec.proxySendTimeout' });
  });

  it('an extra block that sets the directive itself keeps it (nginx refuses it twice); the other one keeps the default', () => {
    const r = rendered({ extraBlocks: [{ zone: 'proxy', content: 'proxy_buffers 8 16k; proxy_read_timeout 300s;\n' }] });
    expect(r.content.match(/proxy_read_timeout/g)).toHaveLength(1);
    expect(r.content).toContain('    proxy_buffers 8 16k; proxy_read_timeout 300s;');
    expect(r.send).toEqual({ line: 'proxy_send_timeout 600s;', field: null });
  });

  it('a value that is not an nginx time is a manifest error naming the field', () => {
    const vhost = (extra: string) => `apiVersion: orch/v1
kind: VirtualHost
metadata:
  name: s3
spec:
  serverNames: [s3.test]
${extra}`;
    const ok = validateTexts({ 'v.yaml': vhost('  proxyReadTimeout: 10m\n  proxySendTimeout: "90"\n') });
    expect(ok.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const bad = validateTexts({ 'v.yaml': vhost('  proxyReadTimeout: 10 minutes\n') });
    expect(bad.diagnostics.map((d) => `${d.severity} ${d.field} ${d.source?.line}`)).toEqual(['error spec.proxyReadTimeout 7']);
  });
});
