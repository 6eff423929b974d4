import { AuthenticationError, isTransientIoError, OpenOmicsError, type AuthFailure, type ErrorKind } from '../../core/errors.js';
import { NoSuchBucketError, NoSuchKeyError } from '../../storage/s3-view.js';

/** An S3 error answer: status, S3's error code, message, and extra elements of the <Error> document. */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
  }
}

const e = (status: number, code: string, message: string) => () => new S3Error(status, code, message);

/** Every authentication failure, as S3 answers it. */
const BY_AUTH_FAILURE: Record<AuthFailure, (err: AuthenticationError) => S3Error> = {
  missing: e(403, 'AccessDenied', 'Access Denied'),
  malformed: (err) => new S3Error(400, 'AuthorizationHeaderMalformed', err.message),
  scope: (err) => new S3Error(400, 'AuthorizationHeaderMalformed', err.message),
  mismatch: e(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'),
  'payload-mismatch': e(400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.'),
  'unsigned-payload': (err) => new S3Error(400, 'InvalidRequest', err.message),
  'unknown-key': e(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.'),
  skewed: e(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.'),
  expired: e(403, 'AccessDenied', 'Request has expired'),
  'not-yet-valid': e(403, 'AccessDenied', 'Request is not valid yet'),
  'expiry-too-long': (err) => new S3Error(400, 'AuthorizationQueryParametersError', err.message),
};

/** Every domain error kind, as S3 answers it (authentication by the table above). */
const BY_KIND: Record<ErrorKind, (err: OpenOmicsError) => S3Error> = {
  Validation: (err) => new S3Error(400, 'InvalidArgument', err.message),
  NotFound: e(404, 'NoSuchKey', 'The specified key does not exist.'),
  Conflict: (err) => new S3Error(409, 'OperationAborted', err.message),
  QuotaExceeded: (err) => new S3Error(403, 'AccessDenied', err.message),
  AccessDenied: e(403, 'AccessDenied', 'Access Denied'),
  Throttling: e(503, 'SlowDown', 'Please reduce your request rate.'),
  NotSupported: (err) => new S3Error(501, 'NotImplemented', err.message),
  NotImplemented: (err) => new S3Error(501, 'NotImplemented', err.message),
  RangeNotSatisfiable: e(416, 'InvalidRange', 'The requested range is not satisfiable'),
  Authentication: (err) => BY_AUTH_FAILURE[(err as AuthenticationError).failure](err as AuthenticationError),
  PayloadTooLarge: (err) => new S3Error(400, 'EntityTooLarge', err.message),
  Unavailable: e(503, 'ServiceUnavailable', 'Service is unable to handle request.'),
};

/** The one map from errors to S3 error answers for this edge; undefined for an internal error (a 500). */
export function toS3Error(err: unknown): S3Error | undefined {
  if (err instanceof S3Error) return err;
  if (err instanceof NoSuchBucketError) return new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist');
  if (err instanceof NoSuchKeyError) return new S3Error(404, 'NoSuchKey', 'The specified key does not exist.');
  if (err instanceof OpenOmicsError) return BY_KIND[err.kind](err);
  if (isTransientIoError(err)) return new S3Error(503, 'ServiceUnavailable', 'Service is unable to handle request.');
  return undefined;
}
