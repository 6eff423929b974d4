import { AuthenticationError, isTransientIoError, OpenOmicsError, type ErrorKind } from '../../core/errors.js';

/** The one place domain errors become Omics wire errors (status, x-amzn-ErrorType, message). */
export interface WireError {
  status: number;
  code: string;
  message: string;
}

const BY_KIND: Record<ErrorKind, { status: number; code: string }> = {
  Validation: { status: 400, code: 'ValidationException' },
  NotFound: { status: 404, code: 'ResourceNotFoundException' },
  Conflict: { status: 409, code: 'ConflictException' },
  QuotaExceeded: { status: 402, code: 'ServiceQuotaExceededException' },
  AccessDenied: { status: 403, code: 'AccessDeniedException' },
  Throttling: { status: 429, code: 'ThrottlingException' },
  NotSupported: { status: 405, code: 'NotSupportedOperationException' },
  NotImplemented: { status: 405, code: 'NotSupportedOperationException' },
  RangeNotSatisfiable: { status: 416, code: 'RangeNotSatisfiableException' },
  Authentication: { status: 403, code: 'AccessDeniedException' },
  PayloadTooLarge: { status: 413, code: 'ValidationException' },
  // The model has no 503 error; InternalServerException is its retryable server error (decision 54).
  Unavailable: { status: 503, code: 'InternalServerException' },
};

/** The wire error code of a domain error kind, for errors reported inside a result (a batch run's submission failure). */
export function wireErrorCode(kind: string): string {
  return (BY_KIND as Record<string, { code: string } | undefined>)[kind]?.code ?? kind;
}

export function toWireError(err: unknown, requestId: string): { wire: WireError; internal: boolean } {
  if (err instanceof AuthenticationError) return { wire: { status: 403, code: err.code, message: err.message }, internal: false };
  if (err instanceof OpenOmicsError) {
    const m = BY_KIND[err.kind];
    return { wire: { status: m.status, code: m.code, message: err.message }, internal: false };
  }
  if (isTransientIoError(err)) {
    return { wire: { status: 503, code: 'InternalServerException', message: `The storage is temporarily unavailable; retry the request. Request id: ${requestId}` }, internal: true };
  }
  return {
    wire: { status: 500, code: 'InternalServerException', message: `An internal error occurred. Request id: ${requestId}` },
    internal: true,
  };
}
