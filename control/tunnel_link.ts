/**
 * A control connection's way to its peer: the socket and the reliable transport
 * (control/transport.ts) over it, and the sorting of what the socket delivers before the tunnel
 * state machine (control/tunnel.ts) sees it:
 *
 * - data packets are the kernel's business and are ignored; control messages for another
 *   tunnel ID, and (responder) new SCCRQs with tunnel ID 0, go to the `onForeign` hook when one
 *   is given (a listener routes them, see control/listener.ts), else are dropped;
 * - until the socket is connected, only the peer's address is heard; an initiator accepts the
 *   answer from any port of it and then connects the socket there (RFC 2661 §8.1: an LNS may
 *   answer from another port);
 * - an SCCRQ from the peer crossing ours (tunnel ID 0 while we wait for an SCCRP) is decoded
 *   here and handed to the tunnel's tie breaker;
 * - with a Message Digest, the peer's nonce is taken from its SCCRP before the transport
 *   verifies it (RFC 3931 §4.3: the SCCRP is signed with both nonces);
 * - the transport's errors become debug lines (datagrams dropped before they took a sequence
 *   number), or teardown reports for a message taken in sequence with an unknown mandatory AVP,
 *   an unknown mandatory Message Type, or a malformed body (RFC 2661 §7.1, RFC 3931 §7.1; see
 *   control/transport.ts).
 *
 * @example Usage
 * ```ts
 * import { TunnelLink } from "./tunnel_link.ts";
 * import { createConnectionContext } from "./connection_context.ts";
 * import { Handshake } from "./handshake.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const net = new MemoryNetwork();
 * const ctx = createConnectionContext({
 *   version: 2, encap: "udp", role: "initiator", hostName: "lac",
 *   socket: net.socket({ address: "192.0.2.1", port: 1701 }),
 *   peer: { address: "192.0.2.2", port: 1701 },
 * });
 * const handshake = new Handshake({ version: 2, random: ctx.random });
 * const link = new TunnelLink(ctx, handshake, { role: "initiator", state: "wait-ctl-reply" }, {
 *   message: (m) => console.log("message", m.type),
 *   crossing: () => {},
 *   unknownAvp: () => {},
 *   unknownMessageType: () => {},
 *   malformed: () => {},
 *   ended: (e) => console.log("transport", e.reason),
 * });
 * const t = link.open();
 * console.log(link.connected, t.peerTunnelId); // false 0
 * link.close(); // the transport ends (its end is no longer reported)
 * ```
 *
 * @module
 */

import type { Datagram, Endpoint } from "./types.ts";
import type { ConnectionContext } from "./connection_context.ts";
import type { ControlSocket, SessionParams } from "./connection_types.ts";
import { errorText } from "./connection_util.ts";
import { AvpType, MessageType } from "./constants.ts";
import { formatEndpoint } from "./endpoint.ts";
import { MalformedMessageError, UnknownAvpError, UnknownMessageTypeError } from "./errors.ts";
import type { Handshake } from "./handshake.ts";
import { IP_CONTROL_PREFIX_LENGTH, peekHeader } from "./header.ts";
import { type ControlMessage, decodeControl, getAvp } from "./message.ts";
import { ControlTransport, type TransportEnd, type TransportErrorEvent } from "./transport.ts";
import type { TunnelState } from "./tunnel_fsm.ts";
import { HeldSends } from "./held_sends.ts";

/**
 * A socket that may also send several datagrams in one call (a reactor socket's `sendBatch`:
 * one sendmmsg). Optional: fake sockets need only `send`.
 */
type BatchSocket = ControlSocket & {
  sendBatch?(packets: readonly (Uint8Array | { data: Uint8Array; to?: Endpoint })[]): unknown;
};
/**
 * What the link needs to know of its tunnel to sort datagrams.
 *
 * @example Usage
 * ```ts
 * import type { TunnelLinkView } from "./tunnel_link.ts";
 * const view: TunnelLinkView = { role: "responder", state: "idle" };
 * console.log(view.state); // idle
 * ```
 */
