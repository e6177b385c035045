/**
 * L2TP headers: the control message header of L2TPv2 (RFC 2661 §3.1) and L2TPv3
 * (RFC 3931 §3.2.1), the L2TPv2 data header, the L2TPv3 data session header over UDP
 * (RFC 3931 §4.1.2.1), and the 4-byte zero Session ID that precedes L2TPv3 control messages
 * over IP (RFC 3931 §4.1.1.2).
 *
 * {@linkcode peekHeader} classifies a datagram and reads Ns/Nr and the IDs without touching the
 * AVPs, for a transport layer that must acknowledge before (or without) decoding the body.
 *
 * @module
 */

import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import { HeaderBits } from "./constants.ts";
import { ParseError } from "./errors.ts";
import type { ControlHeader } from "./message_types.ts";
import type { Encap, L2tpVersion } from "./types.ts";

export type { ControlHeader, L2tpVersion };

/**
 * Where an L2TP packet travels: over UDP, or (L2TPv3 only) directly over IP protocol 115. The
 * same type as {@linkcode Encap}.
 *
 * @example Usage
 * ```ts
 * import type { Transport } from "./header.ts";
 * const t: Transport = "ip";
 * console.log(t); // ip
 * ```
 */
export type Transport = Encap;

/**
 * Size of a control message header with the L and S bits set (both versions).
 *
 * @example Usage
 * ```ts
 * import { CONTROL_HEADER_LENGTH } from "./header.ts";
 * console.log(CONTROL_HEADER_LENGTH); // 12
 * ```
 */
export const CONTROL_HEADER_LENGTH = 12;

/**
 * Size of the zero Session ID that precedes L2TPv3 control messages over IP.
 *
 * @example Usage
 * ```ts
 * import { IP_CONTROL_PREFIX_LENGTH } from "./header.ts";
 * console.log(IP_CONTROL_PREFIX_LENGTH); // 4
 * ```
 */
export const IP_CONTROL_PREFIX_LENGTH = 4;

/**
 * A control message, as seen by {@linkcode peekHeader}.
 *
 * @example Usage
 * ```ts
 * import { peekHeader } from "./header.ts";
 * const p = peekHeader(new Uint8Array([0xc8, 0x02, 0, 12, 0, 7, 0, 0, 0, 1, 0, 2]));
 * if (p.kind === "control") console.log(p.tunnelId, p.ns, p.nr, p.zlb); // 7 1 2 true
 * ```
 */
export interface ControlPeek extends ControlHeader {
  /** Discriminant. */
  kind: "control";
  /** Offset of the control header in the packet (4 for L2TPv3 over IP, else 0). */
  offset: number;
  /** Whether the message has no AVPs (a Zero-Length Body acknowledgement). */
  zlb: boolean;
}

/**
 * An L2TPv2 data message header (RFC 2661 §3.1).
 *
 * @example Usage
 * ```ts
 * import { peekHeader } from "./header.ts";
 * const p = peekHeader(new Uint8Array([0x00, 0x02, 0, 7, 0, 9, 0xff, 0x03]));
 * if (p.kind === "data" && p.version === 2) console.log(p.sessionId, p.payloadOffset); // 9 6
 * ```
 */
export interface DataPeekV2 {
  /** Discriminant. */
  kind: "data";
  /** Protocol version. */
  version: 2;
  /** Tunnel ID of the recipient. */
  tunnelId: number;
  /** Session ID of the recipient. */
  sessionId: number;
  /** Ns if the S bit is set, else `null`. */
  ns: number | null;
  /** Nr if the S bit is set, else `null`. */
  nr: number | null;
  /** The Length field if the L bit is set, else `null`. */
  length: number | null;
  /** The P (priority) bit. */
  priority: boolean;
  /** Where the PPP frame starts (after the header and any offset padding). */
  payloadOffset: number;
}

