/**
 * A 32-bit checksum (CRC32, CRC32C) as S3 writes it in `x-amz-checksum-crc32` / `-crc32c` headers and trailers:
 * the big-endian value in base64.
 */
export function checksumHeaderValue(value: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b.toString('base64');
}

/** CRC-32 (the polynomial of zlib, S3's CRC32), reflected. */
const CRC32_POLY = 0xedb88320;

/** a(x)·b(x) modulo the CRC-32 polynomial, both in the reflected bit order. */
function multiplyModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ CRC32_POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) modulo the polynomial, k = 0..31. */
const X_POW_2K = (() => {
  const t: number[] = [];
  let p = 0x40000000; // x^1
  for (let k = 0; k < 32; k++) {
    t.push(p);
    p = multiplyModP(p, p);
  }
  return t;
})();

/**
 * The CRC-32 of A followed by B from the CRC-32s of A and of B and B's length in bytes (zlib's crc32_combine):
 * pieces of a file checksummed as they arrive, in any order, give the whole file's CRC-32.
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  // x^(8·lengthB) mod P, by the binary expansion of lengthB (k starts at 3: 2^3 bits a byte).
  let xn = 0x80000000; // x^0
  for (let n = lengthB, k = 3; n > 0; n = Math.floor(n / 2), k++) if (n % 2 === 1) xn = multiplyModP(X_POW_2K[k % 32]!, xn);
  return (multiplyModP(xn, crcA >>> 0) ^ crcB) >>> 0;
}
