import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Clients } from './session.js';

/** A presigned GET of a read set file's S3 view object (`s3://<alias>/<key>`), good for `seconds`. */
export async function presign(c: Clients, s3Uri: string, seconds = 3600): Promise<string> {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(s3Uri);
  if (!m) throw new Error(`not an S3 URI: ${s3Uri}`);
  return getSignedUrl(c.s3, new GetObjectCommand({ Bucket: m[1], Key: m[2] }), { expiresIn: seconds });
}
