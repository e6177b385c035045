/**
 * Reliable delivery of control messages for one control connection (RFC 2661 §5.8 and
 * Appendix A; RFC 3931 §4.2 and Appendix A).
 *
 * A {@linkcode ControlTransport} sits between the socket and the control engines. Inputs are the
 * datagrams received for this control connection ({@linkcode ControlTransport.receive}) and the
 * messages to send ({@linkcode ControlTransport.send}); outputs are datagrams (through the
 * injected `send` function) and decoded messages, delivered exactly once and in order (through
 * `for await (const msg of transport)` or the `onMessage` callback). The clock is injected too,
 * so the same code runs over the reactor, a fake socket, or an impairment proxy, in real or fake
 * time.
 *
 * What it does:
 * - Ns/Nr modulo 2^16, compared within a window of 32767 (control/sequence.ts). An incoming Nr
 *   acknowledges every message we sent with a lower Ns; ZLB acknowledgements (and the L2TPv3 ACK
 *   message) do not consume a sequence number.
 * - Receiving: the header is peeked first; acknowledgement-only datagrams, duplicates and
 *   messages beyond our receive window are handled without decoding any AVP. Duplicates are
 *   acknowledged at once and never delivered twice; messages ahead of the next expected Ns are
 *   queued up to our receive window and delivered in order once the gap fills; messages beyond it
 *   are dropped. Each message is decoded exactly once.
 * - Sending: at most min(CWND, peer window) messages unacknowledged; the peer window is the
 *   peer's Receive Window Size AVP (taken automatically from a received SCCRQ or SCCRP), 4 when
 *   absent. Slow start and congestion avoidance as in control/window.ts.
 * - Retransmission of the oldest unacknowledged message after 1 s, doubling up to a cap of 8 s
 *   (both configurable; the cap may not be below 8 s), with Nr updated; after `maxRetransmits`
 *   retransmissions (default 5 for L2TPv2, 10 for L2TPv3) go unanswered the transport fails:
 *   every pending send rejects with a {@linkcode TransportFailedError}, the iterator throws it,
 *   and `ended` resolves with reason `"failed"`, which is what the tunnel tears down on.
 * - Acknowledgements: a ZLB (L2TPv2) or an ACK message, type 20 (L2TPv3), sent `ackDelay` ms
 *   (default 100 ms, well below the peer's 1 s retransmission timeout) after an in-order message
 *   arrives, unless an outgoing message carries the new Nr first; sent at once for duplicates and
 *   after every `ackEvery` (default 2) in-order messages.
 * - HELLO after `helloInterval` ms without any message from the peer (off by default).
 * - After a StopCCN is first transmitted or received, the transport keeps acknowledging and
 *   retransmitting for `stopHold` ms (default 31 s, RFC 2661 §5.7, one full retransmission cycle), then ends with
 *   reason `"stopped"`.
 * - {@linkcode ControlTransport.close} (or `using`) cancels every timer, so an idle program exits.
 *
 * Datagrams that cannot be decoded never throw out of `receive`: they become `"error"` events.
 * What happens to a bad datagram (RFC 2661 §7.1 and RFC 3931 §7.1, "Malformed AVPs and Control
 * Messages"):
 * - A malformed header (too short, wrong version, bad flags, Length field not the datagram's):
 *   discarded, never acknowledged, no sequence number consumed (`accepted: false`).
 * - A Message Digest that does not verify (RFC 3931 §4.3): discarded unacknowledged.
 * - A well-formed header, in sequence: the message takes its sequence number and is
 *   acknowledged whatever its body holds (RFC 2661 §5.8: every message but a ZLB is; the peer
 *   would only resend the same bytes). Then, in its body:
 *   - a malformed AVP with the M bit clear is ignored and the message delivered without it (kept
 *     as a `"malformed"` raw AVP);
 *   - a malformed AVP with the M bit set is an `"error"` event with `accepted: true` whose error
 *     is a {@linkcode MalformedMessageError} (scope `"session"` for a session message, else
 *     `"tunnel"`, with the rest of the message decoded for its session IDs); so is a body whose
 *     AVPs cannot be delimited (scope `"tunnel"`);
 *   - an unknown AVP with the M bit set is an {@linkcode UnknownAvpError}, an unknown Message
 *     Type an {@linkcode UnknownMessageTypeError}, both `accepted: true`.
 *   The engine answers the accepted errors with a CDN or StopCCN (control/tunnel.ts).
 *
 * The transport keeps references to the datagrams given to `receive` (decoded byte values are
 * views into them, and out-of-order messages wait in the queue as received): the caller must not
 * reuse those buffers (the reactor never does). It never changes a buffer after handing it to
 * `send`.
 *
 * The example below is not run: it opens a real UDP socket through the data plane's reactor
 * (dataplane/, which control/ does not import).
 *
 * @example Usage
 * ```ts ignore
 * import { ControlTransport } from "./transport.ts";
 * import { MessageType } from "./constants.ts";
 * import { Reactor } from "../dataplane/reactor.ts";
 * await using reactor = new Reactor();
 * const sock = reactor.udp({ local: { address: "0.0.0.0", port: 1701 }, peer: { address: "192.0.2.1", port: 1701 } });
 * using transport = new ControlTransport({ version: 2, send: (p) => void sock.send(p), peerTunnelId: 42 });
 * (async () => { for await (const d of sock) transport.receive(d.data); })();
 * await transport.send({ type: MessageType.HELLO });
 * for await (const msg of transport) console.log(msg.type);
 * ```
 *
 * @module
 */

import { type DigestVerdict, signMessageDigest, verifyMessageDigest } from "./auth.ts";
import { readU16, writeU16, writeU32 } from "./bytes.ts";
import { type Clock, systemClock, type Timer } from "./clock.ts";
import {
  AvpType,
  isSessionMessage,
  MessageType,
  type MessageTypeCode,
  messageTypeName,
} from "./constants.ts";
import { type Avp, AVP_HEADER_LENGTH, AvpBits, type AvpInput } from "./avp.ts";
import {
  MalformedMessageError,
  ParseError,
  type TeardownScope,
  UnknownAvpError,
  UnknownMessageTypeError,
} from "./errors.ts";
import {
  CONTROL_HEADER_LENGTH,
  IP_CONTROL_PREFIX_LENGTH,
  type L2tpVersion,
  type PeekedHeader,
  peekHeader,
  type Transport as Encapsulation,
} from "./header.ts";
import {
  type ControlMessage,
  decodeControl,
  type DecodeOptions,
  encodeControl,
  type EncodeOptions,
  getAvp,
} from "./message.ts";
import { isSeq, seqAdd, seqDiff } from "./sequence.ts";
import { checkWindow, CongestionWindow, DEFAULT_PEER_WINDOW, MAX_WINDOW } from "./window.ts";

