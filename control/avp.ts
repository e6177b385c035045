/**
 * Attribute-Value Pairs: the AVP header (RFC 2661 §4.1, RFC 3931 §5.1), the typed value of
 * every IETF attribute this codec knows (RFC 2661 §4.4, RFC 3931 §5.4), and the per-attribute
 * value codecs (length rules, default M bit, whether the value may be hidden).
 *
 * AVPs are represented as the {@linkcode Avp} union: `kind: "ietf"` with a typed `value`
 * (narrowed by `type`), or a raw AVP (`"vendor"`, `"unknown"`, `"malformed"`) whose `value` is
 * the Attribute Value exactly as on the wire.
 *
 * @module
 */

import {
  readU16,
  readU32,
  readU64,
  readUtf8,
  utf8Length,
  writeU16,
  writeU32,
  writeU64,
  writeUtf8,
} from "./bytes.ts";
import { AvpType, type KnownAvpType } from "./constants.ts";
import type { L2tpVersion } from "./types.ts";

/**
 * Size of the AVP header: flags+length, Vendor ID, Attribute Type.
 *
 * @example Usage
 * ```ts
 * import { AVP_HEADER_LENGTH } from "./avp.ts";
 * console.log(AVP_HEADER_LENGTH); // 6
 * ```
 */
export const AVP_HEADER_LENGTH = 6;

/**
 * Largest AVP (the Length field has 10 bits).
 *
 * @example Usage
 * ```ts
 * import { AVP_MAX_LENGTH } from "./avp.ts";
 * console.log(AVP_MAX_LENGTH); // 1023
 * ```
 */
export const AVP_MAX_LENGTH = 1023;

/**
 * Bits of the first octet of an AVP header and the Length mask of the first 16-bit word.
 *
 * @example Usage
 * ```ts
 * import { AvpBits } from "./avp.ts";
 * console.log(AvpBits.MANDATORY, AvpBits.LENGTH_MASK); // 128 1023
 * ```
 */
export const AvpBits = {
  /** M bit (in the first octet). */
  MANDATORY: 0x80,
  /** H bit (in the first octet). */
  HIDDEN: 0x40,
  /** Length (in the first 16-bit word). */
  LENGTH_MASK: 0x03ff,
} as const;

/**
 * Result Code AVP (1): result code, optional error code and optional message.
 *
 * @example Usage
 * ```ts
 * import type { ResultCodeValue } from "./avp.ts";
 * const r: ResultCodeValue = { resultCode: 2, errorCode: 8, errorMessage: "unknown AVP 99" };
 * console.log(r.errorCode); // 8
 * ```
 */
export interface ResultCodeValue {
  /** Result Code (meaning depends on StopCCN or CDN). */
  resultCode: number;
  /** General error code, if present. */
  errorCode?: number;
  /** Human-readable error message (UTF-8), if present. */
  errorMessage?: string;
}

/**
 * Protocol Version AVP (2): 1 and 0 for L2TPv2.
 *
 * @example Usage
 * ```ts
 * import type { ProtocolVersionValue } from "./avp.ts";
 * const v: ProtocolVersionValue = { version: 1, revision: 0 };
 * console.log(v.version); // 1
 * ```
 */
export interface ProtocolVersionValue {
  /** Version. */
  version: number;
  /** Revision. */
  revision: number;
}

/**
 * Framing Capabilities (3) and Framing Type (19) bits.
 *
 * @example Usage
 * ```ts
 * import type { FramingBits } from "./avp.ts";
 * const f: FramingBits = { async: true, sync: true };
 * console.log(f.sync); // true
 * ```
 */
export interface FramingBits {
  /** A bit: asynchronous framing. */
  async: boolean;
  /** S bit: synchronous framing. */
  sync: boolean;
}

/**
 * Bearer Capabilities (4) and Bearer Type (18) bits.
 *
 * @example Usage
 * ```ts
 * import type { BearerBits } from "./avp.ts";
 * const b: BearerBits = { analog: true, digital: false };
 * console.log(b.analog); // true
 * ```
 */
export interface BearerBits {
  /** A bit: analog access. */
  analog: boolean;
  /** D bit: digital access. */
  digital: boolean;
}

/**
 * Q.931 Cause Code AVP (12).
 *
 * @example Usage
 * ```ts
 * import type { Q931CauseValue } from "./avp.ts";
 * const c: Q931CauseValue = { causeCode: 16, causeMessage: 0x5a, advisory: "normal" };
 * console.log(c.causeCode); // 16
 * ```
 */
