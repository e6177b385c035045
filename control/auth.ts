/**
 * Control connection authentication.
 *
 * - L2TPv2 tunnel authentication (RFC 2661 §4.2, §5.1.1): a CHAP-like response
 *   `MD5(message type octet + secret + challenge)`, where the "identifier" octet is the Message
 *   Type of the message that carries the Challenge Response AVP (2 in an SCCRP, 3 in an SCCCN).
 * - L2TPv3 Control Message Authentication (RFC 3931 §4.3, §5.4.1): a Message Digest AVP holding
 *   `HMAC_Hash(shared_key, local_nonce + remote_nonce + control_message)` computed with the
 *   digest field(s) zeroed, where `shared_key = HMAC_MD5(shared_secret, 2)` and the nonces come
 *   from the Control Message Authentication Nonce AVPs of the SCCRQ and SCCRP. The SCCRQ is
 *   digested without nonces. A receiver uses the nonces in the reverse order (the sender's
 *   first), which {@linkcode verifyMessageDigest} does given the receiver's own view.
 *
 * All functions are synchronous (node:crypto; WebCrypto has no MD5).
 *
 * @module
 */

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { readU16, secretBytes } from "./bytes.ts";
import { AvpType, DigestType, type DigestTypeCode, MessageType } from "./constants.ts";
import { ParseError } from "./errors.ts";
import { CONTROL_HEADER_LENGTH, parseControlHeader } from "./header.ts";

const AVP_LENGTH_MASK = 0x03ff;
const AVP_HEADER_LENGTH = 6;

/**
 * The L2TPv2 Challenge Response: `MD5(messageType + secret + challenge)` (RFC 2661 §4.2).
 *
 * @param messageType Message Type of the message carrying the response (SCCRP: 2, SCCCN: 3).
 * @param secret The tunnel secret (text is taken as UTF-8).
 * @param challenge The peer's Challenge AVP value.
 * @returns The 16-byte response.
 *
 * @example Usage
 * ```ts
 * import { chapResponse } from "./auth.ts";
 * import { MessageType } from "./constants.ts";
 * const r = chapResponse(MessageType.SCCRP, "secret", new Uint8Array([1, 2, 3, 4]));
 * console.log(r.length); // 16
 * ```
 */
export function chapResponse(
  messageType: number,
  secret: string | Uint8Array,
  challenge: Uint8Array,
): Uint8Array {
  const id = new Uint8Array([messageType & 0xff]);
  return new Uint8Array(
    createHash("md5").update(id).update(secretBytes(secret)).update(challenge).digest(),
  );
}

/**
 * Checks an L2TPv2 Challenge Response in constant time.
 *
 * @param messageType Message Type of the message that carried the response.
 * @param secret The tunnel secret.
 * @param challenge The Challenge we sent.
 * @param response The Challenge Response AVP value received.
 * @returns Whether the response is right.
 *
 * @example Usage
 * ```ts
 * import { chapResponse, verifyChapResponse } from "./auth.ts";
 * const ch = new Uint8Array([9, 9, 9]);
 * console.log(verifyChapResponse(3, "s", ch, chapResponse(3, "s", ch))); // true
 * ```
 */
export function verifyChapResponse(
  messageType: number,
  secret: string | Uint8Array,
  challenge: Uint8Array,
  response: Uint8Array,
): boolean {
  const expected = chapResponse(messageType, secret, challenge);
  return response.length === expected.length && timingSafeEqual(expected, response);
}

/**
 * The L2TPv3 key for Message Digests: `HMAC_MD5(shared_secret, 2)` (RFC 3931 §5.4.1). With an
 * empty secret this is the key of the integrity-only digest of RFC 3931 §4.3.
 *
 * @param secret The shared secret (text is taken as UTF-8).
 * @returns The 16-byte key.
 *
 * @example Usage
 * ```ts
 * import { digestKey } from "./auth.ts";
 * console.log(digestKey("secret").length); // 16
 * ```
 */
export function digestKey(secret: string | Uint8Array): Uint8Array {
  return new Uint8Array(
    createHmac("md5", secretBytes(secret)).update(new Uint8Array([2])).digest(),
  );
}

/**
 * Length of the digest for a digest type: 16 (HMAC-MD5) or 20 (HMAC-SHA-1).
 *
 * @param type A digest type.
 * @returns The digest length, or 0 for an unknown type.
 *
 * @example Usage
 * ```ts
 * import { digestLength } from "./auth.ts";
 * console.log(digestLength(0), digestLength(1)); // 16 20
 * ```
 */
