/**
 * The tunnel of a control connection: the tunnel state table (control/tunnel_fsm.ts,
 * RFC 2661 §7.2, RFC 3931 §7.2) driven by what the link to the peer (control/tunnel_link.ts)
 * delivers and by local requests, and the actions of its rows: sending SCCRQ, SCCRP, SCCCN and
 * StopCCN, settling crossing SCCRQs, creating and deleting the kernel tunnel through the hooks,
 * the establishment timer, and handing session messages to the call table
 * (control/call_table.ts), which it owns.
 *
 * The establishment checks (start AVPs, Challenge Response, nonces, Tie Breaker) are
 * control/handshake.ts's. An initiator sends its SCCRQ to the configured peer and takes the
 * first answer's source as the peer; the kernel tunnel is created once our SCCCN is
 * acknowledged (a responder creates it when the SCCCN arrives). Closing sends a StopCCN, takes
 * the sessions and the kernel tunnel down, and the transport keeps acknowledging for the hold
 * time before the tunnel is over (RFC 2661 §5.7, RFC 3931 §6.4).
 *
 * Bad messages from the peer (what the transport drops and what it takes in sequence is in
 * control/transport.ts) are answered as the RFCs say, each with Result Code 2 ("general error,
 * see Error Code"):
 *
 * | received in sequence | answer |
 * | --- | --- |
 * | unknown AVP with the M bit (RFC 2661 §4.1, RFC 3931 §5.2) | session message: CDN; other: StopCCN; Error Code 8 |
 * | unknown Message Type with the M bit (RFC 2661 §4.4.1, RFC 3931 §5.4.1) | StopCCN, Error Code 8 |
 * | unknown Message Type without the M bit | acknowledged, ignored |
 * | malformed AVP without the M bit (RFC 2661 §7.1, RFC 3931 §7.1) | the AVP is ignored, the message processed |
 * | malformed AVP with the M bit (idem) | session message: CDN; other: StopCCN; Error Code 2 (length) or 3 (value) |
 * | AVPs that cannot be delimited, or a bad Message Type AVP (idem: unrecoverable) | StopCCN, Error Code 2 or 3 |
 *
 * A session message that names no session of the peer's cannot be answered and is dropped (a
 * debug line). Each teardown logs one warning (rate-limit the log to bound a flood, see
 * lib/log_limit.ts); a bad message on a tunnel that is already closing logs at debug.
 *
 * @example Usage
 * ```ts
 * import { Tunnel } from "./tunnel.ts";
 * import { createConnectionContext } from "./connection_context.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const net = new MemoryNetwork();
 * const lac = new Tunnel(createConnectionContext({
 *   version: 2, encap: "udp", role: "initiator", hostName: "lac",
 *   socket: net.socket({ address: "10.0.0.1", port: 1701 }),
 *   peer: { address: "10.0.0.2", port: 1701 },
 * }));
 * const lns = new Tunnel(createConnectionContext({
 *   version: 2, encap: "udp", role: "responder", hostName: "lns", connected: false,
 *   socket: net.socket({ address: "10.0.0.2", port: 1701 }),
 *   peer: { address: "10.0.0.1", port: 1701 },
 * }));
 * lns.start();
 * lac.start();
 * console.log(await lac.established, await lns.established); // true true
 * lac.abort();
 * lns.abort();
 * await Promise.all([lac.done, lns.done]);
 * console.log(lac.state, lns.state); // dead dead
 * ```
 *
 * @module
 */

import type { Datagram, Endpoint } from "./types.ts";
import type { ResultCodeValue } from "./avp.ts";
import {
  buildScccn,
  buildSccrp,
  buildSccrq,
  buildStopccn,
  type PeerTunnelInfo,
  readTunnelAvps,
} from "./builders.ts";
import { CallTable, type CallTableTunnel, isCallMessage } from "./call_table.ts";
import type { Timer } from "./clock.ts";
import type { ConnectionContext } from "./connection_context.ts";
import type { SessionParams, TunnelDownInfo, TunnelUpInfo } from "./connection_types.ts";
import { describeResult, errorText } from "./connection_util.ts";
import { AvpType, ErrorCode, MessageType, messageTypeName, StopCcnResult } from "./constants.ts";
import { formatEndpoint } from "./endpoint.ts";
import type { MalformedMessageError, UnknownAvpError, UnknownMessageTypeError } from "./errors.ts";
import { Handshake, type Refusal } from "./handshake.ts";
import { deferred } from "./job_queue.ts";
import { type ControlMessage, getAvp } from "./message.ts";
import type { ControlTransport, TransportEnd, TransportMessage } from "./transport.ts";
import {
  type TunnelAction,
  type TunnelEvent,
  type TunnelState,
  tunnelTransition,
} from "./tunnel_fsm.ts";
import { TunnelLink } from "./tunnel_link.ts";