/**
 * An L2TPv3 data message session header (over UDP: RFC 3931 §4.1.2.1; over IP: §4.1.1.1).
 * Whatever follows the Session ID (cookie, L2-Specific Sublayer) depends on the session.
 *
 * @example Usage
 * ```ts
 * import { peekHeader } from "./header.ts";
 * const p = peekHeader(new Uint8Array([0, 0, 0, 42, 0xaa]), "ip");
 * if (p.kind === "data" && p.version === 3) console.log(p.sessionId, p.payloadOffset); // 42 4
 * ```
 */
export interface DataPeekV3 {
  /** Discriminant. */
  kind: "data";
  /** Protocol version. */
  version: 3;
  /** Session ID of the recipient. */
  sessionId: number;
  /** Where the cookie (if any) starts: 8 over UDP, 4 over IP. */
  payloadOffset: number;
}

/**
 * What {@linkcode peekHeader} found.
 *
 * @example Usage
 * ```ts
 * import { peekHeader, type PeekedHeader } from "./header.ts";
 * const datagram = new Uint8Array([0xc8, 0x02, 0, 12, 0, 7, 0, 0, 0, 1, 0, 2]);
 * const p: PeekedHeader = peekHeader(datagram);
 * if (p.kind === "control") console.log(p.ns, p.nr);
 * ```
 */
export type PeekedHeader = ControlPeek | DataPeekV2 | DataPeekV3;

/**
 * Classifies a packet and reads its header, without decoding any AVP.
 *
 * For control messages the header is validated as {@linkcode parseControlHeader} does. For
 * data messages only the header itself is checked.
 *
 * @param packet A UDP payload (`transport` "udp") or an IP payload of protocol 115 ("ip").
 * @param transport How the packet arrived.
 * @returns The header.
 * @throws {ParseError} If the header is malformed.
 *
 * @example Usage
 * ```ts
 * import { peekHeader } from "./header.ts";
 * const p = peekHeader(new Uint8Array([0xc8, 0x03, 0, 12, 0, 0, 0, 5, 0, 0, 0, 1]));
 * console.log(p.kind, p.version); // "control" 3
 * ```
 */
export function peekHeader(packet: Uint8Array, transport: Transport = "udp"): PeekedHeader {
  if (transport === "ip") {
    if (packet.length < IP_CONTROL_PREFIX_LENGTH) {
      throw new ParseError("truncated", 0, "packet shorter than an L2TPv3 session ID");
    }
    const sessionId = readU32(packet, 0);
    if (sessionId !== 0) {
      return { kind: "data", version: 3, sessionId, payloadOffset: IP_CONTROL_PREFIX_LENGTH };
    }
    const h = parseControlHeader(packet.subarray(IP_CONTROL_PREFIX_LENGTH));
    if (h.version !== 3) {
      throw new ParseError("bad-version", 1, "L2TP over IP carries only version 3");
    }
    return controlPeek(h, IP_CONTROL_PREFIX_LENGTH);
  }
  if (packet.length < 2) throw new ParseError("truncated", 0, "packet shorter than 2 bytes");
  const flags = readU16(packet, 0);
  const version = flags & HeaderBits.VERSION_MASK;
  if (version !== 2 && version !== 3) {
    throw new ParseError("bad-version", 1, `version ${version} is not 2 or 3`);
  }
  if (flags & HeaderBits.TYPE) return controlPeek(parseControlHeader(packet), 0);
  if (version === 3) {
    if (packet.length < 8) throw new ParseError("truncated", 0, "L2TPv3 data header truncated");
    return { kind: "data", version: 3, sessionId: readU32(packet, 4), payloadOffset: 8 };
  }
  return parseDataHeaderV2(packet, flags);
}

function controlPeek(h: ControlHeader, offset: number): ControlPeek {
  return {
    kind: "control",
    version: h.version,
    tunnelId: h.tunnelId,
    sessionId: h.sessionId,
    ns: h.ns,
    nr: h.nr,
    length: h.length,
    offset,
    zlb: h.length === CONTROL_HEADER_LENGTH,
  };
}

