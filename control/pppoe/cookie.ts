/**
 * AC-Cookies (RFC 2516 Appendix A, tag 0x0104; §8 on denial of service): what lets the access
 * concentrator answer a PADI with a PADO without remembering anything, and accept a PADR only
 * from a host that really received that PADO at its own MAC address.
 *
 * A cookie is 24 bytes: an 8-byte random nonce, then the first 16 bytes of
 * `HMAC-SHA-256(key, label, subscriber MAC, Host-Uniq, Service-Name, time bucket, nonce)`, with
 * every field length-prefixed. The key is random, per process, and a new one is made for every
 * time bucket (default 30 s); the previous bucket's key is kept, so a cookie is accepted for one
 * to two bucket lengths and then never again. The nonce makes every PADO's cookie different, so
 * a PADR that carries the exact cookie of an existing session can be told to be a retransmission
 * rather than a second request.
 *
 * @example Usage
 * ```ts
 * import { AcCookieJar } from "./cookie.ts";
 * import { FakeClock } from "../clock.ts";
 * const clock = new FakeClock();
 * const jar = new AcCookieJar({ clock, bucketMs: 30_000 });
 * const input = { peerMac: new Uint8Array([2, 0, 0, 0, 0, 1]), service: "isp" };
 * const cookie = jar.issue(input);
 * console.log(cookie.length, jar.verify(cookie, input)); // 24 true
 * console.log(jar.verify(cookie, { ...input, service: "other" })); // false
 * clock.advance(60_000);
 * console.log(jar.verify(cookie, input)); // false
 * ```
 *
 * @module
 */

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { writeU16 } from "../bytes.ts";

/**
 * Length of an AC-Cookie in bytes (nonce and truncated MAC).
 *
 * @example Usage
 * ```ts
 * import { AC_COOKIE_LENGTH } from "./cookie.ts";
 * console.log(AC_COOKIE_LENGTH); // 24
 * ```
 */
export const AC_COOKIE_LENGTH = 24;

const NONCE_LENGTH = 8;
const MAC_LENGTH = AC_COOKIE_LENGTH - NONCE_LENGTH;
const KEY_LENGTH = 32;
const LABEL = new TextEncoder().encode("l2tpd PPPoE AC-Cookie v1");
const encoder = new TextEncoder();

/**
 * The part of a control/clock.ts `Clock` that discovery uses: the time in milliseconds (any
 * `Clock`, `systemClock` or `FakeClock` is one).
 *
 * @example Usage
 * ```ts
 * import type { TimeSource } from "./cookie.ts";
 * import { FakeClock } from "../clock.ts";
 * const t: TimeSource = new FakeClock(5);
 * console.log(t.now()); // 5
 * ```
 */
export interface TimeSource {
  /** Milliseconds since an arbitrary origin; never decreases. */
  now(): number;
}

/**
 * What a cookie binds.
 *
 * @example Usage
 * ```ts
 * import type { AcCookieInput } from "./cookie.ts";
 * const i: AcCookieInput = { peerMac: new Uint8Array(6), hostUniq: new Uint8Array([1]),
 *   service: "" };
 * console.log(i.service === ""); // true
 * ```
 */
export interface AcCookieInput {
  /** The subscriber's MAC address (the source of the PADI, then of the PADR). */
  peerMac: Uint8Array;
  /** The Host-Uniq value, when the host sent one (absent and empty are different). */
  hostUniq?: Uint8Array;
  /** The Service-Name value (bytes as received, or text to be encoded as UTF-8). */
  service: Uint8Array | string;
}

/**
 * Options of {@linkcode AcCookieJar}.
 *
 * @example Usage
 * ```ts
 * import type { AcCookieJarOptions } from "./cookie.ts";
 * const o: AcCookieJarOptions = { bucketMs: 10_000 };
 * console.log(o.bucketMs); // 10000
 * ```
 */
export interface AcCookieJarOptions {
  /** Time source (default `performance.now()`). */
  clock?: TimeSource;
  /** Length of a time bucket in milliseconds (default 30000); a cookie lives one to two. */
  bucketMs?: number;
  /** Random bytes for the keys and nonces (default node:crypto). */
  random?: (n: number) => Uint8Array;
}

/** One bucket's key, ready to MAC the length-prefixed fields. */
class BucketKey {
  readonly #key: Uint8Array;

