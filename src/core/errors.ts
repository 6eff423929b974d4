/**
 * Domain errors. Every layer below the protocol edges throws these (or lets
 * unknown errors through, which the edges turn into opaque 500s). The kinds
 * are protocol-neutral; `api/omics/errors.ts` and later `api/s3/errors.ts`
 * are the only places that map them to wire error codes.
 */
export type ErrorKind =
  | 'Validation'
  | 'NotFound'
  | 'Conflict'
  | 'QuotaExceeded'
  | 'AccessDenied'
  | 'Throttling'
  | 'NotSupported'
  | 'NotImplemented'
  | 'RangeNotSatisfiable'
  | 'Authentication'
  | 'PayloadTooLarge';

export class OpenOmicsError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = `${kind}Error`;
  }
}

export class ValidationError extends OpenOmicsError {
  constructor(message: string) {
    super('Validation', message);
  }
}
export class NotFoundError extends OpenOmicsError {
  constructor(message: string) {
    super('NotFound', message);
  }
}
export class ConflictError extends OpenOmicsError {
  constructor(message: string) {
    super('Conflict', message);
  }
}
export class QuotaExceededError extends OpenOmicsError {
  constructor(message: string) {
    super('QuotaExceeded', message);
  }
}
export class AccessDeniedError extends OpenOmicsError {
  constructor(message: string) {
    super('AccessDenied', message);
  }
}
export class RangeNotSatisfiableError extends OpenOmicsError {
  constructor(message: string) {
    super('RangeNotSatisfiable', message);
  }
}
export class NotImplementedError extends OpenOmicsError {
  constructor(message: string) {
    super('NotImplemented', message);
  }
}

/**
 * Authentication failures carry the AWS-wide error code clients recognise
 * (the SDKs use some of them, e.g. InvalidSignatureException, to correct clock
 * skew), because there is no protocol-neutral equivalent.
 */
export type AuthErrorCode =
  | 'MissingAuthenticationTokenException'
  | 'IncompleteSignatureException'
  | 'InvalidSignatureException'
  | 'UnrecognizedClientException'
  | 'SignatureDoesNotMatch'
  | 'InvalidClientTokenId'
  | 'RequestExpired';

export class AuthenticationError extends OpenOmicsError {
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super('Authentication', message);
  }
}

/** Thrown by key providers when a wrapped data key cannot be unwrapped. */
export class KeyUnavailableError extends OpenOmicsError {
  constructor(message: string) {
    super('AccessDenied', message);
  }
}
