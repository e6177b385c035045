/**
 * One session (call) of a control connection and its driver: the state of the call, the
 * session state table (control/session_fsm.ts, RFC 2661 §7.4 / §7.5, RFC 3931 §7.3 / §7.4) run
 * event by event, and the actions of its rows: sending ICRQ, ICRP, ICCN, OCRQ, OCRP, OCCN, SLI
 * and CDN (control/builders.ts), creating and deleting the kernel session through the hooks, the
 * establishment timer, and the session events.
 *
 * Which call a message belongs to, and whether an incoming call is accepted, is the call
 * table's business (control/call_table.ts); a call only sends through its tunnel
 * ({@linkcode CallTunnel}) and tells its table ({@linkcode CallHost}) when it is over.
 *
 * @example Usage
 * ```ts
 * import { Call } from "./call.ts";
 * import { createConnectionContext } from "./connection_context.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const ctx = createConnectionContext({
 *   version: 2, encap: "udp", role: "initiator", hostName: "lac", setupTimeout: 0,
 *   socket: new MemoryNetwork().socket({ address: "192.0.2.1", port: 1701 }),
 *   peer: { address: "192.0.2.2", port: 1701 },
 * });
 * const sent: number[] = [];
 * const tunnel = {
 *   localTunnelId: 5, peerTunnelId: 9, peer: { address: "192.0.2.2", port: 1701 },
 *   sendCall: (m: { type: number }) => void sent.push(m.type),
 * };
 * const params = { name: "s1", pseudowire: "ppp" as const, sendSeqnum: false,
 *   recvSeqnum: false, l2specType: "none" as const };
 * const call = new Call(ctx, tunnel, { nextSerial: () => 1, forget: () => {} },
 *   { kind: "ic-sender", localId: 7, peerId: 0, params });
 * await call.run("open", {});
 * await call.run("tunnel-open", {});
 * console.log(call.state, sent); // wait-reply [ 10 ]
 * ```
 *
 * @module
 */

import type { Endpoint, L2tpVersion } from "./types.ts";
import type { CircuitStatusValue, ResultCodeValue } from "./avp.ts";
import {
  buildCallMessage,
  buildCdn,
  buildSli,
  type PeerSessionInfo,
  pseudowireCode,
  type SessionAvps,
} from "./builders.ts";
import { readU64 } from "./bytes.ts";
import type { Timer } from "./clock.ts";
import type { ConnectionContext } from "./connection_context.ts";
import type {
  SessionDownInfo,
  SessionParams,
  SessionStatus,
  SessionUpInfo,
} from "./connection_types.ts";
import { describeResult, errorText } from "./connection_util.ts";
import {
  CdnResult,
  DataSequencingLevel,
  ErrorCode,
  L2SpecificSublayerType,
  MessageType,
} from "./constants.ts";
import { type Deferred, deferred } from "./job_queue.ts";
import {
  type SessionAction,
  type SessionEvent,
  type SessionKind,
  type SessionState,
  sessionTransition,
} from "./session_fsm.ts";
import type { TransportMessage } from "./transport.ts";

/**
 * What an event carries into the session table: the Result Code of the CDN to send, why (for
 * logs), what the peer's message said, the circuit status to report.
 *
 * @example Usage
 * ```ts
 * import type { SessionCtx } from "./call.ts";
 * const c: SessionCtx = { result: { resultCode: 3 }, reason: "closed locally" };
 * console.log(c.reason); // closed locally
 * ```
 */
export interface SessionCtx {
  /** Result Code of a CDN to send. */
  result?: ResultCodeValue;
  /** Why, for logs and the session-down event. */
  reason?: string;
  /** What the peer's message said. */
  info?: PeerSessionInfo;
  /** L2TPv3 circuit status to report in a Set-Link-Info. */
  circuit?: CircuitStatusValue;
}

/**
 * What a call needs from its tunnel: the IDs and peer for the hooks, and a way to send.
 *
 * @example Usage
 * ```ts
 * import type { CallTunnel } from "./call.ts";
 * const tunnel: CallTunnel = {
 *   localTunnelId: 5, peerTunnelId: 9, peer: { address: "192.0.2.2", port: 1701 },
 *   sendCall: (m, sid) => console.log("send", m.type, "session", sid),
 * };
 * tunnel.sendCall({ type: 14 }, 0);
 * ```
 */
