/**
 * A 32-bit checksum (CRC32, CRC32C) as S3 writes it in `x-amz-checksum-crc32` / `-crc32c` headers and trailers:
 * the big-endian value in base64.
 */
export function checksumHeaderValue(value: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b.toString('base64');
}
