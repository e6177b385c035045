/**
 * Typed errors of the L2TP control-message codec.
 *
 * Every malformed input becomes a {@linkcode ParseError} with a machine-readable
 * {@linkcode ParseErrorReason} and the byte offset where the problem was found. Two subclasses
 * carry what a caller needs to act as RFC 2661 §4.1 / RFC 3931 §5.2 require:
 * {@linkcode UnknownAvpError} (an unrecognised AVP with the M bit set: tear the session or the
 * tunnel down) and {@linkcode UnknownMessageTypeError} (a Message Type this codec does not know).
 * {@linkcode MalformedMessageError} is what the reliable transport (control/transport.ts) makes of
 * any other failure of a message it took in sequence (RFC 2661 §7.1, RFC 3931 §7.1).
 *
 * @module
 */

import type { ControlHeader, ControlMessage } from "./message_types.ts";

/**
 * Why a datagram could not be decoded.
 *
 * - `truncated`: fewer bytes than a header or an AVP header needs.
 * - `bad-version`: the Ver field is neither 2 nor 3 (or not the one the caller expects).
 * - `bad-header-flags`: a control message without the L and S bits, or with the O bit.
 * - `length-mismatch`: the header Length field disagrees with the datagram size.
 * - `not-control`: a data message was given to the control decoder.
 * - `bad-ip-prefix`: an L2TPv3-over-IP control packet whose first 4 bytes are not zero.
 * - `avp-too-short`: an AVP Length below 6.
 * - `avp-overrun`: an AVP running past the end of the message.
 * - `bad-avp-length`: a value length that the attribute type does not allow.
 * - `bad-avp-value`: a value that is out of range for its attribute (e.g. unknown digest type).
 * - `first-avp-not-message-type`: the first AVP is not the Message Type AVP.
 * - `unknown-message-type`: see {@linkcode UnknownMessageTypeError}.
 * - `unknown-mandatory-avp`: see {@linkcode UnknownAvpError}.
 * - `hidden-not-allowed`: the H bit on an AVP that can never be hidden (Message Type, Random
 *   Vector, Message Digest, Control Message Authentication Nonce).
 * - `hidden-without-random-vector`: a hidden AVP with no Random Vector AVP before it.
 * - `hidden-without-secret`: a hidden AVP but no shared secret was supplied.
 * - `bad-hidden-length`: the unhidden original length does not fit (usually a wrong secret).
 * - `missing-avp`: an AVP the caller required is absent.
 * - `missing-digest`: message authentication is on but no Message Digest AVP is present.
 * - `bad-digest`: the Message Digest does not verify.
 *
 * @example Usage
 * ```ts
 * import { ParseError, type ParseErrorReason } from "./errors.ts";
 * function reasonOf(e: unknown): ParseErrorReason | undefined {
 *   return e instanceof ParseError ? e.reason : undefined;
 * }
 * console.log(reasonOf(new ParseError("truncated", 0, "short"))); // truncated
 * ```
 */
export type ParseErrorReason =
  | "truncated"
  | "bad-version"
  | "bad-header-flags"
  | "length-mismatch"
  | "not-control"
  | "bad-ip-prefix"
  | "avp-too-short"
  | "avp-overrun"
  | "bad-avp-length"
  | "bad-avp-value"
  | "first-avp-not-message-type"
  | "unknown-message-type"
  | "unknown-mandatory-avp"
  | "hidden-not-allowed"
  | "hidden-without-random-vector"
  | "hidden-without-secret"
  | "bad-hidden-length"
  | "missing-avp"
  | "missing-digest"
  | "bad-digest";

/**
 * A datagram that is not a well-formed L2TP message.
 *
 * @example Usage
 * ```ts
 * import { ParseError } from "./errors.ts";
 * import { decodeControl } from "./message.ts";
 * try {
 *   decodeControl(new Uint8Array([0xc8]));
 * } catch (e) {
 *   if (e instanceof ParseError) console.log(e.reason, e.offset); // "truncated" 0
 * }
 * ```
 */
export class ParseError extends Error {
  /** Machine-readable cause. */
  readonly reason: ParseErrorReason;
  /** Byte offset (from the start of the control message header) where the problem lies. */
  readonly offset: number;

  /**
   * Creates a parse error.
   *
   * @param reason Machine-readable cause.
   * @param offset Byte offset of the problem.
   * @param detail Human-readable detail, appended to "Cannot decode L2TP message: ".
   */
  constructor(reason: ParseErrorReason, offset: number, detail: string) {
    super(`Cannot decode L2TP message: ${detail} (${reason} at offset ${offset})`);
    this.name = "ParseError";
    this.reason = reason;
    this.offset = offset;
  }
}

/**
 * Which context an unrecognised mandatory AVP tears down (RFC 2661 §4.1, RFC 3931 §5.2).
 *
 * @example Usage
 * ```ts
 * import type { TeardownScope } from "./errors.ts";
 * const scope: TeardownScope = "session"; // answer with a CDN
 * console.log(scope); // session
 * ```
 */