export interface TunnelLinkView {
  /** Our role (an initiator that lost the tie breaker becomes a responder). */
  readonly role: "initiator" | "responder";
  /** The tunnel's state. */
  readonly state: TunnelState;
}

/**
 * What the link reports to its tunnel. Each is called synchronously, as it happens.
 *
 * @example Usage
 * ```ts
 * import type { TunnelLinkEvents } from "./tunnel_link.ts";
 * const events: TunnelLinkEvents = {
 *   message: (m, from) => console.log(m.type, from),
 *   crossing: (d, tieBreaker) => console.log(d.from, tieBreaker),
 *   unknownAvp: (e) => console.log(e.scope),
 *   unknownMessageType: (e) => console.log(e.messageType),
 *   malformed: (e) => console.log(e.scope, e.errorCode),
 *   ended: (e) => console.log(e.reason),
 * };
 * events.ended({ reason: "closed" });
 * ```
 */
export interface TunnelLinkEvents {
  /**
   * A control message the transport delivers, in order.
   *
   * @param msg The message.
   * @param from Before the socket is connected: where the datagram came from.
   */
  message(msg: ControlMessage, from: Endpoint | undefined): void;
  /**
   * An SCCRQ from our peer crossing ours.
   *
   * @param d The datagram.
   * @param tieBreaker Its Tie Breaker, if any.
   */
  crossing(d: Datagram, tieBreaker: bigint | undefined): void;
  /**
   * A message with an unknown mandatory AVP (RFC 2661 §4.1, RFC 3931 §5.2).
   *
   * @param err The error, with the decoded message.
   */
  unknownAvp(err: UnknownAvpError): void;
  /**
   * A message of an unknown type with the M bit set (RFC 3931 §5.4.1: clear the connection).
   *
   * @param err The error.
   */
  unknownMessageType(err: UnknownMessageTypeError): void;
  /**
   * A message taken in sequence whose body is malformed beyond what may be ignored (RFC 2661
   * §7.1, RFC 3931 §7.1: a malformed AVP with the M bit set, or AVPs that cannot be delimited).
   *
   * @param err The error, with the scope to tear down and what could be decoded.
   */
  malformed(err: MalformedMessageError): void;
  /**
   * The current transport ended (closed, StopCCN hold over, or the peer went silent).
   *
   * @param end How.
   */
  ended(end: TransportEnd): void;
}

/**
 * The socket and transport of one tunnel (see the module documentation).
 *
 * @example Usage
 * ```ts
 * import { TunnelLink } from "./tunnel_link.ts";
 * import { createConnectionContext } from "./connection_context.ts";
 * import { Handshake } from "./handshake.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const ctx = createConnectionContext({
 *   version: 2, encap: "udp", role: "responder", hostName: "lns",
 *   socket: new MemoryNetwork().socket({ address: "192.0.2.2", port: 1701 }),
 *   peer: { address: "192.0.2.1", port: 1701 },
 * });
 * const noop = (): void => {};
 * const link = new TunnelLink(ctx, new Handshake({ version: 2, random: ctx.random }),
 *   { role: "responder", state: "idle" },
 *   { message: noop, crossing: noop, unknownAvp: noop, unknownMessageType: noop, malformed: noop,
 *     ended: noop });
 * link.receive({ data: new Uint8Array([0xc8]), from: { address: "192.0.2.1", port: 1701 } });
 * console.log(link.transport === undefined); // true (not opened: nothing was processed)
 * ```
 */
export class TunnelLink<S extends SessionParams = SessionParams> {
  readonly #ctx: ConnectionContext<S>;
  readonly #handshake: Handshake;
  readonly #view: TunnelLinkView;
  readonly #events: TunnelLinkEvents;
  readonly #socket: ControlSocket;
  #peer: Endpoint;
  #connected: boolean;
  #transport: ControlTransport | undefined;
  #unsubscribe: (() => void)[] = [];
  /** Source of the datagram the transport is processing (an initiator follows the answer). */
  #lastFrom: Endpoint | undefined;
  #authWarned = false;
  /** With a socket that sends batches: what the tunnel sends while its jobs run, sent together. */
  readonly #held: HeldSends | undefined;

