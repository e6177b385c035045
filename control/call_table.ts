/**
 * The sessions (calls) of one control connection: which call a session message belongs to
 * (by our session ID, else by the peer's), whether an incoming call (ICRQ, OCRQ) is accepted
 * and with which configured session, the session messages kept while the tunnel completes its
 * setup, and the local requests (open, close, circuit status). Each call runs its own state
 * table (control/call.ts).
 *
 * A responder accepts calls for the sessions it was given: L2TPv3 matches the Remote End ID
 * (one session per circuit while it lives; a session without a Remote End ID takes any number
 * of calls that name no other), L2TPv2 gives any call the first PPP session's settings. Both
 * ends calling for the same circuit at once is settled by the L2TPv3 Session Tie Breaker
 * (RFC 3931 §5.4.4: the lower value wins; the loser's call gets CDN result 13).
 *
 * A message for no session gets what RFC 2661 §7.4.2 / §7.5.1 give it in state idle: a reply
 * (ICRP, ICCN, OCRP, OCCN) a CDN, the rest nothing.
 *
 * @example Usage
 * ```ts
 * import { CallTable } from "./call_table.ts";
 * import { createConnectionContext } from "./connection_context.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const ctx = createConnectionContext({
 *   version: 2, encap: "udp", role: "initiator", hostName: "lac", setupTimeout: 0,
 *   socket: new MemoryNetwork().socket({ address: "192.0.2.1", port: 1701 }),
 *   peer: { address: "192.0.2.2", port: 1701 },
 * });
 * const sent: number[] = [];
 * const calls = new CallTable(ctx, {
 *   state: "established", localTunnelId: 5, peerTunnelId: 9,
 *   peer: { address: "192.0.2.2", port: 1701 }, sendCall: (m) => void sent.push(m.type),
 * });
 * const s = calls.open({ name: "s1", pseudowire: "ppp", sendSeqnum: false, recvSeqnum: false,
 *   l2specType: "none" });
 * await new Promise((resolve) => setTimeout(resolve, 0));
 * console.log(calls.size, calls.status()[0].state, sent); // 1 wait-reply [ 10 ]
 * console.log(s.localSessionId === calls.status()[0].localSessionId); // true
 * ```
 *
 * @module
 */

import type { ResultCodeValue } from "./avp.ts";
import { type PeerSessionInfo, pseudowireCode, readSessionAvps } from "./builders.ts";
import { Call, type CallHost, type CallTunnel, fsmErrorResult, type SessionCtx } from "./call.ts";
import type { ConnectionContext } from "./connection_context.ts";
import type { OpenedSession, SessionParams, SessionStatus } from "./connection_types.ts";
import { describeResult, errorText } from "./connection_util.ts";
import {
  CdnResult,
  ErrorCode,
  MessageType,
  type MessageTypeCode,
  messageTypeName,
} from "./constants.ts";
import type { ControlMessage } from "./message.ts";
import type { SessionEvent, SessionKind } from "./session_fsm.ts";
import type { TunnelState } from "./tunnel_fsm.ts";

/**
 * What the call table needs from its tunnel: what a call needs, and the tunnel's state.
 *
 * @example Usage
 * ```ts
 * import type { CallTableTunnel } from "./call_table.ts";
 * const tunnel: CallTableTunnel = {
 *   state: "wait-ctl-reply", localTunnelId: 5, peerTunnelId: 0,
 *   peer: { address: "192.0.2.2", port: 1701 }, sendCall: () => {},
 * };
 * console.log(tunnel.state); // wait-ctl-reply
 * ```
 */
export interface CallTableTunnel extends CallTunnel {
  /** The tunnel's state (sessions open once it is established). */
  readonly state: TunnelState;
}

/** Session messages kept while the tunnel completes its setup (see the "defer" action). */
const MAX_DEFERRED = 256;

/** The session event of each session message. */
const RECV_EVENT: ReadonlyMap<number, SessionEvent> = new Map([
  [MessageType.ICRQ, "recv-icrq"],
  [MessageType.ICRP, "recv-icrp"],
  [MessageType.ICCN, "recv-iccn"],
  [MessageType.OCRQ, "recv-ocrq"],
  [MessageType.OCRP, "recv-ocrp"],
  [MessageType.OCCN, "recv-occn"],
  [MessageType.CDN, "recv-cdn"],
  [MessageType.WEN, "recv-wen"],
  [MessageType.SLI, "recv-sli"],
]);

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function bytesText(b: Uint8Array): string {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(b);
  return /^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : `0x${b.toHex()}`;
}

