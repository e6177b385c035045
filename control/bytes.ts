/**
 * Big-endian integer access on `Uint8Array` without `DataView` allocations, and small byte
 * helpers shared by the control-message codec.
 *
 * @module
 */

/**
 * Reads a big-endian 16-bit unsigned integer.
 *
 * @param b The buffer.
 * @param o The offset (the caller guarantees `o + 2 <= b.length`).
 * @returns The value.
 *
 * @example Usage
 * ```ts
 * import { readU16 } from "./bytes.ts";
 * console.log(readU16(new Uint8Array([0x06, 0xa5]), 0)); // 1701
 * ```
 */
export function readU16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/**
 * Reads a big-endian 32-bit unsigned integer.
 *
 * @param b The buffer.
 * @param o The offset (the caller guarantees `o + 4 <= b.length`).
 * @returns The value, 0 to 2**32-1.
 *
 * @example Usage
 * ```ts
 * import { readU32 } from "./bytes.ts";
 * console.log(readU32(new Uint8Array([0xff, 0xff, 0xff, 0xfe]), 0)); // 4294967294
 * ```
 */
export function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) >>> 0) + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]);
}

/**
 * Reads a big-endian 64-bit unsigned integer.
 *
 * @param b The buffer.
 * @param o The offset (the caller guarantees `o + 8 <= b.length`).
 * @returns The value.
 *
 * @example Usage
 * ```ts
 * import { readU64 } from "./bytes.ts";
 * console.log(readU64(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 0]), 0)); // 4294967296n
 * ```
 */
export function readU64(b: Uint8Array, o: number): bigint {
  return (BigInt(readU32(b, o)) << 32n) | BigInt(readU32(b, o + 4));
}

/**
 * Writes a big-endian 16-bit unsigned integer.
 *
 * @param b The buffer.
 * @param o The offset.
 * @param v The value (taken modulo 2**16).
 *
 * @example Usage
 * ```ts
 * import { writeU16 } from "./bytes.ts";
 * const b = new Uint8Array(2);
 * writeU16(b, 0, 1701);
 * console.log(b); // Uint8Array(2) [ 6, 165 ]
 * ```
 */
export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

/**
 * Writes a big-endian 32-bit unsigned integer.
 *
 * @param b The buffer.
 * @param o The offset.
 * @param v The value (taken modulo 2**32).
 *
 * @example Usage
 * ```ts
 * import { writeU32 } from "./bytes.ts";
 * const b = new Uint8Array(4);
 * writeU32(b, 0, 0x01020304);
 * console.log(b); // Uint8Array(4) [ 1, 2, 3, 4 ]
 * ```
 */
export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/**
 * Writes a big-endian 64-bit unsigned integer.
 *
 * @param b The buffer.
 * @param o The offset.
 * @param v The value (taken modulo 2**64).
 *
 * @example Usage
 * ```ts
 * import { writeU64 } from "./bytes.ts";
 * const b = new Uint8Array(8);
 * writeU64(b, 0, 1n);
 * console.log(b[7]); // 1
 * ```
 */
export function writeU64(b: Uint8Array, o: number, v: bigint): void {
  writeU32(b, o, Number((v >> 32n) & 0xffffffffn));
  writeU32(b, o + 4, Number(v & 0xffffffffn));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * The UTF-8 encoded length of a string, without encoding it.
 *
 * @param s The string.
 * @returns Its length in bytes once UTF-8 encoded (lone surrogates count as U+FFFD, 3 bytes).
 *
 * @example Usage
 * ```ts
 * import { utf8Length } from "./bytes.ts";
 * console.log(utf8Length("lns-1"), utf8Length("é")); // 5 2
 * ```
 */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * Encodes a string as UTF-8 into `b` at `o`.
 *
 * @param s The string.
 * @param b The destination (must have room for {@linkcode utf8Length} bytes).
 * @param o The offset.
 * @returns The number of bytes written.
 *
 * @example Usage
 * ```ts
 * import { writeUtf8 } from "./bytes.ts";
 * const b = new Uint8Array(3);
 * console.log(writeUtf8("lac", b, 0)); // 3
 * ```
 */
export function writeUtf8(s: string, b: Uint8Array, o: number): number {
  return encoder.encodeInto(s, b.subarray(o)).written;
}

/**
 * Decodes UTF-8 bytes (invalid sequences become U+FFFD; never throws).
 *
 * @param b The bytes.
 * @returns The string.
 *
 * @example Usage
 * ```ts
 * import { readUtf8 } from "./bytes.ts";
 * console.log(readUtf8(new Uint8Array([0x6c, 0x6e, 0x73]))); // "lns"
 * ```
 */
export function readUtf8(b: Uint8Array): string {
  return b.length === 0 ? "" : decoder.decode(b);
}

/**
 * Turns a secret given as text (UTF-8) or bytes into bytes.
 *
 * @param secret The secret.
 * @returns Its bytes (the same array when given bytes).
 *
 * @example Usage
 * ```ts
 * import { secretBytes } from "./bytes.ts";
 * console.log(secretBytes("ab")); // Uint8Array(2) [ 97, 98 ]
 * ```
 */
export function secretBytes(secret: string | Uint8Array): Uint8Array {
  return typeof secret === "string" ? encoder.encode(secret) : secret;
}

/**
 * Concatenates byte arrays.
 *
 * @param parts The arrays.
 * @returns A new array holding them in order.
 *
 * @example Usage
 * ```ts
 * import { concatBytes } from "./bytes.ts";
 * console.log(concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])])); // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
