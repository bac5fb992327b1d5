/**
 * Receiving a release bundle: streamed to a temporary file next to its place in the artifact store,
 * counted against a size limit (413 as soon as it is passed) and hashed on the way; stored under its
 * digest only when the sha256 of what arrived is the digest the client named (400 otherwise).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { InputError } from '@msp/core';
import { PayloadTooLargeError } from './errors.js';

/** The largest bundle accepted: MSP_MAX_BUNDLE_BYTES, 512 MB by default. */
export function maxBundleBytes(): number {
  const configured = Number(process.env.MSP_MAX_BUNDLE_BYTES);
  return Number.isInteger(configured) && configured > 0 ? configured : 512 * 1024 * 1024;
}

function tooLarge(max: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `The bundle is larger than the limit of ${max} bytes (MSP_MAX_BUNDLE_BYTES on the control plane).`,
  );
}

/**
 * Streams `request`'s body to `destination` (the store's path of `digest`) after checking its sha256.
 * Returns the stored size.
 */
export async function receiveBundle(
  request: Request,
  digest: string,
  destination: string,
): Promise<{ digest: string; size: number }> {
  const max = maxBundleBytes();
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (declared > max) throw tooLarge(max);
  if (!request.body) throw new InputError('Send the bundle (a tar.gz) as the request body.');
  await mkdir(dirname(destination), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(destination), `.upload-${randomBytes(6).toString('hex')}`);
  const hash = createHash('sha256');
  let size = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > max) return done(tooLarge(max));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(request.body as WebReadableStream<Uint8Array>),
      count,
      createWriteStream(tmp, { mode: 0o600 }),
    );
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== digest) {
      throw new InputError(
        `The upload does not match its checksum: its sha256 is ${actual}, not ${digest}. Upload it again (a transfer may have been cut).`,
      );
    }
    if (size === 0) throw new InputError('The bundle is empty.');
    await rename(tmp, destination);
    return { digest, size };
  } finally {
    await rm(tmp, { force: true });
  }
}
