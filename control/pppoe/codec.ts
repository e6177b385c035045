/**
 * Encoder and decoder of PPPoE Discovery packets (RFC 2516 §4 and §5, tag values from
 * Appendix A): the Ethernet payload of an EtherType 0x8863 frame, that is the 6-byte PPPoE
 * header (VER and TYPE in one byte, both 1; CODE; SESSION_ID; LENGTH) followed by LENGTH bytes
 * of tags, each TAG_TYPE (16 bits), TAG_LENGTH (16 bits) and TAG_VALUE.
 *
 * {@linkcode decodePppoe} accepts any bytes and either returns a packet or throws a
 * {@linkcode PppoeDecodeError} whose `reason` names the fault (a short key for counters). Bytes
 * after LENGTH are Ethernet padding (RFC 2516 §4: a short frame is padded to the Ethernet
 * minimum) and are ignored, and so is everything after an End-Of-List tag (Appendix A). The tags
 * are kept in order, unknown ones included, with their values copied, so a packet outlives the
 * receive buffer it came from and a Relay-Session-Id or Host-Uniq can be echoed byte for byte.
 *
 * @example Usage
 * ```ts
 * import { decodePppoe, encodePppoe, findTag, PppoeCode, PppoeTagType, tag } from "./codec.ts";
 * const padi = encodePppoe({ code: PppoeCode.PADI, sessionId: 0, tags: [
 *   tag(PppoeTagType.SERVICE_NAME, ""),
 *   tag(PppoeTagType.HOST_UNIQ, new Uint8Array([1, 2, 3, 4])),
 * ] });
 * console.log(padi.length); // 18
 * const back = decodePppoe(padi);
 * console.log(back.code === PppoeCode.PADI); // true
 * console.log(findTag(back, PppoeTagType.HOST_UNIQ)); // Uint8Array(4) [ 1, 2, 3, 4 ]
 * ```
 *
 * @module
 */

import { readU16, readUtf8, writeU16 } from "../bytes.ts";

/**
 * The first byte of every PPPoE header: VER 1 (high nibble) and TYPE 1 (low nibble), RFC 2516 §4.
 *
 * @example Usage
 * ```ts
 * import { PPPOE_VER_TYPE } from "./codec.ts";
 * console.log(PPPOE_VER_TYPE.toString(16)); // 11
 * ```
 */
export const PPPOE_VER_TYPE = 0x11;

/**
 * Length of the PPPoE header in bytes (RFC 2516 §4).
 *
 * @example Usage
 * ```ts
 * import { PPPOE_HEADER_LENGTH } from "./codec.ts";
 * console.log(PPPOE_HEADER_LENGTH); // 6
 * ```
 */
export const PPPOE_HEADER_LENGTH = 6;

/**
 * Most bytes of an Ethernet payload (the PPPoE header and its tags), the Ethernet MTU.
 *
 * @example Usage
 * ```ts
 * import { PPPOE_MAX_PAYLOAD } from "./codec.ts";
 * console.log(PPPOE_MAX_PAYLOAD); // 1500
 * ```
 */
export const PPPOE_MAX_PAYLOAD = 1500;

/**
 * Largest LENGTH field a discovery packet may have: what is left of {@linkcode PPPOE_MAX_PAYLOAD}
 * after the header.
 *
 * @example Usage
 * ```ts
 * import { PPPOE_MAX_LENGTH } from "./codec.ts";
 * console.log(PPPOE_MAX_LENGTH); // 1494
 * ```
 */
export const PPPOE_MAX_LENGTH = PPPOE_MAX_PAYLOAD - PPPOE_HEADER_LENGTH;

/**
 * The CODE field of the discovery packets (RFC 2516 §5.1 to §5.5).
 *
 * @example Usage
 * ```ts
 * import { PppoeCode } from "./codec.ts";
 * console.log(PppoeCode.PADI, PppoeCode.PADS.toString(16)); // 9 65
 * ```
 */
export const PppoeCode = {
  /** Active Discovery Offer (§5.2): the AC's answer to a PADI. */
  PADO: 0x07,
  /** Active Discovery Initiation (§5.1): a host looking for access concentrators (broadcast). */
  PADI: 0x09,
  /** Active Discovery Request (§5.3): the host asks the AC it chose for a session. */
  PADR: 0x19,
  /** Active Discovery Session-confirmation (§5.4): the AC's answer to a PADR. */
  PADS: 0x65,
  /** Active Discovery Terminate (§5.5): either side ends the session. */
  PADT: 0xa7,
} as const;

