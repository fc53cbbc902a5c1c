import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/domain/errors.js';
import {
  decryptCredential,
  decryptCredentials,
  encryptCredential,
  encryptCredentials,
  sealedCredentialsOf,
} from '../../src/domain/secrets/credential-cipher.js';
import { sealPoolCredentials, type ResolvedSecret } from '../../src/domain/secrets/seal-pool-credentials.js';
import { keyIdOf, keyLine, makeKeyring, parseKeyFile, parseKeyLine, type SecretKey } from '../../src/domain/secrets/secret-key.js';
import { CREDENTIAL_WARNINGS_SHOWN, placePoolDiagnostics } from '../../src/use-cases/plan/manifest-positions.js';
import { pool, virtualHost } from '../helpers/desired-builders.js';
import { prepareIdentityCredentials } from '../../src/use-cases/buckets/client-identities.js';
import { readVirtualHostSidecar } from '../../src/domain/rebuild/read-sidecar.js';
import {
  poolSidecar,
  sealedIdentitiesOf,
  sidecarJson,
  withSealedCredentials,
  withSealedIdentities,
} from '../../src/domain/render/render-sidecars.js';
import { renderTree } from '../../src/domain/render/render-tree.js';
import { nginxFeaturesFor } from '../../src/domain/render/rendered-tree.js';

function newKey(): SecretKey {
  const bytes = randomBytes(32);
  return { id: keyIdOf(bytes), bytes };
}

const VALUES = { accessKeyId: 'AKIA-test-access', secretAccessKey: 'very-secret/value+with=chars' };
const REFS = { accessKeyId: { env: 'POOL_A_ACCESS' }, secretAccessKey: { file: '/etc/orch/pool-a.secret' } };
/** The error `f` throws (fails the test when it throws none). */
function errorOf(f: () => unknown): UserError {
  try {
    f();
  } catch (e) {
    return e as UserError;
  }
  throw new Error('expected an error, none was thrown');
}

const ok = (value: string): ResolvedSecret => ({ ok: true, value });
const missing = (problem: string): ResolvedSecret => ({ ok: false, problem });