export interface CallTunnel {
  /** Our tunnel ID. */
  readonly localTunnelId: number;
  /** The peer's tunnel ID. */
  readonly peerTunnelId: number;
  /** The peer (a copy). */
  readonly peer: Endpoint;
  /**
   * Send a session message over the tunnel's transport (nothing without one).
   *
   * @param message The message.
   * @param sessionId L2TPv2: the header's Session ID (the peer's); L2TPv3: 0.
   */
  sendCall(message: TransportMessage, sessionId: number): void;
}

/**
 * What a call needs from its table.
 *
 * @example Usage
 * ```ts
 * import type { CallHost } from "./call.ts";
 * let serial = 0;
 * const host: CallHost = { nextSerial: () => ++serial, forget: () => {} };
 * console.log(host.nextSerial(), host.nextSerial()); // 1 2
 * ```
 */
export interface CallHost<S extends SessionParams = SessionParams> {
  /** The Call Serial Number of our next ICRQ or OCRQ. */
  nextSerial(): number;
  /**
   * The call is over: drop it from the table and release its session ID.
   *
   * @param call The call.
   */
  forget(call: Call<S>): void;
}

/**
 * How a call starts out.
 *
 * @example Usage
 * ```ts
 * import type { CallInit } from "./call.ts";
 * const stray: CallInit = { kind: "ic-recipient", localId: 0, peerId: 9, stray: true };
 * console.log(stray.kind); // ic-recipient
 * ```
 */
export interface CallInit<S extends SessionParams = SessionParams> {
  /** Which of the four session tables runs it. */
  kind: SessionKind;
  /** Our session ID (0 for a stray). */
  localId: number;
  /** The peer's session ID (0 until known). */
  peerId: number;
  /** The session's configuration (none for a stray). */
  params?: S;
  /** A stray message's stand-in: no ID of ours, no hooks, no events, not in the table. */
  stray?: boolean;
}

/** States in which the establishment timer runs. */
const SESSION_SETUP: ReadonlySet<SessionState> = new Set([
  "wait-reply",
  "wait-connect",
  "wait-cs-answer",
]);

/**
 * The Result Code of a CDN for a state machine error: L2TPv3 has its own (16), L2TPv2 says
 * "general error".
 *
 * @param version Protocol version.
 * @param message The Error Message.
 * @returns The Result Code AVP value.
 *
 * @example Usage
 * ```ts
 * import { fsmErrorResult } from "./call.ts";
 * console.log(fsmErrorResult(3, "unexpected ICCN").resultCode); // 16
 * ```
 */
export function fsmErrorResult(version: L2tpVersion, message: string): ResultCodeValue {
  return version === 3
    ? { resultCode: CdnResult.FsmError, errorMessage: message }
    : { resultCode: CdnResult.GeneralError, errorMessage: message };
}

/** Bits of a call's `#flags`. */
const STRAY = 1, SEND_SEQ = 2, RECV_SEQ = 4, UP = 8, OVER = 16, OUTCOME_KNOWN = 32, OUTCOME_UP = 64;

/** What only some calls need (L2TPv3, initiators, calls going down). */
interface RareCallState {
  /** L2TPv3 Session Tie Breaker of our ICRQ or OCRQ. */
  tieBreaker?: bigint;
  /** L2TPv3 Remote End ID of the call. */
  remoteEndId?: Uint8Array;
  /** Cookie the peer told us to send. */
  sendCookie?: Uint8Array;
  /** The Result Code of the CDN that ends the session. */
  downResult?: ResultCodeValue;
  /** Made when someone waits for the call to be established. */
  established?: Deferred<boolean>;
  /** Made when someone waits for the call to end. */
  closed?: Deferred<void>;
}