function parseDataHeaderV2(packet: Uint8Array, flags: number): DataPeekV2 {
  let o = 2;
  let length: number | null = null;
  const need = (n: number, what: string): void => {
    if (o + n > packet.length) throw new ParseError("truncated", o, `${what} truncated`);
  };
  if (flags & HeaderBits.LENGTH) {
    need(2, "length field");
    length = readU16(packet, o);
    o += 2;
  }
  need(4, "tunnel and session IDs");
  const tunnelId = readU16(packet, o);
  const sessionId = readU16(packet, o + 2);
  o += 4;
  let ns: number | null = null;
  let nr: number | null = null;
  if (flags & HeaderBits.SEQUENCE) {
    need(4, "Ns and Nr");
    ns = readU16(packet, o);
    nr = readU16(packet, o + 2);
    o += 4;
  }
  if (flags & HeaderBits.OFFSET) {
    need(2, "offset size");
    const pad = readU16(packet, o);
    o += 2;
    need(pad, "offset padding");
    o += pad;
  }
  if (length !== null && (length < o || length > packet.length)) {
    throw new ParseError(
      "length-mismatch",
      2,
      `data length field ${length} does not fit a ${packet.length}-byte packet with ${o}-byte header`,
    );
  }
  return {
    kind: "data",
    version: 2,
    tunnelId,
    sessionId,
    ns,
    nr,
    length,
    priority: (flags & HeaderBits.PRIORITY) !== 0,
    payloadOffset: o,
  };
}

/**
 * Parses and validates a control message header: T, L and S bits set (and, in L2TPv2, no O
 * bit), version 2 or 3, and a Length field equal to the message size.
 *
 * @param message The control message, starting at its first header byte (for L2TPv3 over IP,
 *   after {@linkcode stripV3IpControlPrefix}).
 * @returns The header fields.
 * @throws {ParseError} If the header is malformed or the message is a data message.
 *
 * @example Usage
 * ```ts
 * import { parseControlHeader } from "./header.ts";
 * const h = parseControlHeader(new Uint8Array([0xc8, 0x02, 0, 12, 0, 7, 0, 3, 0, 1, 0, 2]));
 * console.log(h.tunnelId, h.sessionId, h.ns, h.nr); // 7 3 1 2
 * ```
 */
export function parseControlHeader(message: Uint8Array): ControlHeader {
  if (message.length < 2) throw new ParseError("truncated", 0, "message shorter than 2 bytes");
  const flags = readU16(message, 0);
  const version = flags & HeaderBits.VERSION_MASK;
  if (version !== 2 && version !== 3) {
    throw new ParseError("bad-version", 1, `version ${version} is not 2 or 3`);
  }
  if (!(flags & HeaderBits.TYPE)) {
    throw new ParseError("not-control", 0, "T bit clear: this is a data message");
  }
  if (!(flags & HeaderBits.LENGTH) || !(flags & HeaderBits.SEQUENCE)) {
    throw new ParseError("bad-header-flags", 0, "control message without the L and S bits");
  }
  if (version === 2 && (flags & HeaderBits.OFFSET)) {
    throw new ParseError("bad-header-flags", 0, "L2TPv2 control message with the O bit");
  }
  if (message.length < CONTROL_HEADER_LENGTH) {
    throw new ParseError("truncated", 0, `control header needs 12 bytes, got ${message.length}`);
  }
  const length = readU16(message, 2);
  if (length !== message.length) {
    throw new ParseError(
      "length-mismatch",
      2,
      `length field ${length} but the message has ${message.length} bytes`,
    );
  }
  return {
    version,
    tunnelId: version === 2 ? readU16(message, 4) : readU32(message, 4),
    sessionId: version === 2 ? readU16(message, 6) : 0,
    ns: readU16(message, 8),
    nr: readU16(message, 10),
    length,
  };
}