/**
 * Whether a message type is a session message (one the call table takes).
 *
 * @param type A Message Type.
 * @returns True for ICRQ, ICRP, ICCN, OCRQ, OCRP, OCCN, CDN, WEN and SLI.
 *
 * @example Usage
 * ```ts
 * import { isCallMessage } from "./call_table.ts";
 * console.log(isCallMessage(10), isCallMessage(6)); // true false
 * ```
 */
export function isCallMessage(type: number): boolean {
  return RECV_EVENT.has(type);
}

/**
 * The calls of one connection (see the module documentation).
 *
 * @example Usage
 * ```ts
 * import { CallTable } from "./call_table.ts";
 * import { createConnectionContext } from "./connection_context.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const ctx = createConnectionContext({
 *   version: 2, encap: "udp", role: "responder", hostName: "lns",
 *   socket: new MemoryNetwork().socket({ address: "192.0.2.2", port: 1701 }),
 *   peer: { address: "192.0.2.1", port: 1701 },
 * });
 * const calls = new CallTable(ctx, {
 *   state: "established", localTunnelId: 5, peerTunnelId: 9,
 *   peer: { address: "192.0.2.1", port: 1701 }, sendCall: () => {},
 * });
 * await calls.close(1234); // no such session: nothing to do
 * console.log(calls.size); // 0
 * ```
 */
export class CallTable<S extends SessionParams = SessionParams> {
  readonly #ctx: ConnectionContext<S>;
  readonly #tunnel: CallTableTunnel;
  readonly #host: CallHost<S>;
  #serial = 0;
  readonly #calls = new Map<number, Call<S>>();
  readonly #byPeer = new Map<number, Call<S>>();
  /** L2TPv3: the live call of each configured session that has a Remote End ID. */
  readonly #busy = new Map<S, Call<S>>();
  #deferred: ControlMessage[] = [];

  /**
   * An empty table.
   *
   * @param ctx The connection's context.
   * @param tunnel Its tunnel.
   */
  constructor(ctx: ConnectionContext<S>, tunnel: CallTableTunnel) {
    this.#ctx = ctx;
    this.#tunnel = tunnel;
    this.#host = { nextSerial: () => ++this.#serial, forget: (call) => this.#forget(call) };
  }

  /** Live calls (not yet over). */
  get size(): number {
    return this.#calls.size;
  }

  /**
   * Snapshots of the live calls.
   *
   * @returns One entry per call.
   */
  status(): SessionStatus[] {
    return [...this.#calls.values()].map((c) => c.status());
  }

  /**
   * Open a session: ICRQ (or OCRQ for `callType: "outgoing"`) once the tunnel is established.
   *
   * @param params The session's configuration.
   * @returns The session's ID and promises.
   * @throws {RangeError} If the session limit is reached or a configured `sid` is in use.
   * @throws {Error} If the tunnel is closing or over.
   */
  open(params: S): OpenedSession {
    const state = this.#tunnel.state;
    if (state === "closing" || state === "dead") {
      throw new Error(`Cannot open session ${params.name}: the tunnel is ${state}`);
    }
    const max = this.#ctx.options.maxSessions;
    if (max !== undefined && this.#calls.size >= max) {
      throw new RangeError(`Cannot open session ${params.name}: limit of ${max} sessions reached`);
    }
    const localId = this.#allocateSessionId(params);
    const outgoing = params.callType === "outgoing";
    const call = this.#newCall(outgoing ? "oc-sender" : "ic-sender", localId, 0, params);
    call.remoteEndId = params.remoteEndId;
    if (this.#ctx.version === 3 && params.remoteEndId !== undefined) this.#busy.set(params, call);
    this.#ctx.queue.enqueue(async () => {
      await call.run("open", {});
      if (this.#tunnel.state === "established" && call.state === "wait-tunnel") {
        await call.run("tunnel-open", {});
      }
    });
    return {
      localSessionId: localId,
      established: call.established.promise,
      closed: call.closed.promise,
    };
  }

