/**
 * Attribute-Value Pairs: the AVP header (RFC 2661 §4.1, RFC 3931 §5.1) and the representation of
 * decoded AVPs and of AVPs to encode.
 *
 * AVPs are represented as the {@linkcode Avp} union: `kind: "ietf"` with a typed `value`
 * (narrowed by `type`), or a raw AVP (`"vendor"`, `"unknown"`, `"malformed"`) whose `value` is
 * the Attribute Value exactly as on the wire.
 *
 * This module is also the entry for the rest of the AVP vocabulary, which it re-exports: the
 * typed value of every IETF attribute this codec knows (RFC 2661 §4.4, RFC 3931 §5.4;
 * control/avp_values.ts) and the per-attribute value codecs (length rules, default M bit,
 * whether the value may be hidden; control/avp_codec.ts).
 *
 * @module
 */

import type { KnownAvpType } from "./constants.ts";
import type { AvpValueMap } from "./avp_values.ts";

export type * from "./avp_values.ts";
export {
  type AvpCheckFailure,
  type AvpCodec,
  avpCodec,
  avpName,
  defaultMandatory,
  neverHidden,
} from "./avp_codec.ts";

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