describe('credential encryption (AES-256-GCM, deterministic)', () => {
  it('is deterministic: same key, pool, field and value give the same blob; anything else differs', () => {
    const key = newKey();
    const a = encryptCredential(key, 'pool-a', 'secretAccessKey', 'v1');
    expect(encryptCredential(key, 'pool-a', 'secretAccessKey', 'v1')).toBe(a);
    expect(encryptCredential(key, 'pool-a', 'secretAccessKey', 'v2')).not.toBe(a);
    expect(encryptCredential(key, 'pool-b', 'secretAccessKey', 'v1')).not.toBe(a);
    expect(encryptCredential(key, 'pool-a', 'accessKeyId', 'v1')).not.toBe(a);
    expect(encryptCredential(newKey(), 'pool-a', 'secretAccessKey', 'v1')).not.toBe(a);
    // Different values never share a nonce (the first 12 bytes).
    const nonces = new Set(
      Array.from({ length: 200 }, (_, i) =>
        Buffer.from(encryptCredential(key, 'p', 'accessKeyId', `value-${i}`), 'base64')
          .subarray(0, 12)
          .toString('hex'),
      ),
    );
    expect(nonces.size).toBe(200);
  });

  it('round-trips, and refuses another key, another pool, another field or a flipped bit', () => {
    const key = newKey();
    const blob = encryptCredential(key, 'pool-a', 'secretAccessKey', VALUES.secretAccessKey);
    expect(Buffer.from(blob, 'base64').includes(Buffer.from(VALUES.secretAccessKey))).toBe(false);
    expect(decryptCredential(key, 'pool-a', 'secretAccessKey', blob)).toBe(VALUES.secretAccessKey);
    expect(decryptCredential(newKey(), 'pool-a', 'secretAccessKey', blob)).toBeNull();
    expect(decryptCredential(key, 'pool-b', 'secretAccessKey', blob)).toBeNull();
    expect(decryptCredential(key, 'pool-a', 'accessKeyId', blob)).toBeNull();
    const raw = Buffer.from(blob, 'base64');
    raw[14]! ^= 1;
    expect(decryptCredential(key, 'pool-a', 'secretAccessKey', raw.toString('base64'))).toBeNull();
    expect(decryptCredential(key, 'pool-a', 'secretAccessKey', 'AAAA')).toBeNull();
  });

  it('decrypts with an older key of the keyring; names the pool and key id when it cannot, never a value', () => {
    const old = newKey();
    const current = newKey();
    const sealed = encryptCredentials(old, 'pool-a', VALUES);
    expect(decryptCredentials(makeKeyring([current, old], 'test'), 'pool-a', sealed)).toEqual(VALUES);

    const unknown = errorOf(() => decryptCredentials(makeKeyring([current], 'key file /k'), 'pool-a', sealed));
    expect(unknown).toBeInstanceOf(UserError);
    expect(unknown.message).toContain(
      `pool pool-a are encrypted with key ${old.id}, which is not among the configured keys (${current.id} from key file /k)`,
    );
    const none = errorOf(() => decryptCredentials(null, 'pool-a', sealed));
    expect(none.message).toContain(`pool pool-a are encrypted with key ${old.id}, and no secret key is configured`);
    const tampered = errorOf(() => decryptCredentials(makeKeyring([old], 't'), 'pool-b', sealed));
    expect(tampered.code).toBe('credentials.undecryptable');
    for (const e of [unknown, none, tampered]) {
      expect(`${e.message} ${e.hint}`).not.toContain(VALUES.secretAccessKey);
      expect(`${e.message} ${e.hint}`).not.toContain(old.bytes.toString('base64'));
    }
  });

  it('reads the encrypted block of a sidecar, and nothing malformed', () => {
    const sealed = encryptCredentials(newKey(), 'pool-a', VALUES);
    expect(sealedCredentialsOf({ credentials: { ...REFS, encrypted: sealed } })).toEqual(sealed);
    expect(sealedCredentialsOf({ credentials: REFS })).toBeNull();
    expect(sealedCredentialsOf({ credentials: { encrypted: { ...sealed, keyId: 'nothex!!' } } })).toBeNull();
    expect(sealedCredentialsOf({ credentials: { encrypted: { ...sealed, accessKeyId: 42 } } })).toBeNull();
    expect(sealedCredentialsOf(null)).toBeNull();
  });
});

describe('secret keys and key files', () => {
  it('parses `id:base64` and bare base64 lines; the id must match the key', () => {
    const k = newKey();
    expect(parseKeyLine(keyLine(k), 'x')).toEqual(k);
    expect(parseKeyLine(k.bytes.toString('base64'), 'x')).toEqual(k);
    expect(() => parseKeyLine(`deadbeef:${k.bytes.toString('base64')}`, 'line 1 of the key file /k')).toThrow(
      /line 1 of the key file \/k says its key id is "deadbeef", but the key's id is/,
    );
    expect(() => parseKeyLine('c2hvcnQ=', 'The environment variable ORCH_SECRET_KEY')).toThrow(
      /ORCH_SECRET_KEY is not a secret key: expected 32 bytes in base64/,
    );
  });

  it('a key file: first key is current, comments and blank lines ignored, empty refused', () => {
    const [a, b] = [newKey(), newKey()];
    const keys = parseKeyFile(`# orch keys\n${keyLine(a)}\n\n${keyLine(b)}\n`, '/k');
    expect(keys.map((k) => k.id)).toEqual([a.id, b.id]);
    expect(makeKeyring(keys, 'k').current.id).toBe(a.id);
    expect(() => parseKeyFile('# nothing\n', '/k')).toThrow(/holds no key/);
    // A bad line names its line number, never the key material.
    const bad = errorOf(() => parseKeyFile(`${keyLine(a)}\nnot-a-key\n`, '/k'));
    expect(bad.message).toContain('line 2 of the key file /k');
    expect(bad.message).not.toContain(a.bytes.toString('base64'));
  });
});