/**
 * Default values of {@linkcode ControlTransportOptions} (times in milliseconds).
 *
 * @example Usage
 * ```ts
 * import { TRANSPORT_DEFAULTS } from "./transport.ts";
 * console.log(TRANSPORT_DEFAULTS.retransmitTimeout, TRANSPORT_DEFAULTS.retransmitCap); // 1000 8000
 * ```
 */
export const TRANSPORT_DEFAULTS = {
  /** First retransmission timeout (RFC 2661 §5.8: 1 s). */
  retransmitTimeout: 1000,
  /** Cap of the doubling retransmission timeout (RFC 2661 §5.8: no less than 8 s). */
  retransmitCap: 8000,
  /** Retransmissions before an L2TPv2 transport fails. */
  maxRetransmitsV2: 5,
  /** Retransmissions before an L2TPv3 transport fails. */
  maxRetransmitsV3: 10,
  /** Delay before a lone acknowledgement is sent. */
  ackDelay: 100,
  /** Send an acknowledgement at once after this many unacknowledged in-order messages. */
  ackEvery: 2,
  /** Our receive window (messages queued out of order; advertise it in the SCCRQ/SCCRP). */
  receiveWindow: 16,
  /** How long the transport lives on after a StopCCN (RFC 2661 §5.7: 31 s). */
  stopHold: 31_000,
} as const;

/**
 * A message for {@linkcode ControlTransport.send}: the message type and AVPs; the transport fills
 * in the header (version, the peer's tunnel ID, Ns, Nr).
 *
 * @example Usage
 * ```ts
 * import type { TransportMessage } from "./transport.ts";
 * import { AvpType, MessageType, StopCcnResult } from "./constants.ts";
 * const stop: TransportMessage = {
 *   type: MessageType.StopCCN,
 *   avps: [
 *     { type: AvpType.AssignedTunnelId, value: 7 },
 *     { type: AvpType.ResultCode, value: { resultCode: StopCcnResult.GeneralRequest } },
 *   ],
 * };
 * console.log(stop.avps?.length); // 2
 * ```
 */
export interface TransportMessage {
  /** The message type (not ACK: the transport sends acknowledgements itself). */
  type: MessageTypeCode;
  /** AVPs after the Message Type AVP. */
  avps?: readonly AvpInput[];
}

/**
 * Options of {@linkcode ControlTransport}. Times are in milliseconds.
 *
 * @example Usage
 * ```ts
 * import type { ControlTransportOptions } from "./transport.ts";
 * const sent: Uint8Array[] = [];
 * const opts: ControlTransportOptions = { version: 3, encap: "ip", send: (p) => sent.push(p) };
 * console.log(opts.encap); // ip
 * ```
 */
export interface ControlTransportOptions {
  /** Protocol version of the control connection. */
  version: L2tpVersion;
  /** "udp" (default) or "ip" (L2TPv3 only: the 4-byte zero Session ID precedes each message). */
  encap?: Encapsulation;
  /**
   * With `encap: "ip"`: whether datagrams carry the 4-byte zero Session ID (default true: the raw
   * IP payload, as on the wire). Set false on a real L2TP/IP socket, where the kernel adds and
   * strips that prefix, so userspace reads and writes the control message alone. Ignored for
   * "udp".
   */
  ipPrefix?: boolean;
  /**
   * Sends one datagram to the peer. May drop it (the transport retransmits); a throw is reported
   * as an `"error"` event of kind `"send"` and treated as a loss.
   */
  send: (packet: Uint8Array) => void;
  /**
   * Sends several datagrams at once, in order (one `sendmmsg` on a reactor socket). Optional:
   * when given, datagrams the transport has ready together (a window opening, a queue of
   * messages) go out in one call; without it each goes to `send`. It may drop any of them; a
   * throw is reported like one of `send` and treated as a loss of them all.
   */
  sendBatch?: (packets: Uint8Array[]) => void;
  /** Time source (default {@linkcode systemClock}). */
  clock?: Clock;
  /** The peer's Tunnel ID (v2) or Control Connection ID (v3); 0 until known. Default 0. */
  peerTunnelId?: number;
  /** Our receive window: out-of-order messages queued (default 16, 1..32767). */
  receiveWindow?: number;
  /** The peer's receive window until its SCCRQ/SCCRP says otherwise (default 4). */
  peerWindow?: number;
  /** Slow start and congestion avoidance (RFC 2661 Appendix A; default true). */
  congestionControl?: boolean;
  /** First retransmission timeout (default 1000). */
  retransmitTimeout?: number;
  /** Cap of the doubling retransmission timeout (default 8000; must be ≥ 8000). */
  retransmitCap?: number;
  /** Unanswered retransmissions before the transport fails (default 5 for v2, 10 for v3). */
  maxRetransmits?: number;
  /** Delay of a lone acknowledgement (default 100). */
  ackDelay?: number;
  /** Acknowledge at once after this many unacknowledged in-order messages (default 2; 0: never). */
  ackEvery?: number;
  /** Send a HELLO after this long without a message from the peer (default 0: never). */
  helloInterval?: number;
  /** Lifetime after a StopCCN is sent or received (default 31000). */
  stopHold?: number;
  /** Ns of our first message (default 0). */
  initialNs?: number;
  /** Ns expected first from the peer (default 0). */
  initialNr?: number;
  /** Codec options for outgoing messages (secret for hidden AVPs, L2TPv3 Message Digest). */
  encodeOptions?: Omit<EncodeOptions, "transport">;
  /** Codec options for incoming messages (secret for hidden AVPs, L2TPv3 Message Digest). */
  decodeOptions?: Omit<DecodeOptions, "transport" | "version">;
  /**
   * Callback form of delivery: each in-order message is passed here, synchronously, instead of
   * being queued for the async iterator.
   */
  onMessage?: (msg: ControlMessage) => void;
}

