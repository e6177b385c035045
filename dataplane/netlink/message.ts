/**
 * Netlink messages: struct nlmsghdr framing, struct genlmsghdr, and the control messages
 * NLMSG_ERROR (with extended ack) and NLMSG_DONE.
 *
 * All header fields are host byte order (little-endian on the machines we run on).
 *
 * @module
 */

import { AttributeDecoder, AttributeEncoder, put32 as putU32 } from "./attr.ts";
import type { ExtAck } from "./errors.ts";
import { NetlinkDecodeError } from "./errors.ts";

/** Size of struct nlmsghdr. */
export const NLMSG_HDRLEN = 16;
/** Size of struct genlmsghdr. */
export const GENL_HDRLEN = 4;

/** Message type: nothing. */
export const NLMSG_NOOP = 0x1;
/** Message type: error or acknowledgement (struct nlmsgerr). */
export const NLMSG_ERROR = 0x2;
/** Message type: end of a multipart dump. */
export const NLMSG_DONE = 0x3;
/** Message type: data lost. */
export const NLMSG_OVERRUN = 0x4;
/** First message type free for families. */
export const NLMSG_MIN_TYPE = 0x10;

/** Flag: this is a request. */
export const NLM_F_REQUEST = 0x1;
/** Flag: part of a multipart reply, terminated by NLMSG_DONE. */
export const NLM_F_MULTI = 0x2;
/** Flag: reply with an acknowledgement. */
export const NLM_F_ACK = 0x4;
/** Flag: echo this request. */
export const NLM_F_ECHO = 0x8;
/** Flag: the dump was inconsistent because the data changed while it ran. */
export const NLM_F_DUMP_INTR = 0x10;
/** Flag: the dump was filtered as requested. */
export const NLM_F_DUMP_FILTERED = 0x20;
/** GET flag: return the whole table. */
export const NLM_F_ROOT = 0x100;
/** GET flag: return all matching entries. */
export const NLM_F_MATCH = 0x200;
/** GET flag: atomic snapshot. */
export const NLM_F_ATOMIC = 0x400;
/** GET flag: dump (ROOT | MATCH). */
export const NLM_F_DUMP: number = NLM_F_ROOT | NLM_F_MATCH;
/** NEW flag: replace an existing object. */
export const NLM_F_REPLACE = 0x100;
/** NEW flag: fail if the object exists. */
export const NLM_F_EXCL = 0x200;
/** NEW flag: create if it does not exist. */
export const NLM_F_CREATE = 0x400;
/** NEW flag: append to the end of a list. */
export const NLM_F_APPEND = 0x800;
/** ACK flag: the request was not copied into the error message. */
export const NLM_F_CAPPED = 0x100;
/** ACK flag: extended-ack attributes follow. */
export const NLM_F_ACK_TLVS = 0x200;

/** Extended-ack attribute: message text. */
export const NLMSGERR_ATTR_MSG = 1;
/** Extended-ack attribute: offset of the offending attribute (u32). */
export const NLMSGERR_ATTR_OFFS = 2;
/** Extended-ack attribute: cookie (binary). */
export const NLMSGERR_ATTR_COOKIE = 3;
/** Extended-ack attribute: policy of a rejected attribute (nested). */
export const NLMSGERR_ATTR_POLICY = 4;
/** Extended-ack attribute: type of a missing attribute (u32). */
export const NLMSGERR_ATTR_MISS_TYPE = 5;
/** Extended-ack attribute: offset of the nest missing an attribute (u32). */
export const NLMSGERR_ATTR_MISS_NEST = 6;