  /**
   * Close a session: CDN (result 3, administrative, unless given), then clean up.
   *
   * @param localSessionId Our session ID.
   * @param result The CDN's Result Code.
   * @returns Resolves once the session is over (at once if there is no such session).
   */
  close(localSessionId: number, result?: ResultCodeValue): Promise<void> {
    const call = this.#calls.get(localSessionId);
    if (call === undefined) return Promise.resolve();
    this.#ctx.queue.enqueue(() =>
      call.run("close", {
        result: result ?? { resultCode: CdnResult.Administrative },
        reason: "closed locally",
      })
    );
    return call.closed.promise;
  }

  /**
   * L2TPv3: report a change of the local circuit's status to the peer (Set-Link-Info with
   * Circuit Status, RFC 3931 §6.14). Does nothing for L2TPv2 or a session not established.
   *
   * @param localSessionId Our session ID.
   * @param active Whether the circuit is up.
   */
  setCircuitStatus(localSessionId: number, active: boolean): void {
    const call = this.#calls.get(localSessionId);
    if (call === undefined || this.#ctx.version !== 3) return;
    this.#ctx.queue.enqueue(() => call.run("circuit-status", { circuit: { active, new: false } }));
  }

  /** The tunnel is established: calls waiting for it start, deferred messages are handled. */
  async tunnelOpened(): Promise<void> {
    for (const call of [...this.#calls.values()]) {
      if (call.state === "wait-tunnel") await call.run("tunnel-open", {});
    }
    const deferredMsgs = this.#deferred;
    this.#deferred = [];
    for (const m of deferredMsgs) await this.dispatch(m);
  }

  /**
   * Keep a session message that beat the tunnel's last step until the tunnel is up. A peer
   * that floods them meanwhile loses the excess (its sessions then time out) rather than our
   * memory.
   *
   * @param msg The session message.
   */
  defer(msg: ControlMessage): void {
    if (this.#deferred.length < MAX_DEFERRED) {
      this.#deferred.push(msg);
      return;
    }
    this.#ctx.log.warn("{tunnel}: dropped a session message received before the tunnel was up", {
      tunnel: this.#ctx.name,
    });
  }

  /**
   * The tunnel is going down: every call ends (newest first), deferred messages are dropped.
   *
   * @param reason Why, for each call's session-down event.
   */
  async tunnelDown(reason: string): Promise<void> {
    for (const call of [...this.#calls.values()].reverse()) {
      await call.run("tunnel-down", { reason });
    }
    this.#deferred = [];
  }

  /**
   * A session message that must end its session: one with an unknown mandatory AVP (RFC 2661
   * §4.1, RFC 3931 §5.2) or a malformed mandatory AVP (RFC 2661 §7.1, RFC 3931 §7.1). Its call
   * sends a CDN and ends; a message for no call of ours (a new ICRQ or OCRQ, or one for a session
   * we do not have) is answered by a stand-in that sends the CDN. A message that names no
   * session of the peer's cannot be answered and is left alone.
   *
   * @param msg The message, decoded as far as it could be (its session IDs).
   * @param result The CDN's Result Code (2, with Error Code 8, 2 or 3).
   * @param reason Why, for logs and the session-down event.
   * @returns Whether a CDN was sent.
   */
  async reject(msg: ControlMessage, result: ResultCodeValue, reason: string): Promise<boolean> {
    const info = readSessionAvps(msg, this.#ctx.version);
    let call = this.#find(info);
    if (call === undefined) {
      if (!info.peerSessionId) return false;
      const kind: SessionKind = msg.type === MessageType.OCRQ || msg.type === MessageType.OCRP ||
          msg.type === MessageType.OCCN
        ? "oc-recipient"
        : "ic-recipient";
      call = this.#newCall(kind, 0, info.peerSessionId, undefined, true);
    }
    if (call.state === "dead") return false;
    await call.run("unknown-avp", { result, reason });
    return true;
  }

  /**
   * Handle a session message: a new call, or an event for the call it is addressed to.
   *
   * @param msg The message (ICRQ, ICRP, ICCN, OCRQ, OCRP, OCCN, CDN, WEN or SLI).
   */
  async dispatch(msg: ControlMessage): Promise<void> {
    const type = msg.type as MessageTypeCode;
    const info = readSessionAvps(msg, this.#ctx.version);
    if ((type === MessageType.ICRQ || type === MessageType.OCRQ) && info.ourSessionId === 0) {
      await this.#incomingCall(type, info);
      return;
    }
    const base = RECV_EVENT.get(type);
    if (base === undefined) return;
    let call = this.#find(info);
    if (call === undefined) {
      // RFC 2661 §7.4.2 / §7.5.1 idle rows: a reply for no session gets a CDN, the rest nothing.
      const kind: SessionKind = type === MessageType.OCRP || type === MessageType.OCCN
        ? "oc-recipient"
        : "ic-recipient";
      call = this.#newCall(kind, 0, info.peerSessionId ?? 0, undefined, true);
      await call.run(base, {
        info,
        result: {
          resultCode: CdnResult.GeneralError,
          errorCode: ErrorCode.InvalidSessionId,
          errorMessage: `no session ${info.ourSessionId}`,
        },
        reason: `${messageTypeName(type)} for unknown session ${info.ourSessionId}`,
      });
      return;
    }
    const [ev, ctx] = this.#check(call, type, base, info);
    await call.run(ev, ctx);
  }

  #allocateSessionId(params: S): number {
    if (params.sid !== undefined) {
      if (!this.#ctx.sessionIds.reserve(params.sid)) {
        throw new RangeError(`Cannot open session ${params.name}: session ID ${params.sid} in use`);
      }
      return params.sid;
    }
    return this.#ctx.sessionIds.allocate();
  }

  #newCall(
    kind: SessionKind,
    localId: number,
    peerId: number,
    params: S | undefined,
    stray = false,
  ): Call<S> {
    const call = new Call<S>(this.#ctx, this.#tunnel, this.#host, {
      kind,
      localId,
      peerId,
      ...(params !== undefined ? { params } : {}),
      stray,
    });
    if (!stray) {
      this.#calls.set(localId, call);
      if (peerId !== 0) this.#byPeer.set(peerId, call);
    }
    return call;
  }

  #forget(call: Call<S>): void {
    if (this.#calls.get(call.localId) === call) {
      this.#calls.delete(call.localId);
      this.#ctx.sessionIds.release(call.localId);
    }
    if (call.peerId !== 0 && this.#byPeer.get(call.peerId) === call) {
      this.#byPeer.delete(call.peerId);
    }
    if (call.params !== undefined && this.#busy.get(call.params) === call) {
      this.#busy.delete(call.params);
    }
  }

  #find(info: PeerSessionInfo): Call<S> | undefined {
    if (info.ourSessionId !== 0) return this.#calls.get(info.ourSessionId);
    return info.peerSessionId ? this.#byPeer.get(info.peerSessionId) : undefined;
  }

  /** The event a message is for its call: acceptable, not acceptable, or unexpected. */
  #check(
    call: Call<S>,
    type: MessageTypeCode,
    base: SessionEvent,
    info: PeerSessionInfo,
  ): [SessionEvent, SessionCtx] {
    const unexpected = (): SessionCtx => ({
      info,
      result: fsmErrorResult(
        this.#ctx.version,
        `unexpected ${messageTypeName(type)} in state ${call.state}`,
      ),
      reason: `unexpected ${messageTypeName(type)} in state ${call.state}`,
    });
    if (type === MessageType.CDN) {
      const r = info.result ?? { resultCode: 0 };
      return ["recv-cdn", { info, reason: `CDN from the peer: ${describeResult(r, "cdn")}` }];
    }
    if (type === MessageType.WEN || type === MessageType.SLI) return [base, { info }];
    const reply = (call.kind === "ic-sender" && type === MessageType.ICRP) ||
      (call.kind === "oc-sender" && type === MessageType.OCRP);
    if (reply && call.state === "wait-reply") {
      if (!info.peerSessionId) {
        return [`${base}-bad` as SessionEvent, {
          info,
          result: {
            resultCode: CdnResult.GeneralError,
            errorCode: ErrorCode.OutOfRange,
            errorMessage: "no session ID in the reply",
          },
          reason: "the peer's reply has no session ID",
        }];
      }
      call.peerId = info.peerSessionId;
      this.#byPeer.set(call.peerId, call);
      const bad = call.takePeerParams(info);
      if (bad !== undefined) return [`${base}-bad` as SessionEvent, bad];
      return [base, { info }];
    }
    const connected = (call.kind === "ic-recipient" && type === MessageType.ICCN) ||
      (call.kind === "oc-sender" && type === MessageType.OCCN);
    if (connected && call.state === "wait-connect") {
      const bad = call.takePeerParams(info);
      if (bad !== undefined) return [`${base}-bad` as SessionEvent, bad];
      return [base, { info }];
    }
    return [base, unexpected()];
  }

  /** The responder's session for a call: L2TPv3 by Remote End ID, L2TPv2 the first PPP one. */
  #matchTemplate(info: PeerSessionInfo): S | undefined {
    const templates = this.#ctx.options.sessions ?? [];
    if (this.#ctx.version === 2) {
      return templates.find((t) => t.pseudowire === "ppp" || t.pseudowire === "pppac");
    }
    if (info.remoteEndId !== undefined) {
      const exact = templates.find((t) => sameBytes(t.remoteEndId, info.remoteEndId));
      if (exact !== undefined) return exact;
    }
    return templates.find((t) => t.remoteEndId === undefined);
  }

  /** The peer's ICRQ or OCRQ: accept it with a configured session, or refuse it with a CDN. */
  async #incomingCall(type: MessageTypeCode, info: PeerSessionInfo): Promise<void> {
    const { version, log, name: tunnel } = this.#ctx;
    const kind: SessionKind = type === MessageType.ICRQ ? "ic-recipient" : "oc-recipient";
    const good: SessionEvent = type === MessageType.ICRQ ? "recv-icrq" : "recv-ocrq";
    const bad: SessionEvent = type === MessageType.ICRQ ? "recv-icrq-bad" : "recv-ocrq-bad";
    const name = messageTypeName(type);
    const peerId = info.peerSessionId ?? 0;
    if (peerId === 0) {
      log.warn("{tunnel}: ignored an {type} without a session ID", { tunnel, type: name });
      return;
    }
    if (this.#byPeer.has(peerId)) {
      log.debug("{tunnel}: ignored a second {type} for peer session {id}", {
        tunnel,
        type: name,
        id: peerId,
      });
      return;
    }
    const refuse = async (result: ResultCodeValue, reason: string): Promise<void> => {
      log.warn("{tunnel}: refusing the peer's {type} (peer session {id}): {reason}", {
        tunnel,
        type: name,
        id: peerId,
        reason,
      });
      const stray = this.#newCall(kind, 0, peerId, undefined, true);
      await stray.run(bad, { info, result, reason });
    };
    const max = this.#ctx.options.maxSessions;
    if (max !== undefined && this.#calls.size >= max) {
      return await refuse({
        resultCode: CdnResult.TemporaryUnavailable,
        errorCode: ErrorCode.NoResources,
        errorMessage: `limit of ${max} sessions reached`,
      }, `limit of ${max} sessions reached`);
    }
    const template = this.#matchTemplate(info);
    if (template === undefined) {
      const what = info.remoteEndId !== undefined
        ? `no session configured for Remote End ID ${bytesText(info.remoteEndId)}`
        : "no session configured to accept calls";
      return await refuse({ resultCode: CdnResult.PermanentUnavailable, errorMessage: what }, what);
    }
    if (version === 3) {
      const want = pseudowireCode(template.pseudowire);
      if (info.pseudowireType !== undefined && info.pseudowireType !== want) {
        const what =
          `pseudowire type ${info.pseudowireType} asked for, session ${template.name} is ${template.pseudowire}`;
        return await refuse(
          { resultCode: CdnResult.UnsupportedPseudowire, errorMessage: what },
          what,
        );
      }
      // One session per circuit: a session with a Remote End ID is busy while it lives (a
      // session without one accepts any number of calls).
      const busy = template.remoteEndId !== undefined ? this.#busy.get(template) : undefined;
      if (busy !== undefined && busy.state !== "dead") {
        // RFC 3931 §5.4.4 Session Tie Breaker: the lower value wins; a call without one loses.
        const ours = busy.tieBreaker;
        const theirs = info.tieBreaker;
        const contested = busy.state === "wait-reply" &&
          (ours !== undefined || theirs !== undefined);
        const weWin = theirs === undefined || (ours !== undefined && ours <= theirs);
        if (!contested || weWin) {
          return await refuse(
            contested
              ? { resultCode: CdnResult.LostTieBreaker }
              : { resultCode: CdnResult.TemporaryUnavailable, errorMessage: "circuit in use" },
            contested
              ? "it lost the session tie breaker"
              : `session ${template.name} is already in use`,
          );
        }
        await busy.run("tie-lose", { reason: "lost the session tie breaker" });
      }
    }
    let localId: number;
    try {
      localId = this.#allocateSessionId(template);
    } catch (e) {
      return await refuse({
        resultCode: CdnResult.TemporaryUnavailable,
        errorCode: ErrorCode.NoResources,
        errorMessage: errorText(e),
      }, errorText(e));
    }
    const call = this.#newCall(kind, localId, peerId, template);
    call.remoteEndId = info.remoteEndId;
    if (version === 3 && template.remoteEndId !== undefined) this.#busy.set(template, call);
    const problem = call.takePeerParams(info);
    if (problem !== undefined) {
      await call.run(bad, problem);
      return;
    }
    await call.run(good, { info });
  }
}