export interface Q931CauseValue {
  /** Cause code. */
  causeCode: number;
  /** Cause message (the Q.931 message type). */
  causeMessage: number;
  /** Optional advisory text. */
  advisory?: string;
}

/**
 * Call Errors AVP (34; "Circuit Errors" in L2TPv3).
 *
 * @example Usage
 * ```ts
 * import type { CallErrorsValue } from "./avp.ts";
 * const e: CallErrorsValue = {
 *   crcErrors: 0, framingErrors: 0, hardwareOverruns: 1,
 *   bufferOverruns: 2, timeoutErrors: 3, alignmentErrors: 4,
 * };
 * console.log(e.timeoutErrors); // 3
 * ```
 */
export interface CallErrorsValue {
  /** CRC errors. */
  crcErrors: number;
  /** Framing errors. */
  framingErrors: number;
  /** Hardware overruns. */
  hardwareOverruns: number;
  /** Buffer overruns. */
  bufferOverruns: number;
  /** Time-out errors. */
  timeoutErrors: number;
  /** Alignment errors. */
  alignmentErrors: number;
}

/**
 * ACCM AVP (35).
 *
 * @example Usage
 * ```ts
 * import type { AccmValue } from "./avp.ts";
 * const a: AccmValue = { sendAccm: 0xffffffff, receiveAccm: 0 };
 * console.log(a.receiveAccm); // 0
 * ```
 */
export interface AccmValue {
  /** Send ACCM. */
  sendAccm: number;
  /** Receive ACCM. */
  receiveAccm: number;
}

/**
 * Extended Vendor ID AVP (58): a vendor AVP with a 32-bit vendor ID, kept opaque.
 *
 * @example Usage
 * ```ts
 * import type { ExtendedVendorValue } from "./avp.ts";
 * const x: ExtendedVendorValue = { vendorId: 70000, attributeType: 1, value: new Uint8Array([1]) };
 * console.log(x.vendorId); // 70000
 * ```
 */
export interface ExtendedVendorValue {
  /** 32-bit vendor ID. */
  vendorId: number;
  /** The vendor's attribute type. */
  attributeType: number;
  /** The vendor's attribute value. */
  value: Uint8Array;
}

/**
 * Message Digest AVP (59).
 *
 * @example Usage
 * ```ts
 * import type { MessageDigestValue } from "./avp.ts";
 * const d: MessageDigestValue = { digestType: 0, digest: new Uint8Array(16) };
 * console.log(d.digest.length); // 16
 * ```
 */
export interface MessageDigestValue {
  /** 0: HMAC-MD5 (16 bytes), 1: HMAC-SHA-1 (20 bytes). */
  digestType: number;
  /** The digest. */
  digest: Uint8Array;
}

/**
 * Circuit Status AVP (71).
 *
 * @example Usage
 * ```ts
 * import type { CircuitStatusValue } from "./avp.ts";
 * const s: CircuitStatusValue = { active: true, new: true };
 * console.log(s.active); // true
 * ```
 */
export interface CircuitStatusValue {
  /** A bit: the circuit is up. */
  active: boolean;
  /** N bit: this is a new circuit. */
  new: boolean;
}

/**
 * The value type of each known IETF attribute, keyed by attribute type.
 *
 * Byte values decoded from a datagram are views into it (no copy), except hidden ones.
 *
 * @example Usage
 * ```ts
 * import type { AvpValueMap } from "./avp.ts";
 * import { AvpType } from "./constants.ts";
 * const host: AvpValueMap[typeof AvpType.HostName] = "lns.example.net";
 * console.log(host); // lns.example.net
 * ```
 */