/**
 * Why a transport ended: `"closed"` by {@linkcode ControlTransport.close}, `"stopped"` at the end
 * of the StopCCN hold time, `"failed"` when a message went unacknowledged.
 *
 * @example Usage
 * ```ts
 * import type { TransportEndReason } from "./transport.ts";
 * const r: TransportEndReason = "stopped";
 * console.log(r); // stopped
 * ```
 */
export type TransportEndReason = "closed" | "stopped" | "failed";

/**
 * How a transport ended.
 *
 * @example Usage
 * ```ts
 * import type { TransportEnd } from "./transport.ts";
 * function describe(end: TransportEnd): string {
 *   return end.reason === "failed" ? end.error.message : end.reason;
 * }
 * console.log(describe({ reason: "closed" })); // closed
 * ```
 */
export type TransportEnd =
  | { reason: "closed" | "stopped" }
  | { reason: "failed"; error: TransportFailedError };

/**
 * A received datagram that could not be used, or a send that threw.
 *
 * - `decode`: malformed datagram, or a message whose body does not decode;
 * - `auth`: a Message Digest that does not verify, or is missing where required;
 * - `send`: the injected `send` function threw.
 *
 * @example Usage
 * ```ts
 * import type { TransportErrorEvent } from "./transport.ts";
 * import { UnknownAvpError } from "./errors.ts";
 * function onError(e: TransportErrorEvent): void {
 *   if (e.error instanceof UnknownAvpError) console.log("tear down the", e.error.scope);
 * }
 * onError({ kind: "decode", error: new Error("bad"), packet: new Uint8Array(0), accepted: false });
 * ```
 */
export interface TransportErrorEvent {
  /** What failed. */
  kind: "decode" | "auth" | "send";
  /** The error (a ParseError for decode and auth errors). */
  error: unknown;
  /** The datagram concerned. */
  packet: Uint8Array;
  /** Whether the message was nevertheless accepted in sequence (and will be acknowledged). */
  accepted: boolean;
}

/**
 * A retransmission, for logs.
 *
 * @example Usage
 * ```ts
 * import type { RetransmitEvent } from "./transport.ts";
 * const e: RetransmitEvent = { ns: 3, type: 6, attempt: 1, timeout: 2000 };
 * console.log(e.timeout); // 2000
 * ```
 */
export interface RetransmitEvent {
  /** Ns of the message. */
  ns: number;
  /** Its message type. */
  type: MessageTypeCode;
  /** 1 for the first retransmission, and so on (0 for a retransmission after a partial ack). */
  attempt: number;
  /** Milliseconds until the next retransmission. */
  timeout: number;
}

/**
 * Events of {@linkcode ControlTransport.on}.
 *
 * @example Usage
 * ```ts
 * import type { ControlTransportEvents } from "./transport.ts";
 * const onEnd = (e: ControlTransportEvents["end"]): void => console.log("ended:", e.reason);
 * onEnd({ reason: "stopped" }); // ended: stopped
 * ```
 */
export interface ControlTransportEvents {
  /** A datagram was dropped or a message could not be decoded or sent. */
  error: TransportErrorEvent;
  /** A message was retransmitted. */
  retransmit: RetransmitEvent;
  /** The transport ended (once). */
  end: TransportEnd;
}

/**
 * Counters of a {@linkcode ControlTransport}.
 *
 * @example Usage
 * ```ts
 * import type { ControlTransportStats } from "./transport.ts";
 * function lossRate(s: ControlTransportStats): number {
 *   return s.messagesSent ? s.retransmits / s.messagesSent : 0;
 * }
 * console.log(typeof lossRate); // function
 * ```
 */
export interface ControlTransportStats {
  /** Datagrams handed to `send` (messages, retransmissions and acknowledgements). */
  sent: number;
  /** Sequenced messages sent (first transmissions). */
  messagesSent: number;
  /** Retransmissions. */
  retransmits: number;
  /** Acknowledgement-only datagrams sent (ZLB or ACK). */
  acksSent: number;
  /** Datagrams received. */
  received: number;
  /** Messages delivered. */
  delivered: number;
  /** Acknowledgement-only datagrams received. */
  acksReceived: number;
  /** Duplicate messages received (acknowledged, not delivered). */
  duplicates: number;
  /** Messages received ahead of the expected Ns and queued. */
  outOfOrder: number;
  /** Messages received beyond our receive window and dropped. */
  outOfWindow: number;
  /** Error events. */
  errors: number;
}

/**
 * The error of a transport whose message went unacknowledged after the last retransmission.
 *
 * @example Usage
 * ```ts
 * import { TransportFailedError } from "./transport.ts";
 * const e = new TransportFailedError("Cannot deliver HELLO: no acknowledgement", 5);
 * console.log(e.retransmits); // 5
 * ```
 */
export class TransportFailedError extends Error {
  /** Retransmissions made before giving up. */
  readonly retransmits: number;

  /**
   * Creates the error.
   *
   * @param message The message ("Cannot deliver ...").
   * @param retransmits Retransmissions made.
   */
  constructor(message: string, retransmits: number) {
    super(message);
    this.name = "TransportFailedError";
    this.retransmits = retransmits;
  }
}

/**
 * State of a transport: `"open"`, `"stopping"` (StopCCN hold), `"closed"` (ended).
 *
 * @example Usage
 * ```ts
 * import type { TransportState } from "./transport.ts";
 * const s: TransportState = "stopping";
 * console.log(s); // stopping
 * ```
 */
export type TransportState = "open" | "stopping" | "closed";

