/**
 * SCCRQ cookies: what lets a listener (control/listener.ts) answer an SCCRQ without keeping a
 * connection, a socket, a transport or a timer for it, as TCP SYN cookies do for a SYN.
 *
 * A cookie is our Assigned Tunnel ID (L2TPv2, 16 bits, RFC 2661 §4.4.3) or Assigned Control
 * Connection ID (L2TPv3, 32 bits, RFC 3931 §5.4.3) in a stateless SCCRP: the first bytes of
 * `HMAC-SHA-256(key, version, peer address, peer port, peer's Assigned ID, time bucket, attempt,
 * SCCRQ bytes)`, where the key is random, per process, and replaced every bucket (two buckets'
 * keys are kept, so a cookie lives between one and two bucket lengths). The peer's SCCCN comes
 * back addressed to the cookie (RFC 2661 §5.8: with Nr 1, acknowledging the SCCRP), which proves
 * the round trip: a sender with a spoofed address never sees the SCCRP and cannot guess the ID.
 * The same SCCRQ (a retransmission) in the same bucket gets the same cookie; `attempt` picks
 * another one when a cookie is 0 or already taken.
 *
 * The same HMAC (the cookie's tag) seeds a deterministic byte stream ({@linkcode cookieRandom}):
 * the random values the SCCRP carries (the L2TPv2 Challenge, the L2TPv3 nonce, a Router ID that
 * is not configured) are drawn from it, so the connection that is made when the SCCCN arrives
 * draws the same values again instead of their being stored.
 *
 * @example Usage
 * ```ts
 * import { CookieJar } from "./sccrq_cookie.ts";
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock();
 * const jar = new CookieJar({ clock, bucketMs: 5000 });
 * const input = { version: 2 as const, from: { address: "192.0.2.1", port: 1701 },
 *   peerTunnelId: 7, sccrq: new Uint8Array([1, 2, 3]), attempt: 0 };
 * const bucket = jar.bucket();
 * const first = jar.tag(input, bucket), again = jar.tag(input, bucket);
 * console.log(first !== undefined && again !== undefined && jar.idOf(first, 2) === jar.idOf(again, 2)); // true
 * clock.advance(10_000);
 * console.log(jar.tag(input, bucket)); // undefined (its key is gone)
 * ```
 *
 * @module
 */

import { createHash, type Hash, randomBytes } from "node:crypto";
import type { Clock } from "./clock.ts";
import type { Endpoint, L2tpVersion } from "./types.ts";

/**
 * What a cookie is computed from.
 *
 * @example Usage
 * ```ts
 * import type { CookieInput } from "./sccrq_cookie.ts";
 * const i: CookieInput = { version: 3, from: { address: "::1", port: 1701 }, peerTunnelId: 9,
 *   sccrq: new Uint8Array(20), attempt: 0 };
 * console.log(i.peerTunnelId); // 9
 * ```
 */
export interface CookieInput {
  /** Protocol version. */
  version: L2tpVersion;
  /** Where the SCCRQ came from (and where the SCCRP goes). */
  from: Endpoint;
  /** The peer's Assigned Tunnel (Control Connection) ID. */
  peerTunnelId: number;
  /** The SCCRQ as received. */
  sccrq: Uint8Array;
  /** 0, or more when a lower attempt's cookie was 0 or taken. */
  attempt: number;
}

/**
 * Options of {@linkcode CookieJar}.
 *
 * @example Usage
 * ```ts
 * import type { CookieJarOptions } from "./sccrq_cookie.ts";
 * const o: CookieJarOptions = { bucketMs: 5000 };
 * console.log(o.bucketMs); // 5000
 * ```
 */
export interface CookieJarOptions {
  /** Time source (default `performance.now()`). */
  clock?: Pick<Clock, "now">;
  /** Length of a time bucket in milliseconds (a cookie lives one to two of them). */
  bucketMs: number;
  /** Random bytes for the keys (default node:crypto). */
  random?: (n: number) => Uint8Array;
}

const LABEL = new TextEncoder().encode("l2tpd SCCRQ cookie");

/**
 * HMAC-SHA-256 (RFC 2104) with the padded key hashed once: each MAC copies the two hash states
 * instead of starting from the key again (a third of the cost of `createHmac`).
 */
class Hmac256 {
  readonly #inner: Hash;
  readonly #outer: Hash;

  constructor(key: Uint8Array) {
    const k = key.length > 64 ? new Uint8Array(createHash("sha256").update(key).digest()) : key;
    const ipad = new Uint8Array(64).fill(0x36);
    const opad = new Uint8Array(64).fill(0x5c);
    for (let i = 0; i < k.length; i++) {
      ipad[i] ^= k[i];
      opad[i] ^= k[i];
    }
    this.#inner = createHash("sha256").update(ipad);
    this.#outer = createHash("sha256").update(opad);
  }