  /**
   * A link without a transport yet.
   *
   * @param ctx The connection's context (socket, peer and `connected` come from its options).
   * @param handshake The tunnel's authentication state (codec options, nonce learning).
   * @param view The tunnel's role and state.
   * @param events Where to report.
   */
  constructor(
    ctx: ConnectionContext<S>,
    handshake: Handshake,
    view: TunnelLinkView,
    events: TunnelLinkEvents,
  ) {
    this.#ctx = ctx;
    this.#handshake = handshake;
    this.#view = view;
    this.#events = events;
    this.#socket = ctx.options.socket;
    this.#peer = { ...ctx.options.peer };
    this.#connected = ctx.options.connected ?? ctx.options.role === "responder";
    if (typeof (this.#socket as BatchSocket).sendBatch === "function") {
      this.#held = new HeldSends(
        (packets) => packets.length === 1 ? this.#sendNow(packets[0]) : this.#sendBatch(packets),
        (flush) => ctx.queue.whenIdle(flush),
        ctx.clock,
        (e) =>
          ctx.log.debug("{tunnel}: send failed: {error}", {
            tunnel: ctx.name,
            error: errorText(e),
          }),
      );
    }
  }

  /** The socket. */
  get socket(): ControlSocket {
    return this.#socket;
  }

