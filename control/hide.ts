/**
 * Hidden AVP values (the H bit): RFC 2661 §4.3 and RFC 3931 §5.3.
 *
 * The hidden value is the "Hidden AVP Subformat" (a 2-byte original length, the original value
 * and optional padding) XORed, 16 bytes at a time, with
 * `b_1 = MD5(attribute type + S + random vector)` and `b_i = MD5(S + c_(i-1))`, where `c` are the
 * hidden bytes and the random vector comes from the closest preceding Random Vector AVP. In
 * L2TPv2, S is the shared secret; in L2TPv3, S is the key derived as
 * `HMAC_MD5(shared_secret, 0x01)` ({@linkcode hidingKey}).
 *
 * @module
 */

import { createHash, createHmac } from "node:crypto";
import { readU16, secretBytes, writeU16 } from "./bytes.ts";
import { ParseError } from "./errors.ts";
import type { L2tpVersion } from "./header.ts";

const MD5_LENGTH = 16;

/**
 * The key S used to hide AVPs: the secret itself in L2TPv2 (RFC 2661 §4.3), and
 * `HMAC_MD5(secret, 1)` in L2TPv3 (RFC 3931 §5.3).
 *
 * @param version Protocol version of the control connection.
 * @param secret The shared secret (text is taken as UTF-8).
 * @returns The key bytes.
 *
 * @example Usage
 * ```ts
 * import { hidingKey } from "./hide.ts";
 * console.log(hidingKey(3, "secret").length); // 16
 * ```
 */
export function hidingKey(version: L2tpVersion, secret: string | Uint8Array): Uint8Array {
  const s = secretBytes(secret);
  if (version === 2) return s;
  return new Uint8Array(createHmac("md5", s).update(new Uint8Array([1])).digest());
}

function firstMask(attributeType: number, key: Uint8Array, randomVector: Uint8Array): Uint8Array {
  const a = new Uint8Array(2);
  writeU16(a, 0, attributeType);
  return new Uint8Array(createHash("md5").update(a).update(key).update(randomVector).digest());
}

function nextMask(key: Uint8Array, previousCipher: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("md5").update(key).update(previousCipher).digest());
}

/** XORs `input` with the MD5 key stream; each next mask hashes the previous hidden block. */
function xorStream(
  attributeType: number,
  key: Uint8Array,
  randomVector: Uint8Array,
  input: Uint8Array,
  hiding: boolean,
): Uint8Array {
  const out = new Uint8Array(input.length);
  let mask = firstMask(attributeType, key, randomVector);
  for (let start = 0; start < input.length; start += MD5_LENGTH) {
    const end = Math.min(start + MD5_LENGTH, input.length);
    for (let i = start; i < end; i++) out[i] = input[i] ^ mask[i - start];
    if (end < input.length) {
      const cipher = hiding ? out.subarray(start, end) : input.subarray(start, end);
      mask = nextMask(key, cipher);
    }
  }
  return out;
}

/**
 * Hides an attribute value.
 *
 * @param attributeType The AVP's Attribute Type (part of the first hash).
 * @param value The cleartext Attribute Value.
 * @param key The hiding key from {@linkcode hidingKey}.
 * @param randomVector The value of the Random Vector AVP placed before this AVP.
 * @param padding Optional padding appended to the subformat to mask the value length.
 * @returns The hidden Attribute Value: `2 + value.length + padding.length` bytes.
 * @throws {RangeError} If the value is longer than 65535 bytes.
 *
 * @example Usage
 * ```ts
 * import { hideAvpValue, unhideAvpValue } from "./hide.ts";
 * const key = new TextEncoder().encode("secret");
 * const rv = new Uint8Array(16).fill(7);
 * const hidden = hideAvpValue(9, new Uint8Array([0, 42]), key, rv);
 * console.log(unhideAvpValue(9, hidden, key, rv)); // Uint8Array(2) [ 0, 42 ]
 * ```
 */
export function hideAvpValue(
  attributeType: number,
  value: Uint8Array,
  key: Uint8Array,
  randomVector: Uint8Array,
  padding: Uint8Array = new Uint8Array(0),
): Uint8Array {
  if (value.length > 0xffff) {
    throw new RangeError(`Cannot hide AVP value: ${value.length} bytes exceed 65535`);
  }
  const sub = new Uint8Array(2 + value.length + padding.length);
  writeU16(sub, 0, value.length);
  sub.set(value, 2);
  sub.set(padding, 2 + value.length);
  return xorStream(attributeType, key, randomVector, sub, true);
}

/**
 * Reveals a hidden attribute value. Padding after the original value is accepted and dropped.
 *
 * @param attributeType The AVP's Attribute Type.
 * @param hidden The hidden Attribute Value as received.
 * @param key The hiding key from {@linkcode hidingKey}.
 * @param randomVector The value of the closest preceding Random Vector AVP.
 * @param offset Offset of the AVP, reported in errors.
 * @returns The original value.
 * @throws {ParseError} `bad-hidden-length` if the subformat is shorter than 2 bytes or its
 *   original length exceeds it (the usual symptom of a wrong secret).
 *
 * @example Usage
 * ```ts
 * import { hideAvpValue, unhideAvpValue } from "./hide.ts";
 * const key = new TextEncoder().encode("secret");
 * const rv = new Uint8Array([1, 2, 3]);
 * const hidden = hideAvpValue(30, new TextEncoder().encode("bob"), key, rv, new Uint8Array(5));
 * console.log(new TextDecoder().decode(unhideAvpValue(30, hidden, key, rv))); // "bob"
 * ```
 */
export function unhideAvpValue(
  attributeType: number,
  hidden: Uint8Array,
  key: Uint8Array,
  randomVector: Uint8Array,
  offset = 0,
): Uint8Array {
  if (hidden.length < 2) {
    throw new ParseError("bad-hidden-length", offset, "hidden value shorter than 2 bytes");
  }
  const sub = xorStream(attributeType, key, randomVector, hidden, false);
  const length = readU16(sub, 0);
  if (length > sub.length - 2) {
    throw new ParseError(
      "bad-hidden-length",
      offset,
      `hidden original length ${length} exceeds the ${
        sub.length - 2
      } bytes present (wrong secret?)`,
    );
  }
  return sub.subarray(2, 2 + length);
}