  constructor(key: Uint8Array) {
    this.#key = key;
  }

  mac(parts: readonly Uint8Array[]): Uint8Array {
    const h = createHmac("sha256", this.#key);
    const len = new Uint8Array(2);
    for (const p of parts) {
      writeU16(len, 0, p.length);
      h.update(len);
      h.update(p);
    }
    return new Uint8Array(h.digest()).subarray(0, MAC_LENGTH);
  }
}

/**
 * The per-process keys and the cookie function (see the module documentation).
 *
 * @example Usage
 * ```ts
 * import { AcCookieJar } from "./cookie.ts";
 * const jar = new AcCookieJar();
 * const input = { peerMac: new Uint8Array([2, 0, 0, 0, 0, 9]), service: "" };
 * const a = jar.issue(input), b = jar.issue(input);
 * console.log(jar.verify(a, input), jar.verify(b, input)); // true true
 * console.log(a.join() === b.join()); // false
 * ```
 */
export class AcCookieJar {
  readonly #clock: TimeSource;
  readonly #bucketMs: number;
  readonly #random: (n: number) => Uint8Array;
  /** The keys of the current bucket and the one before, by bucket number. */
  readonly #keys = new Map<number, BucketKey>();

  /**
   * A jar with no key yet (a bucket's key is made when it first issues a cookie).
   *
   * @param options Clock, bucket length, random source.
   * @throws {RangeError} If the bucket length is not a positive number of milliseconds.
   */
  constructor(options: AcCookieJarOptions = {}) {
    const bucketMs = options.bucketMs ?? 30_000;
    if (!Number.isFinite(bucketMs) || bucketMs <= 0) {
      throw new RangeError(
        `Cannot create AC-Cookie jar: bucket length ${bucketMs} ms is not positive`,
      );
    }
    this.#clock = options.clock ?? { now: (): number => performance.now() };
    this.#bucketMs = bucketMs;
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
   * A fresh cookie for a PADO.
   *
   * @param input What it binds.
   * @returns {@linkcode AC_COOKIE_LENGTH} bytes.
   */
  issue(input: AcCookieInput): Uint8Array {
    const bucket = this.bucket();
    this.#prune(bucket);
    let key = this.#keys.get(bucket);
    if (key === undefined) {
      key = new BucketKey(this.#random(KEY_LENGTH).slice(0, KEY_LENGTH));
      this.#keys.set(bucket, key);
    }
    const nonce = this.#random(NONCE_LENGTH).slice(0, NONCE_LENGTH);
    const cookie = new Uint8Array(AC_COOKIE_LENGTH);
    cookie.set(nonce, 0);
    cookie.set(key.mac(fields(input, bucket, nonce)), NONCE_LENGTH);
    return cookie;
  }

  /**
   * Whether a cookie from a PADR was issued by this jar, for these inputs, in the current or
   * the previous bucket.
   *
   * @param cookie The AC-Cookie value (any length; a wrong one is just not valid).
   * @param input What it must bind.
   * @returns True if it verifies.
   */
  verify(cookie: Uint8Array, input: AcCookieInput): boolean {
    if (cookie.length !== AC_COOKIE_LENGTH) return false;
    const now = this.bucket();
    this.#prune(now);
    const nonce = cookie.subarray(0, NONCE_LENGTH);
    const tag = cookie.subarray(NONCE_LENGTH);
    for (const bucket of [now, now - 1]) {
      const key = this.#keys.get(bucket);
      if (key === undefined) continue;
      if (timingSafeEqual(key.mac(fields(input, bucket, nonce)), tag)) return true;
    }
    return false;
  }

  /** Forget the keys of buckets before the previous one. */
  #prune(now: number): void {
    for (const b of this.#keys.keys()) if (b < now - 1 || b > now) this.#keys.delete(b);
  }
}

function fields(input: AcCookieInput, bucket: number, nonce: Uint8Array): Uint8Array[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, bucket);
  const service = typeof input.service === "string" ? encoder.encode(input.service) : input.service;
  const hostUniq = input.hostUniq === undefined
    ? [new Uint8Array([0])]
    : [new Uint8Array([1]), input.hostUniq];
  return [LABEL, input.peerMac, ...hostUniq, service, b, nonce];
}