export function digestLength(type: number): number {
  return type === DigestType.HmacMd5 ? 16 : type === DigestType.HmacSha1 ? 20 : 0;
}

/**
 * Keys and nonces for Message Digests, from the point of view of the local LCCE.
 *
 * @example Usage
 * ```ts
 * import { digestKey, type DigestContext } from "./auth.ts";
 * const ctx: DigestContext = { key: digestKey("secret"), localNonce: new Uint8Array(16) };
 * console.log(ctx.key.length); // 16
 * ```
 */
export interface DigestContext {
  /** The derived key from {@linkcode digestKey}. */
  key: Uint8Array;
  /** The nonce we sent in our SCCRQ or SCCRP (absent: no nonce). */
  localNonce?: Uint8Array;
  /** The nonce the peer sent (absent: no nonce, e.g. before the SCCRP arrived). */
  remoteNonce?: Uint8Array;
}

/** Where a Message Digest AVP's digest type and digest lie in a message. */
interface DigestSlot {
  type: number;
  /** Offset of the digest bytes (after the type octet). */
  offset: number;
  length: number;
}

interface DigestScan {
  messageType: number | null;
  slots: DigestSlot[];
}

function scanDigests(message: Uint8Array): DigestScan {
  parseControlHeader(message);
  const slots: DigestSlot[] = [];
  let messageType: number | null = null;
  let o = CONTROL_HEADER_LENGTH;
  while (o < message.length) {
    if (o + AVP_HEADER_LENGTH > message.length) {
      throw new ParseError("truncated", o, "AVP header truncated");
    }
    const len = readU16(message, o) & AVP_LENGTH_MASK;
    if (len < AVP_HEADER_LENGTH) throw new ParseError("avp-too-short", o, `AVP length ${len}`);
    if (o + len > message.length) throw new ParseError("avp-overrun", o, "AVP past the end");
    const vendor = readU16(message, o + 2);
    const type = readU16(message, o + 4);
    if (vendor === 0 && type === AvpType.MessageType && o === CONTROL_HEADER_LENGTH && len === 8) {
      messageType = readU16(message, o + 6);
    }
    if (vendor === 0 && type === AvpType.MessageDigest) {
      const hidden = (message[o] & 0x40) !== 0;
      const dtype = len > AVP_HEADER_LENGTH ? message[o + AVP_HEADER_LENGTH] : -1;
      const dlen = digestLength(dtype);
      if (hidden || dlen === 0 || len !== AVP_HEADER_LENGTH + 1 + dlen) {
        throw new ParseError("bad-avp-value", o, "malformed Message Digest AVP");
      }
      slots.push({ type: dtype, offset: o + AVP_HEADER_LENGTH + 1, length: dlen });
    }
    o += len;
  }
  return { messageType, slots };
}

/** Longest digest (HMAC-SHA-1): the zeros that stand in for a digest field. */
const ZERO_DIGEST = new Uint8Array(20);

/**
 * HMAC over the nonces and the message, with each digest field read as zeros (no copy of the
 * message is made).
 */
function hmac(
  type: number,
  key: Uint8Array,
  first: Uint8Array | undefined,
  second: Uint8Array | undefined,
  message: Uint8Array,
  zeroed: readonly DigestSlot[] = [],
): Uint8Array {
  const h = createHmac(type === DigestType.HmacSha1 ? "sha1" : "md5", key);
  if (first) h.update(first);
  if (second) h.update(second);
  let at = 0;
  for (const z of zeroed) {
    h.update(message.subarray(at, z.offset));
    h.update(ZERO_DIGEST.subarray(0, z.length));
    at = z.offset + z.length;
  }
  h.update(message.subarray(at));
  return new Uint8Array(h.digest());
}