describe('sealPoolCredentials: what a pool sidecar carries', () => {
  const key = newKey();
  const keyring = makeKeyring([key], 'test');
  const resolved = { accessKeyId: ok(VALUES.accessKeyId), secretAccessKey: ok(VALUES.secretAccessKey) };

  it('values and key: encrypted with the current key, verified, no warning', () => {
    const r = sealPoolCredentials({ pool: 'a', refs: REFS, resolved, keyring, onDisk: null });
    expect(r.sealed).toEqual(encryptCredentials(key, 'a', VALUES));
    expect(r).toMatchObject({ values: VALUES, verified: true, diagnostics: [] });
  });

  it('no key (CI): the blob on disk is kept as it is, with a warning; a new pool gets the references only', () => {
    const onDisk = encryptCredentials(newKey(), 'a', VALUES);
    const kept = sealPoolCredentials({ pool: 'a', refs: REFS, resolved, keyring: null, onDisk });
    expect(kept.sealed).toBe(onDisk);
    expect(kept.diagnostics).toEqual([
      expect.objectContaining({
        severity: 'warning',
        code: 'credentials.not-verified',
        message: expect.stringContaining('credentials of pool a not verified (no secret key configured)'),
      }),
    ]);
    const fresh = sealPoolCredentials({ pool: 'a', refs: REFS, resolved, keyring: null, onDisk: null });
    expect(fresh.sealed).toBeNull();
    expect(fresh.diagnostics[0]!.message).toContain('carries the references only');
  });

  it('references missing (CI): the blob on disk is kept, with a warning naming them; with the key, values come from the blob', () => {
    const onDisk = encryptCredentials(key, 'a', VALUES);
    const noSecrets = {
      accessKeyId: missing('environment variable POOL_A_ACCESS is not set'),
      secretAccessKey: missing('file /etc/orch/pool-a.secret does not exist'),
    };
    const ci = sealPoolCredentials({ pool: 'a', refs: REFS, resolved: noSecrets, keyring: null, onDisk });
    expect(ci.sealed).toBe(onDisk);
    expect(ci.values).toBeNull();
    expect(ci.diagnostics[0]!.message).toBe(
      'credentials of pool a not verified (environment variable POOL_A_ACCESS is not set; file /etc/orch/pool-a.secret does not exist): the encrypted credentials in its sidecar are kept as they are',
    );
    const daemon = sealPoolCredentials({ pool: 'a', refs: REFS, resolved: noSecrets, keyring, onDisk });
    expect(daemon).toMatchObject({ sealed: onDisk, values: VALUES, valuesProblem: null, verified: false });
    const wrong = sealPoolCredentials({ pool: 'a', refs: REFS, resolved: noSecrets, keyring: makeKeyring([newKey()], 'other'), onDisk });
    expect(wrong.values).toBeNull();
    expect(wrong.valuesProblem).toContain(`encrypted with key ${key.id}, which is not among the configured keys`);
    const none = sealPoolCredentials({ pool: 'a', refs: REFS, resolved: noSecrets, keyring: null, onDisk: null });
    expect(none).toMatchObject({ sealed: null, values: null });
  });

  it('a blob sealed with a key no longer configured is encrypted again, with a warning naming both key ids', () => {
    const gone = newKey();
    const r = sealPoolCredentials({ pool: 'a', refs: REFS, resolved, keyring, onDisk: encryptCredentials(gone, 'a', VALUES) });
    expect(r.sealed?.keyId).toBe(key.id);
    expect(r.diagnostics[0]!.message).toContain(
      `encrypted in its sidecar with key ${gone.id}, which is not configured; they will be encrypted again with key ${key.id}`,
    );
  });

  it('diagnostics never carry a value', () => {
    const all = [
      sealPoolCredentials({ pool: 'a', refs: REFS, resolved, keyring: null, onDisk: null }),
      sealPoolCredentials({
        pool: 'a',
        refs: REFS,
        resolved: { ...resolved, secretAccessKey: missing('x') },
        keyring,
        onDisk: encryptCredentials(newKey(), 'a', VALUES),
      }),
    ];
    const text = JSON.stringify(all.map((r) => r.diagnostics));
    expect(text).not.toContain(VALUES.secretAccessKey);
    expect(text).not.toContain(VALUES.accessKeyId);
  });
});