/**
 * One session and its state machine (see the module documentation).
 *
 * @example Usage
 * ```ts
 * import { Call } from "./call.ts";
 * import { createConnectionContext } from "./connection_context.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const ctx = createConnectionContext({
 *   version: 3, encap: "udp", role: "responder", hostName: "pe2",
 *   socket: new MemoryNetwork().socket({ address: "192.0.2.2", port: 1701 }),
 *   peer: { address: "192.0.2.1", port: 1701 },
 * });
 * const tunnel = { localTunnelId: 5, peerTunnelId: 9, peer: { address: "192.0.2.1", port: 1701 },
 *   sendCall: () => {} };
 * const stray = new Call(ctx, tunnel, { nextSerial: () => 1, forget: () => {} },
 *   { kind: "ic-recipient", localId: 0, peerId: 4, stray: true });
 * await stray.run("recv-icrq-bad", { result: { resultCode: 2 }, reason: "refused" });
 * console.log(stray.state); // dead
 * ```
 */
export class Call<S extends SessionParams = SessionParams> {
  /** Which session table runs it. */
  readonly kind: SessionKind;
  /** Our session ID (0 for a stray). */
  readonly localId: number;
  /** The session's configuration, if any. */
  readonly params: S | undefined;
  /** Session state. */
  state: SessionState = "idle";
  /** The peer's session ID (0 until known). */
  peerId: number;

  // A responder may hold tens of thousands of calls: the fields every call needs are few, the
  // booleans share one number, and what only some calls need waits in `#rare` until set.
  readonly #ctx: ConnectionContext<S>;
  readonly #tunnel: CallTunnel;
  readonly #host: CallHost<S>;
  #serial = 0;
  #l2spec: number;
  #flags: number;
  #timer: Timer | undefined;
  #rare: RareCallState | undefined;

  /**
   * A call in state `idle`.
   *
   * @param ctx The connection's context.
   * @param tunnel Its tunnel.
   * @param host Its table.
   * @param init Kind, IDs, configuration.
   */
  constructor(ctx: ConnectionContext<S>, tunnel: CallTunnel, host: CallHost<S>, init: CallInit<S>) {
    this.#ctx = ctx;
    this.#tunnel = tunnel;
    this.#host = host;
    this.kind = init.kind;
    this.localId = init.localId;
    this.peerId = init.peerId;
    this.params = init.params;
    this.#l2spec = init.params?.l2specType === "default" ? 1 : 0;
    this.#flags = (init.stray ? STRAY : 0) | (init.params?.sendSeqnum ? SEND_SEQ : 0) |
      (init.params?.recvSeqnum ? RECV_SEQ : 0);
  }

  /** Incoming (ICRQ) or outgoing (OCRQ) call. */
  get callType(): "incoming" | "outgoing" {
    return this.kind.startsWith("ic") ? "incoming" : "outgoing";
  }

