/**
 * Netlink attributes (struct nlattr): a builder ({@linkcode AttributeEncoder}) and a strict,
 * bounds-checked iterator with typed getters ({@linkcode AttributeDecoder}).
 *
 * Wire format: `nla_len` (u16, header included, padding excluded), `nla_type` (u16, with the
 * {@linkcode NLA_F_NESTED} and {@linkcode NLA_F_NET_BYTEORDER} flag bits), payload, then padding
 * to a 4-byte boundary. Integers are host byte order (little-endian on the machines we run on)
 * unless {@linkcode NLA_F_NET_BYTEORDER} is set.
 *
 * @module
 */

import { NetlinkDecodeError } from "./errors.ts";

/** Type flag: the payload is a stream of attributes. */
export const NLA_F_NESTED = 0x8000;
/** Type flag: integers in the payload are in network (big-endian) byte order. */
export const NLA_F_NET_BYTEORDER = 0x4000;
/** Mask of the type number without flags. */
export const NLA_TYPE_MASK = 0x3fff;
/** Size of struct nlattr. */
export const NLA_HDRLEN = 4;
/** Largest attribute (header included) that `nla_len` can express. */
const NLA_MAX_LEN = 0xffff;

/**
 * Round a length up to the netlink 4-byte alignment.
 *
 * @example Usage
 * ```ts
 * import { nlaAlign } from "./attr.ts";
 * console.log(nlaAlign(5)); // 8
 * ```
 */
