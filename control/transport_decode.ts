/**
 * How a {@linkcode ControlTransport} reads what it receives, beyond the header: whether an
 * acknowledgement-only datagram is an L2TPv3 ACK, whether the Message Digest of a datagram it
 * will not decode verifies (RFC 3931 §4.3), and the decoding of the message expected next, with
 * the recovery of a body that does not decode (RFC 2661 §7.1 and RFC 3931 §7.1, "Malformed AVPs
 * and Control Messages"): each malformed AVP is treated as an unrecognised one, cut out, and the
 * rest decoded again; the result says whether the message is delivered without it or which part
 * of the connection (session or tunnel) is torn down. Used by control/transport.ts.
 *
 * @example Usage
 * ```ts
 * import { decodeReceived, ReceiveFailure } from "./transport_decode.ts";
 * import { encodeControl } from "./message.ts";
 * import { MessageType } from "./constants.ts";
 * const hello = encodeControl({ version: 2, tunnelId: 1, ns: 0, nr: 0, type: MessageType.HELLO });
 * const r = decodeReceived(hello, { version: 2 }, 0);
 * console.log(r instanceof ReceiveFailure ? r.kind : r.type); // 6
 * ```
 *
 * @module
 */

import { type DigestContext, type DigestVerdict, verifyMessageDigest } from "./auth.ts";
import { readU16, writeU16 } from "./bytes.ts";
import { AvpType, isSessionMessage, MessageType } from "./constants.ts";
import { type Avp, AVP_HEADER_LENGTH, AvpBits } from "./avp.ts";
import {
  MalformedMessageError,
  ParseError,
  type TeardownScope,
  UnknownAvpError,
  UnknownMessageTypeError,
} from "./errors.ts";
import { CONTROL_HEADER_LENGTH } from "./header.ts";
import { type ControlMessage, decodeControl, type DecodeOptions } from "./message.ts";

/**
 * Whether the message at `off` is an L2TPv3 ACK (first AVP: Message Type 20), read in place.
 *
 * @param packet The datagram.
 * @param off Where the control message starts in it.
 * @param length The message's Length field.
 * @returns `true` for an ACK.
 *
 * @example Usage
 * ```ts
 * import { isAckMessage } from "./transport_decode.ts";
 * import { encodeControl } from "./message.ts";
 * import { MessageType } from "./constants.ts";
 * const ack = encodeControl({ version: 3, tunnelId: 1, ns: 0, nr: 0, type: MessageType.ACK });
 * console.log(isAckMessage(ack, 0, ack.length)); // true
 * ```
 */
export function isAckMessage(packet: Uint8Array, off: number, length: number): boolean {
  const o = off + CONTROL_HEADER_LENGTH;
  return length >= CONTROL_HEADER_LENGTH + 8 &&
    readU16(packet, o + 2) === 0 && readU16(packet, o + 4) === AvpType.MessageType &&
    readU16(packet, o + 6) === MessageType.ACK;
}

/**
 * Why a received datagram is not used: `"auth"`, its Message Digest does not verify or is
 * missing where required (the datagram is dropped unacknowledged); `"decode"`, it could not be
 * read (for {@linkcode decodeReceived}: it is nevertheless taken in sequence).
 *
 * @example Usage
 * ```ts
 * import { ReceiveFailure } from "./transport_decode.ts";
 * const f = new ReceiveFailure("auth", new Error("bad digest"));
 * console.log(f.kind); // auth
 * ```
 */
export class ReceiveFailure {
  /** What failed. */
  readonly kind: "auth" | "decode";
  /** The error (a ParseError, except for a digest computation that threw). */
  readonly error: unknown;

  /**
   * Creates the failure.
   *
   * @param kind What failed.
   * @param error The error.
   */
  constructor(kind: "auth" | "decode", error: unknown) {
    this.kind = kind;
    this.error = error;
  }
}