/**
 * One of the {@linkcode PppoeCode} values.
 *
 * @example Usage
 * ```ts
 * import { PppoeCode, type PppoeCodeValue } from "./codec.ts";
 * const c: PppoeCodeValue = PppoeCode.PADT;
 * console.log(c); // 167
 * ```
 */
export type PppoeCodeValue = typeof PppoeCode[keyof typeof PppoeCode];

const CODE_NAMES = new Map<number, string>(
  Object.entries(PppoeCode).map(([name, code]) => [code, name]),
);

/**
 * Whether a number is a discovery CODE this codec knows.
 *
 * @param code The CODE field.
 * @returns True for PADI, PADO, PADR, PADS and PADT.
 *
 * @example Usage
 * ```ts
 * import { isPppoeCode } from "./codec.ts";
 * console.log(isPppoeCode(0x09), isPppoeCode(0x00)); // true false
 * ```
 */
export function isPppoeCode(code: number): code is PppoeCodeValue {
  return CODE_NAMES.has(code);
}

/**
 * The name of a discovery CODE, for logs.
 *
 * @param code The CODE field.
 * @returns "PADI" and so on, or "CODE-0xNN" for one this codec does not know.
 *
 * @example Usage
 * ```ts
 * import { pppoeCodeName } from "./codec.ts";
 * console.log(pppoeCodeName(0x65), pppoeCodeName(0x42)); // PADS CODE-0x42
 * ```
 */
export function pppoeCodeName(code: number): string {
  return CODE_NAMES.get(code) ?? `CODE-0x${code.toString(16).padStart(2, "0")}`;
}

/**
 * TAG_TYPE values (RFC 2516 Appendix A).
 *
 * @example Usage
 * ```ts
 * import { PppoeTagType } from "./codec.ts";
 * const { AC_COOKIE, RELAY_SESSION_ID } = PppoeTagType;
 * console.log(AC_COOKIE.toString(16), RELAY_SESSION_ID.toString(16)); // 104 110
 * ```
 */
export const PppoeTagType = {
  /** End-Of-List: the last tag; what follows it is ignored. */
  END_OF_LIST: 0x0000,
  /** Service-Name (UTF-8); empty means "any service". */
  SERVICE_NAME: 0x0101,
  /** AC-Name (UTF-8): the access concentrator's name. */
  AC_NAME: 0x0102,
  /** Host-Uniq: opaque bytes of the host's, echoed by the AC. */
  HOST_UNIQ: 0x0103,
  /** AC-Cookie: opaque bytes of the AC's, echoed by the host in the PADR. */
  AC_COOKIE: 0x0104,
  /** Vendor-Specific: a 4-byte vendor ID and vendor data. */
  VENDOR_SPECIFIC: 0x0105,
  /** Relay-Session-Id: added by a relay agent; echoed unchanged. */
  RELAY_SESSION_ID: 0x0110,
  /** Service-Name-Error: the requested service cannot be provided (optional UTF-8 text). */
  SERVICE_NAME_ERROR: 0x0201,
  /** AC-System-Error: the AC cannot serve the request (optional UTF-8 text). */
  AC_SYSTEM_ERROR: 0x0202,
  /** Generic-Error (optional UTF-8 text). */
  GENERIC_ERROR: 0x0203,
} as const;

/**
 * One tag: its TAG_TYPE and TAG_VALUE (TAG_LENGTH is the value's length).
 *
 * @example Usage
 * ```ts
 * import { type PppoeTag, PppoeTagType } from "./codec.ts";
 * const t: PppoeTag = { type: PppoeTagType.HOST_UNIQ, value: new Uint8Array([7]) };
 * console.log(t.value.length); // 1
 * ```
 */
export interface PppoeTag {
  /** TAG_TYPE (one of {@linkcode PppoeTagType}, or any other 16-bit value). */
  readonly type: number;
  /** TAG_VALUE, at most 65535 bytes. */
  readonly value: Uint8Array;
}

/**
 * A discovery packet (the Ethernet payload without EtherType 0x8863).
 *
 * @example Usage
 * ```ts
 * import { type PppoePacket, PppoeCode } from "./codec.ts";
 * const p: PppoePacket = { code: PppoeCode.PADT, sessionId: 0x1234, tags: [] };
 * console.log(p.sessionId); // 4660
 * ```
 */