/** The generic netlink controller's fixed family id. */
export const GENL_ID_CTRL: number = NLMSG_MIN_TYPE;
/** Controller command: get a family. */
export const CTRL_CMD_GETFAMILY = 3;
/** Controller attribute: family id (u16). */
export const CTRL_ATTR_FAMILY_ID = 1;
/** Controller attribute: family name (string). */
export const CTRL_ATTR_FAMILY_NAME = 2;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Store a u16 in host order. */
function put16(b: Uint8Array, at: number, v: number): void {
  if (LITTLE_ENDIAN) {
    b[at] = v;
    b[at + 1] = v >>> 8;
  } else {
    b[at] = v >>> 8;
    b[at + 1] = v;
  }
}

/** Store a u32 in host order. */
function put32(b: Uint8Array, at: number, v: number): void {
  putU32(b, at, v, LITTLE_ENDIAN);
}

function align(n: number): number {
  return (n + 3) & ~3;
}

/**
 * struct nlmsghdr.
 *
 * @example Usage
 * ```ts
 * import type { Header } from "./message.ts";
 * const h: Header = { length: 20, type: 0x10, flags: 5, sequence: 1, pid: 0 };
 * console.log(h);
 * ```
 */
export interface Header {
  /** Total message length, header included. */
  length: number;
  /** Message type (a family id for generic netlink). */
  type: number;
  /** NLM_F_* flags. */
  flags: number;
  /** Sequence number. */
  sequence: number;
  /** Port id of the sender (0 for the kernel). */
  pid: number;
}

/**
 * A netlink message: header and payload.
 *
 * @example Usage
 * ```ts
 * import type { Message } from "./message.ts";
 * const m: Message = {
 *   header: { length: 16, type: 3, flags: 2, sequence: 1, pid: 0 },
 *   data: new Uint8Array(0),
 * };
 * console.log(m);
 * ```
 */
export interface Message {
  /** The header as received (or as it will be sent; `length` is recomputed on encode). */
  header: Header;
  /** The payload after the header, without trailing padding. */
  data: Uint8Array;
}

/**
 * What a message to be encoded carries; `length` is computed.
 *
 * @example Usage
 * ```ts
 * import type { OutgoingMessage } from "./message.ts";
 * const m: OutgoingMessage = { type: 0x10, flags: 1, sequence: 1, pid: 0, data: new Uint8Array(4) };
 * console.log(m);
 * ```
 */
export interface OutgoingMessage {
  /** Message type. */
  type: number;
  /** NLM_F_* flags. */
  flags: number;
  /** Sequence number. */
  sequence: number;
  /** Sender port id. */
  pid: number;
  /** Payload. */
  data: Uint8Array;
}

function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`Cannot encode netlink message: ${name} ${value} is not in 0..${max}`);
  }
}

/**
 * Encode one message (header and payload, padded to 4 bytes).
 *
 * @example Usage
 * ```ts
 * import { encodeMessage, NLM_F_REQUEST } from "./message.ts";
 * const bytes = encodeMessage({ type: 0x10, flags: NLM_F_REQUEST, sequence: 1, pid: 0, data: new Uint8Array(4) });
 * console.log(bytes.length); // 20
 * ```
 */
export function encodeMessage(m: OutgoingMessage): Uint8Array {
  checkField("type", m.type, 0xffff);
  checkField("flags", m.flags, 0xffff);
  checkField("sequence", m.sequence, 0xffffffff);
  checkField("pid", m.pid, 0xffffffff);
  const length = NLMSG_HDRLEN + m.data.length;
  const out = new Uint8Array(align(length));
  const v = new DataView(out.buffer);
  v.setUint32(0, length, LITTLE_ENDIAN);
  v.setUint16(4, m.type, LITTLE_ENDIAN);
  v.setUint16(6, m.flags, LITTLE_ENDIAN);
  v.setUint32(8, m.sequence, LITTLE_ENDIAN);
  v.setUint32(12, m.pid, LITTLE_ENDIAN);
  out.set(m.data, NLMSG_HDRLEN);
  return out;
}

/** Read a u16 in host order. */
function get16(b: Uint8Array, at: number): number {
  return LITTLE_ENDIAN ? b[at] | (b[at + 1] << 8) : (b[at] << 8) | b[at + 1];
}