/**
 * Check the Message Digest of a control message that will not be decoded (RFC 3931 §4.3).
 *
 * @param message The control message (no L2TP/IP prefix).
 * @param digest The digest context, and whether a digest is required.
 * @returns `undefined` if the message may be believed, else why not.
 *
 * @example Usage
 * ```ts
 * import { checkDigest } from "./transport_decode.ts";
 * import { digestKey } from "./auth.ts";
 * import { encodeControl } from "./message.ts";
 * import { MessageType } from "./constants.ts";
 * const ack = encodeControl({ version: 3, tunnelId: 1, ns: 0, nr: 0, type: MessageType.ACK });
 * const key = digestKey("secret");
 * console.log(checkDigest(ack, { key, required: false })); // undefined
 * console.log(checkDigest(ack, { key, required: true })?.kind); // auth
 * ```
 */
export function checkDigest(
  message: Uint8Array,
  digest: DigestContext & { required?: boolean },
): ReceiveFailure | undefined {
  let verdict: DigestVerdict;
  try {
    verdict = verifyMessageDigest(message, digest);
  } catch (e) {
    return new ReceiveFailure("decode", e);
  }
  if (verdict === "valid" || (verdict === "missing" && !digest.required)) return undefined;
  const error = verdict === "invalid"
    ? new ParseError("bad-digest", CONTROL_HEADER_LENGTH, "Message Digest does not verify")
    : new ParseError("missing-digest", CONTROL_HEADER_LENGTH, "no Message Digest AVP");
  return new ReceiveFailure("auth", error);
}

/**
 * Decode the message expected next. A Message Digest failure is an `"auth"` failure (the
 * message is dropped); any other error a `"decode"` failure, after {@linkcode salvage} has
 * tried to recover the message: the message then takes its sequence number all the same.
 *
 * @param packet The datagram.
 * @param options The decode options (digest included).
 * @param prefix Bytes before the control message (the L2TP/IP zero Session ID, or 0).
 * @returns The message, or why it cannot be used.
 *
 * @example Usage
 * ```ts
 * import { decodeReceived, ReceiveFailure } from "./transport_decode.ts";
 * const r = decodeReceived(new Uint8Array(3), { version: 2 }, 0);
 * console.log(r instanceof ReceiveFailure ? r.kind : r.type); // decode
 * ```
 */
export function decodeReceived(
  packet: Uint8Array,
  options: DecodeOptions,
  prefix: number,
): ControlMessage | ReceiveFailure {
  try {
    return decodeControl(packet, options);
  } catch (e) {
    if (e instanceof ParseError && (e.reason === "bad-digest" || e.reason === "missing-digest")) {
      return new ReceiveFailure("auth", e);
    }
    if (
      e instanceof ParseError && !(e instanceof UnknownAvpError) &&
      !(e instanceof UnknownMessageTypeError)
    ) {
      const r = salvage(prefix ? packet.subarray(prefix) : packet, e, options);
      return r instanceof ParseError ? new ReceiveFailure("decode", r) : r;
    }
    return new ReceiveFailure("decode", e);
  }
}

/** At most this many malformed AVPs are cut out of one message before it is given up on. */
const MAX_SALVAGE = 16;

/** The Message Type of a control message whose first AVP is a readable Message Type AVP. */
function readMessageType(body: Uint8Array): number | undefined {
  const o = CONTROL_HEADER_LENGTH;
  if (body.length < o + 8 || (readU16(body, o) & AvpBits.LENGTH_MASK) !== 8) return undefined;
  if (readU16(body, o + 2) !== 0 || readU16(body, o + 4) !== AvpType.MessageType) return undefined;
  return readU16(body, o + 6);
}

/** `body` without the `len` bytes at `o`, its header Length field updated. */
function cut(body: Uint8Array, o: number, len: number): Uint8Array {
  const out = new Uint8Array(body.length - len);
  out.set(body.subarray(0, o));
  out.set(body.subarray(o + len), o);
  writeU16(out, 2, out.length);
  return out;
}