export interface PppoePacket {
  /** CODE. */
  code: PppoeCodeValue;
  /** SESSION_ID (0 in PADI, PADO and PADR; 16 bits). */
  sessionId: number;
  /** The tags, in order, without End-Of-List or anything after it. */
  tags: PppoeTag[];
}

/**
 * Why bytes are not a discovery packet.
 *
 * - `truncated`: fewer than the 6 bytes of a header.
 * - `bad-version`: VER is not 1.
 * - `bad-type`: TYPE is not 1.
 * - `unknown-code`: CODE is none of PADI, PADO, PADR, PADS, PADT.
 * - `oversize`: LENGTH exceeds {@linkcode PPPOE_MAX_LENGTH}.
 * - `length-overrun`: LENGTH claims more bytes than the frame has.
 * - `tag-truncated`: fewer than the 4 bytes of a tag header left inside LENGTH.
 * - `tag-overrun`: a TAG_LENGTH running past LENGTH.
 *
 * @example Usage
 * ```ts
 * import type { PppoeDecodeReason } from "./codec.ts";
 * const r: PppoeDecodeReason = "tag-overrun";
 * console.log(r); // tag-overrun
 * ```
 */
export type PppoeDecodeReason =
  | "truncated"
  | "bad-version"
  | "bad-type"
  | "unknown-code"
  | "oversize"
  | "length-overrun"
  | "tag-truncated"
  | "tag-overrun";

/**
 * Every {@linkcode PppoeDecodeReason}, for initialising counters.
 *
 * @example Usage
 * ```ts
 * import { PPPOE_DECODE_REASONS } from "./codec.ts";
 * console.log(PPPOE_DECODE_REASONS.length); // 8
 * ```
 */
export const PPPOE_DECODE_REASONS: readonly PppoeDecodeReason[] = [
  "truncated",
  "bad-version",
  "bad-type",
  "unknown-code",
  "oversize",
  "length-overrun",
  "tag-truncated",
  "tag-overrun",
];

/**
 * Bytes that are not a well-formed discovery packet; the only error {@linkcode decodePppoe}
 * throws.
 *
 * @example Usage
 * ```ts
 * import { decodePppoe, PppoeDecodeError } from "./codec.ts";
 * try {
 *   decodePppoe(new Uint8Array([0x11, 0x09]));
 * } catch (e) {
 *   if (e instanceof PppoeDecodeError) console.log(e.reason, e.offset); // truncated 0
 * }
 * ```
 */
export class PppoeDecodeError extends Error {
  /** Machine-readable cause (a counter key). */
  readonly reason: PppoeDecodeReason;
  /** Byte offset (from the start of the PPPoE header) where the problem lies. */
  readonly offset: number;

  /**
   * Creates a decode error.
   *
   * @param reason Machine-readable cause.
   * @param offset Byte offset of the problem.
   * @param detail Human-readable detail, appended to "Cannot decode PPPoE packet: ".
   */
  constructor(reason: PppoeDecodeReason, offset: number, detail: string) {
    super(`Cannot decode PPPoE packet: ${detail} (${reason} at offset ${offset})`);
    this.name = "PppoeDecodeError";
    this.reason = reason;
    this.offset = offset;
  }
}

/**
 * Decodes a discovery packet (see the module documentation).
 *
 * @param payload The Ethernet payload: the PPPoE header, the tags, maybe Ethernet padding.
 * @returns The packet; its tag values are copies.
 * @throws {PppoeDecodeError} If the bytes are not a well-formed packet (and never anything else).
 *
 * @example Usage
 * ```ts
 * import { decodePppoe } from "./codec.ts";
 * // A PADT for session 0x0042 with no tags, padded to the Ethernet minimum of 46 bytes.
 * const frame = new Uint8Array(46);
 * frame.set([0x11, 0xa7, 0x00, 0x42, 0x00, 0x00]);
 * const p = decodePppoe(frame);
 * console.log(p.code, p.sessionId, p.tags.length); // 167 66 0
 * ```
 */