  mac(...parts: (Uint8Array | string)[]): Uint8Array {
    const h = this.#inner.copy();
    for (const p of parts) h.update(p);
    return new Uint8Array(this.#outer.copy().update(h.digest()).digest());
  }
}

/**
 * The keys and the cookie function (see the module documentation).
 *
 * @example Usage
 * ```ts
 * import { CookieJar } from "./sccrq_cookie.ts";
 * const jar = new CookieJar({ bucketMs: 5000 });
 * const tag = jar.tag({ version: 3, from: { address: "192.0.2.1", port: 1701 },
 *   peerTunnelId: 7, sccrq: new Uint8Array(12), attempt: 0 }, jar.bucket());
 * console.log(tag?.length); // 32
 * ```
 */
export class CookieJar {
  readonly #clock: Pick<Clock, "now">;
  readonly #bucketMs: number;
  readonly #random: (n: number) => Uint8Array;
  /** Key of the current bucket and of the one before. */
  readonly #keys = new Map<number, Hmac256>();

  /**
   * A jar with no key yet (each is made when its bucket is first used).
   *
   * @param options Clock, bucket length, random source.
   * @throws {RangeError} If the bucket length is not a positive number of milliseconds.
   */
  constructor(options: CookieJarOptions) {
    if (!Number.isFinite(options.bucketMs) || options.bucketMs <= 0) {
      throw new RangeError(
        `Cannot create cookie jar: bucket length ${options.bucketMs} ms is not positive`,
      );
    }
    this.#clock = options.clock ?? { now: (): number => performance.now() };
    this.#bucketMs = options.bucketMs;
    this.#random = options.random ?? ((n): Uint8Array => new Uint8Array(randomBytes(n)));
  }

  /** Length of a time bucket in milliseconds. */
  get bucketMs(): number {
    return this.#bucketMs;
  }

  /**
   * The current time bucket.
   *
   * @returns Its number.
   */
  bucket(): number {
    return Math.floor(this.#clock.now() / this.#bucketMs);
  }

  /**
   * Whether cookies of a bucket are still accepted (it is the current one or the one before).
   *
   * @param bucket The bucket.
   * @returns True while its key is kept.
   */
  valid(bucket: number): boolean {
    const now = this.bucket();
    return bucket === now || bucket === now - 1;
  }

  /**
   * The HMAC of a cookie's inputs with the key of `bucket`.
   *
   * @param input What the cookie is computed from.
   * @param bucket The time bucket (from {@linkcode CookieJar.bucket} when the SCCRQ arrived).
   * @returns 32 bytes, or undefined when the bucket is no longer (or not yet) valid.
   */
  tag(input: CookieInput, bucket: number): Uint8Array | undefined {
    const key = this.#key(bucket);
    if (key === undefined) return undefined;
    const fixed = new Uint8Array(16);
    const v = new DataView(fixed.buffer);
    v.setUint8(0, input.version);
    v.setUint8(1, input.attempt & 0xff);
    v.setUint16(2, input.from.port);
    v.setUint32(4, input.peerTunnelId >>> 0);
    v.setFloat64(8, bucket);
    return key.mac(LABEL, fixed, input.from.address, input.sccrq);
  }

  /**
   * The cookie a tag makes: its first 2 (L2TPv2) or 4 (L2TPv3) bytes.
   *
   * @param tag From {@linkcode CookieJar.tag}.
   * @param version Protocol version.
   * @returns The tunnel ID; 0 (reserved) means: take another attempt.
   */
  idOf(tag: Uint8Array, version: L2tpVersion): number {
    const v = new DataView(tag.buffer, tag.byteOffset, tag.byteLength);
    return version === 2 ? v.getUint16(0) : v.getUint32(0);
  }

  #key(bucket: number): Hmac256 | undefined {
    const now = this.bucket();
    if (bucket !== now && bucket !== now - 1) return undefined;
    for (const b of this.#keys.keys()) if (b < now - 1) this.#keys.delete(b);
    let key = this.#keys.get(bucket);
    if (key === undefined) {
      // A past bucket without a key never issued a cookie.
      if (bucket !== now) return undefined;
      key = new Hmac256(this.#random(32));
      this.#keys.set(bucket, key);
    }
    return key;
  }
}

/**
 * The deterministic byte stream a cookie's tag seeds: `HMAC-SHA-256(tag, counter)` blocks, in
 * order. The values drawn for a stateless SCCRP are drawn again, equal, by the connection made
 * from its SCCCN.
 *
 * @param tag The cookie's tag.
 * @returns A `random(n)` function.
 *
 * @example Usage
 * ```ts
 * import { cookieRandom } from "./sccrq_cookie.ts";
 * const tag = new Uint8Array(32).fill(7);
 * const a = cookieRandom(tag), b = cookieRandom(tag);
 * console.log(a(16).join() === b(16).join(), a(4).join() === b(4).join()); // true true
 * ```
 */
export function cookieRandom(tag: Uint8Array): (n: number) => Uint8Array {
  const hmac = new Hmac256(tag);
  let counter = 0;
  let block: Uint8Array = new Uint8Array(0);
  let at = 0;
  return (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (at >= block.length) {
        const c = new Uint8Array(4);
        new DataView(c.buffer).setUint32(0, counter++);
        block = hmac.mac(c);
        at = 0;
      }
      out[i] = block[at++];
    }
    return out;
  };
}
