/**
 * Secrets at rest: AES-256-GCM with a 32-byte key that lives outside the database (a 0600 file in the data
 * dir, or MSP_SECRET_KEY). Values are generated here and only ever handed to processes by environment.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { InputError } from '@msp/core';

export interface SecretBox {
  seal(plaintext: string): Buffer;
  open(sealed: Buffer): string;
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new InputError('The secret key must be 32 bytes (64 hex characters).');
  return {
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]);
    },
    open(sealed) {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
      decipher.setAuthTag(sealed.subarray(12, 28));
      return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}

/** Reads the key file, creating it (mode 0600) on first start. MSP_SECRET_KEY (hex) wins when set. */
export async function loadOrCreateKey(file: string, env = process.env): Promise<Buffer> {
  if (env.MSP_SECRET_KEY) {
    const key = Buffer.from(env.MSP_SECRET_KEY, 'hex');
    if (key.length !== 32) throw new InputError('MSP_SECRET_KEY must be 64 hex characters (32 bytes).');
    return key;
  }
  try {
    return Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32);
  await writeFile(file, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}

/** A random secret suitable for passwords and tokens: 32 bytes, URL-safe. */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}