export type TeardownScope = "session" | "tunnel";

/**
 * An unrecognised AVP with the M bit set.
 *
 * RFC 3931 §5.2 (and RFC 2661 §4.1): in a session message (ICRQ, ICRP, ICCN, OCRQ, OCRP,
 * OCCN, CDN, WEN, SLI) the session MUST be closed with a CDN; in a control-connection message
 * the tunnel MUST be closed with a StopCCN; both carry Result Code 2 and Error Code 8, with the
 * offending attribute named in the Error Message. This error says which, and carries the fully
 * decoded message (the unknown AVP included) so the caller can find the IDs to answer with.
 *
 * @example Usage
 * ```ts
 * import { UnknownAvpError } from "./errors.ts";
 * import { decodeControl, encodeControl } from "./message.ts";
 * const datagram = encodeControl({ version: 2, tunnelId: 7, ns: 0, nr: 0, type: 6, avps: [
 *   { kind: "unknown", vendorId: 0, type: 200, value: new Uint8Array(2), mandatory: true },
 * ] });
 * try {
 *   decodeControl(datagram);
 * } catch (e) {
 *   if (e instanceof UnknownAvpError) {
 *     // e.scope === "session" -> send CDN; "tunnel" -> send StopCCN
 *     console.log(e.scope, e.resultCode, e.errorCode, e.errorMessage);
 *   }
 * }
 * ```
 */
export class UnknownAvpError extends ParseError {
  /** Session messages close the session (CDN); all others close the tunnel (StopCCN). */
  readonly scope: TeardownScope;
  /** Result Code to send: 2 (general error, see Error Code). */
  readonly resultCode: number;
  /** Error Code to send: 8 (unknown AVP with the M bit set). */
  readonly errorCode: number;
  /** Error Message to send, naming the offending attribute. */
  readonly errorMessage: string;
  /** Vendor ID of the offending AVP. */
  readonly vendorId: number;
  /** Attribute Type of the offending AVP. */
  readonly attributeType: number;
  /** The whole message, decoded, with the unknown AVP kept as a raw AVP. */
  readonly decoded: ControlMessage;

  /**
   * Creates the error.
   *
   * @param offset Offset of the offending AVP.
   * @param scope What must be torn down.
   * @param vendorId Vendor ID of the AVP.
   * @param attributeType Attribute Type of the AVP.
   * @param decoded The decoded message.
   */
  constructor(
    offset: number,
    scope: TeardownScope,
    vendorId: number,
    attributeType: number,
    decoded: ControlMessage,
  ) {
    const text = `unknown mandatory AVP: vendor ${vendorId} type ${attributeType}`;
    super("unknown-mandatory-avp", offset, text);
    this.name = "UnknownAvpError";
    this.scope = scope;
    this.resultCode = 2;
    this.errorCode = 8;
    this.errorMessage = text;
    this.vendorId = vendorId;
    this.attributeType = attributeType;
    this.decoded = decoded;
  }
}

/**
 * A Message Type this codec does not know (a reserved or future IETF type, or any
 * vendor-specific type).
 *
 * RFC 3931 §5.4.1: with the M bit set on the Message Type AVP the control connection MUST be
 * cleared; without it the message may be ignored (it still occupies a sequence number and must
 * be acknowledged by the transport).
 *
 * @example Usage
 * ```ts
 * import { UnknownMessageTypeError } from "./errors.ts";
 * import { decodeControl } from "./message.ts";
 * // Message Type 99 without the M bit.
 * const header = [0xc8, 2, 0, 20, 0, 7, 0, 0, 0, 0, 0, 0];
 * const datagram = new Uint8Array([...header, 0, 8, 0, 0, 0, 0, 0, 99]);
 * try {
 *   decodeControl(datagram);
 * } catch (e) {
 *   if (e instanceof UnknownMessageTypeError && !e.mandatory) {
 *     console.log("acknowledge and ignore type", e.messageType); // acknowledge and ignore type 99
 *   }
 * }
 * ```
 */
export class UnknownMessageTypeError extends ParseError {
  /** The Message Type value. */
  readonly messageType: number;
  /** Vendor ID of the Message Type AVP (non-zero for vendor-specific messages). */
  readonly vendorId: number;
  /** Whether the M bit was set (the control connection must then be cleared). */
  readonly mandatory: boolean;
  /** The parsed control header. */
  readonly header: ControlHeader;

  /**
   * Creates the error.
   *
   * @param offset Offset of the Message Type AVP.
   * @param messageType The Message Type value.
   * @param vendorId Vendor ID of the Message Type AVP.
   * @param mandatory Whether the M bit was set.
   * @param header The parsed control header.
   */
  constructor(
    offset: number,
    messageType: number,
    vendorId: number,
    mandatory: boolean,
    header: ControlHeader,
  ) {
    super(
      "unknown-message-type",
      offset,
      `unknown message type ${messageType} (vendor ${vendorId}, M bit ${mandatory ? 1 : 0})`,
    );
    this.name = "UnknownMessageTypeError";
    this.messageType = messageType;
    this.vendorId = vendorId;
    this.mandatory = mandatory;
    this.header = header;
  }
}

