// Canonical JSON for configs, manifests and indexes: object keys sorted by code unit at every level,
// no whitespace, undefined members left out. Sorted keys make the bytes (and so the digest) a function
// of the content alone, whatever order the caller or a base image's JSON built the objects in.
//
// Documents from outside (a base image's config) are read with parseJSON, which refuses what the
// canonical form could not carry over unchanged: nesting deeper than MAX_JSON_DEPTH (the serialiser
// recurses), and numbers JSON.parse would round (12345678901234567890 is not a double). Every key is
// kept as written, `__proto__` included; of a key given twice the last wins, as with JSON.parse.
import { ErrConfigInvalid } from './errors.js';
import { sha256 } from '../core/hash.js';

export { sha256 };

/** Arrays and objects nested in one another at most this deep (real configs stay below 10). */
export const MAX_JSON_DEPTH = 64;

function tooDeep(): ErrConfigInvalid {
  return new ErrConfigInvalid(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
}

function normalise(value: unknown, depth: number): unknown {
  if (Array.isArray(value)) {
    if (depth >= MAX_JSON_DEPTH) throw tooDeep();
    return value.map((v) => (v === undefined ? null : normalise(v, depth + 1)));
  }
  if (value !== null && typeof value === 'object') {
    if (depth >= MAX_JSON_DEPTH) throw tooDeep();
    // No prototype: a key "__proto__" (JSON.parse makes it an own property) stays an own property
    // here too, where `{}[key] = v` would set the prototype instead and lose the key.
    const out = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = normalise(v, depth + 1);
    }
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('JSON cannot hold a non-finite number');
  return value;
}

export function canonicalJSON(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(normalise(value, 0)), 'utf8');
}


const NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** A number's exact decimal value as `sign digits e exponent`, without leading or trailing zeros. */
function decimal(text: string): string {
  const m = NUMBER.exec(text)!;
  let digits = `${m[2]}${m[3] ?? ''}`.replace(/^0+/, '');
  let exp = BigInt(m[4] ?? 0) - BigInt((m[3] ?? '').length);
  if (digits === '') return '0';
  while (digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    exp += 1n;
  }
  return `${m[1]}${digits}e${exp}`;
}

/**
 * Checks the text JSON.parse accepted: the nesting depth, and that each number's value survives
 * being read as a double and written back (1.0 and 1e3 do: same value; 9007199254740993 does not).
 */
function check(text: string): void {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // To the closing quote: one not escaped by an odd run of backslashes.
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > MAX_JSON_DEPTH) throw tooDeep();
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      while (end < text.length && /[0-9eE.+-]/.test(text[end]!)) end++;
      const token = text.slice(i, end);
      const n = Number(token);
      if (!Number.isFinite(n) || decimal(token) !== decimal(JSON.stringify(n))) {
        throw new ErrConfigInvalid(`the number ${token.length > 40 ? `${token.slice(0, 40)}...` : token} cannot be kept exactly (JSON numbers are read as doubles): refusing to rewrite it`);
      }
      i = end - 1;
    }
  }
}

/**
 * Parses a JSON document from outside that will be carried into a new one: JSON.parse, then the
 * checks above (ErrConfigInvalid). Every key is kept, `__proto__` included (JSON.parse makes it an
 * own property; canonicalJSON keeps it one).
 */
export function parseJSON(bytes: Uint8Array | string): unknown {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const value = JSON.parse(text) as unknown;
  check(text);
  return value;
}