export function decodePppoe(payload: Uint8Array): PppoePacket {
  if (payload.length < PPPOE_HEADER_LENGTH) {
    throw new PppoeDecodeError("truncated", 0, `${payload.length} bytes, a header needs 6`);
  }
  const verType = payload[0];
  if (verType >> 4 !== 1) {
    throw new PppoeDecodeError("bad-version", 0, `VER is ${verType >> 4}, not 1`);
  }
  if ((verType & 0x0f) !== 1) {
    throw new PppoeDecodeError("bad-type", 0, `TYPE is ${verType & 0x0f}, not 1`);
  }
  const code = payload[1];
  if (!isPppoeCode(code)) {
    throw new PppoeDecodeError("unknown-code", 1, `CODE 0x${code.toString(16)} is unknown`);
  }
  const sessionId = readU16(payload, 2);
  const length = readU16(payload, 4);
  if (length > PPPOE_MAX_LENGTH) {
    throw new PppoeDecodeError("oversize", 4, `LENGTH ${length} exceeds ${PPPOE_MAX_LENGTH}`);
  }
  const end = PPPOE_HEADER_LENGTH + length;
  if (end > payload.length) {
    throw new PppoeDecodeError(
      "length-overrun",
      4,
      `LENGTH ${length} but only ${payload.length - PPPOE_HEADER_LENGTH} bytes follow`,
    );
  }
  const tags: PppoeTag[] = [];
  let o = PPPOE_HEADER_LENGTH;
  while (o < end) {
    if (end - o < 4) {
      throw new PppoeDecodeError("tag-truncated", o, `${end - o} bytes left, a tag needs 4`);
    }
    const type = readU16(payload, o);
    if (type === PppoeTagType.END_OF_LIST) break;
    const n = readU16(payload, o + 2);
    if (o + 4 + n > end) {
      throw new PppoeDecodeError(
        "tag-overrun",
        o,
        `tag 0x${type.toString(16).padStart(4, "0")} of ${n} bytes runs past LENGTH`,
      );
    }
    tags.push({ type, value: payload.slice(o + 4, o + 4 + n) });
    o += 4 + n;
  }
  return { code, sessionId, tags };
}

/**
 * How many bytes {@linkcode encodePppoe} makes of a packet.
 *
 * @param packet The packet.
 * @returns The header plus every tag's header and value.
 *
 * @example Usage
 * ```ts
 * import { encodedPppoeLength, PppoeCode, PppoeTagType, tag } from "./codec.ts";
 * const p = { code: PppoeCode.PADI, sessionId: 0, tags: [tag(PppoeTagType.SERVICE_NAME, "isp")] };
 * console.log(encodedPppoeLength(p)); // 13
 * ```
 */
export function encodedPppoeLength(packet: PppoePacket): number {
  let n = PPPOE_HEADER_LENGTH;
  for (const t of packet.tags) n += 4 + t.value.length;
  return n;
}

/**
 * Encodes a discovery packet (no End-Of-List tag is added).
 *
 * @param packet The packet.
 * @returns The Ethernet payload (header and tags, no padding).
 * @throws {RangeError} If the SESSION_ID or a TAG_TYPE is not 16 bits, a value is longer than
 * 65535 bytes, or the packet is longer than {@linkcode PPPOE_MAX_PAYLOAD}.
 *
 * @example Usage
 * ```ts
 * import { encodePppoe, PppoeCode } from "./codec.ts";
 * const padt = encodePppoe({ code: PppoeCode.PADT, sessionId: 0x0102, tags: [] });
 * console.log(padt); // Uint8Array(6) [ 17, 167, 1, 2, 0, 0 ]
 * ```
 */
export function encodePppoe(packet: PppoePacket): Uint8Array {
  if (!isPppoeCode(packet.code)) {
    throw new RangeError(`Cannot encode PPPoE packet: CODE ${packet.code} is unknown`);
  }
  if (!Number.isInteger(packet.sessionId) || packet.sessionId < 0 || packet.sessionId > 0xffff) {
    throw new RangeError(
      `Cannot encode PPPoE packet: SESSION_ID ${packet.sessionId} is not a 16-bit number`,
    );
  }
  for (const t of packet.tags) {
    if (!Number.isInteger(t.type) || t.type < 0 || t.type > 0xffff) {
      throw new RangeError(`Cannot encode PPPoE packet: TAG_TYPE ${t.type} is not 16 bits`);
    }
    if (t.value.length > 0xffff) {
      throw new RangeError(
        `Cannot encode PPPoE packet: tag 0x${t.type.toString(16)} value of ` +
          `${t.value.length} bytes exceeds 65535`,
      );
    }
  }
  const total = encodedPppoeLength(packet);
  if (total > PPPOE_MAX_PAYLOAD) {
    throw new RangeError(
      `Cannot encode PPPoE packet: ${total} bytes exceed the ${PPPOE_MAX_PAYLOAD}-byte payload`,
    );
  }
  const out = new Uint8Array(total);
  out[0] = PPPOE_VER_TYPE;
  out[1] = packet.code;
  writeU16(out, 2, packet.sessionId);
  writeU16(out, 4, total - PPPOE_HEADER_LENGTH);
  let o = PPPOE_HEADER_LENGTH;
  for (const t of packet.tags) {
    writeU16(out, o, t.type);
    writeU16(out, o + 2, t.value.length);
    out.set(t.value, o + 4);
    o += 4 + t.value.length;
  }
  return out;
}