/**
 * Fills in the Message Digest AVP(s) of an encoded L2TPv3 control message, in place.
 *
 * The message must already contain the Message Digest AVP(s) with the right Digest Type; their
 * digest bytes are overwritten. For an SCCRQ no nonces are used (RFC 3931 §5.4.1), otherwise
 * `localNonce + remoteNonce` (each only if given) precede the message in the HMAC.
 *
 * @param message The encoded control message (without the IP Session ID prefix).
 * @param ctx Key and nonces.
 * @returns The number of digests written.
 * @throws {ParseError} If the message is malformed.
 *
 * @example Usage
 * ```ts
 * import { digestKey, signMessageDigest, verifyMessageDigest } from "./auth.ts";
 * import { encodeControl } from "./message.ts";
 * import { AvpType, DigestType, MessageType } from "./constants.ts";
 * const msg = encodeControl({
 *   version: 3, tunnelId: 0, ns: 0, nr: 0, type: MessageType.HELLO,
 *   avps: [{ type: AvpType.MessageDigest, value: { digestType: DigestType.HmacMd5, digest: new Uint8Array(16) } }],
 * });
 * const key = digestKey("secret");
 * signMessageDigest(msg, { key });
 * console.log(verifyMessageDigest(msg, { key })); // "valid"
 * ```
 */
export function signMessageDigest(message: Uint8Array, ctx: DigestContext): number {
  const { messageType, slots } = scanDigests(message);
  for (const s of slots) message.fill(0, s.offset, s.offset + s.length);
  const sccrq = messageType === MessageType.SCCRQ;
  const first = sccrq ? undefined : ctx.localNonce;
  const second = sccrq ? undefined : ctx.remoteNonce;
  const digests = slots.map((s) => hmac(s.type, ctx.key, first, second, message));
  slots.forEach((s, i) => message.set(digests[i], s.offset));
  return slots.length;
}

/**
 * Result of {@linkcode verifyMessageDigest}: `valid` if any Message Digest AVP verifies,
 * `invalid` if none does, `missing` if the message has no Message Digest AVP.
 *
 * @example Usage
 * ```ts
 * import { digestKey, verifyMessageDigest, type DigestVerdict } from "./auth.ts";
 * import { encodeControl } from "./message.ts";
 * const key = digestKey("s");
 * const hello = { version: 3 as const, tunnelId: 7, ns: 0, nr: 0, type: 6 as const };
 * const received = encodeControl(hello, { digest: { key } });
 * const v: DigestVerdict = verifyMessageDigest(received, { key });
 * console.log(v); // valid
 * ```
 */
export type DigestVerdict = "valid" | "invalid" | "missing";

/**
 * Verifies the Message Digest AVP(s) of a received L2TPv3 control message.
 *
 * The digest is recomputed with the digest fields zeroed and the nonces in the sender's order
 * (`remoteNonce + localNonce`, RFC 3931 §5.4.1); an SCCRQ is checked without nonces. The message
 * is not modified.
 *
 * @param message The received control message (without the IP Session ID prefix).
 * @param ctx Key and nonces, from the receiver's point of view.
 * @returns The verdict.
 * @throws {ParseError} If the message is malformed.
 *
 * @example Usage
 * ```ts
 * import { digestKey, verifyMessageDigest } from "./auth.ts";
 * import { encodeControl } from "./message.ts";
 * const signed = { digest: { key: digestKey("other secret") } };
 * const received = encodeControl({ version: 3, tunnelId: 7, ns: 0, nr: 0, type: 6 }, signed);
 * const verdict = verifyMessageDigest(received, { key: digestKey("secret") });
 * if (verdict !== "valid") console.log("drop it"); // drop it
 * ```
 */
export function verifyMessageDigest(message: Uint8Array, ctx: DigestContext): DigestVerdict {
  const { messageType, slots } = scanDigests(message);
  if (slots.length === 0) return "missing";
  const sccrq = messageType === MessageType.SCCRQ;
  const first = sccrq ? undefined : ctx.remoteNonce;
  const second = sccrq ? undefined : ctx.localNonce;
  for (const s of slots) {
    const expected = hmac(s.type, ctx.key, first, second, message, slots);
    if (timingSafeEqual(expected, message.subarray(s.offset, s.offset + s.length))) return "valid";
  }
  return "invalid";
}

/**
 * Whether a digest type is one this module computes.
 *
 * @param type A Digest Type octet.
 * @returns `true` for HMAC-MD5 (0) and HMAC-SHA-1 (1).
 *
 * @example Usage
 * ```ts
 * import { isDigestType } from "./auth.ts";
 * console.log(isDigestType(1), isDigestType(2)); // true false
 * ```
 */
export function isDigestType(type: number): type is DigestTypeCode {
  return type === DigestType.HmacMd5 || type === DigestType.HmacSha1;
}