export interface AvpValueMap {
  /** Message Type. */
  0: number;
  /** Result Code. */
  1: ResultCodeValue;
  /** Protocol Version. */
  2: ProtocolVersionValue;
  /** Framing Capabilities. */
  3: FramingBits;
  /** Bearer Capabilities. */
  4: BearerBits;
  /** Tie Breaker (8 bytes, compared as an unsigned integer: lower wins). */
  5: bigint;
  /** Firmware Revision. */
  6: number;
  /** Host Name. */
  7: string;
  /** Vendor Name. */
  8: string;
  /** Assigned Tunnel ID. */
  9: number;
  /** Receive Window Size. */
  10: number;
  /** Challenge. */
  11: Uint8Array;
  /** Q.931 Cause Code. */
  12: Q931CauseValue;
  /** Challenge Response (16 bytes). */
  13: Uint8Array;
  /** Assigned Session ID. */
  14: number;
  /** Call Serial Number. */
  15: number;
  /** Minimum BPS. */
  16: number;
  /** Maximum BPS. */
  17: number;
  /** Bearer Type. */
  18: BearerBits;
  /** Framing Type. */
  19: FramingBits;
  /** Called Number. */
  21: string;
  /** Calling Number. */
  22: string;
  /** Sub-Address. */
  23: string;
  /** (Tx) Connect Speed. */
  24: number;
  /** Physical Channel ID. */
  25: number;
  /** Initial Received LCP CONFREQ. */
  26: Uint8Array;
  /** Last Sent LCP CONFREQ. */
  27: Uint8Array;
  /** Last Received LCP CONFREQ. */
  28: Uint8Array;
  /** Proxy Authen Type. */
  29: number;
  /** Proxy Authen Name. */
  30: string;
  /** Proxy Authen Challenge. */
  31: Uint8Array;
  /** Proxy Authen ID (the low octet of the 2-octet field). */
  32: number;
  /** Proxy Authen Response. */
  33: Uint8Array;
  /** Call Errors. */
  34: CallErrorsValue;
  /** ACCM. */
  35: AccmValue;
  /** Random Vector. */
  36: Uint8Array;
  /** Private Group ID. */
  37: Uint8Array;
  /** Rx Connect Speed. */
  38: number;
  /** Sequencing Required (no value). */
  39: null;
  /** Extended Vendor ID. */
  58: ExtendedVendorValue;
  /** Message Digest. */
  59: MessageDigestValue;
  /** Router ID. */
  60: number;
  /** Assigned Control Connection ID. */
  61: number;
  /** Pseudowire Capabilities List. */
  62: number[];
  /** Local Session ID. */
  63: number;
  /** Remote Session ID. */
  64: number;
  /** Assigned Cookie (0, 4 or 8 bytes). */
  65: Uint8Array;
  /** Remote End ID. */
  66: Uint8Array;
  /** Pseudowire Type. */
  68: number;
  /** L2-Specific Sublayer. */
  69: number;
  /** Data Sequencing. */
  70: number;
  /** Circuit Status. */
  71: CircuitStatusValue;
  /** Preferred Language. */
  72: string;
  /** Control Message Authentication Nonce. */
  73: Uint8Array;
  /** Tx Connect Speed (64-bit). */
  74: bigint;
  /** Rx Connect Speed (64-bit). */
  75: bigint;
}

/**
 * A known IETF AVP with its typed value; `type` narrows `value`.
 *
 * @example Usage
 * ```ts
 * import type { IetfAvp } from "./avp.ts";
 * import { AvpType } from "./constants.ts";
 * function hostName(a: IetfAvp): string | undefined {
 *   return a.type === AvpType.HostName ? a.value : undefined;
 * }
 * console.log(hostName({ kind: "ietf", vendorId: 0, type: AvpType.HostName, value: "lac",
 *   mandatory: true, hidden: false })); // lac
 * ```
 */
export type IetfAvp = {
  [T in KnownAvpType]: {
    /** Discriminant. */
    kind: "ietf";
    /** IETF AVPs have Vendor ID 0. */
    vendorId: 0;
    /** Attribute Type. */
    type: T;
    /** Decoded (and unhidden) value. */
    value: AvpValueMap[T];
    /** M bit. */
    mandatory: boolean;
    /** H bit as received (the value is already revealed). */
    hidden: boolean;
  };
}[KnownAvpType];

/**
 * An AVP kept as bytes: a vendor AVP (Vendor ID not 0), an IETF attribute this codec does not
 * know, or (with `ignoreMalformed`) a known AVP whose value is malformed and whose M bit is clear.
 * `value` is the Attribute Value as on the wire (still hidden if `hidden`).
 *
 * @example Usage
 * ```ts
 * import type { RawAvp } from "./avp.ts";
 * const a: RawAvp = { kind: "vendor", vendorId: 9, type: 1, value: new Uint8Array(4), mandatory: false, hidden: false };
 * console.log(a.kind); // vendor
 * ```
 */
export interface RawAvp {
  /** Why the AVP is kept raw. */
  kind: "vendor" | "unknown" | "malformed";
  /** Vendor ID. */
  vendorId: number;
  /** Attribute Type. */
  type: number;
  /** Attribute Value as on the wire. */
  value: Uint8Array;
  /** M bit. */
  mandatory: boolean;
  /** H bit (the value is then still hidden). */
  hidden: boolean;
}

/**
 * A decoded AVP.
 *
 * @example Usage
 * ```ts
 * import type { Avp } from "./avp.ts";
 * function describe(a: Avp): string {
 *   return a.kind === "ietf" ? `IETF ${a.type}` : `${a.kind} ${a.vendorId}/${a.type}`;
 * }
 * console.log(describe({ kind: "vendor", vendorId: 9, type: 1, value: new Uint8Array(0),
 *   mandatory: false, hidden: false })); // vendor 9/1
 * ```
 */