/** Parse failures that mean an AVP's (or the message's) length is wrong: Error Code 2. */
const LENGTH_REASONS: ReadonlySet<ParseErrorReason> = new Set<ParseErrorReason>([
  "truncated",
  "length-mismatch",
  "avp-too-short",
  "avp-overrun",
  "bad-avp-length",
  "bad-hidden-length",
]);

/**
 * What {@linkcode MalformedMessageError} says about a malformed message besides its cause.
 *
 * @example Usage
 * ```ts
 * import type { MalformedMessageInfo } from "./errors.ts";
 * const info: MalformedMessageInfo = { scope: "session", messageType: 10, attributeType: 15 };
 * console.log(info.scope); // session
 * ```
 */
export interface MalformedMessageInfo {
  /** What must be torn down: the session (CDN) or the control connection (StopCCN). */
  scope: TeardownScope;
  /** The Message Type, when its AVP could be read. */
  messageType?: number;
  /** The Attribute Type of the malformed AVP, when there is one. */
  attributeType?: number;
  /**
   * The message as far as it could be read, without the malformed AVPs (for the session IDs a
   * CDN is addressed with). Absent when the rest of the message could not be read either.
   */
  decoded?: ControlMessage;
}

/**
 * A control message that arrived in sequence, with a well-formed header, whose body cannot be
 * used: an AVP with the M bit set whose value is malformed (wrong length, out of range, a hidden
 * value that cannot be revealed), or a body whose AVPs cannot even be delimited.
 *
 * RFC 2661 §7.1 and RFC 3931 §7.1 ("Malformed AVPs and Control Messages"): a malformed AVP is
 * treated as an unrecognised one, so its M bit decides. With the M bit clear the AVP is ignored
 * and the message accepted (the transport does that and never reports it); with the M bit set
 * the session (session messages: CDN) or the control connection (every other message:
 * StopCCN) is shut down, as for an unknown mandatory AVP (RFC 2661 §4.1, RFC 3931 §5.2). A
 * message that cannot be recovered at all (the AVPs cannot be delimited, or the Message Type AVP
 * itself is bad) clears the control connection. The StopCCN or CDN carries Result Code 2
 * ("general error, see Error Code") and Error Code 2 ("length is wrong") or 3 ("a field value
 * was out of range", RFC 2661 §4.4.2, RFC 3931 §5.4.2), with the problem in the Error Message.
 *
 * The transport has acknowledged the message (it occupied its sequence number; a peer
 * retransmitting it would send the same bytes again), so the peer never resends it.
 *
 * @example Usage
 * ```ts
 * import { MalformedMessageError, ParseError } from "./errors.ts";
 * const cause = new ParseError("bad-avp-length", 20, "Call Serial Number AVP with a 3-byte value is malformed");
 * const e = new MalformedMessageError(cause, { scope: "session", messageType: 10, attributeType: 15 });
 * console.log(e.reason, e.resultCode, e.errorCode); // bad-avp-length 2 2
 * ```
 */
export class MalformedMessageError extends ParseError {
  /** Session messages close the session (CDN); all others close the tunnel (StopCCN). */
  readonly scope: TeardownScope;
  /** Result Code to send: 2 (general error, see Error Code). */
  readonly resultCode: number;
  /** Error Code to send: 2 (length is wrong) or 3 (a field value was out of range). */
  readonly errorCode: number;
  /** Error Message to send. */
  readonly errorMessage: string;
  /** The Message Type, when its AVP could be read. */
  readonly messageType: number | undefined;
  /** The Attribute Type of the malformed AVP, when there is one. */
  readonly attributeType: number | undefined;
  /** The message without its malformed AVPs, when the rest could be read. */
  readonly decoded: ControlMessage | undefined;
  /** The decoder's error. */
  override readonly cause: ParseError;

  /**
   * Creates the error.
   *
   * @param cause The decoder's error (its reason and offset are kept).
   * @param info Scope, message type, offending attribute, what could be read.
   */
  constructor(cause: ParseError, info: MalformedMessageInfo) {
    super(cause.reason, cause.offset, "");
    this.name = "MalformedMessageError";
    this.message = cause.message;
    this.cause = cause;
    this.scope = info.scope;
    this.resultCode = 2;
    this.errorCode = LENGTH_REASONS.has(cause.reason) ? 2 : 3;
    this.errorMessage = cause.message.replace(/^Cannot decode L2TP message: /, "");
    this.messageType = info.messageType;
    this.attributeType = info.attributeType;
    this.decoded = info.decoded;
  }
}
