import { randomInt, randomBytes } from 'node:crypto';

/** A 10-digit numeric id, as the service issues for stores, read sets, jobs and uploads. */
export function newNumericId(): string {
  return String(randomInt(1_000_000_000, 10_000_000_000));
}

/** Random lowercase alphanumeric string of the given length. */
export function randomLowerAlnum(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[bytes[i]! % alphabet.length];
  return out;
}

/** AWS-style access key id: 20 characters starting with AKIA. */
export function newAccessKeyId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = randomBytes(16);
  let out = 'AKIA';
  for (let i = 0; i < 16; i++) out += alphabet[bytes[i]! % alphabet.length];
  return out;
}

/** 40-character secret access key. */
export function newSecretAccessKey(): string {
  return randomBytes(30).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'B');
}