export type Avp = IetfAvp | RawAvp;

/**
 * A known IETF AVP to encode. `mandatory` defaults to what the RFC says for the attribute;
 * `hidden: true` hides the value (a shared secret is then required).
 *
 * @example Usage
 * ```ts
 * import type { IetfAvpInput } from "./avp.ts";
 * import { AvpType } from "./constants.ts";
 * const a: IetfAvpInput = { type: AvpType.AssignedTunnelId, value: 42, hidden: true };
 * console.log(a.value); // 42
 * ```
 */
export type IetfAvpInput = {
  [T in KnownAvpType]: {
    /** Optional discriminant (decoded AVPs carry it). */
    kind?: "ietf";
    /** IETF AVPs have Vendor ID 0. */
    vendorId?: 0;
    /** Attribute Type. */
    type: T;
    /** Cleartext value. */
    value: AvpValueMap[T];
    /** M bit; defaults to the RFC's setting for the attribute. */
    mandatory?: boolean;
    /** Hide the value (RFC 2661 §4.3 / RFC 3931 §5.3). */
    hidden?: boolean;
  };
}[KnownAvpType];

/**
 * A raw AVP to encode verbatim: header bits as given, value bytes as given (no hiding is
 * applied even if `hidden` is set: the value is taken to be hidden already).
 *
 * @example Usage
 * ```ts
 * import type { RawAvpInput } from "./avp.ts";
 * const a: RawAvpInput = { kind: "vendor", vendorId: 311, type: 1, value: new Uint8Array([1]) };
 * console.log(a.vendorId); // 311
 * ```
 */
export interface RawAvpInput {
  /** Discriminant. */
  kind: "vendor" | "unknown" | "malformed";
  /** Vendor ID. */
  vendorId: number;
  /** Attribute Type. */
  type: number;
  /** Attribute Value bytes. */
  value: Uint8Array;
  /** M bit (default false). */
  mandatory?: boolean;
  /** H bit (default false). */
  hidden?: boolean;
}

/**
 * An AVP to encode; decoded {@linkcode Avp} objects are accepted as they are.
 *
 * @example Usage
 * ```ts
 * import type { AvpInput } from "./avp.ts";
 * import { AvpType } from "./constants.ts";
 * const avps: AvpInput[] = [
 *   { type: AvpType.HostName, value: "lac" },
 *   { kind: "vendor", vendorId: 9, type: 1, value: new Uint8Array([0]) },
 * ];
 * console.log(avps.length); // 2
 * ```
 */
export type AvpInput = IetfAvpInput | RawAvpInput;

/**
 * How a value check failed.
 *
 * @example Usage
 * ```ts
 * import { avpCodec, type AvpCheckFailure } from "./avp.ts";
 * const f: AvpCheckFailure | null = avpCodec(9).check(new Uint8Array(3)); // "bad-avp-length"
 * console.log(f); // bad-avp-length
 * ```
 */
export type AvpCheckFailure = "bad-avp-length" | "bad-avp-value";

/**
 * How one attribute's value is decoded, sized and written.
 *
 * @typeParam V The value type.
 *
 * @example Usage
 * ```ts
 * import { avpCodec, type AvpCodec } from "./avp.ts";
 * const c: AvpCodec<number> = avpCodec(10);
 * const out = new Uint8Array(c.size(4));
 * c.write(4, out, 0);
 * console.log(c.decode(out)); // 4
 * ```
 */
export interface AvpCodec<V> {
  /** Attribute name, for errors and logs. */
  name: string;
  /** Default M bit per version. */
  mandatory: { v2: boolean; v3: boolean };
  /** Whether the RFCs allow the value to be hidden. */
  hideable: boolean;
  /** Validates a received value; `null` if it is well formed. */
  check(b: Uint8Array): AvpCheckFailure | null;
  /** Decodes a value that passed {@linkcode AvpCodec.check}. */
  decode(b: Uint8Array): V;
  /** Encoded size of a value; throws RangeError/TypeError for values that cannot be encoded. */
  size(v: V): number;
  /** Writes a value at `o` (exactly `size(v)` bytes). */
  write(v: V, out: Uint8Array, o: number): void;
}

type CodecTable = { readonly [T in KnownAvpType]: AvpCodec<AvpValueMap[T]> };

function m(v2: boolean, v3: boolean = v2): { v2: boolean; v3: boolean } {
  return { v2, v3 };
}