const encoder = new TextEncoder();

/**
 * Makes a tag; a string value is encoded as UTF-8 (RFC 2516 Appendix A: names and error texts
 * are UTF-8, not NUL-terminated).
 *
 * @param type TAG_TYPE.
 * @param value TAG_VALUE, bytes (used as is, not copied) or text.
 * @returns The tag.
 *
 * @example Usage
 * ```ts
 * import { PppoeTagType, tag } from "./codec.ts";
 * console.log(tag(PppoeTagType.AC_NAME, "ac").value); // Uint8Array(2) [ 97, 99 ]
 * ```
 */
export function tag(type: number, value: Uint8Array | string): PppoeTag {
  return { type, value: typeof value === "string" ? encoder.encode(value) : value };
}

/**
 * The value of the first tag of a type.
 *
 * @param packet The packet.
 * @param type TAG_TYPE.
 * @returns Its value, or undefined when there is no such tag.
 *
 * @example Usage
 * ```ts
 * import { findTag, PppoeCode, PppoeTagType, tag } from "./codec.ts";
 * const p = { code: PppoeCode.PADI, sessionId: 0, tags: [tag(PppoeTagType.SERVICE_NAME, "")] };
 * console.log(findTag(p, PppoeTagType.SERVICE_NAME)?.length, findTag(p, 0x0103)); // 0 undefined
 * ```
 */
export function findTag(packet: PppoePacket, type: number): Uint8Array | undefined {
  for (const t of packet.tags) if (t.type === type) return t.value;
  return undefined;
}

/**
 * The value of the first tag of a type, as text (invalid UTF-8 becomes U+FFFD).
 *
 * @param packet The packet.
 * @param type TAG_TYPE.
 * @returns The text, or undefined when there is no such tag.
 *
 * @example Usage
 * ```ts
 * import { findTagText, PppoeCode, PppoeTagType, tag } from "./codec.ts";
 * const p = { code: PppoeCode.PADO, sessionId: 0, tags: [tag(PppoeTagType.AC_NAME, "kpppoed")] };
 * console.log(findTagText(p, PppoeTagType.AC_NAME)); // kpppoed
 * ```
 */
export function findTagText(packet: PppoePacket, type: number): string | undefined {
  const v = findTag(packet, type);
  return v === undefined ? undefined : readUtf8(v);
}

/**
 * A received discovery frame, as the I/O layer hands it over.
 *
 * @example Usage
 * ```ts
 * import type { DiscoveryFrame } from "./codec.ts";
 * const f: DiscoveryFrame = { source: new Uint8Array(6), destination: new Uint8Array(6).fill(255),
 *   payload: new Uint8Array([0x11, 0x09, 0, 0, 0, 0]) };
 * console.log(f.payload.length); // 6
 * ```
 */
export interface DiscoveryFrame {
  /** Source MAC address. */
  source: Uint8Array;
  /** Destination MAC address. */
  destination: Uint8Array;
  /** Ethernet payload (PPPoE header and tags; EtherType 0x8863 stripped; padding allowed). */
  payload: Uint8Array;
}

/**
 * A frame to send: EtherType 0x8863 from our MAC to `destination`.
 *
 * @example Usage
 * ```ts
 * import type { OutgoingFrame } from "./codec.ts";
 * const f: OutgoingFrame = { destination: new Uint8Array(6), payload: new Uint8Array(6) };
 * console.log(f.destination.length); // 6
 * ```
 */
export interface OutgoingFrame {
  /** Destination MAC address. */
  destination: Uint8Array;
  /** Ethernet payload (PPPoE header and tags). */
  payload: Uint8Array;
}

/**
 * Whether two byte arrays hold the same bytes (not constant-time; for addresses and IDs).
 *
 * @param a One array.
 * @param b The other.
 * @returns True when they have the same length and contents.
 *
 * @example Usage
 * ```ts
 * import { sameBytes } from "./codec.ts";
 * console.log(sameBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2]))); // true
 * ```
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
