/**
 * Tunnel and session ID allocation: random, non-zero, unique among the IDs in use.
 *
 * L2TPv2 tunnel and session IDs are 16-bit (RFC 2661 §3.1), L2TPv3 Control Connection and Session
 * IDs 32-bit (RFC 3931 §3.2.1, §4.1); 0 is reserved in both. IDs are drawn at random (so they are
 * hard to guess, RFC 3931 §8.2) and retried while taken; a 16-bit space that is nearly full falls
 * back to a scan, so allocation never loops forever.
 *
 * One allocator per scope: tunnel IDs are unique per host and version; L2TPv2 session IDs per
 * tunnel; L2TPv3 session IDs are best unique per host (the kernel looks them up host-wide).
 *
 * @example Usage
 * ```ts
 * import { IdAllocator } from "./ids.ts";
 * const tunnels = new IdAllocator(16);
 * const a = tunnels.allocate();
 * console.log(a >= 1 && a <= 0xffff, tunnels.has(a)); // true true
 * tunnels.release(a);
 * ```
 *
 * @module
 */

import { randomBytes } from "node:crypto";

/**
 * A source of random 32-bit unsigned integers (for tests: a deterministic one).
 *
 * @example Usage
 * ```ts
 * import type { RandomU32 } from "./ids.ts";
 * let n = 0;
 * const counter: RandomU32 = () => ++n;
 * console.log(counter(), counter()); // 1 2
 * ```
 */
export type RandomU32 = () => number;

const POOL = 256;

/**
 * Random 32-bit unsigned integers from node:crypto, drawn in batches.
 *
 * @returns A function returning a fresh random u32 on each call.
 *
 * @example Usage
 * ```ts
 * import { cryptoRandomU32 } from "./ids.ts";
 * const next = cryptoRandomU32();
 * console.log(next() <= 0xffffffff); // true
 * ```
 */
export function cryptoRandomU32(): RandomU32 {
  let pool = new Uint32Array(0);
  let i = 0;
  return (): number => {
    if (i >= pool.length) {
      pool = new Uint32Array(new Uint8Array(randomBytes(POOL * 4)).buffer);
      i = 0;
    }
    return pool[i++];
  };
}

/**
 * Allocates unique non-zero IDs of 16 or 32 bits.
 *
 * @example Usage
 * ```ts
 * import { IdAllocator } from "./ids.ts";
 * const sessions = new IdAllocator(32);
 * console.log(sessions.reserve(42), sessions.reserve(42)); // true false
 * console.log(sessions.size); // 1
 * ```
 */
export class IdAllocator {
  readonly #max: number;
  readonly #random: RandomU32;
  #used: IdSet = new SmallIdSet();

  /**
   * An allocator with no ID in use.
   *
   * @param bits 16 (L2TPv2) or 32 (L2TPv3).
   * @param random Random source (default node:crypto).
   * @throws {RangeError} If `bits` is neither 16 nor 32.
   */
  constructor(bits: 16 | 32, random: RandomU32 = cryptoRandomU32()) {
    if (bits !== 16 && bits !== 32) {
      throw new RangeError(`Cannot create ID allocator: ${bits} bits is not 16 or 32`);
    }
    this.#max = bits === 16 ? 0xffff : 0xffffffff;
    this.#random = random;
  }

  /** The largest ID (65535 or 4294967295). */
  get max(): number {
    return this.#max;
  }

  /** How many IDs are in use. */
  get size(): number {
    return this.#used.size;
  }

  /**
   * Whether an ID is in use.
   *
   * @param id The ID.
   * @returns `true` if allocated or reserved and not released.
   */
  has(id: number): boolean {
    return this.#used.has(id);
  }

  /**
   * Take a random free ID.
   *
   * @returns The ID, now in use.
   * @throws {RangeError} If every ID is in use.
   */
  allocate(): number {
    if (this.#used.size >= this.#max) {
      throw new RangeError(`Cannot allocate ID: all ${this.#max} IDs are in use`);
    }
    for (let tries = 0; tries < 64; tries++) {
      const id = this.#max === 0xffff ? this.#random() & 0xffff : this.#random() >>> 0;
      if (id !== 0 && !this.#used.has(id)) {
        this.#add(id);
        return id;
      }
    }
    // Nearly full (or a poor random source): scan from a random point.
    const start = (this.#random() >>> 0) % this.#max;
    for (let k = 0; k < this.#max; k++) {
      const id = ((start + k) % this.#max) + 1;
      if (!this.#used.has(id)) {
        this.#add(id);
        return id;
      }
    }
    throw new RangeError(`Cannot allocate ID: all ${this.#max} IDs are in use`);
  }

  /**
   * Take a given ID (a configured one).
   *
   * @param id The ID (1..max).
   * @returns `true` if it was free and is now in use, `false` if it was already in use.
   * @throws {RangeError} If `id` is not an integer in 1..max.
   */
  reserve(id: number): boolean {
    if (!Number.isInteger(id) || id < 1 || id > this.#max) {
      throw new RangeError(`Cannot reserve ID ${id}: not an integer in 1..${this.#max}`);
    }
    if (this.#used.has(id)) return false;
    this.#add(id);
    return true;
  }

  /**
   * Give an ID back. Releasing an ID not in use does nothing.
   *
   * @param id The ID.
   */
  release(id: number): void {
    this.#used.delete(id);
  }

  #add(id: number): void {
    // 16-bit IDs move to a bitmap (8 KiB) once a Set of them would be bigger.
    if (this.#max === 0xffff && this.#used.size === BITMAP_THRESHOLD) {
      this.#used = BitmapIdSet.of(this.#used);
    }
    this.#used.add(id);
  }
}

/** The set of IDs in use. */
interface IdSet {
  readonly size: number;
  has(id: number): boolean;
  add(id: number): void;
  delete(id: number): void;
  values(): Iterable<number>;
}

/** Above this many 16-bit IDs in use, a bitmap is smaller than a Set (~46 bytes an entry). */
const BITMAP_THRESHOLD = 256;

/** A few IDs: a Set. */
class SmallIdSet implements IdSet {
  readonly #set = new Set<number>();
  get size(): number {
    return this.#set.size;
  }
  has(id: number): boolean {
    return this.#set.has(id);
  }
  add(id: number): void {
    this.#set.add(id);
  }
  delete(id: number): void {
    this.#set.delete(id);
  }
  values(): Iterable<number> {
    return this.#set.values();
  }
}

/** Many 16-bit IDs: one bit each. */
class BitmapIdSet implements IdSet {
  readonly #bits = new Uint8Array(0x10000 / 8);
  #size = 0;

  static of(ids: IdSet): BitmapIdSet {
    const b = new BitmapIdSet();
    for (const id of ids.values()) b.add(id);
    return b;
  }
  get size(): number {
    return this.#size;
  }
  has(id: number): boolean {
    return (this.#bits[id >>> 3] & (1 << (id & 7))) !== 0;
  }
  add(id: number): void {
    if (this.has(id)) return;
    this.#bits[id >>> 3] |= 1 << (id & 7);
    this.#size++;
  }
  delete(id: number): void {
    if (!this.has(id)) return;
    this.#bits[id >>> 3] &= ~(1 << (id & 7));
    this.#size--;
  }
  *values(): Iterable<number> {
    for (let id = 0; id < 0x10000; id++) if (this.has(id)) yield id;
  }
}
