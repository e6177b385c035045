/**
 * The typed values of the structured IETF attributes (RFC 2661 §4.4, RFC 3931 §5.4) and
 * {@linkcode AvpValueMap}, the value type of every known attribute keyed by its Attribute Type.
 * Re-exported by control/avp.ts.
 *
 * @example Usage
 * ```ts
 * import type { AvpValueMap, ResultCodeValue } from "./avp_values.ts";
 * const r: ResultCodeValue = { resultCode: 1 };
 * const window: AvpValueMap[10] = 16;
 * console.log(r.resultCode, window); // 1 16
 * ```
 *
 * @module
 */

/**
 * Result Code AVP (1): result code, optional error code and optional message.
 *
 * @example Usage
 * ```ts
 * import type { ResultCodeValue } from "./avp_values.ts";
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
 * import type { ProtocolVersionValue } from "./avp_values.ts";
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
 * import type { FramingBits } from "./avp_values.ts";
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
 * import type { BearerBits } from "./avp_values.ts";
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
 * import type { Q931CauseValue } from "./avp_values.ts";
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
 * import type { CallErrorsValue } from "./avp_values.ts";
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
 * import type { AccmValue } from "./avp_values.ts";
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
 * import type { ExtendedVendorValue } from "./avp_values.ts";
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
 * import type { MessageDigestValue } from "./avp_values.ts";
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
 * import type { CircuitStatusValue } from "./avp_values.ts";
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
 * import type { AvpValueMap } from "./avp_values.ts";
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