/** Read a u32 in host order. */
function get32(b: Uint8Array, at: number): number {
  return LITTLE_ENDIAN
    ? (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0
    : ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

// Byte reads, not a DataView: this runs for every message received.
function readHeader(b: Uint8Array, at: number): Header {
  return {
    length: get32(b, at),
    type: get16(b, at + 4),
    flags: get16(b, at + 6),
    sequence: get32(b, at + 8),
    pid: get32(b, at + 12),
  };
}

/**
 * Split a datagram into its messages, checking every length.
 *
 * @throws {NetlinkDecodeError} on a truncated header or a length that does not fit.
 * @example Usage
 * ```ts
 * import { decodeMessages, encodeMessage } from "./message.ts";
 * const one = encodeMessage({ type: 3, flags: 2, sequence: 7, pid: 0, data: new Uint8Array(4) });
 * console.log(decodeMessages(one)[0].header.sequence); // 7
 * ```
 */
export function decodeMessages(datagram: Uint8Array): Message[] {
  const out: Message[] = [];
  let at = 0;
  while (at < datagram.length) {
    const remaining = datagram.length - at;
    if (remaining < NLMSG_HDRLEN) {
      throw new NetlinkDecodeError(
        "message",
        at,
        `${remaining} trailing bytes are too short for a 16-byte header`,
      );
    }
    const header = readHeader(datagram, at);
    if (header.length < NLMSG_HDRLEN) {
      throw new NetlinkDecodeError(
        "message",
        at,
        `length ${header.length} is shorter than its 16-byte header`,
      );
    }
    if (header.length > remaining) {
      throw new NetlinkDecodeError(
        "message",
        at,
        `length ${header.length} runs past the end of the datagram (${remaining} bytes left)`,
      );
    }
    out.push({ header, data: datagram.subarray(at + NLMSG_HDRLEN, at + header.length) });
    at += Math.min(align(header.length), remaining);
  }
  return out;
}

/**
 * struct genlmsghdr.
 *
 * @example Usage
 * ```ts
 * import type { GenlHeader } from "./message.ts";
 * const h: GenlHeader = { command: 1, version: 1 };
 * console.log(h);
 * ```
 */
export interface GenlHeader {
  /** Family command. */
  command: number;
  /** Family interface version. */
  version: number;
}

/**
 * A generic netlink payload: header and attribute stream.
 *
 * @example Usage
 * ```ts
 * import type { GenlMessage } from "./message.ts";
 * const g: GenlMessage = { header: { command: 4, version: 1 }, attributes: new Uint8Array(0) };
 * console.log(g);
 * ```
 */
export interface GenlMessage {
  /** The generic netlink header. */
  header: GenlHeader;
  /** The attributes after the header. */
  attributes: Uint8Array;
}

/**
 * Encode a generic netlink payload (to go in a {@linkcode Message}'s data).
 *
 * @example Usage
 * ```ts
 * import { encodeGenl } from "./message.ts";
 * const data = encodeGenl({ header: { command: 3, version: 1 }, attributes: new Uint8Array(0) });
 * console.log(data); // Uint8Array(4) [ 3, 1, 0, 0 ]
 * ```
 */
export function encodeGenl(g: GenlMessage): Uint8Array {
  checkField("genl command", g.header.command, 0xff);
  checkField("genl version", g.header.version, 0xff);
  const out = new Uint8Array(GENL_HDRLEN + g.attributes.length);
  out[0] = g.header.command;
  out[1] = g.header.version;
  out.set(g.attributes, GENL_HDRLEN);
  return out;
}

/**
 * Decode a generic netlink payload.
 *
 * @throws {NetlinkDecodeError} if the payload is shorter than the genl header.
 * @example Usage
 * ```ts
 * import { decodeGenl } from "./message.ts";
 * console.log(decodeGenl(new Uint8Array([4, 1, 0, 0])).header.command); // 4
 * ```
 */
export function decodeGenl(data: Uint8Array): GenlMessage {
  if (data.length < GENL_HDRLEN) {
    throw new NetlinkDecodeError(
      "generic netlink header",
      NLMSG_HDRLEN,
      `payload of ${data.length} bytes is shorter than 4`,
    );
  }
  return {
    header: { command: data[0], version: data[1] },
    attributes: data.subarray(GENL_HDRLEN),
  };
}

/**
 * Encode a complete generic netlink request (nlmsghdr + genlmsghdr + attributes).
 *
 * @param header The netlink header fields (`length` is computed).
 * @param g The generic netlink header and attributes.
 * @param into A buffer to encode into when it is large enough (the result is then a view of its
 *   start), so a caller sending many requests allocates none; otherwise a new buffer.
 * @returns The message, padded to 4 bytes.
 * @example Usage
 * ```ts
 * import { encodeGenlMessage, NLM_F_ACK, NLM_F_REQUEST } from "./message.ts";
 * const header = { type: 0x1c, flags: NLM_F_REQUEST | NLM_F_ACK, sequence: 1, pid: 0 };
 * const g = { header: { command: 1, version: 1 }, attributes: new Uint8Array(0) };
 * console.log(encodeGenlMessage(header, g).length); // 20
 * const scratch = new Uint8Array(4096);
 * console.log(encodeGenlMessage(header, g, scratch).buffer === scratch.buffer); // true
 * ```
 */
export function encodeGenlMessage(
  header: Omit<OutgoingMessage, "data">,
  g: GenlMessage,
  into?: Uint8Array,
): Uint8Array {
  checkField("type", header.type, 0xffff);
  checkField("flags", header.flags, 0xffff);
  checkField("sequence", header.sequence, 0xffffffff);
  checkField("pid", header.pid, 0xffffffff);
  checkField("genl command", g.header.command, 0xff);
  checkField("genl version", g.header.version, 0xff);
  // At most one allocation, and no DataView: this is on every request's path.
  const length = NLMSG_HDRLEN + GENL_HDRLEN + g.attributes.length;
  const padded = align(length);
  let out: Uint8Array;
  if (into !== undefined && into.length >= padded) {
    out = into.subarray(0, padded);
    out.fill(0, length); // the padding
  } else {
    out = new Uint8Array(padded);
  }
  put32(out, 0, length);
  put16(out, 4, header.type);
  put16(out, 6, header.flags);
  put32(out, 8, header.sequence);
  put32(out, 12, header.pid);
  out[NLMSG_HDRLEN] = g.header.command;
  out[NLMSG_HDRLEN + 1] = g.header.version;
  out[NLMSG_HDRLEN + 2] = 0; // reserved
  out[NLMSG_HDRLEN + 3] = 0;
  out.set(g.attributes, NLMSG_HDRLEN + GENL_HDRLEN);
  return out;
}

/**
 * The content of an NLMSG_ERROR message.
 *
 * @example Usage
 * ```ts
 * import type { ErrorPayload } from "./message.ts";
 * const p: ErrorPayload = {
 *   errno: 0,
 *   request: { length: 20, type: 0x1c, flags: 0x5, sequence: 1, pid: 0 },
 *   extAck: {},
 * };
 * if (p.errno === 0) console.log("acknowledged");
 * ```
 */
export interface ErrorPayload {
  /** Positive errno; 0 for an acknowledgement. */
  errno: number;
  /** Header of the request this answers. */
  request: Header;
  /** Extended acknowledgement attributes. */
  extAck: ExtAck;
}

function decodeExtAck(data: Uint8Array, baseOffset: number): ExtAck {
  const ext: ExtAck = {};
  const ad = new AttributeDecoder(data, baseOffset);
  while (ad.next()) {
    switch (ad.type) {
      case NLMSGERR_ATTR_MSG:
        ext.message = ad.string();
        break;
      case NLMSGERR_ATTR_OFFS:
        ext.offset = ad.u32();
        break;
      case NLMSGERR_ATTR_COOKIE:
        ext.cookie = ad.bytes();
        break;
      case NLMSGERR_ATTR_MISS_TYPE:
        ext.missingType = ad.u32();
        break;
      case NLMSGERR_ATTR_MISS_NEST:
        ext.missingNest = ad.u32();
        break;
    }
  }
  return ext;
}

/**
 * Decode an NLMSG_ERROR message (struct nlmsgerr: s32 error, the request's header, the request's
 * payload unless {@linkcode NLM_F_CAPPED} or an ack, then extended-ack attributes when
 * {@linkcode NLM_F_ACK_TLVS}).
 *
 * @throws {NetlinkDecodeError} if the payload is truncated.
 * @example Usage
 * ```ts
 * import { decodeErrorPayload, decodeMessages, encodeError } from "./message.ts";
 * const request = { length: 20, type: 0x1c, flags: 5, sequence: 9, pid: 77 };
 * const [m] = decodeMessages(encodeError(request, 17, { message: "exists" }));
 * console.log(decodeErrorPayload(m).errno, decodeErrorPayload(m).extAck.message); // 17 "exists"
 * ```
 */
export function decodeErrorPayload(m: Message): ErrorPayload {
  const data = m.data;
  if (data.length < 4 + NLMSG_HDRLEN) {
    throw new NetlinkDecodeError(
      "error message",
      NLMSG_HDRLEN,
      `payload of ${data.length} bytes is shorter than struct nlmsgerr (20)`,
    );
  }
  const error = get32(data, 0) | 0;
  const request = readHeader(data, 4);
  let extAck: ExtAck = {};
  if ((m.header.flags & NLM_F_ACK_TLVS) !== 0) {
    let at = 4 + NLMSG_HDRLEN;
    const echoed = error !== 0 && (m.header.flags & NLM_F_CAPPED) === 0;
    if (echoed) at += align(Math.max(request.length, NLMSG_HDRLEN) - NLMSG_HDRLEN);
    if (at > data.length) {
      throw new NetlinkDecodeError(
        "error message",
        NLMSG_HDRLEN + 4,
        `echoed request of ${request.length} bytes runs past the payload (${data.length} bytes)`,
      );
    }
    extAck = decodeExtAck(data.subarray(at), NLMSG_HDRLEN + at);
  }
  return { errno: error < 0 ? -error : error, request, extAck };
}

/**
 * Decode an NLMSG_DONE message: the dump's final status (s32, 0 on success) and extended-ack
 * attributes when {@linkcode NLM_F_ACK_TLVS}.
 *
 * @example Usage
 * ```ts
 * import { decodeDone, decodeMessages, encodeDone } from "./message.ts";
 * const [m] = decodeMessages(encodeDone({ length: 20, type: 0x1c, flags: 0x301, sequence: 4, pid: 9 }));
 * console.log(decodeDone(m).errno); // 0
 * ```
 */
export function decodeDone(m: Message): { errno: number; extAck: ExtAck } {
  if (m.data.length < 4) return { errno: 0, extAck: {} };
  const error = get32(m.data, 0) | 0;
  const extAck = (m.header.flags & NLM_F_ACK_TLVS) !== 0
    ? decodeExtAck(m.data.subarray(4), NLMSG_HDRLEN + 4)
    : {};
  return { errno: error < 0 ? -error : error, extAck };
}

function extAckAttributes(ext: ExtAck): Uint8Array {
  const ae = new AttributeEncoder();
  if (ext.message !== undefined) ae.string(NLMSGERR_ATTR_MSG, ext.message);
  if (ext.offset !== undefined) ae.u32(NLMSGERR_ATTR_OFFS, ext.offset);
  if (ext.cookie !== undefined) ae.bytes(NLMSGERR_ATTR_COOKIE, ext.cookie);
  if (ext.missingType !== undefined) ae.u32(NLMSGERR_ATTR_MISS_TYPE, ext.missingType);
  if (ext.missingNest !== undefined) ae.u32(NLMSGERR_ATTR_MISS_NEST, ext.missingNest);
  return ae.encode();
}

/**
 * Encode an NLMSG_ERROR answering `request`, as the kernel would (for fakes and tests).
 *
 * @param request The request's header (its length, type, flags, sequence and pid are echoed).
 * @param errno Positive errno, or 0 for an acknowledgement.
 * @param extAck Extended-ack attributes to append (sets {@linkcode NLM_F_ACK_TLVS}).
 * @param requestPayload When given and `errno` is non-zero, echoed after the header (as without
 *   NETLINK_CAP_ACK); otherwise the message is marked {@linkcode NLM_F_CAPPED}.
 * @example Usage
 * ```ts
 * import { encodeError } from "./message.ts";
 * const ack = encodeError({ length: 20, type: 0x1c, flags: 5, sequence: 1, pid: 9 }, 0);
 * console.log(ack.length); // 36
 * ```
 */
export function encodeError(
  request: Header,
  errno: number,
  extAck?: ExtAck,
  requestPayload?: Uint8Array,
): Uint8Array {
  const echo = errno !== 0 && requestPayload !== undefined ? requestPayload : undefined;
  const tlvs = extAck === undefined ? new Uint8Array(0) : extAckAttributes(extAck);
  const echoLen = echo === undefined ? 0 : align(echo.length);
  const data = new Uint8Array(4 + NLMSG_HDRLEN + echoLen + tlvs.length);
  const v = new DataView(data.buffer);
  v.setInt32(0, -errno, LITTLE_ENDIAN);
  v.setUint32(4, request.length, LITTLE_ENDIAN);
  v.setUint16(8, request.type, LITTLE_ENDIAN);
  v.setUint16(10, request.flags, LITTLE_ENDIAN);
  v.setUint32(12, request.sequence, LITTLE_ENDIAN);
  v.setUint32(16, request.pid, LITTLE_ENDIAN);
  if (echo !== undefined) data.set(echo, 4 + NLMSG_HDRLEN);
  data.set(tlvs, 4 + NLMSG_HDRLEN + echoLen);
  let flags = echo === undefined ? NLM_F_CAPPED : 0;
  if (tlvs.length > 0) flags |= NLM_F_ACK_TLVS;
  return encodeMessage({
    type: NLMSG_ERROR,
    flags,
    sequence: request.sequence,
    pid: request.pid,
    data,
  });
}

/**
 * Encode an NLMSG_DONE ending a dump for `request` (for fakes and tests).
 *
 * @param request The dump request's header.
 * @param errno Positive errno for a failed dump, 0 on success.
 * @param extAck Extended-ack attributes to append.
 * @example Usage
 * ```ts
 * import { encodeDone } from "./message.ts";
 * console.log(encodeDone({ length: 20, type: 0x1c, flags: 0x301, sequence: 1, pid: 9 }).length); // 20
 * ```
 */
export function encodeDone(request: Header, errno = 0, extAck?: ExtAck): Uint8Array {
  const tlvs = extAck === undefined ? new Uint8Array(0) : extAckAttributes(extAck);
  const data = new Uint8Array(4 + tlvs.length);
  new DataView(data.buffer).setInt32(0, -errno, LITTLE_ENDIAN);
  data.set(tlvs, 4);
  return encodeMessage({
    type: NLMSG_DONE,
    flags: NLM_F_MULTI | (tlvs.length > 0 ? NLM_F_ACK_TLVS : 0),
    sequence: request.sequence,
    pid: request.pid,
    data,
  });
}
