/** Errors only the HTTP edge raises. Their code stays in MSP's vocabulary (the CLI maps it to exit 2). */
import { InputError } from '@msp/core';

/** A request body past its limit; answered 413 before the rest of it is read. */
export class PayloadTooLargeError extends InputError {
  constructor(message = 'The request body is too large (JSON bodies are limited to 1 MB).') {
    super(message);
  }
}
