import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Fernet (https://github.com/fernet/spec), the symmetric token format the reference tool encrypts
 * pool credentials with: base64url( 0x80 | timestamp (8 bytes, big endian) | IV (16) | AES-128-CBC
 * ciphertext (PKCS#7) | HMAC-SHA256 (32) ), the HMAC over everything before it. The key is
 * base64url of 32 bytes: the first 16 sign, the last 16 encrypt. No TTL is enforced: the tokens
 * being imported are records at rest, not messages in flight.
 */
export class FernetError extends Error {}

function fromBase64Url(text: string): Buffer {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(text)) throw new FernetError('not base64url');
  return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function toBase64Url(buf: Buffer): string {
  return buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

function keyParts(key: string): { signing: Buffer; encryption: Buffer } {
  const raw = fromBase64Url(key.trim());
  if (raw.length !== 32) throw new FernetError('a Fernet key is 32 bytes, base64url-encoded (44 characters)');
  return { signing: raw.subarray(0, 16), encryption: raw.subarray(16) };
}

/** Decrypts a token; throws FernetError for a wrong key, a damaged token or a bad format. */
export function fernetDecrypt(key: string, token: string): string {
  const { signing, encryption } = keyParts(key);
  const data = fromBase64Url(token.trim());
  if (data.length < 1 + 8 + 16 + 16 + 32 || (data.length - 57) % 16 !== 0) throw new FernetError('the token has an impossible length');
  if (data[0] !== 0x80) throw new FernetError(`unknown token version 0x${data[0]!.toString(16)}`);
  const mac = data.subarray(data.length - 32);
  const expected = createHmac('sha256', signing)
    .update(data.subarray(0, data.length - 32))
    .digest();
  if (!timingSafeEqual(mac, expected)) throw new FernetError('the signature does not match: wrong key or damaged token');
  const iv = data.subarray(9, 25);
  const decipher = createDecipheriv('aes-128-cbc', encryption, iv);
  try {
    return Buffer.concat([decipher.update(data.subarray(25, data.length - 32)), decipher.final()]).toString('utf8');
  } catch {
    throw new FernetError('the ciphertext does not decrypt');
  }
}

/** Encrypts like the reference tool does (used to build test fixtures). */
export function fernetEncrypt(key: string, plaintext: string, at: Date, iv: Buffer = randomBytes(16)): string {
  const { signing, encryption } = keyParts(key);
  const cipher = createCipheriv('aes-128-cbc', encryption, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const head = Buffer.alloc(9);
  head[0] = 0x80;
  head.writeBigUInt64BE(BigInt(Math.floor(at.getTime() / 1000)), 1);
  const signed = Buffer.concat([head, iv, body]);
  return toBase64Url(Buffer.concat([signed, createHmac('sha256', signing).update(signed).digest()]));
}