function fail(name: string, detail: string): never {
  throw new RangeError(`Cannot encode AVP ${name}: ${detail}`);
}

function checkInt(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) fail(name, `${v} is not an integer in 0..${max}`);
}

function lengthIs(n: number): (b: Uint8Array) => AvpCheckFailure | null {
  return (b) => b.length === n ? null : "bad-avp-length";
}

function lengthAtLeast(n: number): (b: Uint8Array) => AvpCheckFailure | null {
  return (b) => b.length >= n ? null : "bad-avp-length";
}

function u8in16(name: string, mand: { v2: boolean; v3: boolean }, hideable: boolean): AvpCodec<
  number
> {
  return {
    name,
    mandatory: mand,
    hideable,
    check: lengthIs(2),
    decode: (b) => b[1],
    size: (v) => (checkInt(name, v, 0xff), 2),
    write: (v, out, o) => {
      out[o] = 0;
      out[o + 1] = v;
    },
  };
}

/** An unsigned integer value of 2 or 4 bytes, network order. */
function uint(
  bytes: 2 | 4,
  name: string,
  mand: { v2: boolean; v3: boolean },
  hideable: boolean,
): AvpCodec<number> {
  const max = bytes === 2 ? 0xffff : 0xffffffff;
  return {
    name,
    mandatory: mand,
    hideable,
    check: lengthIs(bytes),
    decode: bytes === 2 ? (b) => readU16(b, 0) : (b) => readU32(b, 0),
    size: (v) => (checkInt(name, v, max), bytes),
    write: bytes === 2 ? (v, out, o) => writeU16(out, o, v) : (v, out, o) => writeU32(out, o, v),
  };
}

function u16(name: string, mand: { v2: boolean; v3: boolean }, hideable: boolean): AvpCodec<
  number
> {
  return uint(2, name, mand, hideable);
}

function u32(name: string, mand: { v2: boolean; v3: boolean }, hideable: boolean): AvpCodec<
  number
> {
  return uint(4, name, mand, hideable);
}

function u64(name: string, mand: { v2: boolean; v3: boolean }, hideable: boolean): AvpCodec<
  bigint
> {
  return {
    name,
    mandatory: mand,
    hideable,
    check: lengthIs(8),
    decode: (b) => readU64(b, 0),
    size: (v) => {
      if (typeof v !== "bigint" || v < 0n || v > 0xffffffffffffffffn) {
        fail(name, `${v} is not a 64-bit unsigned bigint`);
      }
      return 8;
    },
    write: (v, out, o) => writeU64(out, o, v),
  };
}

function bytes(
  name: string,
  mand: { v2: boolean; v3: boolean },
  hideable: boolean,
  check: (b: Uint8Array) => AvpCheckFailure | null = () => null,
): AvpCodec<Uint8Array> {
  return {
    name,
    mandatory: mand,
    hideable,
    check,
    decode: (b) => b,
    size: (v) => {
      if (!(v instanceof Uint8Array)) fail(name, "value is not a Uint8Array");
      if (check(v) !== null) fail(name, `${v.length}-byte value is not allowed`);
      return v.length;
    },
    write: (v, out, o) => out.set(v, o),
  };
}

function text(
  name: string,
  mand: { v2: boolean; v3: boolean },
  hideable: boolean,
  min = 0,
): AvpCodec<string> {
  return {
    name,
    mandatory: mand,
    hideable,
    check: lengthAtLeast(min),
    decode: readUtf8,
    size: (v) => {
      if (typeof v !== "string") fail(name, "value is not a string");
      const n = utf8Length(v);
      if (n < min) fail(name, `value shorter than ${min} bytes`);
      return n;
    },
    write: (v, out, o) => {
      writeUtf8(v, out, o);
    },
  };
}

function framing(name: string): AvpCodec<FramingBits> {
  return {
    name,
    mandatory: m(true),
    hideable: true,
    check: lengthIs(4),
    decode: (b) => ({ async: (b[3] & 2) !== 0, sync: (b[3] & 1) !== 0 }),
    size: () => 4,
    write: (v, out, o) => writeU32(out, o, (v.async ? 2 : 0) | (v.sync ? 1 : 0)),
  };
}

function bearer(name: string): AvpCodec<BearerBits> {
  return {
    name,
    mandatory: m(true),
    hideable: true,
    check: lengthIs(4),
    decode: (b) => ({ analog: (b[3] & 2) !== 0, digital: (b[3] & 1) !== 0 }),
    size: () => 4,
    write: (v, out, o) => writeU32(out, o, (v.analog ? 2 : 0) | (v.digital ? 1 : 0)),
  };
}

