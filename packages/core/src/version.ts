/**
 * MSP's version, from one place: this package's package.json (every MSP package is versioned with it; the
 * test beside this file keeps them equal). Read once when first imported, the only file core reads; a
 * subpath of its own (`@msp/core/version`) so `msp --version` loads nothing else.
 */
import { createRequire } from 'node:module';

export const MSP_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string })
  .version;