  /** The peer (after an initiator followed the answer's source port, that one); a copy. */
  get peer(): Endpoint {
    return { ...this.#peer };
  }

  /** Whether the socket is connected to the peer. */
  get connected(): boolean {
    return this.#connected;
  }

  /** The current transport, if one was opened. */
  get transport(): ControlTransport | undefined {
    return this.#transport;
  }

  /** Start reading the socket, until the tunnel is dead or the socket ends. */
  readLoop(): void {
    void this.#read();
  }

  /**
   * Process one datagram as if read from the socket. Never throws (a failure is logged).
   *
   * @param d The datagram (kept by reference).
   */
  receive(d: Datagram): void {
    try {
      this.#onDatagram(d);
    } catch (e) {
      this.#ctx.log.warn("{tunnel}: dropped a datagram from {from}: {error}", {
        tunnel: this.#ctx.name,
        from: formatEndpoint(d.from),
        error: errorText(e),
      });
    }
  }

  /**
   * Open a new transport (the current one, if any, is replaced without being closed).
   *
   * @returns The transport, with the codec options known so far.
   */
  open(): ControlTransport {
    const ctx = this.#ctx;
    const o = ctx.options;
    const t = new ControlTransport({
      version: ctx.version,
      encap: ctx.encap,
      ipPrefix: ctx.ipPrefix,
      // With a batch socket, everything the tunnel sends while its jobs run goes out together
      // (one sendmmsg from HeldSends), so the transport needs no batching of its own.
      send: this.#held === undefined ? (p) => this.#sendNow(p) : (p) => this.#held?.put(p),
      // The acknowledgement due after ackEvery messages waits for the tunnel's jobs on them, so
      // that a reply (an ICRP to an ICRQ) carries it instead of a ZLB.
      deferAck: (ack) => ctx.queue.whenIdle(ack),
      clock: ctx.clock,
      receiveWindow: ctx.identity.receiveWindow,
      peerWindow: o.peerWindow,
      retransmitTimeout: o.retryTimeout,
      maxRetransmits: o.maxRetries,
      helloInterval: o.helloInterval ?? 0,
      ...o.transport,
      // A listener sent our SCCRP (Ns 0) statelessly; see `sccrpReply`.
      ...(o.sccrpReply !== undefined && o.role === "responder" ? { initialNs: 1 } : {}),
      onMessage: (m) => this.#events.message(m, this.#lastFrom),
    });
    this.#unsubscribe = [
      t.on("error", (e) => this.#onTransportError(e)),
      t.on("end", (e) => {
        if (t === this.#transport) this.#events.ended(e);
      }),
    ];
    this.#transport = t;
    this.applyAuth();
    return t;
  }

  /** Drop the current transport without any event (restart after a tie breaker). */
  drop(): void {
    this.#held?.flush();
    for (const u of this.#unsubscribe) u();
    this.#unsubscribe = [];
    this.#transport?.close();
    this.#transport = undefined;
  }

  /** The connection is over: close the transport without reporting its end. */
  close(): void {
    for (const u of this.#unsubscribe) u();
    this.#unsubscribe = [];
    this.#transport?.close();
    this.#held?.flush();
  }

  /** Give the transport the codec options from the secret, digest and nonces known so far. */
  applyAuth(): void {
    const t = this.#transport;
    if (t === undefined) return;
    const { encode, decode } = this.#handshake.codecOptions();
    t.encodeOptions = encode;
    t.decodeOptions = decode;
  }

  /**
   * An initiator whose socket is not connected yet: the peer is where the SCCRP came from
   * (RFC 2661 §8.1), and the socket is connected to it.
   *
   * @param from Where the SCCRP came from (default the configured peer).
   */
  follow(from: Endpoint | undefined): void {
    if (this.#connected) return;
    const { log, name } = this.#ctx;
    const answer = from ?? this.#peer;
    if (answer.port !== this.#peer.port) {
      log.info("{tunnel}: {peer} answered from port {port}: following it (RFC 2661 §8.1)", {
        tunnel: name,
        peer: formatEndpoint(this.#peer),
        port: answer.port,
      });
    }
    // What is held was meant for the peer as configured.
    this.#held?.flush();
    this.#peer = { ...answer };
    try {
      this.#socket.connect(this.#peer, this.#transport?.peerTunnelId);
      this.#connected = true;
    } catch (e) {
      log.warn("{tunnel}: cannot connect the socket to {peer}: {error}", {
        tunnel: name,
        peer: formatEndpoint(this.#peer),
        error: errorText(e),
      });
    }
  }

  async #read(): Promise<void> {
    const foreign = this.#ctx.options.onForeign;
    try {
      for await (const d of this.#socket) {
        if (this.#view.state === "dead") break;
        if (foreign !== undefined && this.#isForeign(d) && foreign(d)) continue;
        this.receive(d);
      }
    } catch (e) {
      if (this.#view.state !== "dead") {
        this.#ctx.log.warn("{tunnel}: socket read failed: {error}", {
          tunnel: this.#ctx.name,
          error: errorText(e),
        });
      }
    }
  }

  /** A control message for another tunnel, or (responder) a non-ZLB one for tunnel ID 0. */
  #isForeign(d: Datagram): boolean {
    let peek;
    try {
      peek = peekHeader(d.data, this.#ctx.ipPrefix ? "ip" : "udp");
    } catch {
      return false;
    }
    if (peek.kind !== "control") return false;
    if (peek.tunnelId !== 0) return peek.tunnelId !== this.#ctx.localTunnelId;
    return this.#view.role === "responder" && !peek.zlb;
  }

  #sendNow(packet: Uint8Array): void {
    if (this.#connected) this.#socket.send(packet);
    else this.#socket.send(packet, this.#peer);
  }

  /** Several datagrams in one call of the socket's `sendBatch` (sendmmsg on a reactor socket). */
  #sendBatch(packets: Uint8Array[]): void {
    const socket = this.#socket as Required<BatchSocket>;
    if (this.#connected) socket.sendBatch(packets);
    else socket.sendBatch(packets.map((data) => ({ data, to: this.#peer })));
  }

  #onDatagram(d: Datagram): void {
    const { role, state } = this.#view;
    const { log, name } = this.#ctx;
    if (state === "dead" || this.#transport === undefined && role === "responder") return;
    if (!this.#connected && d.from.address !== this.#peer.address) {
      log.debug("{tunnel}: ignored a datagram from {from}: not the peer", {
        tunnel: name,
        from: formatEndpoint(d.from),
      });
      return;
    }
    let peek;
    try {
      peek = peekHeader(d.data, this.#ctx.ipPrefix ? "ip" : "udp");
    } catch {
      this.#transport?.receive(d.data); // reported as an error event
      return;
    }
    if (peek.kind !== "control") return; // data packets are the kernel's business
    if (peek.tunnelId === 0) {
      if (role === "initiator") {
        if (state === "wait-ctl-reply" && !peek.zlb) this.#crossing(d);
        return;
      }
      if (peek.zlb) return;
    } else if (peek.tunnelId !== this.#ctx.localTunnelId) {
      log.debug("{tunnel}: ignored a message for tunnel {id}", { tunnel: name, id: peek.tunnelId });
      return;
    }
    // The SCCRP's nonce is needed to verify it (and everything after it): only with a digest,
    // and only while we wait for that reply.
    if (
      role === "initiator" && this.#handshake.digestOn && state === "wait-ctl-reply" &&
      this.#handshake.awaitingNonce && !peek.zlb
    ) {
      this.#learnNonce(d);
    }
    if (!this.#connected && state === "wait-ctl-reply") this.#lastFrom = d.from;
    this.#transport?.receive(d.data);
  }

  /** Decode without the transport (a crossing SCCRQ, or an SCCRP whose nonce we need first). */
  #peekDecode(d: Datagram, verify: boolean): ControlMessage | undefined {
    try {
      return decodeControl(d.data, {
        transport: this.#ctx.ipPrefix ? "ip" : "udp",
        version: this.#ctx.version,
        ...this.#handshake.peekOptions(verify),
      });
    } catch (e) {
      this.#ctx.log.debug("{tunnel}: cannot decode a datagram from {from}: {error}", {
        tunnel: this.#ctx.name,
        from: formatEndpoint(d.from),
        error: errorText(e),
      });
      return undefined;
    }
  }

  /** An SCCRP signed with the peer's nonce: take the nonce once its digest verifies. */
  #learnNonce(d: Datagram): void {
    const msg = this.#peekDecode(d, false);
    if (msg === undefined) return;
    const bytes = this.#ctx.ipPrefix ? d.data.subarray(IP_CONTROL_PREFIX_LENGTH) : d.data;
    if (this.#handshake.learnNonce(msg, bytes)) this.applyAuth();
  }

  /** An SCCRQ from our peer crossing ours on this socket. */
  #crossing(d: Datagram): void {
    const msg = this.#peekDecode(d, true);
    if (msg === undefined || msg.type !== MessageType.SCCRQ) return;
    this.#events.crossing(d, getAvp(msg, AvpType.TieBreaker));
  }

  #onTransportError(e: TransportErrorEvent): void {
    const { log, name } = this.#ctx;
    const err = e.error;
    if (e.kind === "auth") {
      const args = { tunnel: name, peer: formatEndpoint(this.#peer), error: errorText(err) };
      const line =
        "{tunnel}: Cannot authenticate a control message from {peer}: {error} (wrong shared secret?)";
      if (!this.#authWarned) log.warn(line, args);
      else log.debug(line, args);
      this.#authWarned = true;
      return;
    }
    if (e.kind === "send") {
      log.debug("{tunnel}: send failed: {error}", { tunnel: name, error: errorText(err) });
      return;
    }
    if (!e.accepted) {
      log.debug("{tunnel}: dropped a malformed datagram: {error}", {
        tunnel: name,
        error: errorText(err),
      });
      return;
    }
    if (err instanceof UnknownAvpError) {
      this.#events.unknownAvp(err);
      return;
    }
    if (err instanceof UnknownMessageTypeError) {
      if (err.mandatory) this.#events.unknownMessageType(err);
      return;
    }
    if (err instanceof MalformedMessageError) {
      this.#events.malformed(err);
      return;
    }
    log.warn("{tunnel}: ignored a malformed message from {peer}: {error}", {
      tunnel: name,
      peer: formatEndpoint(this.#peer),
      error: errorText(err),
    });
  }
}