/**
 * Writes a control message header (T, L and S bits set) at the start of `out`.
 *
 * @param out The message buffer; its length becomes the Length field.
 * @param header Version, IDs and sequence numbers.
 * @throws {RangeError} If an ID or sequence number does not fit its field, or the message is
 *   longer than 65535 bytes.
 *
 * @example Usage
 * ```ts
 * import { writeControlHeader } from "./header.ts";
 * const out = new Uint8Array(12);
 * writeControlHeader(out, { version: 2, tunnelId: 7, sessionId: 0, ns: 0, nr: 0 });
 * console.log(out[0].toString(16), out[3]); // "c8" 12
 * ```
 */
export function writeControlHeader(
  out: Uint8Array,
  header: Omit<ControlHeader, "length">,
): void {
  const { version, tunnelId, sessionId, ns, nr } = header;
  checkUint("Ns", ns, 0xffff);
  checkUint("Nr", nr, 0xffff);
  if (out.length > 0xffff) {
    throw new RangeError(`Cannot encode L2TP header: message length ${out.length} exceeds 65535`);
  }
  writeU16(out, 0, HeaderBits.TYPE | HeaderBits.LENGTH | HeaderBits.SEQUENCE | version);
  writeU16(out, 2, out.length);
  if (version === 2) {
    checkUint("tunnel ID", tunnelId, 0xffff);
    checkUint("session ID", sessionId, 0xffff);
    writeU16(out, 4, tunnelId);
    writeU16(out, 6, sessionId);
  } else {
    checkUint("control connection ID", tunnelId, 0xffffffff);
    if (sessionId !== 0) {
      throw new RangeError("Cannot encode L2TPv3 header: it has no session ID field (must be 0)");
    }
    writeU32(out, 4, tunnelId);
  }
  writeU16(out, 8, ns);
  writeU16(out, 10, nr);
}

function checkUint(what: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`Cannot encode L2TP header: ${what} ${v} is not an integer in 0..${max}`);
  }
}

/**
 * Whether an L2TPv3-over-IP packet is a control message (Session ID zero).
 *
 * @param packet The IP payload.
 * @returns `true` if the first four bytes are zero.
 *
 * @example Usage
 * ```ts
 * import { isV3IpControl } from "./header.ts";
 * console.log(isV3IpControl(new Uint8Array([0, 0, 0, 0, 0xc8, 3]))); // true
 * ```
 */
export function isV3IpControl(packet: Uint8Array): boolean {
  return packet.length >= IP_CONTROL_PREFIX_LENGTH &&
    (packet[0] | packet[1] | packet[2] | packet[3]) === 0;
}

/**
 * Removes the 4-byte zero Session ID in front of an L2TPv3 control message received over IP.
 *
 * @param packet The IP payload.
 * @returns A view of the control message (no copy).
 * @throws {ParseError} If the packet is shorter than 4 bytes or its Session ID is not zero.
 *
 * @example Usage
 * ```ts
 * import { stripV3IpControlPrefix } from "./header.ts";
 * console.log(stripV3IpControlPrefix(new Uint8Array([0, 0, 0, 0, 0xc8, 3])).length); // 2
 * ```
 */
export function stripV3IpControlPrefix(packet: Uint8Array): Uint8Array {
  if (packet.length < IP_CONTROL_PREFIX_LENGTH) {
    throw new ParseError("truncated", 0, "packet shorter than an L2TPv3 session ID");
  }
  if (!isV3IpControl(packet)) {
    throw new ParseError("bad-ip-prefix", 0, "session ID is not zero: not a control message");
  }
  return packet.subarray(IP_CONTROL_PREFIX_LENGTH);
}

/**
 * Prepends the 4-byte zero Session ID to an L2TPv3 control message to be sent over IP.
 *
 * @param message The control message.
 * @returns A new packet: four zero bytes, then the message.
 *
 * @example Usage
 * ```ts
 * import { addV3IpControlPrefix } from "./header.ts";
 * console.log(addV3IpControlPrefix(new Uint8Array([0xc8, 3])).length); // 6
 * ```
 */
export function addV3IpControlPrefix(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(IP_CONTROL_PREFIX_LENGTH + message.length);
  out.set(message, IP_CONTROL_PREFIX_LENGTH);
  return out;
}
