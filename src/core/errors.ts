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
  | 'PayloadTooLarge'
  | 'Unavailable';

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

/**
 * Why authentication failed, protocol-neutral: each edge maps every reason to
 * its own wire error in one exhaustive table (the S3 edge to S3's codes).
 */
export type AuthFailure =
  | 'missing' // no signature at all
  | 'malformed' // a signature that cannot be parsed, or is missing a part
  | 'scope' // credential scoped to another region or service
  | 'mismatch' // the signature does not verify
  | 'payload-mismatch' // the body is not what x-amz-content-sha256 says
  | 'unsigned-payload' // UNSIGNED-PAYLOAD where the body must be signed
  | 'unknown-key' // no such (active) access key
  | 'skewed' // a header-signed request's time is more than 15 minutes off
  | 'expired' // a presigned URL past its expiry
  | 'not-yet-valid' // a presigned URL dated in the future
  | 'expiry-too-long'; // a presigned URL valid for longer than allowed

const FAILURE_OF_CODE: Record<AuthErrorCode, AuthFailure> = {
  MissingAuthenticationTokenException: 'missing',
  IncompleteSignatureException: 'malformed',
  InvalidSignatureException: 'mismatch',
  SignatureDoesNotMatch: 'mismatch',
  UnrecognizedClientException: 'unknown-key',
  InvalidClientTokenId: 'unknown-key',
  RequestExpired: 'expired',
};

export class AuthenticationError extends OpenOmicsError {
  readonly failure: AuthFailure;
  constructor(
    readonly code: AuthErrorCode,
    message: string,
    failure?: AuthFailure,
  ) {
    super('Authentication', message);
    this.failure = failure ?? FAILURE_OF_CODE[code];
  }
}

/** Thrown by key providers when a wrapped data key cannot be unwrapped. */
export class KeyUnavailableError extends OpenOmicsError {
  constructor(message: string) {
    super('AccessDenied', message);
  }
}

/**
 * A storage or network fault (the object store or database unreachable, a
 * reset connection, a full disk): nothing is wrong with the request or the
 * file, and the same work may succeed later. Jobs retry it with backoff;
 * requests answer a retryable 503.
 */
export class StorageUnavailableError extends OpenOmicsError {
  constructor(message: string) {
    super('Unavailable', message);
  }
}

/** System error codes of faults that pass: network trouble, a full or failing disk. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN',
  'EAI_AGAIN', 'ENOTFOUND', 'ENOSPC', 'EDQUOT', 'EIO', 'EMFILE', 'ENFILE', 'EBUSY', 'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_BUSY', '57P01', '57P02', '57P03', '08000', '08003', '08006',
]);
/** Messages of transport failures that carry no code (node:http, the pg driver). */
const TRANSIENT_MESSAGES = /^(aborted|socket hang up)$|^Connection terminated|^timeout exceeded when trying to connect|^Query read timeout|^Client has encountered a connection error|^terminating connection due to administrator command/;

/** Error names the AWS SDKs give to transient service answers and transport failures. */
const TRANSIENT_NAMES = new Set([
  'TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'InternalError', 'ServiceUnavailable', 'SlowDown',
  'ThrottlingException', 'Throttling', 'RequestLimitExceeded', 'TooManyRequestsException', 'AbortError',
]);

/**
 * True for an error that says "the storage or the network failed, try again":
 * system error codes (also on `cause`, as the SDKs nest them), HTTP 5xx and 429
 * answers, and the SDKs' names for timeouts and throttling. Never true for a
 * domain error other than `StorageUnavailableError`.
 */
export function isTransientIoError(e: unknown): boolean {
  if (e instanceof StorageUnavailableError) return true;
  if (e instanceof OpenOmicsError) return false;
  for (let err = e as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; $metadata?: { httpStatusCode?: number } } | undefined, depth = 0; err && depth < 4; err = err.cause as typeof err, depth++) {
    if (typeof err !== 'object') return false;
    if (typeof err.code === 'string' && TRANSIENT_CODES.has(err.code)) return true;
    if (typeof err.name === 'string' && TRANSIENT_NAMES.has(err.name)) return true;
    const status = err.$metadata?.httpStatusCode;
    if (status !== undefined && (status >= 500 || status === 429)) return true;
    if (typeof err.message === 'string' && TRANSIENT_MESSAGES.test(err.message)) return true;
  }
  return false;
}
