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
 * The module is the entry of the transport: besides {@linkcode ControlTransport} it re-exports its
 * options and defaults (control/transport_options.ts) and the types of what it sends, emits and
 * counts (control/transport_types.ts). Its parts live beside it: the reading of received
 * datagrams and the recovery of messages with malformed AVPs (control/transport_decode.ts), the
 * retransmission, delayed acknowledgement and keepalive timers (control/transport_timers.ts),
 * its queues (control/transport_queues.ts) and its batching output (control/transport_output.ts).
 *
 * @module
 */

import { signMessageDigest } from "./auth.ts";
import { writeU16, writeU32 } from "./bytes.ts";
import type { Clock, Timer } from "./clock.ts";
import { AvpType, MessageType, type MessageTypeCode, messageTypeName } from "./constants.ts";
import { ParseError } from "./errors.ts";
import {
  type L2tpVersion,
  type PeekedHeader,
  peekHeader,
  type Transport as Encapsulation,
} from "./header.ts";
import {
  type ControlMessage,
  type DecodeOptions,
  encodeControl,
  type EncodeOptions,
  getAvp,
} from "./message.ts";
import { seqAdd, seqDiff } from "./sequence.ts";
import { checkDigest, decodeReceived, isAckMessage, ReceiveFailure } from "./transport_decode.ts";
import { resolveTransportOptions, type TransportSettings } from "./transport_options.ts";
import type { ControlTransportOptions } from "./transport_options.ts";
import { DatagramOutput } from "./transport_output.ts";
import { Fifo, MessageInbox, ReorderQueue } from "./transport_queues.ts";
import { DelayedAck, KeepaliveTimer, RetransmitTimer } from "./transport_timers.ts";
import {
  type ControlTransportEvents,
  type ControlTransportStats,
  newTransportStats,
  type TransportEnd,
  type TransportErrorEvent,
  TransportFailedError,
  TransportListeners,
  type TransportMessage,
  type TransportState,
} from "./transport_types.ts";
import { CongestionWindow, MAX_WINDOW } from "./window.ts";

export { type ControlTransportOptions, TRANSPORT_DEFAULTS } from "./transport_options.ts";
export {
  type ControlTransportEvents,
  type ControlTransportStats,
  type RetransmitEvent,
  type TransportEnd,
  type TransportEndReason,
  type TransportErrorEvent,
  TransportFailedError,
  type TransportMessage,
  type TransportState,
} from "./transport_types.ts";

interface Outgoing {
  packet: Uint8Array;
  type: MessageTypeCode;
  ns: number;
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}