const resultCode: AvpCodec<ResultCodeValue> = {
  name: "Result Code",
  mandatory: m(true),
  hideable: false,
  check: (b) => (b.length === 2 || b.length >= 4) ? null : "bad-avp-length",
  decode: (b) => {
    const v: ResultCodeValue = { resultCode: readU16(b, 0) };
    if (b.length >= 4) v.errorCode = readU16(b, 2);
    if (b.length > 4) v.errorMessage = readUtf8(b.subarray(4));
    return v;
  },
  size: (v) => {
    checkInt("Result Code", v.resultCode, 0xffff);
    if (v.errorCode !== undefined) checkInt("Result Code", v.errorCode, 0xffff);
    if (v.errorCode === undefined && v.errorMessage === undefined) return 2;
    return 4 + (v.errorMessage === undefined ? 0 : utf8Length(v.errorMessage));
  },
  write: (v, out, o) => {
    writeU16(out, o, v.resultCode);
    if (v.errorCode === undefined && v.errorMessage === undefined) return;
    writeU16(out, o + 2, v.errorCode ?? 0);
    if (v.errorMessage !== undefined) writeUtf8(v.errorMessage, out, o + 4);
  },
};

const protocolVersion: AvpCodec<ProtocolVersionValue> = {
  name: "Protocol Version",
  mandatory: m(true),
  hideable: false,
  check: lengthIs(2),
  decode: (b) => ({ version: b[0], revision: b[1] }),
  size: (v) => {
    checkInt("Protocol Version", v.version, 0xff);
    checkInt("Protocol Version", v.revision, 0xff);
    return 2;
  },
  write: (v, out, o) => {
    out[o] = v.version;
    out[o + 1] = v.revision;
  },
};

const q931: AvpCodec<Q931CauseValue> = {
  name: "Q.931 Cause Code",
  mandatory: m(true),
  hideable: true,
  check: lengthAtLeast(3),
  decode: (b) => {
    const v: Q931CauseValue = { causeCode: readU16(b, 0), causeMessage: b[2] };
    if (b.length > 3) v.advisory = readUtf8(b.subarray(3));
    return v;
  },
  size: (v) => {
    checkInt("Q.931 Cause Code", v.causeCode, 0xffff);
    checkInt("Q.931 Cause Code", v.causeMessage, 0xff);
    return 3 + (v.advisory === undefined ? 0 : utf8Length(v.advisory));
  },
  write: (v, out, o) => {
    writeU16(out, o, v.causeCode);
    out[o + 2] = v.causeMessage;
    if (v.advisory !== undefined) writeUtf8(v.advisory, out, o + 3);
  },
};

const CALL_ERROR_FIELDS = [
  "crcErrors",
  "framingErrors",
  "hardwareOverruns",
  "bufferOverruns",
  "timeoutErrors",
  "alignmentErrors",
] as const;

const callErrors: AvpCodec<CallErrorsValue> = {
  name: "Call Errors",
  mandatory: m(true, false),
  hideable: true,
  check: lengthIs(26),
  decode: (b) => ({
    crcErrors: readU32(b, 2),
    framingErrors: readU32(b, 6),
    hardwareOverruns: readU32(b, 10),
    bufferOverruns: readU32(b, 14),
    timeoutErrors: readU32(b, 18),
    alignmentErrors: readU32(b, 22),
  }),
  size: (v) => {
    for (const f of CALL_ERROR_FIELDS) checkInt("Call Errors", v[f], 0xffffffff);
    return 26;
  },
  write: (v, out, o) => {
    writeU16(out, o, 0);
    CALL_ERROR_FIELDS.forEach((f, i) => writeU32(out, o + 2 + 4 * i, v[f]));
  },
};

const accm: AvpCodec<AccmValue> = {
  name: "ACCM",
  mandatory: m(true),
  hideable: true,
  check: lengthIs(10),
  decode: (b) => ({ sendAccm: readU32(b, 2), receiveAccm: readU32(b, 6) }),
  size: (v) => {
    checkInt("ACCM", v.sendAccm, 0xffffffff);
    checkInt("ACCM", v.receiveAccm, 0xffffffff);
    return 10;
  },
  write: (v, out, o) => {
    writeU16(out, o, 0);
    writeU32(out, o + 2, v.sendAccm);
    writeU32(out, o + 6, v.receiveAccm);
  },
};

const sequencingRequired: AvpCodec<null> = {
  name: "Sequencing Required",
  mandatory: m(true),
  hideable: false,
  check: lengthIs(0),
  decode: () => null,
  size: () => 0,
  write: () => {},
};

