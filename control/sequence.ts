/**
 * Sequence-number arithmetic for the control channel (RFC 2661 §5.8, RFC 3931 §4.2): Ns and Nr
 * are 16-bit counters that wrap from 65535 to 0, and two values are compared within a window of
 * 32767, so that 0 comes "after" 65535.
 *
 * @module
 */

/**
 * Sequence numbers count modulo 2^16.
 *
 * @example Usage
 * ```ts
 * import { SEQ_MODULUS } from "./sequence.ts";
 * console.log(SEQ_MODULUS); // 65536
 * ```
 */
export const SEQ_MODULUS = 0x10000;

/**
 * The largest distance at which one sequence number is still "ahead" of another.
 *
 * @example Usage
 * ```ts
 * import { SEQ_WINDOW } from "./sequence.ts";
 * console.log(SEQ_WINDOW); // 32767
 * ```
 */
export const SEQ_WINDOW = 0x7fff;

/**
 * `n + k` modulo 2^16.
 *
 * @param n A sequence number.
 * @param k How far to move (may be negative; default 1).
 * @returns The sequence number `k` steps after `n`.
 *
 * @example Usage
 * ```ts
 * import { seqAdd } from "./sequence.ts";
 * console.log(seqAdd(65535), seqAdd(3, -5)); // 0 65534
 * ```
 */
export function seqAdd(n: number, k = 1): number {
  return (n + k) & 0xffff;
}

/**
 * The signed distance from `b` to `a`: positive if `a` is ahead of `b` (by at most 32767),
 * negative if behind (by at most 32768), 0 if equal.
 *
 * @param a A sequence number.
 * @param b A sequence number.
 * @returns `a - b` brought into -32768..32767.
 *
 * @example Usage
 * ```ts
 * import { seqDiff } from "./sequence.ts";
 * console.log(seqDiff(0, 65535), seqDiff(65535, 0), seqDiff(7, 7)); // 1 -1 0
 * ```
 */
export function seqDiff(a: number, b: number): number {
  return ((a - b + 0x8000) & 0xffff) - 0x8000;
}

/**
 * Whether `a` comes before `b` in sequence space.
 *
 * @param a A sequence number.
 * @param b A sequence number.
 * @returns `true` if `a` is behind `b`.
 *
 * @example Usage
 * ```ts
 * import { seqBefore } from "./sequence.ts";
 * console.log(seqBefore(65535, 0), seqBefore(0, 65535)); // true false
 * ```
 */
export function seqBefore(a: number, b: number): boolean {
  return seqDiff(a, b) < 0;
}

/**
 * Whether `n` is a valid sequence number (an integer in 0..65535).
 *
 * @param n A value.
 * @returns `true` if it fits the 16-bit Ns/Nr fields.
 *
 * @example Usage
 * ```ts
 * import { isSeq } from "./sequence.ts";
 * console.log(isSeq(65535), isSeq(65536), isSeq(1.5)); // true false false
 * ```
 */
export function isSeq(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffff;
}
