/** Environment variable names for a pool's credentials: `POOL_<NAME>_ACCESS_KEY` / `_SECRET_KEY`. */
export function credentialEnvNames(pool: string): { accessKeyId: string; secretAccessKey: string } {
  const upper = pool.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
  const base = upper.startsWith('POOL_') ? upper : `POOL_${upper}`;
  return { accessKeyId: `${base}_ACCESS_KEY`, secretAccessKey: `${base}_SECRET_KEY` };
}