const extendedVendor: AvpCodec<ExtendedVendorValue> = {
  name: "Extended Vendor ID",
  mandatory: m(false),
  hideable: true,
  check: lengthAtLeast(6),
  decode: (b) => ({
    vendorId: readU32(b, 0),
    attributeType: readU16(b, 4),
    value: b.subarray(6),
  }),
  size: (v) => {
    checkInt("Extended Vendor ID", v.vendorId, 0xffffffff);
    checkInt("Extended Vendor ID", v.attributeType, 0xffff);
    return 6 + v.value.length;
  },
  write: (v, out, o) => {
    writeU32(out, o, v.vendorId);
    writeU16(out, o + 4, v.attributeType);
    out.set(v.value, o + 6);
  },
};

const messageDigest: AvpCodec<MessageDigestValue> = {
  name: "Message Digest",
  mandatory: m(true),
  hideable: false,
  check: (b) => {
    if (b.length !== 17 && b.length !== 21) return "bad-avp-length";
    return (b[0] === 0 && b.length === 17) || (b[0] === 1 && b.length === 21)
      ? null
      : "bad-avp-value";
  },
  decode: (b) => ({ digestType: b[0], digest: b.subarray(1) }),
  size: (v) => {
    const want = v.digestType === 0 ? 16 : v.digestType === 1 ? 20 : -1;
    if (want < 0) fail("Message Digest", `unknown digest type ${v.digestType}`);
    if (v.digest.length !== want) {
      fail("Message Digest", `digest type ${v.digestType} needs ${want} bytes`);
    }
    return 1 + want;
  },
  write: (v, out, o) => {
    out[o] = v.digestType;
    out.set(v.digest, o + 1);
  },
};

const pwCapabilities: AvpCodec<number[]> = {
  name: "Pseudowire Capabilities List",
  mandatory: m(true),
  hideable: true,
  check: (b) => (b.length >= 2 && b.length % 2 === 0) ? null : "bad-avp-length",
  decode: (b) => {
    const list: number[] = [];
    for (let i = 0; i < b.length; i += 2) list.push(readU16(b, i));
    return list;
  },
  size: (v) => {
    if (v.length === 0) fail("Pseudowire Capabilities List", "the list is empty");
    for (const t of v) checkInt("Pseudowire Capabilities List", t, 0xffff);
    return 2 * v.length;
  },
  write: (v, out, o) => v.forEach((t, i) => writeU16(out, o + 2 * i, t)),
};

const circuitStatus: AvpCodec<CircuitStatusValue> = {
  name: "Circuit Status",
  mandatory: m(true),
  hideable: true,
  check: lengthIs(2),
  decode: (b) => ({ active: (b[1] & 1) !== 0, new: (b[1] & 2) !== 0 }),
  size: () => 2,
  write: (v, out, o) => writeU16(out, o, (v.new ? 2 : 0) | (v.active ? 1 : 0)),
};

const cookieCheck = (b: Uint8Array): AvpCheckFailure | null =>
  b.length === 0 || b.length === 4 || b.length === 8 ? null : "bad-avp-length";

/**
 * The codec of every known IETF attribute. M bits follow RFC 2661 §4.4 for L2TPv2 and the
 * "SHOULD" settings of RFC 3931 §5.4 for L2TPv3.
 */