const noop = (): void => {};

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
  /** The validated options; `wire` is what the codec sees. */
  readonly #o: TransportSettings;
  readonly #version: L2tpVersion;
  readonly #wire: Encapsulation;
  readonly #prefix: number;
  readonly #out: DatagramOutput;
  readonly #clock: Clock;
  readonly #rwin: number;
  readonly #cw: CongestionWindow;
  readonly #stats: ControlTransportStats = newTransportStats();

  #peerTunnelId = 0;
  #encodeOptions: EncodeOptions;
  #decodeOptions: DecodeOptions = {};
  #decodeVerified: DecodeOptions = {};

  // Sending side.
  #ns: number;
  readonly #pending = new Fifo<Outgoing>();
  #inflight: Outgoing[] = [];
  #retries = 0;
  #recover = -1;
  readonly #rtx: RetransmitTimer;

  // Receiving side.
  #nr: number;
  readonly #reorder: ReorderQueue;
  readonly #ack: DelayedAck;
  readonly #keepalive: KeepaliveTimer;
  #hello: Outgoing | undefined;

  // Lifecycle and delivery.
  #state: TransportState = "open";
  #stopTimer: Timer | undefined;
  #end: TransportEnd | undefined;
  #resolveEnded!: (end: TransportEnd) => void;
  readonly #ended: Promise<TransportEnd>;
  readonly #inbox: MessageInbox;
  readonly #listeners = new TransportListeners();

  /**
   * A transport at the start of a control connection (Ns and Nr 0 unless given).
   *
   * @param options Version, encapsulation, send function, clock, windows and timers.
   * @throws {RangeError} If an option is out of range.
   * @throws {TypeError} If L2TPv2 is asked to run over IP.
   */
  constructor(options: ControlTransportOptions) {
    const o = resolveTransportOptions(options);
    this.#o = o;
    this.#version = o.version;
    this.#wire = o.wire;
    this.#prefix = o.prefix;
    this.#out = new DatagramOutput(
      options.send,
      options.sendBatch,
      (e, packet) => this.#error("send", e, packet, false),
    );
    this.#clock = o.clock;
    this.#rwin = o.receiveWindow;
    this.#cw = new CongestionWindow(o.peerWindow, o.congestionControl);
    this.#rtx = new RetransmitTimer(
      o.clock,
      o.retransmitTimeout,
      o.retransmitCap,
      this.#onRetransmitTimer,
    );
    this.#ack = new DelayedAck(
      o.clock,
      o.ackDelay,
      o.ackEvery,
      this.#onAckDue,
      options.deferAck,
    );
    this.#ns = o.initialNs;
    this.#nr = o.initialNr;
    this.peerTunnelId = options.peerTunnelId ?? 0;
    this.#encodeOptions = { ...options.encodeOptions, transport: this.#wire };
    this.decodeOptions = options.decodeOptions ?? {};
    this.#inbox = new MessageInbox(options.onMessage);
    this.#reorder = new ReorderQueue(this.#rwin);
    this.#ended = new Promise((resolve) => (this.#resolveEnded = resolve));
    this.#keepalive = new KeepaliveTimer(o.clock, o.helloInterval, this.#onHelloTimer);
  }

  /** Protocol version. */
  get version(): L2tpVersion {
    return this.#version;
  }

  /** Encapsulation ("udp" or "ip"). */
  get encap(): Encapsulation {
    return this.#o.encap;
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
    return this.#pending.length;
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
    return this.#listeners.on(type, listener);
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
    this.#keepalive.heard();
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
      if (this.#reorder.hold(d, packet)) this.#stats.outOfOrder++;
      else this.#stats.duplicates++;
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
      const next = this.#reorder.take();
      if (next === undefined) break;
      this.#accept(next, this.#decodeVerified);
    }
    this.#pump();
    if (this.#ack.due && this.#end === undefined) this.#ack.schedule();
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
      next: (): Promise<IteratorResult<ControlMessage>> => this.#inbox.next(this.#end),
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
    if (this.#end === undefined) this.#out.batch(this.#fill);
  }

  /** Move what the window allows from the queue to the wire. */
  #fill = (): void => {
    const win = this.#cw.window;
    while (this.#pending.length > 0 && this.#inflight.length < win) {
      const m = this.#pending.shift() as Outgoing;
      m.ns = this.#ns;
      this.#ns = seqAdd(this.#ns);
      if (this.#inflight.length === 0) this.#rtx.arm(this.#clock.now() + this.#rtx.initial);
      this.#inflight.push(m);
      this.#stats.messagesSent++;
      this.#transmit(m.packet, m.ns);
      if (this.#end !== undefined) return;
      // The hold time runs from the StopCCN's first transmission (RFC 2661 §5.7), not from when
      // it was queued behind a full window.
      if (m.type === MessageType.StopCCN) this.#startStopHold();
    }
  };

  /** Fill in the header (peer's tunnel ID, Ns, current Nr), sign, send. */
  #transmit(packet: Uint8Array, ns: number): void {
    const o = this.#prefix;
    if (this.#version === 2) writeU16(packet, o + 4, this.#peerTunnelId);
    else writeU32(packet, o + 4, this.#peerTunnelId);
    writeU16(packet, o + 8, ns);
    writeU16(packet, o + 10, this.#nr);
    const digest = this.#encodeOptions.digest;
    if (digest !== undefined) signMessageDigest(o ? packet.subarray(o) : packet, digest);
    this.#ack.clear();
    this.#put(packet);
  }

  #put(packet: Uint8Array): void {
    this.#stats.sent++;
    this.#out.put(packet);
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
      this.#rtx.cancel();
    } else {
      if (this.#recover >= 0) {
        if (seqDiff(this.#recover, nr) > 0) {
          // Partial acknowledgement after a timeout: the next one was lost as well.
          this.#retransmit(this.#inflight[0], 0, this.#rtx.initial);
        } else {
          this.#recover = -1;
        }
      }
      this.#rtx.arm(this.#clock.now() + this.#rtx.initial);
    }
    if (pump) this.#pump();
  }

  #onRetransmitTimer = (): void => {
    if (this.#end !== undefined || this.#inflight.length === 0) return;
    const now = this.#clock.now();
    if (!this.#rtx.due(now)) return;
    const m = this.#inflight[0];
    if (this.#retries >= this.#o.maxRetransmits) {
      const error = new TransportFailedError(
        `Cannot deliver ${messageTypeName(m.type)} (Ns ${m.ns}): ` +
          `no acknowledgement after ${this.#retries} retransmissions`,
        this.#retries,
      );
      this.#finish({ reason: "failed", error });
      return;
    }
    this.#retries++;
    const timeout = this.#rtx.backoff(this.#retries);
    this.#cw.onRetransmit();
    this.#recover = this.#ns;
    this.#retransmit(m, this.#retries, timeout);
    this.#rtx.arm(now + timeout);
  };

  #retransmit(m: Outgoing, attempt: number, timeout: number): void {
    // A fresh copy: a buffer handed to send() is never changed afterwards.
    m.packet = m.packet.slice();
    this.#stats.retransmits++;
    this.#transmit(m.packet, m.ns);
    this.#listeners.emit("retransmit", { ns: m.ns, type: m.type, attempt, timeout });
  }

  // ---- receiving -----------------------------------------------------------------------------

  /** Check the Message Digest of a datagram that will not be decoded (if digests are on). */
  #authentic(packet: Uint8Array, off: number): boolean {
    const digest = this.#decodeOptions.digest;
    if (digest === undefined) return true;
    const failure = checkDigest(off ? packet.subarray(off) : packet, digest);
    if (failure === undefined) return true;
    this.#error(failure.kind, failure.error, packet, false);
    return false;
  }

  /**
   * Decode the message expected next and take it in sequence. Returns false if it was dropped
   * (Message Digest failure), leaving Nr where it was.
   */
  #accept(packet: Uint8Array, options: DecodeOptions): boolean {
    const msg = decodeReceived(packet, options, this.#prefix);
    if (msg instanceof ReceiveFailure && msg.kind === "auth") {
      this.#error("auth", msg.error, packet, false);
      return false;
    }
    this.#nr = seqAdd(this.#nr);
    this.#reorder.advance();
    this.#ack.received();
    if (msg instanceof ReceiveFailure) {
      this.#error("decode", msg.error, packet, true);
      return true;
    }
    if (msg.type === MessageType.SCCRQ || msg.type === MessageType.SCCRP) {
      const rws = getAvp(msg, AvpType.ReceiveWindowSize);
      if (rws !== undefined && rws >= 1) this.setPeerWindow(Math.min(rws, MAX_WINDOW));
    }
    if (msg.type === MessageType.StopCCN) this.#startStopHold();
    this.#stats.delivered++;
    this.#inbox.deliver(msg);
    return true;
  }

  #onAckDue = (): void => {
    if (this.#end === undefined) this.#sendAck();
  };

  /** Send a ZLB (v2) or ACK (v3) carrying the current Nr and the next Ns (not consumed). */
  #sendAck(): void {
    this.#ack.clear();
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
    if (this.#state !== "open" || !this.#keepalive.idle()) return;
    // One HELLO at a time: an unacknowledged one is being retransmitted already.
    this.#hello ??= this.#enqueue({ type: MessageType.HELLO }, 0);
  };

  // ---- lifecycle -----------------------------------------------------------------------------

  #startStopHold(): void {
    if (this.#state !== "open") return;
    this.#state = "stopping";
    this.#keepalive.cancel();
    this.#stopTimer = this.#clock.setTimer(this.#o.stopHold, () => {
      this.#stopTimer = undefined;
      this.#finish({ reason: "stopped" });
    });
  }

  #finish(end: TransportEnd): void {
    if (this.#end !== undefined) return;
    this.#end = end;
    this.#state = "closed";
    this.#rtx.cancel();
    this.#ack.cancel();
    this.#keepalive.cancel();
    this.#stopTimer?.cancel();
    this.#stopTimer = undefined;
    const error = end.reason === "failed"
      ? end.error
      : new Error(`Cannot deliver control message: the transport ${end.reason} first`);
    const unsent = this.#pending.drain();
    const outstanding = this.#inflight;
    this.#inflight = [];
    for (const m of outstanding) m.reject(error);
    for (const m of unsent) m.reject(error);
    this.#reorder.clear();
    this.#inbox.end(end);
    this.#listeners.emit("end", end);
    this.#resolveEnded(end);
  }

  #error(
    kind: TransportErrorEvent["kind"],
    error: unknown,
    packet: Uint8Array,
    accepted: boolean,
  ): void {
    this.#stats.errors++;
    this.#listeners.emit("error", { kind, error, packet, accepted });
  }
}