describe('sidecars with encrypted credentials', () => {
  it('carry the references and the encrypted block; without one, the references only (format unchanged)', () => {
    const p = pool('a', { credentials: REFS });
    const sealed = encryptCredentials(newKey(), 'a', VALUES);
    expect(poolSidecar(p).credentials).toEqual(REFS);
    expect(poolSidecar(p, sealed).credentials).toEqual({ ...REFS, encrypted: sealed });
    const tree = renderTree({ pools: [p, pool('b')], virtualHosts: [], migrations: [] }, nginxFeaturesFor('1.22.1'));
    const sealedTree = withSealedCredentials(
      tree,
      { pools: [p, pool('b')], virtualHosts: [], migrations: [] },
      new Map([
        ['a', sealed],
        ['b', sealed],
      ]),
    );
    const byPath = new Map(sealedTree.files.map((f) => [f.path, f.content]));
    expect(byPath.get('pools/a.meta.json')).toBe(sidecarJson(poolSidecar(p, sealed)));
    // Pool b has no credentials: nothing is added to it; the input tree is not modified.
    expect(byPath.get('pools/b.meta.json')).toBe(tree.files.find((f) => f.path === 'pools/b.meta.json')!.content);
    expect(tree.files.find((f) => f.path === 'pools/a.meta.json')!.content).not.toContain('encrypted');
  });
});

describe('credential warnings in a plan', () => {
  it(`more than ${CREDENTIAL_WARNINGS_SHOWN} "not verified" warnings become one naming every pool`, () => {
    const warn = (name: string) =>
      sealPoolCredentials({
        pool: name,
        refs: REFS,
        resolved: { accessKeyId: missing('x'), secretAccessKey: missing('y') },
        keyring: null,
        onDisk: null,
      }).diagnostics;
    const few = Array.from({ length: CREDENTIAL_WARNINGS_SHOWN }, (_, i) => warn(`p${i}`)).flat();
    expect(placePoolDiagnostics(few, [], [])).toHaveLength(CREDENTIAL_WARNINGS_SHOWN);
    const many = Array.from({ length: 40 }, (_, i) => warn(`p${i}`)).flat();
    const placed = placePoolDiagnostics(many, [], []);
    expect(placed).toHaveLength(1);
    expect(placed[0]).toMatchObject({ severity: 'warning', code: 'credentials.not-verified' });
    expect(placed[0]!.message).toMatch(/^credentials of 40 pools not verified .*: p0, p1, .*, p39$/);
  });
});