const CODECS: CodecTable = {
  0: u16("Message Type", m(true), false),
  1: resultCode,
  2: protocolVersion,
  3: framing("Framing Capabilities"),
  4: bearer("Bearer Capabilities"),
  5: u64("Tie Breaker", m(false, true), false),
  6: u16("Firmware Revision", m(false), true),
  7: text("Host Name", m(true), false, 1),
  8: text("Vendor Name", m(false), true),
  9: u16("Assigned Tunnel ID", m(true), true),
  10: u16("Receive Window Size", m(true), false),
  11: bytes("Challenge", m(true), true, lengthAtLeast(1)),
  12: q931,
  13: bytes("Challenge Response", m(true), true, lengthIs(16)),
  14: u16("Assigned Session ID", m(true), true),
  15: u32("Call Serial Number", m(true, false), true),
  16: u32("Minimum BPS", m(true), true),
  17: u32("Maximum BPS", m(true), true),
  18: bearer("Bearer Type"),
  19: framing("Framing Type"),
  21: text("Called Number", m(true), true),
  22: text("Calling Number", m(true), true),
  23: text("Sub-Address", m(true), true),
  24: u32("Tx Connect Speed", m(true), true),
  25: u32("Physical Channel ID", m(false), true),
  26: bytes("Initial Received LCP CONFREQ", m(false), true),
  27: bytes("Last Sent LCP CONFREQ", m(false), true),
  28: bytes("Last Received LCP CONFREQ", m(false), true),
  29: u16("Proxy Authen Type", m(false), true),
  30: text("Proxy Authen Name", m(false), true),
  31: bytes("Proxy Authen Challenge", m(false), true),
  32: u8in16("Proxy Authen ID", m(false), true),
  33: bytes("Proxy Authen Response", m(false), true),
  34: callErrors,
  35: accm,
  36: bytes("Random Vector", m(true), false),
  37: bytes("Private Group ID", m(false), true),
  38: u32("Rx Connect Speed", m(false), true),
  39: sequencingRequired,
  58: extendedVendor,
  59: messageDigest,
  60: u32("Router ID", m(true), false),
  61: u32("Assigned Control Connection ID", m(true), true),
  62: pwCapabilities,
  63: u32("Local Session ID", m(true), true),
  64: u32("Remote Session ID", m(true), true),
  65: bytes("Assigned Cookie", m(true), true, cookieCheck),
  66: bytes("Remote End ID", m(true), true),
  68: u16("Pseudowire Type", m(true), true),
  69: u16("L2-Specific Sublayer", m(true), true),
  70: u16("Data Sequencing", m(true), true),
  71: circuitStatus,
  72: text("Preferred Language", m(false), true),
  73: bytes("Control Message Authentication Nonce", m(true), false),
  74: u64("Tx Connect Speed", m(false), true),
  75: u64("Rx Connect Speed", m(false), true),
};

/** Attributes whose H bit is never accepted: hiding depends on them or they are read raw. */
const NEVER_HIDDEN: ReadonlySet<number> = new Set([
  AvpType.MessageType,
  AvpType.RandomVector,
  AvpType.MessageDigest,
  AvpType.ControlMessageAuthNonce,
]);

/**
 * The codec of a known IETF attribute, or `undefined`.
 *
 * @param type Attribute Type (Vendor ID 0).
 * @returns The codec.
 *
 * @example Usage
 * ```ts
 * import { avpCodec } from "./avp.ts";
 * console.log(avpCodec(7)?.name); // "Host Name"
 * ```
 */
export function avpCodec<T extends KnownAvpType>(type: T): AvpCodec<AvpValueMap[T]>;
/**
 * The codec of an attribute type, or `undefined` if unknown.
 *
 * @param type Attribute Type (Vendor ID 0).
 * @returns The codec.
 *
 * @example Usage
 * ```ts
 * import { avpCodec } from "./avp.ts";
 * const t: number = 200;
 * console.log(avpCodec(t)); // undefined
 * ```
 */
export function avpCodec(type: number): AvpCodec<unknown> | undefined;
export function avpCodec(type: number): AvpCodec<unknown> | undefined {
  return Object.hasOwn(CODECS, type)
    ? (CODECS as Readonly<Record<number, AvpCodec<unknown>>>)[type]
    : undefined;
}

/**
 * Whether the H bit may never be set on an attribute (Message Type, Random Vector, Message
 * Digest, Control Message Authentication Nonce).
 *
 * @param type Attribute Type (Vendor ID 0).
 * @returns `true` if a hidden instance is malformed.
 *
 * @example Usage
 * ```ts
 * import { neverHidden } from "./avp.ts";
 * console.log(neverHidden(36), neverHidden(9)); // true false
 * ```
 */
export function neverHidden(type: number): boolean {
  return NEVER_HIDDEN.has(type);
}

/**
 * The RFC's M bit for an attribute in a given protocol version (unknown attributes: `false`).
 *
 * @param type Attribute Type (Vendor ID 0).
 * @param version Protocol version.
 * @returns The default M bit.
 *
 * @example Usage
 * ```ts
 * import { defaultMandatory } from "./avp.ts";
 * console.log(defaultMandatory(5, 2), defaultMandatory(5, 3)); // false true
 * ```
 */
export function defaultMandatory(type: number, version: L2tpVersion): boolean {
  const c = avpCodec(type);
  return c === undefined ? false : version === 2 ? c.mandatory.v2 : c.mandatory.v3;
}

/**
 * A readable attribute name ("Host Name"), or `"attribute N"` if unknown.
 *
 * @param type Attribute Type (Vendor ID 0).
 * @returns The name.
 *
 * @example Usage
 * ```ts
 * import { avpName } from "./avp.ts";
 * console.log(avpName(61)); // "Assigned Control Connection ID"
 * ```
 */
export function avpName(type: number): string {
  return avpCodec(type)?.name ?? `attribute ${type}`;
}