/** What an event carries into the tunnel table. */
interface TunnelCtx {
  result?: ResultCodeValue;
  reason?: string;
  info?: PeerTunnelInfo;
  msg?: ControlMessage;
  datagram?: Datagram;
  from?: Endpoint;
}

/** Result Code 2, "general error, see Error Code", in a StopCCN and a CDN alike (RFC 2661 §4.4.2). */
const GENERAL_ERROR = 2;

/** States in which the establishment timer runs. */
const SETUP_STATES: ReadonlySet<TunnelState> = new Set([
  "wait-ctl-reply",
  "wait-ctl-conn",
  "wait-ctl-ack",
]);

/**
 * One tunnel and its call table (see the module documentation). Every method that changes
 * the tunnel queues a job on the context's queue; a job never throws.
 *
 * @example Usage
 * ```ts
 * import { Tunnel } from "./tunnel.ts";
 * import { createConnectionContext } from "./connection_context.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const tunnel = new Tunnel(createConnectionContext({
 *   version: 3, encap: "udp", role: "initiator", hostName: "pe1", setupTimeout: 0,
 *   socket: new MemoryNetwork().socket({ address: "192.0.2.1", port: 1701 }),
 *   peer: { address: "192.0.2.2", port: 1701 },
 * }));
 * console.log(tunnel.state, tunnel.peerTunnelId); // idle 0
 * tunnel.abort("not needed");
 * await tunnel.done;
 * console.log(tunnel.state, await tunnel.established); // dead false
 * ```
 */
export class Tunnel<S extends SessionParams = SessionParams> implements CallTableTunnel {
  /** The tunnel's sessions. */
  readonly calls: CallTable<S>;
  readonly #ctx: ConnectionContext<S>;
  readonly #handshake: Handshake;
  readonly #link: TunnelLink<S>;
  #role: "initiator" | "responder";
  #state: TunnelState = "idle";
  #started = false;
  #peerInfo: PeerTunnelInfo = {};
  #setupTimer: Timer | undefined;
  #tunnelUp = false;
  #broughtDown = false;
  #downReported = false;
  #downReason = "";
  /** The Result Code of the StopCCN that ends the tunnel, sent or received (first one wins). */
  #downResult?: ResultCodeValue;
  readonly #established = deferred<boolean>();
  readonly #done = deferred<void>();

