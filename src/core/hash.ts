// A content digest in the `algorithm:hex` form used by OCI descriptors (go-containerregistry's v1.Hash).
import { createHash } from 'node:crypto';
import { ErrInvalidHash } from './errors.js';

/** A sha256 digest string as OCI descriptors hold it: `sha256:` and 64 lowercase hex digits. */
export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** Whether `value` is a digest string of DIGEST_PATTERN's form. */
export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST_PATTERN.test(value);
}

/** The `sha256:<hex>` digest of bytes held in memory (manifests, configs, small blobs). */
export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

const HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64 };

export class Hash {
  readonly algorithm: 'sha256';
  /** Lowercase hex, as the OCI digest grammar requires for sha256. */
  readonly hex: string;

  constructor(algorithm: string, hex: string) {
    if (typeof algorithm !== 'string' || typeof hex !== 'string') {
      throw new ErrInvalidHash(`${String(algorithm)}:${String(hex)}`, 'algorithm and hex must be strings');
    }
    const expected = HEX_LENGTH[algorithm];
    if (expected === undefined) throw new ErrInvalidHash(`${algorithm}:${hex}`, `unsupported algorithm "${algorithm}"`);
    if (hex.length !== expected || !/^[0-9a-f]*$/.test(hex)) {
      throw new ErrInvalidHash(`${algorithm}:${hex}`, `expected ${expected} lowercase hex digits`);
    }
    this.algorithm = algorithm as 'sha256';
    this.hex = hex;
    Object.freeze(this);
  }

  /** Parses `sha256:<64 lowercase hex>`; throws ErrInvalidHash (a TypeError) otherwise. */
  static parse(value: string): Hash {
    if (typeof value !== 'string') throw new ErrInvalidHash(value, 'expected a string');
    const colon = value.indexOf(':');
    if (colon < 0) throw new ErrInvalidHash(value, 'expected "algorithm:hex"');
    return new Hash(value.slice(0, colon), value.slice(colon + 1));
  }

  equals(other: unknown): boolean {
    return other instanceof Hash && other.algorithm === this.algorithm && other.hex === this.hex;
  }

  toString(): string {
    return `${this.algorithm}:${this.hex}`;
  }

  /** Serialises as the plain digest string, which is what descriptors contain. */
  toJSON(): string {
    return this.toString();
  }
}