describe('client identities sealed at rest, like pool credentials', () => {
  const CLIENT = { accessKeyId: 'AKIACLIENT0001', secretAccessKey: 'client-secret/value+x=' };
  const IDENTITY = { accessKeyId: { env: 'S3_CLIENT_KEY' }, secretAccessKey: { file: '/etc/orch/client.secret' } };
  const OTHER = { accessKeyId: { env: 'S3_OTHER_KEY' }, secretAccessKey: { env: 'S3_OTHER_SECRET' } };
  const secrets = (env: Record<string, { accessKeyId: string; secretAccessKey: string } | undefined>) => ({
    resolvePoolCredentials: (refs: typeof IDENTITY | typeof OTHER) => {
      const v = env['accessKeyId' in refs && 'env' in refs.accessKeyId ? refs.accessKeyId.env : ''];
      return v
        ? { accessKeyId: ok(v.accessKeyId), secretAccessKey: ok(v.secretAccessKey) }
        : { accessKeyId: missing('environment variable S3_CLIENT_KEY is not set'), secretAccessKey: missing('file missing') };
    },
  });
  const desired = () => ({
    pools: [pool('a', { credentials: REFS })],
    virtualHosts: [virtualHost('s3', { defaultPool: 'a', clientIdentities: [IDENTITY, OTHER] })],
    migrations: [],
  });
  const sidecarOf = (tree: { files: Array<{ path: string; content: string }> }) =>
    tree.files.find((f) => f.path === 'vhosts/s3.meta.json')!.content;

  it('the virtual host sidecar carries the references and the sealed values, never a value; reading it back recovers the references', () => {
    const key = newKey();
    const keyring = makeKeyring([key], 'test');
    const d = desired();
    const prepared = prepareIdentityCredentials(
      secrets({ S3_CLIENT_KEY: CLIENT, S3_OTHER_KEY: VALUES }),
      keyring,
      d.virtualHosts,
      new Map(),
    );
    expect(prepared.diagnostics).toEqual([]);
    const tree = renderTree(d, nginxFeaturesFor('1.22.1'));
    expect(sidecarOf(tree)).not.toContain('encrypted');
    const text = sidecarOf(withSealedIdentities(tree, prepared.sealed));
    for (const v of [CLIENT.secretAccessKey, CLIENT.accessKeyId, VALUES.secretAccessKey]) expect(text).not.toContain(v);
    const json = JSON.parse(text) as { clientIdentities: Array<Record<string, unknown>> };
    expect(json.clientIdentities.map((c) => Object.keys(c))).toEqual([
      ['accessKeyId', 'secretAccessKey', 'encrypted'],
      ['accessKeyId', 'secretAccessKey', 'encrypted'],
    ]);
    const [first, second] = sealedIdentitiesOf(json);
    expect(decryptCredentials(keyring, 'VirtualHost/s3/clientIdentities/0', first!.sealed!)).toEqual(CLIENT);
    // A blob is bound to its virtual host and index: not readable as another identity or as a pool's.
    expect(() => decryptCredentials(keyring, 'VirtualHost/s3/clientIdentities/1', first!.sealed!)).toThrow(UserError);
    expect(() => decryptCredentials(keyring, 's3', first!.sealed!)).toThrow(UserError);
    expect(decryptCredentials(keyring, 'VirtualHost/s3/clientIdentities/1', second!.sealed!)).toEqual(VALUES);
    const read = readVirtualHostSidecar(json);
    expect(read.ok && read.value.clientIdentities).toEqual([IDENTITY, OTHER]);
    expect(prepared.fingerprint['VirtualHost/s3']).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('references missing (CI, a daemon without the variables): the sealed copy is kept and checked with; other references do not take it', () => {
    const keyring = makeKeyring([newKey()], 'test');
    const d = desired();
    const sealedOnce = prepareIdentityCredentials(
      secrets({ S3_CLIENT_KEY: CLIENT, S3_OTHER_KEY: VALUES }),
      keyring,
      d.virtualHosts,
      new Map(),
    );
    const onDisk = sidecarOf(withSealedIdentities(renderTree(d, nginxFeaturesFor('1.22.1')), sealedOnce.sealed));
    const without = prepareIdentityCredentials(secrets({}), keyring, d.virtualHosts, new Map([['s3', onDisk]]));
    expect(without.sealed.get('s3')).toEqual(sealedOnce.sealed.get('s3'));
    expect(without.resolve('s3', 0)).toEqual({ ok: true, values: CLIENT });
    expect(without.fingerprint).toEqual(sealedOnce.fingerprint);
    // The same slot with other references: the copy on disk belongs to another identity.
    const swapped = [OTHER, IDENTITY];
    const moved = prepareIdentityCredentials(secrets({}), keyring, [{ name: 's3', clientIdentities: swapped }], new Map([['s3', onDisk]]));
    expect(moved.sealed.get('s3')).toEqual([null, null]);
    expect(moved.resolve('s3', 0)).toEqual({ ok: false, problem: 'environment variable S3_CLIENT_KEY is not set; file missing' });
    // No key at all: the references only, a warning naming the identity (never a value).
    const noKey = prepareIdentityCredentials(secrets({ S3_CLIENT_KEY: CLIENT, S3_OTHER_KEY: VALUES }), null, d.virtualHosts, new Map());
    expect(noKey.sealed.get('s3')).toEqual([null, null]);
    expect(noKey.diagnostics.map((x) => [x.code, x.field, x.message])).toContainEqual([
      'credentials.not-verified',
      'spec.clientIdentities.0',
      'credentials of client identity 0 of virtual host s3 are not encrypted into its sidecar (no secret key configured): it carries the references only',
    ]);
    expect(JSON.stringify(noKey.diagnostics)).not.toContain(CLIENT.secretAccessKey);
  });
});