  /**
   * A tunnel in state `idle`; nothing happens until {@linkcode Tunnel.start}.
   *
   * @param ctx The connection's context.
   */
  constructor(ctx: ConnectionContext<S>) {
    this.#ctx = ctx;
    this.#role = ctx.options.role;
    this.#handshake = new Handshake({
      version: ctx.version,
      secret: ctx.secret,
      digest: ctx.digest,
      tieBreaker: ctx.options.tieBreaker,
      random: ctx.random,
    });
    const enqueue = ctx.queue.enqueue.bind(ctx.queue);
    this.#link = new TunnelLink(ctx, this.#handshake, this, {
      message: (msg, from) => enqueue(() => this.#handleMessage(msg, from)),
      crossing: (d, theirs) => enqueue(() => this.#crossing(d, theirs)),
      unknownAvp: (err) => enqueue(() => this.#onUnknownAvp(err)),
      unknownMessageType: (err) => enqueue(() => this.#onUnknownMessageType(err)),
      malformed: (err) => enqueue(() => this.#onMalformed(err)),
      ended: (end) => this.#onTransportEnd(end),
    });
    this.calls = new CallTable<S>(ctx, this);
  }

  /** `initiator` or `responder` (an initiator that lost the tie breaker becomes a responder). */
  get role(): "initiator" | "responder" {
    return this.#role;
  }

  /** Tunnel state. */
  get state(): TunnelState {
    return this.#state;
  }

  /** Our tunnel (control connection) ID. */
  get localTunnelId(): number {
    return this.#ctx.localTunnelId;
  }

  /** The peer's tunnel ID (0 until known). */
  get peerTunnelId(): number {
    return this.#link.transport?.peerTunnelId ?? 0;
  }

  /** The peer (after an initiator followed the answer's source port, that one); a copy. */
  get peer(): Endpoint {
    return this.#link.peer;
  }

  /** What the peer said about itself in its SCCRQ or SCCRP. */
  get peerInfo(): Readonly<PeerTunnelInfo> {
    return this.#peerInfo;
  }

  /** Resolves true once the tunnel is established, false if it ended first. */
  get established(): Promise<boolean> {
    return this.#established.promise;
  }

  /** Resolves once the tunnel is over (after the StopCCN hold). Never rejects. */
  get done(): Promise<void> {
    return this.#done.promise;
  }

  /** The transport's counters (undefined before start). */
  get transportStats(): ControlTransport["stats"] | undefined {
    return this.#link.transport?.stats;
  }

  /**
   * Send a session message (see {@linkcode CallTableTunnel}).
   *
   * @param message The message.
   * @param sessionId L2TPv2: the header's Session ID; L2TPv3: 0.
   */
  sendCall(message: TransportMessage, sessionId: number): void {
    void this.#link.transport?.send(message, sessionId);
  }

  /**
   * Start: read the socket and, as initiator, send the SCCRQ (as responder, process the
   * options' `initial` datagram). Calling it again does nothing.
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#link.readLoop();
    if (this.#role === "initiator") {
      this.#ctx.queue.enqueue(() => this.#run("open", {}));
    } else {
      this.#link.open();
      this.#armSetupTimer();
      const initial = this.#ctx.options.initial;
      if (initial) this.receive(initial);
    }
  }

  /**
   * Process one datagram as if read from the socket. Never throws.
   *
   * @param d The datagram (kept by reference).
   */
  receive(d: Datagram): void {
    this.#link.receive(d);
  }

  /**
   * Close: StopCCN (result 1, general request, unless given), sessions and kernel tunnel down;
   * the transport then keeps acknowledging for the hold time before `done`.
   *
   * @param result The StopCCN's Result Code.
   * @returns Resolves once the StopCCN is queued and the hooks have run.
   */
  close(result?: ResultCodeValue): Promise<void> {
    const d = deferred<void>();
    this.#ctx.queue.enqueue(async () => {
      await this.#run("close", {
        result: result ?? { resultCode: StopCcnResult.GeneralRequest },
        reason: "closed locally",
      });
      d.resolve();
    });
    return d.promise;
  }

  /**
   * End now, without a StopCCN hold: hooks run (sessions and tunnel down), the transport is
   * closed, `done` resolves.
   *
   * @param reason For logs and the tunnel-down event.
   */
  abort(reason = "aborted"): void {
    this.#ctx.queue.enqueue(async () => {
      if (this.#state === "dead") return;
      const t = this.#link.transport;
      if (t === undefined) {
        await this.#run("close", { reason });
        return;
      }
      if (!this.#broughtDown) this.#downReason = reason;
      t.close(); // "end" queues transport-ended
    });
  }

  /**
   * Settle an SCCRQ from our peer that reached a listener while our own SCCRQ is unanswered
   * (RFC 2661 §4.4.3, RFC 3931 §5.4.3). On `"lose"` this tunnel gives up (the listener should
   * then accept the peer's SCCRQ); on `"win"` the listener should ignore it.
   *
   * @param peerTieBreaker The Tie Breaker of the peer's SCCRQ, if any.
   * @returns `"none"` when there is no contest (we are not waiting for an SCCRP, or neither side
   *   sent a tie breaker).
   */
  contest(peerTieBreaker: bigint | undefined): "win" | "lose" | "none" {
    if (this.#state !== "wait-ctl-reply" || this.#role !== "initiator") return "none";
    const verdict = this.#handshake.tieVerdict(peerTieBreaker);
    if (verdict === undefined) return "none";
    if (verdict === "tie-win") return "win";
    this.abort("lost the tie breaker to the peer's SCCRQ");
    return "lose";
  }

  // ---- what the link reports ----------------------------------------------------------------

  /** An SCCRQ from our peer crossed ours on this socket (RFC 2661 §4.4.3, RFC 3931 §5.4.3). */
  async #crossing(d: Datagram, theirs: bigint | undefined): Promise<void> {
    if (this.#state !== "wait-ctl-reply") return;
    const { log, name } = this.#ctx;
    const verdict = this.#handshake.tieVerdict(theirs);
    if (verdict === undefined) {
      log.info("{tunnel}: ignored a crossing SCCRQ from {peer}: no tie breakers", {
        tunnel: name,
        peer: formatEndpoint(d.from),
      });
      return;
    }
    log.info("{tunnel}: crossing SCCRQ from {peer}: {verdict}", {
      tunnel: name,
      peer: formatEndpoint(d.from),
      verdict: verdict === "tie-win"
        ? "we win the tie breaker, ignoring it"
        : verdict === "tie-lose"
        ? "we lose the tie breaker, answering it"
        : "equal tie breakers, starting again",
    });
    await this.#run(verdict, { datagram: d });
  }

  #onTransportEnd(end: TransportEnd): void {
    if (end.reason === "failed") {
      const reason = `peer silent: ${end.error.message}`;
      this.#ctx.queue.enqueue(() => this.#run("transport-failed", { reason }));
    } else {
      this.#ctx.queue.enqueue(() =>
        this.#run("transport-ended", {
          reason: end.reason === "stopped" ? "StopCCN hold time over" : "closed",
        })
      );
    }
  }

  /**
   * An unknown AVP with the M bit set (RFC 2661 §4.1, RFC 3931 §5.2): StopCCN for a tunnel
   * message, CDN for a session message, both Result Code 2 and Error Code 8.
   */
  async #onUnknownAvp(err: UnknownAvpError): Promise<void> {
    const result: ResultCodeValue = {
      resultCode: GENERAL_ERROR,
      errorCode: ErrorCode.UnknownMandatoryAvp,
      errorMessage: err.errorMessage,
    };
    const type = messageTypeName(err.decoded.type ?? 0);
    const reason = `peer sent an ${err.errorMessage} in ${type}`;
    await this.#teardownFor(err.scope, err.decoded, result, reason, {
      line: "{tunnel}: {type} from {peer} has an {error}",
      props: { type, error: err.errorMessage },
    });
  }

  /**
   * A message taken in sequence whose body is malformed (RFC 2661 §7.1, RFC 3931 §7.1): the
   * malformed AVP has the M bit set, so as for an unknown mandatory AVP the session (CDN) or the
   * control connection (StopCCN) is shut down; a body that cannot be read at all clears the
   * control connection. Result Code 2, Error Code 2 (length) or 3 (value), the problem in the
   * Error Message.
   */
  async #onMalformed(err: MalformedMessageError): Promise<void> {
    const result: ResultCodeValue = {
      resultCode: GENERAL_ERROR,
      errorCode: err.errorCode,
      errorMessage: err.errorMessage,
    };
    const type = err.messageType !== undefined ? messageTypeName(err.messageType) : "message";
    const reason = `peer sent a malformed ${type}: ${err.errorMessage}`;
    // A responder whose SCCRQ was the malformed message answers the tunnel it names.
    const t = this.#link.transport;
    if (t !== undefined && t.peerTunnelId === 0 && err.decoded !== undefined) {
      const id = readTunnelAvps(err.decoded, this.#ctx.version).tunnelId;
      if (id) t.peerTunnelId = id;
    }
    await this.#teardownFor(err.scope, err.decoded, result, reason, {
      line: "{tunnel}: malformed {type} from {peer}: {error}",
      props: { type, error: err.errorMessage },
    });
  }

  /**
   * Tear down what a bad message concerns: the tunnel, or (once established) the session the
   * message is for. One warning when something is torn down; a debug line when it changes
   * nothing (the tunnel is already going, or the message names no session we can answer).
   */
  async #teardownFor(
    scope: "session" | "tunnel",
    msg: ControlMessage | undefined,
    result: ResultCodeValue,
    reason: string,
    what: { line: string; props: Record<string, unknown> },
  ): Promise<void> {
    const { log, name } = this.#ctx;
    const { line } = what;
    const props = { tunnel: name, peer: formatEndpoint(this.#link.peer), ...what.props };
    if (scope === "tunnel") {
      if (this.#state === "closing" || this.#state === "dead") {
        log.debug(line, props);
        return;
      }
      log.warn(line, props);
      await this.#run("unknown-avp", { result, reason });
      return;
    }
    if (this.#state !== "established" || msg === undefined) {
      log.debug(line, props);
      return;
    }
    if (await this.calls.reject(msg, result, reason)) log.warn(line, props);
    else log.debug(line, props);
  }

  async #onUnknownMessageType(err: UnknownMessageTypeError): Promise<void> {
    await this.#run("unknown-avp", {
      result: {
        resultCode: StopCcnResult.GeneralError,
        errorCode: ErrorCode.UnknownMandatoryAvp,
        errorMessage: err.message,
      },
      reason: `peer sent ${err.message}`,
    });
  }

  async #handleMessage(msg: ControlMessage, from: Endpoint | undefined): Promise<void> {
    switch (msg.type) {
      case MessageType.SCCRQ:
        if (this.#state === "idle" && this.#role === "responder") {
          return await this.#run(...this.#checkStart(msg, "sccrq"));
        }
        return await this.#run("recv-sccrq", this.#unexpected(msg));
      case MessageType.SCCRP:
        if (this.#state === "wait-ctl-reply") {
          const [ev, ctx] = this.#checkStart(msg, "sccrp");
          return await this.#run(ev, { ...ctx, from });
        }
        return await this.#run("recv-sccrp", this.#unexpected(msg));
      case MessageType.SCCCN:
        if (this.#state === "wait-ctl-conn") {
          const bad = this.#handshake.checkScccn(msg);
          if (bad !== undefined) return await this.#run("recv-scccn-bad", this.#refuse(bad));
          return await this.#run("recv-scccn", {});
        }
        return await this.#run("recv-scccn", this.#unexpected(msg));
      case MessageType.StopCCN: {
        const result = getAvp(msg, AvpType.ResultCode);
        const reason = `StopCCN from the peer: ${
          describeResult(result ?? { resultCode: 0 }, "stopccn")
        }`;
        this.#ctx.log.debug("{tunnel}: {reason}", { tunnel: this.#ctx.name, reason });
        if (!this.#downReason && result) this.#downResult ??= result;
        return await this.#run("recv-stopccn", { reason });
      }
      case MessageType.HELLO:
        return await this.#run("recv-hello", {});
      default:
        if (msg.type !== null && isCallMessage(msg.type)) {
          return await this.#run("recv-session", { msg, ...this.#unexpected(msg) });
        }
        this.#ctx.log.debug("{tunnel}: ignored {type}", {
          tunnel: this.#ctx.name,
          type: messageTypeName(msg.type ?? 0),
        });
    }
  }

  /** The peer's SCCRQ or SCCRP: take what it says about itself, then check it. */
  #checkStart(msg: ControlMessage, which: "sccrq" | "sccrp"): [TunnelEvent, TunnelCtx] {
    const info = readTunnelAvps(msg, this.#ctx.version);
    this.#peerInfo = info;
    const t = this.#link.transport;
    if (info.tunnelId && t) t.peerTunnelId = info.tunnelId;
    const bad = which === "sccrq"
      ? this.#handshake.checkSccrq(info)
      : this.#handshake.checkSccrp(info);
    if (bad !== undefined) return [`recv-${which}-bad`, this.#refuse(bad)];
    return [`recv-${which}`, { info }];
  }

  #unexpected(msg: ControlMessage): TunnelCtx {
    const what = `unexpected ${messageTypeName(msg.type ?? 0)} in state ${this.#state}`;
    return {
      result: { resultCode: StopCcnResult.FsmError, errorMessage: what },
      reason: what,
    };
  }

  #refuse(r: Refusal): TunnelCtx {
    this.#ctx.log.warn("{tunnel}: refusing {peer}: {reason}", {
      tunnel: this.#ctx.name,
      peer: formatEndpoint(this.#link.peer),
      reason: r.reason,
    });
    return { result: r.result, reason: r.reason };
  }

  // ---- the tunnel state machine -------------------------------------------------------------

  async #run(event: TunnelEvent, ctx: TunnelCtx): Promise<void> {
    let ev: TunnelEvent | undefined = event;
    let c = ctx;
    while (ev !== undefined) {
      const row = tunnelTransition(this.#state, ev);
      if (row === undefined) {
        this.#ctx.log.debug("{tunnel}: ignored event {event} in state {state}", {
          tunnel: this.#ctx.name,
          event: ev,
          state: this.#state,
        });
        return;
      }
      const from = this.#state;
      this.#state = row.to;
      if (from !== row.to) {
        this.#ctx.log.debug("{tunnel}: {from} -> {to} on {event}", {
          tunnel: this.#ctx.name,
          from,
          to: row.to,
          event: ev,
        });
        this.#onState(row.to);
      }
      let next: [TunnelEvent, TunnelCtx] | undefined;
      for (const a of row.actions) {
        const r = await this.#action(a, ev, c);
        if (r !== undefined) next = r;
      }
      [ev, c] = next ?? [undefined, {}];
    }
  }

  #onState(to: TunnelState): void {
    if (SETUP_STATES.has(to)) {
      this.#armSetupTimer();
    } else if (to !== "idle" && to !== "wait-up") {
      this.#setupTimer?.cancel();
      this.#setupTimer = undefined;
    }
  }

  #armSetupTimer(): void {
    const ctx = this.#ctx;
    if (this.#setupTimer !== undefined || ctx.setupTimeout <= 0) return;
    this.#setupTimer = ctx.clock.setTimer(ctx.setupTimeout, () => {
      this.#setupTimer = undefined;
      ctx.queue.enqueue(() =>
        this.#run("timeout", {
          result: { resultCode: StopCcnResult.FsmError, errorMessage: "set-up timed out" },
          reason: "control connection set-up timed out",
        })
      );
    });
  }

  async #action(
    a: TunnelAction,
    ev: TunnelEvent,
    c: TunnelCtx,
  ): Promise<[TunnelEvent, TunnelCtx] | undefined> {
    switch (a) {
      case "send-sccrq":
        this.#sendSccrq();
        return;
      case "send-sccrp":
        this.#sendSccrp();
        return;
      case "send-scccn":
        this.#sendScccn(c.from);
        return;
      case "send-stopccn":
        this.#sendStopccn(ev, c);
        return;
      case "bring-up":
        return await this.#bringUp();
      case "report-up":
        this.#ctx.log.debug("{tunnel}: up, tunnel {local} / peer {peerId} at {peer}", {
          tunnel: this.#ctx.name,
          local: this.localTunnelId,
          peerId: this.peerTunnelId,
          peer: formatEndpoint(this.#link.peer),
          peerHostName: this.#peerInfo.hostName,
        });
        this.#ctx.events.emit({ type: "tunnel-up", tunnel: this.#upInfo() });
        this.#established.resolve(true);
        return;
      case "open-sessions":
        await this.calls.tunnelOpened();
        return;
      case "defer":
        // Session messages that beat the tunnel's last step wait for it.
        if (c.msg) this.calls.defer(c.msg);
        return;
      case "dispatch":
        if (c.msg) await this.calls.dispatch(c.msg);
        return;
      case "discard":
        return;
      case "restart-as-responder":
        this.#link.drop();
        this.#role = "responder";
        this.#handshake.restartAsResponder();
        this.#link.open();
        if (c.datagram) this.#link.transport?.receive(c.datagram.data);
        return;
      case "restart":
        this.#link.drop();
        this.#handshake.forgetTieBreaker();
        this.#sendSccrq();
        return;
      case "bring-down":
        await this.#bringDown(c.reason ?? this.#defaultReason(ev));
        return;
      case "finish":
        await this.#finish(c.reason ?? this.#defaultReason(ev));
        return;
    }
  }

  #defaultReason(ev: TunnelEvent): string {
    return this.#downReason || ev;
  }

  #upInfo(): TunnelUpInfo {
    return {
      localTunnelId: this.localTunnelId,
      peerTunnelId: this.peerTunnelId,
      peer: this.#link.peer,
      version: this.#ctx.version,
      encap: this.#ctx.encap,
      socket: this.#link.socket,
      ...(this.#peerInfo.hostName ? { peerHostName: this.#peerInfo.hostName } : {}),
    };
  }

  #sendSccrq(): void {
    const t = this.#link.transport ?? this.#link.open();
    const auth = this.#handshake.sccrqAuth();
    this.#link.applyAuth();
    void t.send(buildSccrq(this.#ctx.identity, this.localTunnelId, auth));
  }

  #sendSccrp(): void {
    const t = this.#link.transport;
    if (t === undefined) return;
    const auth = this.#handshake.sccrpAuth();
    this.#link.applyAuth();
    const reply = this.#ctx.options.sccrpReply;
    if (reply !== undefined) {
      // A listener has sent this SCCRP already, statelessly: the peer's reply to it comes next.
      this.#ctx.queue.enqueue(() => this.#link.receive(reply));
      return;
    }
    void t.send(buildSccrp(this.#ctx.identity, this.localTunnelId, auth));
  }

  #sendScccn(from: Endpoint | undefined): void {
    const t = this.#link.transport;
    if (t === undefined) return;
    this.#link.follow(from);
    t.send(buildScccn(this.#ctx.version, this.#handshake.scccnResponse())).then(
      () => this.#ctx.queue.enqueue(() => this.#run("scccn-acked", {})),
      () => {},
    );
  }

  #sendStopccn(ev: TunnelEvent, c: TunnelCtx): void {
    const t = this.#link.transport;
    if (t === undefined) return;
    const result = c.result ??
      (ev === "close"
        ? { resultCode: StopCcnResult.GeneralRequest }
        : { resultCode: StopCcnResult.FsmError });
    this.#ctx.log.debug("{tunnel}: sending StopCCN to {peer}: {result}", {
      tunnel: this.#ctx.name,
      peer: formatEndpoint(this.#link.peer),
      result: describeResult(result, "stopccn"),
    });
    if (!this.#downReason) {
      this.#downReason = c.reason ?? describeResult(result, "stopccn");
      this.#downResult ??= result;
    }
    const { version, identity } = this.#ctx;
    void t.send(buildStopccn(version, this.localTunnelId, result, identity.hide));
  }

  async #bringUp(): Promise<[TunnelEvent, TunnelCtx]> {
    try {
      await this.#ctx.hooks.tunnelUp?.(this.#upInfo());
      this.#tunnelUp = true;
      return ["up-ok", {}];
    } catch (e) {
      const reason = `cannot create the kernel tunnel: ${errorText(e)}`;
      this.#ctx.log.error("{tunnel}: {reason}", { tunnel: this.#ctx.name, reason });
      return ["up-failed", {
        reason,
        result: {
          resultCode: StopCcnResult.GeneralError,
          errorCode: ErrorCode.VendorError,
          errorMessage: "cannot create the tunnel",
        },
      }];
    }
  }

  async #bringDown(reason: string): Promise<void> {
    if (this.#broughtDown) return;
    this.#broughtDown = true;
    if (!this.#downReason) this.#downReason = reason;
    await this.calls.tunnelDown(`tunnel down: ${this.#downReason}`);
    const info: TunnelDownInfo = {
      localTunnelId: this.localTunnelId,
      peerTunnelId: this.peerTunnelId,
      reason: this.#downReason,
      ...(this.#downResult ? { result: this.#downResult } : {}),
      wasUp: this.#tunnelUp,
    };
    if (this.#tunnelUp) {
      this.#tunnelUp = false;
      try {
        await this.#ctx.hooks.tunnelDown?.(info);
      } catch (e) {
        this.#ctx.log.error("{tunnel}: cannot delete the kernel tunnel: {error}", {
          tunnel: this.#ctx.name,
          error: errorText(e),
        });
      }
    }
    if (!this.#downReported) {
      this.#downReported = true;
      this.#ctx.log.debug("{tunnel}: down: {reason}", {
        tunnel: this.#ctx.name,
        reason: info.reason,
      });
      this.#ctx.events.emit({ type: "tunnel-down", tunnel: info });
    }
    this.#established.resolve(false);
  }

  async #finish(reason: string): Promise<void> {
    if (!this.#broughtDown) await this.#bringDown(reason);
    this.#setupTimer?.cancel();
    this.#setupTimer = undefined;
    this.#link.close();
    this.#ctx.tunnelIds.release(this.localTunnelId);
    this.#state = "dead";
    this.#done.resolve();
    this.#ctx.events.end();
  }
}