/**
 * RFC 2661 §7.1 / RFC 3931 §7.1 for an in-sequence message whose body did not decode: treat each
 * malformed AVP as an unrecognised one. The AVP is cut out and the rest decoded again, as often
 * as needed. If every malformed AVP had the M bit clear, the message is recovered (returned, with
 * them as `"malformed"` raw AVPs). If one had the M bit set, a {@linkcode MalformedMessageError}
 * scoped by the message type carries the rest of the message. If the AVPs cannot be delimited
 * (or the Message Type AVP itself is bad), the message is unrecoverable: a
 * {@linkcode MalformedMessageError} of scope `"tunnel"`. An unknown mandatory AVP found in the rest
 * is returned as its {@linkcode UnknownAvpError} when nothing mandatory was malformed.
 *
 * @param body The message (no L2TP/IP prefix); its Message Digest already verified.
 * @param first The decoder's error.
 * @param options The decode options used.
 * @returns The recovered message, or the error to report.
 *
 * @example Usage
 * ```ts
 * import { salvage } from "./transport_decode.ts";
 * import { decodeControl, encodeControl } from "./message.ts";
 * import { AvpType, MessageType } from "./constants.ts";
 * import { ParseError } from "./errors.ts";
 * const body = encodeControl({
 *   version: 2, tunnelId: 1, ns: 0, nr: 0, type: MessageType.HELLO,
 *   // A 3-byte Receive Window Size, M bit clear: malformed but not fatal.
 *   avps: [{ kind: "malformed", vendorId: 0, type: AvpType.ReceiveWindowSize, value: new Uint8Array(3) }],
 * });
 * try {
 *   decodeControl(body);
 * } catch (e) {
 *   if (!(e instanceof ParseError)) throw e;
 *   const r = salvage(body, e, {});
 *   console.log(r instanceof ParseError ? r.message : r.avps.at(-1)?.kind); // malformed
 * }
 * ```
 */
export function salvage(
  body: Uint8Array,
  first: ParseError,
  options: DecodeOptions,
): ControlMessage | ParseError {
  const opts: DecodeOptions = { ...options, transport: "udp", digest: undefined };
  const messageType = readMessageType(body);
  const scope: TeardownScope = messageType !== undefined && isSessionMessage(messageType)
    ? "session"
    : "tunnel";
  const removed: Avp[] = [];
  let fatal: { error: ParseError; attributeType: number } | undefined;
  let bytes = body;
  let err = first;
  for (let i = 0; i < MAX_SALVAGE; i++) {
    const o = err.offset;
    const framed = o >= CONTROL_HEADER_LENGTH + 8 && o + AVP_HEADER_LENGTH <= bytes.length &&
      err.reason !== "avp-too-short" && err.reason !== "avp-overrun" && err.reason !== "truncated";
    const len = framed ? readU16(bytes, o) & AvpBits.LENGTH_MASK : 0;
    if (len < AVP_HEADER_LENGTH || o + len > bytes.length) break;
    const flags = bytes[o];
    const mandatory = (flags & AvpBits.MANDATORY) !== 0;
    const attributeType = readU16(bytes, o + 4);
    removed.push({
      kind: "malformed",
      vendorId: readU16(bytes, o + 2),
      type: attributeType,
      value: bytes.slice(o + AVP_HEADER_LENGTH, o + len),
      mandatory,
      hidden: (flags & AvpBits.HIDDEN) !== 0,
    });
    if (mandatory) fatal ??= { error: err, attributeType };
    bytes = cut(bytes, o, len);
    let decoded: ControlMessage;
    try {
      decoded = decodeControl(bytes, opts);
    } catch (e) {
      if (e instanceof UnknownAvpError) {
        if (fatal === undefined) return e;
        decoded = e.decoded;
      } else if (e instanceof ParseError && !(e instanceof UnknownMessageTypeError)) {
        err = e;
        continue;
      } else {
        break;
      }
    }
    if (fatal !== undefined) {
      return new MalformedMessageError(fatal.error, {
        scope,
        messageType,
        attributeType: fatal.attributeType,
        decoded,
      });
    }
    decoded.avps.push(...removed);
    return decoded;
  }
  // Unrecoverable: the control connection is cleared.
  return new MalformedMessageError(fatal?.error ?? err, {
    scope: "tunnel",
    messageType,
    ...(fatal !== undefined ? { attributeType: fatal.attributeType } : {}),
  });
}
