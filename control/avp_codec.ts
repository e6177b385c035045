/**
 * The per-attribute value codecs of the AVPs (RFC 2661 §4.4, RFC 3931 §5.4): length rules,
 * default M bit, whether the value may be hidden, and how each value is decoded, sized and
 * written. Re-exported by control/avp.ts.
 *
 * @example Usage
 * ```ts
 * import { avpCodec, avpName } from "./avp_codec.ts";
 * console.log(avpName(9), avpCodec(9).check(new Uint8Array(2))); // Assigned Tunnel ID null
 * ```
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
import type {
  AccmValue,
  AvpValueMap,
  BearerBits,
  CallErrorsValue,
  CircuitStatusValue,
  ExtendedVendorValue,
  FramingBits,
  MessageDigestValue,
  ProtocolVersionValue,
  Q931CauseValue,
  ResultCodeValue,
} from "./avp_values.ts";

/**
 * How a value check failed.
 *
 * @example Usage
 * ```ts
 * import { avpCodec, type AvpCheckFailure } from "./avp_codec.ts";
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
 * import { avpCodec, type AvpCodec } from "./avp_codec.ts";
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
 * import { avpCodec } from "./avp_codec.ts";
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
 * import { avpCodec } from "./avp_codec.ts";
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
 * import { neverHidden } from "./avp_codec.ts";
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
 * import { defaultMandatory } from "./avp_codec.ts";
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
 * import { avpName } from "./avp_codec.ts";
 * console.log(avpName(61)); // "Assigned Control Connection ID"
 * ```
 */
export function avpName(type: number): string {
  return avpCodec(type)?.name ?? `attribute ${type}`;
}