interface Outgoing {
  packet: Uint8Array;
  type: MessageTypeCode;
  ns: number;
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Waiter {
  resolve: (r: IteratorResult<ControlMessage>) => void;
  reject: (e: unknown) => void;
}

type Listeners = {
  [K in keyof ControlTransportEvents]: ((e: ControlTransportEvents[K]) => void)[];
};

const noop = (): void => {};

function checkMs(what: string, v: number, min: number): void {
  if (!Number.isFinite(v) || v < min) {
    throw new RangeError(
      `Cannot create control transport: ${what} ${v} is not a duration ≥ ${min}`,
    );
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
 */
function salvage(
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

/** Whether the message at `off` is an L2TPv3 ACK (first AVP: Message Type 20), read in place. */
function isAckMessage(packet: Uint8Array, off: number, length: number): boolean {
  const o = off + CONTROL_HEADER_LENGTH;
  return length >= CONTROL_HEADER_LENGTH + 8 &&
    readU16(packet, o + 2) === 0 && readU16(packet, o + 4) === AvpType.MessageType &&
    readU16(packet, o + 6) === MessageType.ACK;
}

/**
 * Reliable, in-order delivery of control messages over one control connection. See the module
 * documentation for the behaviour.
 *
 * @example Usage
 * ```ts
 * import { ControlTransport } from "./transport.ts";
 * import { FakeClock } from "./clock.ts";
 * import { MessageType } from "./constants.ts";
 * const clock = new FakeClock();
 * const wire: Uint8Array[] = [];
 * const a = new ControlTransport({ version: 2, clock, send: (p) => wire.push(p), peerTunnelId: 9 });
 * const b = new ControlTransport({ version: 2, clock, send: (p) => a.receive(p), peerTunnelId: 7 });
 * const acked = a.send({ type: MessageType.HELLO });
 * b.receive(wire[0]);       // b delivers the HELLO
 * clock.advance(100);       // b's delayed ZLB acknowledges it
 * await acked;
 * const msg = await b[Symbol.asyncIterator]().next();
 * console.log(msg.value?.type); // 6
 * a.close();
 * b.close();
 * ```
 */
export class ControlTransport implements AsyncIterable<ControlMessage>, Disposable {
  readonly #version: L2tpVersion;
  readonly #encap: Encapsulation;
  /** What the codec sees: "ip" only when datagrams carry the zero Session ID prefix. */
  readonly #wire: Encapsulation;
  readonly #prefix: number;
  readonly #output: (packet: Uint8Array) => void;
  readonly #outputBatch: ((packets: Uint8Array[]) => void) | undefined;
  /** While datagrams are being collected for one `sendBatch` call: those collected. */
  #batch: Uint8Array[] | undefined;
  readonly #clock: Clock;
  readonly #rwin: number;
  readonly #rto0: number;
  readonly #rtoCap: number;
  readonly #maxRetransmits: number;
  readonly #ackDelay: number;
  readonly #ackEvery: number;
  readonly #helloInterval: number;
  readonly #stopHold: number;
  readonly #onMessage: ((msg: ControlMessage) => void) | undefined;
  readonly #cw: CongestionWindow;
  readonly #stats: ControlTransportStats = {
    sent: 0,
    messagesSent: 0,
    retransmits: 0,
    acksSent: 0,
    received: 0,
    delivered: 0,
    acksReceived: 0,
    duplicates: 0,
    outOfOrder: 0,
    outOfWindow: 0,
    errors: 0,
  };

  #peerTunnelId = 0;
  #encodeOptions: EncodeOptions;
  #decodeOptions: DecodeOptions = {};
  #decodeVerified: DecodeOptions = {};

  // Sending side.
  #ns: number;
  #pending: (Outgoing | undefined)[] = [];
  #pendingHead = 0;
  #inflight: Outgoing[] = [];
  #retries = 0;
  #recover = -1;
  #rtxTimer: Timer | undefined;
  #rtxAt = 0;
  #rtxDeadline = 0;

  // Receiving side.
  #nr: number;
  #reorder: (Uint8Array | undefined)[];
  #reorderHead = 0;
  #ackDue = false;
  #unacked = 0;
  #ackTimer: Timer | undefined;
  #lastHeard: number;
  #helloTimer: Timer | undefined;
  #hello: Outgoing | undefined;

  // Lifecycle and delivery.
  #state: TransportState = "open";
  #stopTimer: Timer | undefined;
  #end: TransportEnd | undefined;
  #resolveEnded!: (end: TransportEnd) => void;
  readonly #ended: Promise<TransportEnd>;
  #inbox: (ControlMessage | undefined)[] = [];
  #inboxHead = 0;
  #waiters: Waiter[] = [];
  #listeners: Listeners = { error: [], retransmit: [], end: [] };

  /**
   * A transport at the start of a control connection (Ns and Nr 0 unless given).
   *
   * @param options Version, encapsulation, send function, clock, windows and timers.
   * @throws {RangeError} If an option is out of range.
   * @throws {TypeError} If L2TPv2 is asked to run over IP.
   */
  constructor(options: ControlTransportOptions) {
    const { version } = options;
    if (version !== 2 && version !== 3) {
      throw new RangeError(`Cannot create control transport: version ${version} is not 2 or 3`);
    }
    this.#version = version;
    this.#encap = options.encap ?? "udp";
    if (this.#encap !== "udp" && this.#encap !== "ip") {
      throw new TypeError(`Cannot create control transport: unknown encapsulation ${this.#encap}`);
    }
    if (this.#encap === "ip" && version !== 3) {
      throw new TypeError("Cannot create control transport: only L2TPv3 runs over IP");
    }
    this.#wire = this.#encap === "ip" && options.ipPrefix !== false ? "ip" : "udp";
    this.#prefix = this.#wire === "ip" ? IP_CONTROL_PREFIX_LENGTH : 0;
    this.#output = options.send;
    this.#outputBatch = options.sendBatch;
    this.#clock = options.clock ?? systemClock;
    this.#rwin = options.receiveWindow ?? TRANSPORT_DEFAULTS.receiveWindow;
    checkWindow("receive window", this.#rwin);
    this.#cw = new CongestionWindow(
      options.peerWindow ?? DEFAULT_PEER_WINDOW,
      options.congestionControl ?? true,
    );
    this.#rto0 = options.retransmitTimeout ?? TRANSPORT_DEFAULTS.retransmitTimeout;
    checkMs("retransmitTimeout", this.#rto0, 1);
    this.#rtoCap = options.retransmitCap ?? TRANSPORT_DEFAULTS.retransmitCap;
    checkMs("retransmitCap", this.#rtoCap, Math.max(TRANSPORT_DEFAULTS.retransmitCap, this.#rto0));
    this.#maxRetransmits = options.maxRetransmits ??
      (version === 2 ? TRANSPORT_DEFAULTS.maxRetransmitsV2 : TRANSPORT_DEFAULTS.maxRetransmitsV3);
    if (!Number.isInteger(this.#maxRetransmits) || this.#maxRetransmits < 0) {
      throw new RangeError(
        `Cannot create control transport: maxRetransmits ${this.#maxRetransmits} is not an integer ≥ 0`,
      );
    }
    this.#ackDelay = options.ackDelay ?? TRANSPORT_DEFAULTS.ackDelay;
    checkMs("ackDelay", this.#ackDelay, 0);
    this.#ackEvery = options.ackEvery ?? TRANSPORT_DEFAULTS.ackEvery;
    if (!Number.isInteger(this.#ackEvery) || this.#ackEvery < 0) {
      throw new RangeError(
        `Cannot create control transport: ackEvery ${this.#ackEvery} is not an integer ≥ 0`,
      );
    }
    this.#helloInterval = options.helloInterval ?? 0;
    checkMs("helloInterval", this.#helloInterval, 0);
    this.#stopHold = options.stopHold ?? TRANSPORT_DEFAULTS.stopHold;
    checkMs("stopHold", this.#stopHold, 0);
    this.#ns = options.initialNs ?? 0;
    this.#nr = options.initialNr ?? 0;
    if (!isSeq(this.#ns) || !isSeq(this.#nr)) {
      throw new RangeError(
        `Cannot create control transport: initial Ns ${this.#ns} / Nr ${this.#nr} not in 0..65535`,
      );
    }
    this.peerTunnelId = options.peerTunnelId ?? 0;
    this.#encodeOptions = { ...options.encodeOptions, transport: this.#wire };
    this.decodeOptions = options.decodeOptions ?? {};
    this.#onMessage = options.onMessage;
    this.#reorder = new Array(this.#rwin).fill(undefined);
    this.#ended = new Promise((resolve) => (this.#resolveEnded = resolve));
    this.#lastHeard = this.#clock.now();
    if (this.#helloInterval > 0) {
      this.#helloTimer = this.#clock.setTimer(this.#helloInterval, this.#onHelloTimer);
    }
  }

  /** Protocol version. */
  get version(): L2tpVersion {
    return this.#version;
  }

  /** Encapsulation ("udp" or "ip"). */
  get encap(): Encapsulation {
    return this.#encap;
  }

  /** The peer's Tunnel ID (v2) or Control Connection ID (v3) written into outgoing headers. */
  get peerTunnelId(): number {
    return this.#peerTunnelId;
  }

  /**
   * Set the peer's Tunnel ID / Control Connection ID (learned from its SCCRQ or SCCRP). Messages
   * sent from now on, including queued ones, carry it.
   *
   * @throws {RangeError} If it does not fit the header field.
   */
  set peerTunnelId(id: number) {
    const max = this.#version === 2 ? 0xffff : 0xffffffff;
    if (!Number.isInteger(id) || id < 0 || id > max) {
      throw new RangeError(`Cannot set peer tunnel ID: ${id} is not an integer in 0..${max}`);
    }
    this.#peerTunnelId = id;
  }

  /** Codec options used for outgoing messages. */
  get encodeOptions(): Omit<EncodeOptions, "transport"> {
    return this.#encodeOptions;
  }

  /** Replace the codec options for outgoing messages (e.g. once the peer's nonce is known). */
  set encodeOptions(o: Omit<EncodeOptions, "transport">) {
    this.#encodeOptions = { ...o, transport: this.#wire };
  }

  /** Codec options used for incoming messages. */
  get decodeOptions(): Omit<DecodeOptions, "transport" | "version"> {
    return this.#decodeOptions;
  }

  /** Replace the codec options for incoming messages (e.g. once the peer's nonce is known). */
  set decodeOptions(o: Omit<DecodeOptions, "transport" | "version">) {
    // RFC 2661 §7.1, RFC 3931 §7.1: a malformed AVP without the M bit is ignored (unless the
    // caller says otherwise).
    this.#decodeOptions = {
      ignoreMalformed: true,
      ...o,
      transport: this.#wire,
      version: this.#version,
    };
    this.#decodeVerified = { ...this.#decodeOptions, digest: undefined };
  }

  /** Our receive window (advertise it in a Receive Window Size AVP). */
  get receiveWindow(): number {
    return this.#rwin;
  }

  /** The peer's receive window. */
  get peerWindow(): number {
    return this.#cw.peerWindow;
  }

  /** The congestion window. */
  get cwnd(): number {
    return this.#cw.cwnd;
  }

  /** The slow start threshold. */
  get ssthresh(): number {
    return this.#cw.ssthresh;
  }

  /** Ns of the next message we send. */
  get ns(): number {
    return this.#ns;
  }

  /** Ns we expect next from the peer (the Nr we send). */
  get nr(): number {
    return this.#nr;
  }

  /** Messages sent and not yet acknowledged. */
  get inFlight(): number {
    return this.#inflight.length;
  }

  /** Messages waiting for the window to open. */
  get queued(): number {
    return this.#pending.length - this.#pendingHead;
  }

  /** Lifecycle state. */
  get state(): TransportState {
    return this.#state;
  }

  /** Counters (live object). */
  get stats(): Readonly<ControlTransportStats> {
    return this.#stats;
  }

  /** Resolves once the transport has ended, with the reason; never rejects. */
  get ended(): Promise<TransportEnd> {
    return this.#ended;
  }

  /**
   * Take the peer's Receive Window Size. Called automatically for a received SCCRQ or SCCRP.
   *
   * @param n The window (1..32767).
   * @throws {RangeError} If `n` is out of range.
   */
  setPeerWindow(n: number): void {
    this.#cw.setPeerWindow(n);
    this.#pump();
  }

  /**
   * Subscribe to an event.
   *
   * @param type `"error"`, `"retransmit"` or `"end"`.
   * @param listener Called synchronously; an exception it throws is rethrown in a microtask.
   * @returns A function that unsubscribes.
   */
  on<K extends keyof ControlTransportEvents>(
    type: K,
    listener: (e: ControlTransportEvents[K]) => void,
  ): () => void {
    const list = this.#listeners[type] as ((e: ControlTransportEvents[K]) => void)[];
    list.push(listener);
    return (): void => {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /**
   * Queue a message for reliable delivery. It is encoded now (header fields are filled in when
   * it is transmitted) and sent as soon as the window allows. Transmitting a StopCCN starts the
   * StopCCN hold time.
   *
   * The returned promise resolves once the peer acknowledged the message and rejects if the
   * transport ends first (with a {@linkcode TransportFailedError} on failure). It is already
   * marked handled, so ignoring it never raises an unhandled rejection.
   *
   * @param msg Message type and AVPs.
   * @param sessionId L2TPv2 header Session ID (the peer's session ID for session messages;
   *   default 0). Must be 0 for L2TPv3.
   * @returns The acknowledgement.
   * @throws {TypeError} For a ZLB or ACK message, or a message the codec refuses.
   * @throws {RangeError} For values the codec refuses.
   */
  send(msg: TransportMessage, sessionId = 0): Promise<void> {
    if (msg.type === null || msg.type === MessageType.ACK) {
      throw new TypeError(
        "Cannot send control message: acknowledgements (ZLB, ACK) are sent by the transport",
      );
    }
    if (this.#end !== undefined) {
      const p = Promise.reject(
        new Error(`Cannot send ${messageTypeName(msg.type)}: the transport has ended`),
      );
      p.catch(noop);
      return p;
    }
    return this.#enqueue(msg, sessionId).promise;
  }

  #enqueue(msg: TransportMessage, sessionId: number): Outgoing {
    const packet = encodeControl({
      version: this.#version,
      tunnelId: this.#peerTunnelId,
      sessionId,
      ns: 0,
      nr: 0,
      type: msg.type,
      avps: msg.avps,
    }, this.#encodeOptions);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    promise.catch(noop);
    const m: Outgoing = { packet, type: msg.type, ns: 0, promise, resolve, reject };
    this.#pending.push(m);
    this.#pump();
    return m;
  }

  /**
   * Process one datagram received from the peer (already demultiplexed to this control
   * connection; for "ip", the whole IP payload with its zero Session ID unless `ipPrefix` is
   * false). Never throws for bad input: problems become `"error"` events. Ignored once the
   * transport has ended.
   *
   * @param packet The datagram (kept by reference; do not reuse the buffer).
   */
  receive(packet: Uint8Array): void {
    if (this.#end !== undefined) return;
    this.#stats.received++;
    let peek: PeekedHeader;
    try {
      peek = peekHeader(packet, this.#wire);
    } catch (e) {
      this.#error("decode", e, packet, false);
      return;
    }
    if (peek.kind !== "control") {
      this.#error("decode", new ParseError("not-control", 0, "data message"), packet, false);
      return;
    }
    if (peek.version !== this.#version) {
      const detail = `version ${peek.version}, expected ${this.#version}`;
      this.#error("decode", new ParseError("bad-version", 1, detail), packet, false);
      return;
    }
    const off = peek.offset;
    const d = seqDiff(peek.ns, this.#nr);
    const ackOnly = peek.zlb || isAckMessage(packet, off, peek.length);
    // Authenticated before anything of it is believed: its Nr, its liveness, its body.
    if (!this.#authentic(packet, off)) return;
    this.#lastHeard = this.#clock.now();
    if (ackOnly) {
      this.#stats.acksReceived++;
      this.#onNr(peek.nr);
      return;
    }
    if (d < 0) {
      this.#stats.duplicates++;
      this.#onNr(peek.nr);
      if (this.#end === undefined) this.#sendAck();
      return;
    }
    if (d >= this.#rwin) {
      this.#stats.outOfWindow++;
      this.#onNr(peek.nr);
      return;
    }
    if (d > 0) {
      const slot = (this.#reorderHead + d) % this.#rwin;
      if (this.#reorder[slot] === undefined) {
        this.#reorder[slot] = packet;
        this.#stats.outOfOrder++;
      } else {
        this.#stats.duplicates++;
      }
      this.#onNr(peek.nr);
      return;
    }
    // In order: take the acknowledgement, the message and whatever the queue now holds in order,
    // and only then send what the window allows, so that it carries the newest Nr.
    this.#onNr(peek.nr, false);
    if (!this.#accept(packet, this.#decodeVerified)) {
      this.#pump();
      return;
    }
    for (;;) {
      if (this.#end !== undefined) return;
      const next = this.#reorder[this.#reorderHead];
      if (next === undefined) break;
      this.#reorder[this.#reorderHead] = undefined;
      this.#accept(next, this.#decodeVerified);
    }
    this.#pump();
    if (this.#ackDue && this.#end === undefined) this.#ackSoon();
  }

  /**
   * Next delivered message; `done` once the transport has ended and every delivered message was
   * taken. Throws the {@linkcode TransportFailedError} if it failed. Not used when `onMessage`
   * was given.
   *
   * @returns The iterator.
   */
  [Symbol.asyncIterator](): AsyncIterator<ControlMessage> {
    return {
      next: (): Promise<IteratorResult<ControlMessage>> => this.#next(),
      return: (): Promise<IteratorResult<ControlMessage>> =>
        Promise.resolve({ done: true, value: undefined }),
    };
  }

  /**
   * End the transport now: cancel every timer, reject pending sends, end the iterator. Calling
   * it again does nothing.
   */
  close(): void {
    this.#finish({ reason: "closed" });
  }

  /** Same as {@linkcode ControlTransport.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  // ---- sending -------------------------------------------------------------------------------

  #pump(): void {
    if (this.#end !== undefined) return;
    if (this.#outputBatch === undefined || this.#batch !== undefined) {
      this.#fill();
      return;
    }
    this.#batch = [];
    try {
      this.#fill();
    } finally {
      this.#flush();
    }
  }

  /** Send what was collected: one datagram to `send`, several in one `sendBatch` call. */
  #flush(): void {
    const batch = this.#batch;
    this.#batch = undefined;
    if (batch === undefined || batch.length === 0) return;
    try {
      if (batch.length === 1) this.#output(batch[0] as Uint8Array);
      else (this.#outputBatch as (packets: Uint8Array[]) => void)(batch);
    } catch (e) {
      this.#error("send", e, batch[0] as Uint8Array, false);
    }
  }

  /** Move what the window allows from the queue to the wire. */
  #fill(): void {
    const win = this.#cw.window;
    while (this.#pendingHead < this.#pending.length && this.#inflight.length < win) {
      const m = this.#pending[this.#pendingHead] as Outgoing;
      this.#pending[this.#pendingHead++] = undefined;
      m.ns = this.#ns;
      this.#ns = seqAdd(this.#ns);
      if (this.#inflight.length === 0) this.#armRetransmit(this.#clock.now() + this.#rto0);
      this.#inflight.push(m);
      this.#stats.messagesSent++;
      this.#transmit(m.packet, m.ns);
      if (this.#end !== undefined) return;
      // The hold time runs from the StopCCN's first transmission (RFC 2661 §5.7), not from when
      // it was queued behind a full window.
      if (m.type === MessageType.StopCCN) this.#startStopHold();
    }
    if (this.#pendingHead === this.#pending.length) {
      this.#pending.length = 0;
      this.#pendingHead = 0;
    } else if (this.#pendingHead > 1024 && this.#pendingHead * 2 > this.#pending.length) {
      this.#pending.splice(0, this.#pendingHead);
      this.#pendingHead = 0;
    }
  }

  /** Fill in the header (peer's tunnel ID, Ns, current Nr), sign, send. */
  #transmit(packet: Uint8Array, ns: number): void {
    const o = this.#prefix;
    if (this.#version === 2) writeU16(packet, o + 4, this.#peerTunnelId);
    else writeU32(packet, o + 4, this.#peerTunnelId);
    writeU16(packet, o + 8, ns);
    writeU16(packet, o + 10, this.#nr);
    const digest = this.#encodeOptions.digest;
    if (digest !== undefined) signMessageDigest(o ? packet.subarray(o) : packet, digest);
    this.#ackDue = false;
    this.#unacked = 0;
    if (this.#ackTimer !== undefined) {
      this.#ackTimer.cancel();
      this.#ackTimer = undefined;
    }
    this.#put(packet);
  }

  #put(packet: Uint8Array): void {
    this.#stats.sent++;
    if (this.#batch !== undefined) {
      this.#batch.push(packet);
      return;
    }
    try {
      this.#output(packet);
    } catch (e) {
      this.#error("send", e, packet, false);
    }
  }

  /** An Nr from the peer: release what it acknowledges (then send what the window allows). */
  #onNr(nr: number, pump = true): void {
    const n = seqDiff(nr, this.#inflight.length > 0 ? this.#inflight[0].ns : this.#ns);
    if (n <= 0 || n > this.#inflight.length) return; // old, or acknowledging what was never sent
    const done = this.#inflight.splice(0, n);
    for (const m of done) {
      if (m === this.#hello) this.#hello = undefined;
      m.resolve();
    }
    this.#cw.onAck(n);
    this.#retries = 0;
    if (this.#inflight.length === 0) {
      this.#recover = -1;
      this.#disarmRetransmit();
    } else {
      if (this.#recover >= 0) {
        if (seqDiff(this.#recover, nr) > 0) {
          // Partial acknowledgement after a timeout: the next one was lost as well.
          this.#retransmit(this.#inflight[0], 0, this.#rto0);
        } else {
          this.#recover = -1;
        }
      }
      this.#armRetransmit(this.#clock.now() + this.#rto0);
    }
    if (pump) this.#pump();
  }

  #armRetransmit(deadline: number): void {
    this.#rtxDeadline = deadline;
    if (this.#rtxTimer !== undefined) {
      if (this.#rtxAt <= deadline) return; // fires first and re-arms
      this.#rtxTimer.cancel();
    }
    this.#rtxAt = deadline;
    this.#rtxTimer = this.#clock.setTimer(deadline - this.#clock.now(), this.#onRetransmitTimer);
  }

  #disarmRetransmit(): void {
    this.#rtxTimer?.cancel();
    this.#rtxTimer = undefined;
  }

  #onRetransmitTimer = (): void => {
    this.#rtxTimer = undefined;
    if (this.#end !== undefined || this.#inflight.length === 0) return;
    const now = this.#clock.now();
    if (now < this.#rtxDeadline) {
      this.#armRetransmit(this.#rtxDeadline);
      return;
    }
    const m = this.#inflight[0];
    if (this.#retries >= this.#maxRetransmits) {
      const error = new TransportFailedError(
        `Cannot deliver ${messageTypeName(m.type)} (Ns ${m.ns}): ` +
          `no acknowledgement after ${this.#retries} retransmissions`,
        this.#retries,
      );
      this.#finish({ reason: "failed", error });
      return;
    }
    this.#retries++;
    const timeout = Math.min(this.#rto0 * 2 ** this.#retries, this.#rtoCap);
    this.#cw.onRetransmit();
    this.#recover = this.#ns;
    this.#retransmit(m, this.#retries, timeout);
    this.#armRetransmit(now + timeout);
  };

  #retransmit(m: Outgoing, attempt: number, timeout: number): void {
    // A fresh copy: a buffer handed to send() is never changed afterwards.
    m.packet = m.packet.slice();
    this.#stats.retransmits++;
    this.#transmit(m.packet, m.ns);
    this.#emit("retransmit", { ns: m.ns, type: m.type, attempt, timeout });
  }

  // ---- receiving -----------------------------------------------------------------------------

  /** Check the Message Digest of a datagram that will not be decoded (if digests are on). */
  #authentic(packet: Uint8Array, off: number): boolean {
    const digest = this.#decodeOptions.digest;
    if (digest === undefined) return true;
    let verdict: DigestVerdict;
    try {
      verdict = verifyMessageDigest(off ? packet.subarray(off) : packet, digest);
    } catch (e) {
      this.#error("decode", e, packet, false);
      return false;
    }
    if (verdict === "valid" || (verdict === "missing" && !digest.required)) return true;
    const error = verdict === "invalid"
      ? new ParseError("bad-digest", CONTROL_HEADER_LENGTH, "Message Digest does not verify")
      : new ParseError("missing-digest", CONTROL_HEADER_LENGTH, "no Message Digest AVP");
    this.#error("auth", error, packet, false);
    return false;
  }

  /**
   * Decode the message expected next and take it in sequence. Returns false if it was dropped
   * (Message Digest failure), leaving Nr where it was.
   */
  #accept(packet: Uint8Array, options: DecodeOptions): boolean {
    let msg: ControlMessage | undefined;
    let failure: unknown;
    try {
      msg = decodeControl(packet, options);
    } catch (e) {
      if (e instanceof ParseError && (e.reason === "bad-digest" || e.reason === "missing-digest")) {
        this.#error("auth", e, packet, false);
        return false;
      }
      failure = e;
      if (
        e instanceof ParseError && !(e instanceof UnknownAvpError) &&
        !(e instanceof UnknownMessageTypeError)
      ) {
        const body = this.#prefix ? packet.subarray(this.#prefix) : packet;
        const r = salvage(body, e, options);
        if (r instanceof ParseError) failure = r;
        else msg = r;
      }
    }
    this.#nr = seqAdd(this.#nr);
    this.#reorderHead = (this.#reorderHead + 1) % this.#rwin;
    this.#ackDue = true;
    this.#unacked++;
    if (msg === undefined) {
      this.#error("decode", failure, packet, true);
      return true;
    }
    if (msg.type === MessageType.SCCRQ || msg.type === MessageType.SCCRP) {
      const rws = getAvp(msg, AvpType.ReceiveWindowSize);
      if (rws !== undefined && rws >= 1) this.setPeerWindow(Math.min(rws, MAX_WINDOW));
    }
    if (msg.type === MessageType.StopCCN) this.#startStopHold();
    this.#stats.delivered++;
    this.#deliver(msg);
    return true;
  }

  #deliver(msg: ControlMessage): void {
    if (this.#onMessage !== undefined) {
      try {
        this.#onMessage(msg);
      } catch (e) {
        // A bug in the consumer: surface it as an unhandled rejection (the daemon logs it and
        // shuts down cleanly) rather than an uncaught exception that ends the process at once.
        Promise.reject(e);
      }
      return;
    }
    const w = this.#waiters.shift();
    if (w !== undefined) w.resolve({ done: false, value: msg });
    else this.#inbox.push(msg);
  }

  #next(): Promise<IteratorResult<ControlMessage>> {
    if (this.#inboxHead < this.#inbox.length) {
      const value = this.#inbox[this.#inboxHead] as ControlMessage;
      this.#inbox[this.#inboxHead++] = undefined;
      if (this.#inboxHead === this.#inbox.length) {
        this.#inbox.length = 0;
        this.#inboxHead = 0;
      }
      return Promise.resolve({ done: false, value });
    }
    const end = this.#end;
    if (end !== undefined) {
      return end.reason === "failed"
        ? Promise.reject(end.error)
        : Promise.resolve({ done: true, value: undefined });
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Acknowledge now, or after the delay: whichever the count of unacknowledged messages says. */
  #ackSoon(): void {
    if (this.#ackEvery > 0 && this.#unacked >= this.#ackEvery) {
      this.#sendAck();
      return;
    }
    this.#ackTimer ??= this.#clock.setTimer(this.#ackDelay, this.#onAckTimer);
  }

  #onAckTimer = (): void => {
    this.#ackTimer = undefined;
    if (this.#end === undefined && this.#ackDue) this.#sendAck();
  };

  /** Send a ZLB (v2) or ACK (v3) carrying the current Nr and the next Ns (not consumed). */
  #sendAck(): void {
    if (this.#ackTimer !== undefined) {
      this.#ackTimer.cancel();
      this.#ackTimer = undefined;
    }
    this.#ackDue = false;
    this.#unacked = 0;
    const packet = encodeControl({
      version: this.#version,
      tunnelId: this.#peerTunnelId,
      ns: this.#ns,
      nr: this.#nr,
      type: this.#version === 2 ? null : MessageType.ACK,
    }, this.#version === 2 ? { transport: this.#wire } : this.#encodeOptions);
    this.#stats.acksSent++;
    this.#put(packet);
  }

  #onHelloTimer = (): void => {
    this.#helloTimer = undefined;
    if (this.#state !== "open") return;
    const idle = this.#clock.now() - this.#lastHeard;
    if (idle < this.#helloInterval) {
      this.#helloTimer = this.#clock.setTimer(this.#helloInterval - idle, this.#onHelloTimer);
      return;
    }
    this.#helloTimer = this.#clock.setTimer(this.#helloInterval, this.#onHelloTimer);
    // One HELLO at a time: an unacknowledged one is being retransmitted already.
    this.#hello ??= this.#enqueue({ type: MessageType.HELLO }, 0);
  };

  // ---- lifecycle -----------------------------------------------------------------------------

  #startStopHold(): void {
    if (this.#state !== "open") return;
    this.#state = "stopping";
    this.#helloTimer?.cancel();
    this.#helloTimer = undefined;
    this.#stopTimer = this.#clock.setTimer(this.#stopHold, () => {
      this.#stopTimer = undefined;
      this.#finish({ reason: "stopped" });
    });
  }

  #finish(end: TransportEnd): void {
    if (this.#end !== undefined) return;
    this.#end = end;
    this.#state = "closed";
    for (const t of [this.#rtxTimer, this.#ackTimer, this.#helloTimer, this.#stopTimer]) {
      t?.cancel();
    }
    this.#rtxTimer =
      this.#ackTimer =
      this.#helloTimer =
      this.#stopTimer =
        undefined;
    const error = end.reason === "failed"
      ? end.error
      : new Error(`Cannot deliver control message: the transport ${end.reason} first`);
    const unsent = this.#pending.slice(this.#pendingHead);
    const outstanding = this.#inflight;
    this.#pending = [];
    this.#pendingHead = 0;
    this.#inflight = [];
    for (const m of outstanding) m.reject(error);
    for (const m of unsent) m?.reject(error);
    this.#reorder.fill(undefined);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (end.reason === "failed") w.reject(end.error);
      else w.resolve({ done: true, value: undefined });
    }
    this.#emit("end", end);
    this.#resolveEnded(end);
  }

  #error(
    kind: TransportErrorEvent["kind"],
    error: unknown,
    packet: Uint8Array,
    accepted: boolean,
  ): void {
    this.#stats.errors++;
    this.#emit("error", { kind, error, packet, accepted });
  }

  #emit<K extends keyof ControlTransportEvents>(type: K, e: ControlTransportEvents[K]): void {
    const list = this.#listeners[type] as ((e: ControlTransportEvents[K]) => void)[];
    if (list.length === 0) return;
    for (const l of [...list]) {
      try {
        l(e);
      } catch (err) {
        Promise.reject(err); // as in #deliver
      }
    }
  }
}
