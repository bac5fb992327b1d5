/**
 * One error vocabulary for all of MSP. Each error has a stable code, says whether retrying can help,
 * and keeps its cause. HTTP statuses and CLI exit codes are derived from the code in one place each
 * (`httpStatusOf`, `exitCodeOf`).
 */
export const ErrorCode = {
  Input: 'invalid_input',
  NotFound: 'not_found',
  Conflict: 'conflict',
  NotAllowed: 'not_allowed',
  Unauthenticated: 'unauthenticated',
  PreconditionFailed: 'precondition_failed',
  Unavailable: 'unavailable',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface MspErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class MspError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, retryable: boolean, options: MspErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
    this.details = options.details;
  }
}

/** The request or the spec is wrong; the message names the problem and the fix. */
export class InputError extends MspError {
  constructor(message: string, options?: MspErrorOptions) {
    super(ErrorCode.Input, message, false, options);
  }
}
export class NotFoundError extends MspError {
  constructor(message: string, options?: MspErrorOptions) {
    super(ErrorCode.NotFound, message, false, options);
  }
}
export class ConflictError extends MspError {
  constructor(message: string, options?: MspErrorOptions) {
    super(ErrorCode.Conflict, message, false, options);
  }
}
export class NotAllowedError extends MspError {
  constructor(message: string, options?: MspErrorOptions) {
    super(ErrorCode.NotAllowed, message, false, options);
  }
}
export class UnauthenticatedError extends MspError {
  constructor(message: string, options?: MspErrorOptions) {
    super(ErrorCode.Unauthenticated, message, false, options);
  }
}
export class PreconditionFailedError extends MspError {
  constructor(message: string, options?: MspErrorOptions) {
    super(ErrorCode.PreconditionFailed, message, false, options);
  }
}
/** Something MSP depends on is not there right now; retrying later can help. */
export class UnavailableError extends MspError {
  constructor(message: string, options?: MspErrorOptions) {
    super(ErrorCode.Unavailable, message, true, options);
  }
}

const httpStatus: Record<ErrorCode, number> = {
  invalid_input: 400,
  unauthenticated: 401,
  not_allowed: 403,
  not_found: 404,
  conflict: 409,
  precondition_failed: 412,
  unavailable: 503,
  internal: 500,
};

export function httpStatusOf(error: unknown): number {
  return error instanceof MspError ? httpStatus[error.code] : 500;
}

/**
 * CLI exit codes: 0 ok, 1 failed, 2 the request cannot succeed as asked (bad input or usage, unknown
 * name, a precondition the caller must fix, a token refused).
 */
const exitCode: Record<ErrorCode, 1 | 2> = {
  invalid_input: 2,
  not_found: 2,
  precondition_failed: 2,
  unauthenticated: 2,
  not_allowed: 2,
  conflict: 1,
  unavailable: 1,
  internal: 1,
};

export function exitCodeOf(error: unknown): 1 | 2 {
  return error instanceof MspError ? exitCode[error.code] : 1;
}

export function isMspError(error: unknown): error is MspError {
  return error instanceof MspError;
}

/** What is recorded of an error that ended something (a failed step): its message, code and retryability. */
export interface ErrorFacts {
  readonly message: string;
  readonly code: ErrorCode;
  readonly retryable: boolean;
}

/** Node's errno codes for a peer that is not there right now. */
export const TRANSIENT_SYSTEM_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * The facts of any thrown value: an MspError says its own code and retryability; a connection failure
 * (Node's errno codes, PostgreSQL's connection, resource and serialization classes 08, 40, 53, 57P)
 * or a timeout is unavailable and retryable; anything else is internal and not retryable.
 */
export function classifyError(error: unknown): ErrorFacts {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof MspError) return { message, code: error.code, retryable: error.retryable };
  const code = (error as { code?: unknown } | null)?.code;
  const name = error instanceof Error ? error.name : '';
  const transient =
    name === 'TimeoutError' ||
    (typeof code === 'string' && (TRANSIENT_SYSTEM_CODES.has(code) || /^(08|40|53|57P)/.test(code)));
  return transient
    ? { message, code: ErrorCode.Unavailable, retryable: true }
    : { message, code: ErrorCode.Internal, retryable: false };
}