export function nlaAlign(length: number): number {
  return (length + 3) & ~3;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/** Store a u16 at `at` in the given byte order. */
function put16(b: Uint8Array, at: number, v: number, little: boolean): void {
  if (little) {
    b[at] = v;
    b[at + 1] = v >>> 8;
  } else {
    b[at] = v >>> 8;
    b[at + 1] = v;
  }
}

/**
 * Store a u32 at `at` in the given byte order.
 *
 * @param b The buffer.
 * @param at The offset.
 * @param v The value.
 * @param little Little-endian (else big-endian).
 */
export function put32(b: Uint8Array, at: number, v: number, little: boolean): void {
  if (little) {
    b[at] = v;
    b[at + 1] = v >>> 8;
    b[at + 2] = v >>> 16;
    b[at + 3] = v >>> 24;
  } else {
    b[at] = v >>> 24;
    b[at + 1] = v >>> 16;
    b[at + 2] = v >>> 8;
    b[at + 3] = v;
  }
}

function checkType(type: number): void {
  if (!Number.isInteger(type) || type < 0 || type > NLA_TYPE_MASK) {
    throw new RangeError(`Cannot encode netlink attribute: type ${type} is not in 0..16383`);
  }
}

function checkInt(type: number, kind: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot encode netlink attribute ${type} as ${kind}: ${value} is not an integer in ${min}..${max}`,
    );
  }
}

/**
 * Builds a stream of netlink attributes.
 *
 * @example Usage
 * ```ts
 * import { AttributeEncoder } from "./attr.ts";
 * const bytes = new AttributeEncoder().u32(9, 42).string(8, "l2tpeth0").encode();
 * console.log(bytes.length); // 8 + 16
 * ```
 */
export class AttributeEncoder {
  // One growing buffer: appending writes in place, so an attribute costs no allocation. Bytes
  // past #length are never written before they are reserved, so padding is always zero. No
  // DataView: V8 keeps a small typed array on its heap (cheap) until its `.buffer` is touched.
  #buf = new Uint8Array(64);
  #length = 0;

  /** Make room for `n` more bytes. */
  #grow(n: number): void {
    const need = this.#length + n;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#length));
    this.#buf = next;
  }

  /** Write an attribute header for a payload of `size` bytes; returns the payload's offset. */
  #header(type: number, size: number, flags: number): number {
    checkType(type);
    const length = NLA_HDRLEN + size;
    if (length > NLA_MAX_LEN) {
      throw new RangeError(
        `Cannot encode netlink attribute ${type}: payload of ${size} bytes is too long`,
      );
    }
    const total = nlaAlign(length);
    this.#grow(total);
    const at = this.#length;
    put16(this.#buf, at, length, LITTLE_ENDIAN);
    put16(this.#buf, at + 2, type | (flags & (NLA_F_NESTED | NLA_F_NET_BYTEORDER)), LITTLE_ENDIAN);
    this.#length += total;
    return at + NLA_HDRLEN;
  }

  /**
   * Append a raw attribute.
   *
   * @param type Attribute type (0..16383).
   * @param payload Payload bytes (copied).
   * @param flags {@linkcode NLA_F_NESTED} and/or {@linkcode NLA_F_NET_BYTEORDER}.
   * @returns this encoder, for chaining.
   */
  bytes(type: number, payload: Uint8Array, flags = 0): this {
    const at = this.#header(type, payload.length, flags);
    this.#buf.set(payload, at);
    return this;
  }

  /**
   * Append an 8-bit unsigned integer.
   *
   * @param type Attribute type.
   * @param value 0..255.
   * @returns this encoder.
   */
  u8(type: number, value: number): this {
    checkInt(type, "u8", value, 0, 0xff);
    const at = this.#header(type, 1, 0);
    this.#buf[at] = value;
    return this;
  }

  /**
   * Append a 16-bit unsigned integer (host order, or network order when `netByteOrder`).
   *
   * @param type Attribute type.
   * @param value 0..65535.
   * @param netByteOrder Encode big-endian and set {@linkcode NLA_F_NET_BYTEORDER}.
   * @returns this encoder.
   */
  u16(type: number, value: number, netByteOrder = false): this {
    checkInt(type, "u16", value, 0, 0xffff);
    const at = this.#header(type, 2, netByteOrder ? NLA_F_NET_BYTEORDER : 0);
    put16(this.#buf, at, value, netByteOrder ? false : LITTLE_ENDIAN);
    return this;
  }

  /**
   * Append a 32-bit unsigned integer (host order, or network order when `netByteOrder`).
   *
   * @param type Attribute type.
   * @param value 0..4294967295.
   * @param netByteOrder Encode big-endian and set {@linkcode NLA_F_NET_BYTEORDER}.
   * @returns this encoder.
   */
  u32(type: number, value: number, netByteOrder = false): this {
    checkInt(type, "u32", value, 0, 0xffffffff);
    const at = this.#header(type, 4, netByteOrder ? NLA_F_NET_BYTEORDER : 0);
    put32(this.#buf, at, value, netByteOrder ? false : LITTLE_ENDIAN);
    return this;
  }

  /**
   * Append a 64-bit unsigned integer in host order.
   *
   * @param type Attribute type.
   * @param value 0..2^64-1 (a number must be a safe integer).
   * @returns this encoder.
   */
  u64(type: number, value: bigint | number): this {
    if (typeof value === "number") checkInt(type, "u64", value, 0, Number.MAX_SAFE_INTEGER);
    const v = BigInt(value);
    if (v < 0n || v > 0xffffffffffffffffn) {
      throw new RangeError(`Cannot encode netlink attribute ${type} as u64: ${v} is out of range`);
    }
    const at = this.#header(type, 8, 0);
    const lo = Number(v & 0xffffffffn);
    const hi = Number(v >> 32n);
    put32(this.#buf, LITTLE_ENDIAN ? at : at + 4, lo, LITTLE_ENDIAN);
    put32(this.#buf, LITTLE_ENDIAN ? at + 4 : at, hi, LITTLE_ENDIAN);
    return this;
  }

  /**
   * Append a 32-bit signed integer in host order.
   *
   * @param type Attribute type.
   * @param value -2^31..2^31-1.
   * @returns this encoder.
   */
  s32(type: number, value: number): this {
    checkInt(type, "s32", value, -0x80000000, 0x7fffffff);
    const at = this.#header(type, 4, 0);
    put32(this.#buf, at, value >>> 0, LITTLE_ENDIAN);
    return this;
  }

  /**
   * Append a NUL-terminated UTF-8 string.
   *
   * @param type Attribute type.
   * @param value Text without NUL characters.
   * @returns this encoder.
   */
  string(type: number, value: string): this {
    if (value.includes("\0")) {
      throw new TypeError(`Cannot encode netlink attribute ${type} as string: it contains NUL`);
    }
    const text = textEncoder.encode(value);
    const at = this.#header(type, text.length + 1, 0);
    this.#buf.set(text, at); // the NUL after it is already there
    return this;
  }

  /**
   * Append a flag (an attribute with no payload; present means true).
   *
   * @param type Attribute type.
   * @returns this encoder.
   */
  flag(type: number): this {
    this.#header(type, 0, 0);
    return this;
  }

  /**
   * Append a nested attribute stream built by `build`.
   *
   * @param type Attribute type.
   * @param build Fills the inner encoder.
   * @param setNestedFlag Set {@linkcode NLA_F_NESTED} (default true, as `nla_nest_start` does).
   * @returns this encoder.
   */
  nested(type: number, build: (inner: AttributeEncoder) => void, setNestedFlag = true): this {
    const inner = new AttributeEncoder();
    build(inner);
    return this.bytes(
      type,
      inner.#buf.subarray(0, inner.#length),
      setNestedFlag ? NLA_F_NESTED : 0,
    );
  }

  /** Number of bytes encoded so far. */
  get length(): number {
    return this.#length;
  }

  /**
   * The encoded attribute stream.
   *
   * @returns A new buffer holding every attribute appended so far.
   */
  encode(): Uint8Array {
    return this.#buf.slice(0, this.#length);
  }

  /**
   * The encoded attribute stream without copying it. The view never changes: later appends go
   * after it (or into a new buffer), so it can be kept; do not write to it.
   *
   * @returns A view of every attribute appended so far.
   * @example Usage
   * ```ts
   * import { AttributeEncoder } from "./attr.ts";
   * const ae = new AttributeEncoder().u32(9, 42);
   * const first = ae.view();
   * ae.u32(10, 7);
   * console.log(first.length, ae.view().length); // 8 16
   * ```
   */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#length);
  }
}

/**
 * One decoded attribute.
 *
 * @example Usage
 * ```ts
 * import { type Attribute, decodeAttributes } from "./attr.ts";
 * const attrs: Attribute[] = decodeAttributes(new Uint8Array([5, 0, 7, 0, 3, 0, 0, 0]));
 * console.log(attrs[0].type, attrs[0].data[0]); // 7 3
 * ```
 */
export interface Attribute {
  /** Type number without flags. */
  type: number;
  /** {@linkcode NLA_F_NESTED} was set. */
  nested: boolean;
  /** {@linkcode NLA_F_NET_BYTEORDER} was set. */
  netByteOrder: boolean;
  /** Payload (a view into the decoded buffer). */
  data: Uint8Array;
  /** Offset of the attribute header, relative to the outermost decoded buffer. */
  offset: number;
}

/**
 * Iterates over a stream of attributes with strict bounds checking: a malformed stream throws
 * {@linkcode NetlinkDecodeError}, never reads out of bounds.
 *
 * Typed getters check the payload length exactly (a u32 must have 4 bytes).
 *
 * @example Usage
 * ```ts
 * import { AttributeDecoder, AttributeEncoder } from "./attr.ts";
 * const ad = new AttributeDecoder(new AttributeEncoder().u32(9, 42).encode());
 * while (ad.next()) {
 *   if (ad.type === 9) console.log(ad.u32()); // 42
 * }
 * ```
 */
export class AttributeDecoder implements Iterable<Attribute> {
  readonly #data: Uint8Array;
  readonly #view: DataView;
  readonly #base: number;
  #at = 0;
  #current: Attribute | undefined;
  /** Offset of the current attribute's payload in #data. */
  #payloadAt = 0;

  /**
   * Start decoding.
   *
   * @param data The attribute stream.
   * @param baseOffset Offset of `data` within an enclosing buffer (used in error messages and in
   *   {@linkcode Attribute.offset}).
   */
  constructor(data: Uint8Array, baseOffset = 0) {
    this.#data = data;
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.#base = baseOffset;
  }

  /**
   * Advance to the next attribute.
   *
   * @returns false at the end of the stream.
   * @throws {NetlinkDecodeError} on a malformed header or length.
   */
  next(): boolean {
    const remaining = this.#data.length - this.#at;
    if (remaining === 0) {
      this.#current = undefined;
      return false;
    }
    const offset = this.#base + this.#at;
    if (remaining < NLA_HDRLEN) {
      throw new NetlinkDecodeError(
        "attribute",
        offset,
        `${remaining} trailing bytes are too short for an attribute header`,
      );
    }
    const length = this.#view.getUint16(this.#at, LITTLE_ENDIAN);
    const rawType = this.#view.getUint16(this.#at + 2, LITTLE_ENDIAN);
    if (length < NLA_HDRLEN) {
      throw new NetlinkDecodeError(
        "attribute",
        offset,
        `length ${length} is shorter than its 4-byte header`,
      );
    }
    if (length > remaining) {
      throw new NetlinkDecodeError(
        "attribute",
        offset,
        `length ${length} runs past the end of the buffer (${remaining} bytes left)`,
      );
    }
    this.#current = {
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      netByteOrder: (rawType & NLA_F_NET_BYTEORDER) !== 0,
      data: this.#data.subarray(this.#at + NLA_HDRLEN, this.#at + length),
      offset,
    };
    this.#payloadAt = this.#at + NLA_HDRLEN;
    this.#at += Math.min(nlaAlign(length), remaining);
    return true;
  }

  #attr(): Attribute {
    if (this.#current === undefined) {
      throw new RangeError("Cannot read netlink attribute: next() has not returned true");
    }
    return this.#current;
  }

  /** Offset of the current payload in #data, after checking its size. */
  #sized(kind: string, size: number): number {
    const a = this.#attr();
    if (a.data.length !== size) {
      throw new NetlinkDecodeError(
        "attribute",
        a.offset,
        `attribute ${a.type} has ${a.data.length} payload bytes, ${kind} needs ${size}`,
      );
    }
    return this.#payloadAt;
  }

  #little(): boolean {
    return this.#attr().netByteOrder ? false : LITTLE_ENDIAN;
  }

  /** The current attribute. */
  get current(): Attribute {
    return this.#attr();
  }

  /** Type of the current attribute, without flags. */
  get type(): number {
    return this.#attr().type;
  }

  /** Payload length of the current attribute. */
  get length(): number {
    return this.#attr().data.length;
  }

  /**
   * The payload as a copy.
   *
   * @returns A new buffer.
   */
  bytes(): Uint8Array {
    return this.#attr().data.slice();
  }

  /**
   * The payload as u8.
   *
   * @returns The value.
   */
  u8(): number {
    return this.#data[this.#sized("u8", 1)];
  }

  /**
   * The payload as u16 (byte order from {@linkcode NLA_F_NET_BYTEORDER}).
   *
   * @returns The value.
   */
  u16(): number {
    return this.#view.getUint16(this.#sized("u16", 2), this.#little());
  }

  /**
   * The payload as u32 (byte order from {@linkcode NLA_F_NET_BYTEORDER}).
   *
   * @returns The value.
   */
  u32(): number {
    return this.#view.getUint32(this.#sized("u32", 4), this.#little());
  }

  /**
   * The payload as u64.
   *
   * @returns The value.
   */
  u64(): bigint {
    return this.#view.getBigUint64(this.#sized("u64", 8), this.#little());
  }

  /**
   * The payload as s32.
   *
   * @returns The value.
   */
  s32(): number {
    return this.#view.getInt32(this.#sized("s32", 4), this.#little());
  }

  /**
   * The payload as a NUL-terminated UTF-8 string (a missing terminator is tolerated).
   *
   * @returns The text before the first NUL.
   */
  string(): string {
    const a = this.#attr();
    const nul = a.data.indexOf(0);
    try {
      return textDecoder.decode(nul < 0 ? a.data : a.data.subarray(0, nul));
    } catch {
      throw new NetlinkDecodeError("attribute", a.offset, `attribute ${a.type} is not UTF-8`);
    }
  }

  /**
   * A flag attribute: its presence means true.
   *
   * @returns true.
   */
  flag(): boolean {
    this.#sized("flag", 0);
    return true;
  }

  /**
   * A decoder over the nested attribute stream in the payload.
   *
   * @returns A new decoder.
   */
  nested(): AttributeDecoder {
    const a = this.#attr();
    return new AttributeDecoder(a.data, a.offset + NLA_HDRLEN);
  }

  /**
   * Iterate the remaining attributes.
   *
   * @returns An iterator of attributes.
   */
  *[Symbol.iterator](): Iterator<Attribute> {
    while (this.next()) yield this.#attr();
  }
}

/**
 * Decode a whole attribute stream, validating every header.
 *
 * @example Usage
 * ```ts
 * import { AttributeEncoder, decodeAttributes } from "./attr.ts";
 * const attrs = decodeAttributes(new AttributeEncoder().flag(33).u8(7, 3).encode());
 * console.log(attrs.map((a) => a.type)); // [33, 7]
 * ```
 */
export function decodeAttributes(data: Uint8Array, baseOffset = 0): Attribute[] {
  return [...new AttributeDecoder(data, baseOffset)];
}