  /** A stray message's stand-in: no ID of ours, no hooks, no events. */
  get stray(): boolean {
    return (this.#flags & STRAY) !== 0;
  }

  /** L2TPv3 Session Tie Breaker of our ICRQ or OCRQ. */
  get tieBreaker(): bigint | undefined {
    return this.#rare?.tieBreaker;
  }
  set tieBreaker(v: bigint | undefined) {
    this.#rareState().tieBreaker = v;
  }

  /** L2TPv3 Remote End ID of the call. */
  get remoteEndId(): Uint8Array | undefined {
    return this.#rare?.remoteEndId;
  }
  set remoteEndId(v: Uint8Array | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareState().remoteEndId = v;
  }

  /** Resolves true once established, false if it ended first (made when first asked for). */
  get established(): Deferred<boolean> {
    const rare = this.#rareState();
    if (rare.established === undefined) {
      rare.established = deferred<boolean>();
      if (this.#flags & OUTCOME_KNOWN) rare.established.resolve((this.#flags & OUTCOME_UP) !== 0);
    }
    return rare.established;
  }

  /** Resolves once the call is over (made when first asked for). */
  get closed(): Deferred<void> {
    const rare = this.#rareState();
    if (rare.closed === undefined) {
      rare.closed = deferred<void>();
      if (this.#flags & OVER) rare.closed.resolve();
    }
    return rare.closed;
  }

  #rareState(): RareCallState {
    return this.#rare ??= {};
  }

  #has(flag: number): boolean {
    return (this.#flags & flag) !== 0;
  }

  #set(flag: number, on: boolean): void {
    this.#flags = on ? this.#flags | flag : this.#flags & ~flag;
  }

  /**
   * A snapshot, for status output.
   *
   * @returns IDs, kind, state, name.
   */
  status(): SessionStatus {
    return {
      localSessionId: this.localId,
      peerSessionId: this.peerId,
      kind: this.kind,
      state: this.state,
      ...(this.params ? { name: this.params.name } : {}),
    };
  }

  /**
   * Run an event through the session table, and the follow-up events its actions produce.
   *
   * @param event The event.
   * @param ctx What it carries.
   */
  async run(event: SessionEvent, ctx: SessionCtx): Promise<void> {
    let ev: SessionEvent | undefined = event;
    let c = ctx;
    while (ev !== undefined) {
      const row = sessionTransition(this.kind, this.state, ev);
      if (row === undefined) {
        this.#ctx.log.debug("{tunnel}: session {id}: ignored {event} in state {state}", {
          tunnel: this.#ctx.name,
          id: this.localId,
          event: ev,
          state: this.state,
        });
        return;
      }
      this.state = row.to;
      if (SESSION_SETUP.has(row.to)) this.#armTimer();
      else this.#disarmTimer();
      let next: [SessionEvent, SessionCtx] | undefined;
      for (const a of row.actions) {
        const r = await this.#action(a, ev, c);
        if (r !== undefined) next = r;
      }
      [ev, c] = next ?? [undefined, {}];
    }
  }

  /**
   * Take the cookie, sublayer and sequencing the peer asks for (RFC 3931 §5.4.4 Assigned
   * Cookie, L2-Specific Sublayer, Data Sequencing; RFC 2661 Sequencing Required).
   *
   * @param info What the peer's ICRQ, ICRP, ICCN, OCRQ, OCRP or OCCN says.
   * @returns Undefined, or what to answer with (a CDN) if they are unusable.
   */
  takePeerParams(info: PeerSessionInfo): SessionCtx | undefined {
    if (info.sequencingRequired) this.#set(SEND_SEQ, true);
    if (this.#ctx.version === 2) return undefined;
    if (info.cookie !== undefined) {
      const cookie = info.cookie.length > 0 ? info.cookie : undefined;
      if (cookie !== undefined || this.#rare !== undefined) this.#rareState().sendCookie = cookie;
    }
    if (info.l2spec !== undefined) {
      if (
        info.l2spec !== L2SpecificSublayerType.None &&
        info.l2spec !== L2SpecificSublayerType.Default
      ) {
        return {
          info,
          result: {
            resultCode: CdnResult.GeneralError,
            errorCode: ErrorCode.OutOfRange,
            errorMessage: `unsupported L2-Specific Sublayer ${info.l2spec}`,
          },
          reason: `the peer asks for L2-Specific Sublayer ${info.l2spec}`,
        };
      }
      this.#l2spec = info.l2spec;
    }
    if ((info.dataSequencing ?? 0) >= DataSequencingLevel.NonIp) this.#set(SEND_SEQ, true);
    if (this.#has(SEND_SEQ | RECV_SEQ) && this.#l2spec === L2SpecificSublayerType.None) {
      return {
        info,
        result: { resultCode: CdnResult.SequencingWithoutSublayer },
        reason: "sequencing asked for without an L2-Specific Sublayer",
      };
    }
    return undefined;
  }

  /** The Result Code of the CDN that ends the session, sent or received: the first one wins. */
  #downWith(result: ResultCodeValue): void {
    const rare = this.#rareState();
    rare.downResult ??= result;
  }

  /** The first outcome counts: established, or ended before it was. */
  #settle(up: boolean): void {
    if (!this.#has(OUTCOME_KNOWN)) this.#flags |= OUTCOME_KNOWN | (up ? OUTCOME_UP : 0);
    this.#rare?.established?.resolve(up);
  }

  /** Set-up is over (up or down): an established session keeps no timer. */
  #disarmTimer(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #armTimer(): void {
    const ctx = this.#ctx;
    if (this.#timer !== undefined || ctx.setupTimeout <= 0) return;
    this.#timer = ctx.clock.setTimer(ctx.setupTimeout, () => {
      this.#timer = undefined;
      if (!SESSION_SETUP.has(this.state)) return;
      ctx.queue.enqueue(() =>
        this.run("timeout", {
          result: ctx.version === 3
            ? { resultCode: CdnResult.FsmError, errorMessage: "set-up timed out" }
            : { resultCode: CdnResult.Timeout },
          reason: "session set-up timed out",
        })
      );
    });
  }

  #avps(): SessionAvps {
    return {
      localSessionId: this.localId,
      peerSessionId: this.peerId,
      cookie: this.params?.peerCookie,
      l2spec: this.#ctx.version === 3 ? this.#l2spec : undefined,
      dataSequencing: this.#has(RECV_SEQ) ? DataSequencingLevel.All : undefined,
      circuit: { active: true, new: true },
    };
  }

  async #action(
    a: SessionAction,
    ev: SessionEvent,
    c: SessionCtx,
  ): Promise<[SessionEvent, SessionCtx] | undefined> {
    const { version, identity: { hide } } = this.#ctx;
    // L2TPv2 puts the peer's session ID in the header; L2TPv3 has no such field.
    const hdr = version === 2 ? this.peerId : 0;
    switch (a) {
      case "send-icrq":
      case "send-ocrq": {
        this.#serial = this.#host.nextSerial();
        if (version === 3) this.tieBreaker = readU64(this.#ctx.random(8), 0);
        const type = a === "send-icrq" ? MessageType.ICRQ : MessageType.OCRQ;
        this.#tunnel.sendCall(
          buildCallMessage(type, version, {
            ...this.#avps(),
            serial: this.#serial,
            pseudowireType: this.params ? pseudowireCode(this.params.pseudowire) : undefined,
            remoteEndId: this.params?.remoteEndId,
            tieBreaker: this.tieBreaker,
          }, hide),
          0,
        );
        return;
      }
      case "send-icrp":
      case "send-ocrp": {
        const type = a === "send-icrp" ? MessageType.ICRP : MessageType.OCRP;
        this.#tunnel.sendCall(buildCallMessage(type, version, this.#avps(), hide), hdr);
        return;
      }
      case "send-iccn":
      case "send-occn": {
        const type = a === "send-iccn" ? MessageType.ICCN : MessageType.OCCN;
        const { circuit: _c, cookie: _k, ...avps } = this.#avps();
        this.#tunnel.sendCall(
          buildCallMessage(type, version, {
            ...avps,
            sequencingRequired: version === 2 && this.#has(RECV_SEQ),
          }, hide),
          hdr,
        );
        return;
      }
      case "send-sli":
        if (version === 3 && c.circuit) {
          this.#tunnel.sendCall(buildSli(this.localId, this.peerId, c.circuit, hide), 0);
        }
        return;
      case "send-cdn": {
        const result = c.result ?? this.#defaultCdnResult(ev);
        if (!this.stray) {
          this.#downWith(result);
          this.#ctx.log.debug("{tunnel}: session {id}: sending CDN: {result}", {
            tunnel: this.#ctx.name,
            id: this.localId,
            result: describeResult(result, "cdn"),
          });
        }
        this.#tunnel.sendCall(buildCdn(version, this.localId, this.peerId, result, hide), hdr);
        return;
      }
      case "answer":
        return ["answered", {}];
      case "bring-up":
        return await this.#bringUp();
      case "report-up": {
        const info = this.#upInfo();
        this.#ctx.log.debug("{tunnel}: session {name} up: {local} / peer {peerId}", {
          tunnel: this.#ctx.name,
          name: this.params?.name ?? "",
          local: this.localId,
          peerId: this.peerId,
        });
        this.#ctx.events.emit({ type: "session-up", session: info });
        this.#settle(true);
        return;
      }
      case "note": {
        const circuit = c.info?.circuit;
        const message = ev === "recv-wen"
          ? "WAN-Error-Notify from the peer"
          : circuit
          ? `Set-Link-Info from the peer: circuit ${circuit.active ? "up" : "down"}`
          : "Set-Link-Info from the peer";
        this.#ctx.events.emit({
          type: "session-info",
          localSessionId: this.localId,
          message,
          ...(circuit ? { circuit } : {}),
        });
        return;
      }
      case "cleanup":
        if (ev === "recv-cdn" && c.info?.result) this.#downWith(c.info.result);
        await this.#cleanup(c.reason ?? ev);
        return;
    }
  }

  #defaultCdnResult(ev: SessionEvent): ResultCodeValue {
    if (ev === "close") return { resultCode: CdnResult.Administrative };
    if (ev === "unknown-avp") {
      return { resultCode: CdnResult.GeneralError, errorCode: ErrorCode.UnknownMandatoryAvp };
    }
    return fsmErrorResult(this.#ctx.version, `event ${ev}`);
  }

  #upInfo(): SessionUpInfo<S> {
    const params = this.params as S;
    const v3 = this.#ctx.version === 3;
    return {
      localTunnelId: this.#tunnel.localTunnelId,
      peerTunnelId: this.#tunnel.peerTunnelId,
      localSessionId: this.localId,
      peerSessionId: this.peerId,
      version: this.#ctx.version,
      encap: this.#ctx.encap,
      peer: this.#tunnel.peer,
      pseudowire: params.pseudowire,
      ...(v3 && this.#rare?.sendCookie ? { cookie: this.#rare.sendCookie } : {}),
      ...(v3 && params.peerCookie && params.peerCookie.length > 0
        ? { peerCookie: params.peerCookie }
        : {}),
      ...(v3 ? { l2specType: this.#l2spec === 1 ? "default" as const : "none" as const } : {}),
      sendSeq: this.#has(SEND_SEQ),
      recvSeq: this.#has(RECV_SEQ),
      lnsMode: params.lnsMode ?? false,
      callType: this.callType,
      initiator: this.kind === "ic-sender" || this.kind === "oc-sender",
      ...(this.remoteEndId ? { remoteEndId: this.remoteEndId } : {}),
      session: params,
    };
  }

  async #bringUp(): Promise<[SessionEvent, SessionCtx]> {
    if (this.params === undefined) return ["up-failed", { reason: "no configuration" }];
    try {
      await this.#ctx.hooks.sessionUp?.(this.#upInfo());
      this.#set(UP, true);
      return ["up-ok", {}];
    } catch (e) {
      const reason = `cannot create the kernel session: ${errorText(e)}`;
      this.#ctx.log.error("{tunnel}: session {id}: {reason}", {
        tunnel: this.#ctx.name,
        id: this.localId,
        reason,
      });
      return ["up-failed", {
        reason,
        result: {
          resultCode: CdnResult.GeneralError,
          errorCode: ErrorCode.VendorError,
          errorMessage: "cannot create the session",
        },
      }];
    }
  }

  async #cleanup(reason: string): Promise<void> {
    this.#disarmTimer();
    this.state = "dead";
    if (this.stray) return;
    const info: SessionDownInfo<S> = {
      localTunnelId: this.#tunnel.localTunnelId,
      localSessionId: this.localId,
      peerSessionId: this.peerId,
      reason,
      ...(this.#rare?.downResult ? { result: this.#rare.downResult } : {}),
      wasUp: this.#has(UP),
      ...(this.params ? { session: this.params } : {}),
    };
    if (this.#has(UP)) {
      this.#set(UP, false);
      try {
        await this.#ctx.hooks.sessionDown?.(info);
      } catch (e) {
        this.#ctx.log.error("{tunnel}: session {id}: cannot delete the kernel session: {error}", {
          tunnel: this.#ctx.name,
          id: this.localId,
          error: errorText(e),
        });
      }
    }
    this.#host.forget(this);
    this.#ctx.log.debug("{tunnel}: session {name} ({id}) down: {reason}", {
      tunnel: this.#ctx.name,
      name: this.params?.name ?? "",
      id: this.localId,
      reason,
    });
    this.#ctx.events.emit({ type: "session-down", session: info });
    this.#settle(false);
    this.#set(OVER, true);
    this.#rare?.closed?.resolve();
  }
}
