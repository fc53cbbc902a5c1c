import { request } from 'node:http';
import type { DaemonStatusReader } from '../../ports/daemon-status.js';

const TIMEOUT_MS = 1500;
const MAX_BYTES = 4 * 1024 * 1024;

/** GET http://<listen>/status: JSON of at most 4 MiB within 1.5 s, else null. */
export const httpDaemonStatus: DaemonStatusReader = {
  read(listen) {
    const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(listen);
    if (!m) return Promise.resolve(null);
    const host = m[1]!.replace(/^\[|\]$/g, '');
    return new Promise((resolve) => {
      let settled = false;
      const done = (v: Record<string, unknown> | null) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          resolve(v);
        }
      };
      const req = request({ host, port: Number(m[2]), path: '/status', method: 'GET', headers: { accept: 'application/json' } }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return done(null);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BYTES) {
            req.destroy();
            return done(null);
          }
          chunks.push(c);
        });
        res.on('end', () => {
          try {
            const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
            done(v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null);
          } catch {
            done(null);
          }
        });
        res.on('error', () => done(null));
      });
      const timer = setTimeout(() => {
        req.destroy();
        done(null);
      }, TIMEOUT_MS);
      req.on('error', () => done(null));
      req.end();
    });
  },
};
