/**
 * The server's error, rebuilt on the client from the response body's `code` (`{ error: { code, message,
 * details } }`): a 412 from the API and a PreconditionFailedError thrown locally are the same error, so
 * they exit the same way (core's `exitCodeOf`, the one map from error to exit code).
 */
import {
  ConflictError,
  ErrorCode,
  InputError,
  MspError,
  NotAllowedError,
  NotFoundError,
  PreconditionFailedError,
  UnauthenticatedError,
  UnavailableError,
  type MspErrorOptions,
} from '@msp/core';

class InternalError extends MspError {
  constructor(message: string, options?: MspErrorOptions) {
    super(ErrorCode.Internal, message, false, options);
  }
}

const classOf: Record<ErrorCode, new (message: string, options?: MspErrorOptions) => MspError> = {
  invalid_input: InputError,
  not_found: NotFoundError,
  conflict: ConflictError,
  not_allowed: NotAllowedError,
  unauthenticated: UnauthenticatedError,
  precondition_failed: PreconditionFailedError,
  unavailable: UnavailableError,
  internal: InternalError,
};

/** For an answer without MSP's error body (a proxy in between, say): the code its status stands for. */
const codeOfStatus: Record<number, ErrorCode> = {
  400: 'invalid_input',
  401: 'unauthenticated',
  403: 'not_allowed',
  404: 'not_found',
  409: 'conflict',
  412: 'precondition_failed',
  413: 'invalid_input',
  503: 'unavailable',
};

const isCode = (code: unknown): code is ErrorCode => typeof code === 'string' && code in classOf;

/** The MspError an error response stands for. */
export function errorFromResponse(status: number, statusText: string, body: unknown): MspError {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  const code = isCode(error?.code) ? error.code : (codeOfStatus[status] ?? ErrorCode.Internal);
  const message = typeof error?.message === 'string' ? error.message : `${status} ${statusText}`;
  const details =
    error?.details && typeof error.details === 'object'
      ? { details: error.details as Record<string, unknown> }
      : {};
  return new classOf[code](message, details);
}
