/**
 * One dynamic control connection (tunnel) and its sessions: the engine that drives the tunnel
 * and session state tables (control/tunnel_fsm.ts, control/session_fsm.ts) over the reliable
 * transport (control/transport.ts), for L2TPv2 (LAC and LNS) and L2TPv3 (both LCCE roles).
 *
 * It is pure of kernel I/O: the kernel tunnel and sessions (and pppd) are reached through
 * {@linkcode ConnectionHooks} the daemon supplies, and the socket is any {@linkcode ControlSocket}
 * (the reactor's, or an in-memory one in tests). Everything that happens to one connection (a
 * datagram, a local request, a timer, a hook's outcome) is processed one at a time, in order.
 *
 * Behaviour worth knowing:
 * - An initiator sends its SCCRQ with `sendto` to the configured peer and accepts the answer from
 *   any port of the peer's address: the first reply's source becomes the peer and the socket is
 *   connected to it (RFC 2661 §8.1: an LNS may answer from another port). The kernel tunnel is
 *   created only after that, once our SCCCN is acknowledged; a responder creates it when the
 *   SCCCN arrives.
 * - Authentication: with a shared secret, L2TPv2 sends a Challenge in SCCRQ / SCCRP and checks
 *   the Challenge Response both ways (RFC 2661 §4.2, §5.1.1); L2TPv3 signs every message with a
 *   Message Digest using nonces (RFC 3931 §4.3, §5.4.1) when `messageDigest` is on (by default
 *   over IP when a secret is set). A wrong secret ends in a StopCCN "not authorized" (result 4)
 *   and a warning naming the peer; L2TPv3 messages whose digest fails are dropped (RFC 3931
 *   §5.4.1) with the same warning. Hidden AVPs are sent with `hideAvps` and always understood.
 * - Tie breaker: an SCCRQ from the peer crossing ours on the same socket is settled by the Tie
 *   Breaker values (RFC 2661 §4.4.3, RFC 3931 §5.4.3): the winner ignores the loser's SCCRQ, the
 *   loser drops its own and answers the winner's. {@linkcode ControlConnection.contest} does the
 *   same for an SCCRQ that arrived at a listener instead.
 * - Sessions: {@linkcode ControlConnection.openSession} sends ICRQ (or OCRQ for `callType:
 *   "outgoing"`); a responder accepts calls for the sessions it was given: L2TPv3 matches the
 *   Remote End ID (one session per circuit while it lives; a session without a Remote End ID
 *   takes any number of calls that name no other), L2TPv2 gives any call the first PPP
 *   session's settings. Both ends calling for the same circuit at once is settled by the L2TPv3
 *   Session Tie Breaker (lower wins; the loser's call gets CDN result 13). L2TPv3 cookies: our
 *   Assigned Cookie is the session's `peerCookie` (what we require on receipt); the peer's
 *   Assigned Cookie is what we send.
 * - Malformed datagrams are dropped (and logged); an unknown mandatory AVP closes the session
 *   (CDN) or the tunnel (StopCCN) with result 2, error 8; nothing the peer sends throws.
 *
 * The example below is not run: it needs the daemon's socket and data plane (the
 * {@linkcode ControlConnection} example runs over an in-memory network).
 *
 * @example Usage
 * ```ts ignore
 * import { ControlConnection } from "./connection.ts";
 * const conn = new ControlConnection({
 *   version: 2, encap: "udp", role: "initiator", socket, peer: { address: "192.0.2.2", port: 1701 },
 *   hostName: "lac1", hooks: { tunnelUp: async (t) => { await dataPlane.createTunnel({ ... }); } },
 * });
 * conn.start();
 * const s = conn.openSession({ name: "s1", pseudowire: "ppp", sendSeqnum: false,
 *   recvSeqnum: false, l2specType: "none" });
 * console.log(await s.established);
 * await conn.close();
 * await conn.done;
 * ```
 *
 * @module
 */

import type { Datagram, Encap, Endpoint, L2tpVersion } from "./types.ts";
import type { ResultCodeValue } from "./avp.ts";
import type { PeerTunnelInfo } from "./builders.ts";
import { createConnectionContext } from "./connection_context.ts";
import type {
  ConnectionEvent,
  ControlConnectionOptions,
  OpenedSession,
  SessionParams,
  SessionStatus,
} from "./connection_types.ts";
import { formatEndpoint } from "./endpoint.ts";
import type { ControlTransport } from "./transport.ts";
import { Tunnel } from "./tunnel.ts";
import type { TunnelState } from "./tunnel_fsm.ts";

export type {
  ConnectionEvent,
  ConnectionHooks,
  ControlConnectionOptions,
  ControlLog,
  ControlSocket,
  OpenedSession,
  SessionDownInfo,
  SessionParams,
  SessionStatus,
  SessionUpInfo,
  TunnelDownInfo,
  TunnelUpInfo,
} from "./connection_types.ts";
export { describeResult } from "./connection_util.ts";

/**
 * `address:port`, with brackets for IPv6.
 *
 * @deprecated Use {@linkcode formatEndpoint} from control/endpoint.ts; this is the same function.
 *
 * @param e The endpoint.
 * @returns The text.
 *
 * @example Usage
 * ```ts
 * import { endpointText } from "./connection.ts";
 * console.log(endpointText({ address: "::1", port: 1701 })); // [::1]:1701
 * ```
 */
export const endpointText: (e: Endpoint) => string = formatEndpoint;

/**
 * One control connection (tunnel) and its sessions. See the module documentation.
 *
 * The connection is made of parts, each with its own state: the shared context (options
 * resolved, job queue, event stream: control/connection_context.ts), the tunnel and its state
 * table (control/tunnel.ts) with its link to the peer (control/tunnel_link.ts) and its
 * establishment checks (control/handshake.ts), and the call table (control/call_table.ts) with
 * one driver per session (control/call.ts). This class is what the daemon holds.
 *
 * @example Usage
 * ```ts
 * import { ControlConnection } from "./connection.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const net = new MemoryNetwork();
 * const lac = new ControlConnection({
 *   version: 2, encap: "udp", role: "initiator", hostName: "lac",
 *   socket: net.socket({ address: "10.0.0.1", port: 1701 }),
 *   peer: { address: "10.0.0.2", port: 1701 },
 * });
 * const lns = new ControlConnection({
 *   version: 2, encap: "udp", role: "responder", hostName: "lns", connected: false,
 *   socket: net.socket({ address: "10.0.0.2", port: 1701 }),
 *   peer: { address: "10.0.0.1", port: 1701 },
 * });
 * lns.start();
 * lac.start();
 * console.log(await lac.established, await lns.established); // true true
 * lac.abort();
 * lns.abort();
 * await Promise.all([lac.done, lns.done]);
 * ```
 */
export class ControlConnection<S extends SessionParams = SessionParams>
  implements AsyncIterable<ConnectionEvent<S>> {
  readonly #version: L2tpVersion;
  readonly #encap: Encap;
  readonly #tunnel: Tunnel<S>;
  readonly #events: AsyncIterable<ConnectionEvent<S>>;

  /**
   * A connection in state `idle`; nothing happens until {@linkcode ControlConnection.start}.
   *
   * @param options Version, role, socket, peer, local configuration, hooks.
   * @throws {RangeError} For an option out of range (IDs, version, encapsulation).
   * @throws {TypeError} For options that do not go together (hidden AVPs without a secret).
   */
  constructor(options: ControlConnectionOptions<S>) {
    const ctx = createConnectionContext(options);
    this.#version = ctx.version;
    this.#encap = ctx.encap;
    this.#events = ctx.events;
    this.#tunnel = new Tunnel(ctx);
  }

  /** Protocol version. */
  get version(): L2tpVersion {
    return this.#version;
  }

  /** Encapsulation. */
  get encap(): Encap {
    return this.#encap;
  }

  /** `initiator` or `responder` (an initiator that lost the tie breaker becomes a responder). */
  get role(): "initiator" | "responder" {
    return this.#tunnel.role;
  }

  /** Tunnel state. */
  get state(): TunnelState {
    return this.#tunnel.state;
  }

  /** Our tunnel (control connection) ID. */
  get localTunnelId(): number {
    return this.#tunnel.localTunnelId;
  }

  /** The peer's tunnel ID (0 until known). */
  get peerTunnelId(): number {
    return this.#tunnel.peerTunnelId;
  }

  /** The peer (after an initiator followed the answer's source port, that one). */
  get peer(): Endpoint {
    return this.#tunnel.peer;
  }

  /** What the peer said about itself in its SCCRQ or SCCRP. */
  get peerInfo(): Readonly<PeerTunnelInfo> {
    return this.#tunnel.peerInfo;
  }

  /** Live sessions (not yet over). */
  get sessionCount(): number {
    return this.#tunnel.calls.size;
  }

  /** Resolves true once the tunnel is established, false if it ended first. */
  get established(): Promise<boolean> {
    return this.#tunnel.established;
  }

  /** Resolves once the connection is over (after the StopCCN hold). Never rejects. */
  get done(): Promise<void> {
    return this.#tunnel.done;
  }

  /** The transport's counters (undefined before start). */
  get transportStats(): ControlTransport["stats"] | undefined {
    return this.#tunnel.transportStats;
  }

  /**
   * Snapshots of the live sessions.
   *
   * @returns One entry per session.
   */
  sessions(): SessionStatus[] {
    return this.#tunnel.calls.status();
  }

  /**
   * Start: read the socket and, as initiator, send the SCCRQ (as responder, process the
   * `initial` datagram). Calling it again does nothing.
   */
  start(): void {
    this.#tunnel.start();
  }

  /**
   * Process one datagram as if read from the socket (a listener forwards what reached it).
   *
   * @param d The datagram (kept by reference).
   */
  receive(d: Datagram): void {
    this.#tunnel.receive(d);
  }

  /**
   * Open a session: ICRQ (or OCRQ for `callType: "outgoing"`) once the tunnel is established.
   *
   * @param params The session's configuration.
   * @returns The session's ID and promises.
   * @throws {RangeError} If the session limit is reached or a configured `sid` is in use.
   * @throws {Error} If the connection is closing or over.
   */
  openSession(params: S): OpenedSession {
    return this.#tunnel.calls.open(params);
  }

  /**
   * Close a session: CDN (result 3, administrative, unless given), then clean up.
   *
   * @param localSessionId Our session ID.
   * @param result The CDN's Result Code.
   * @returns Resolves once the session is over (at once if there is no such session).
   */
  closeSession(localSessionId: number, result?: ResultCodeValue): Promise<void> {
    return this.#tunnel.calls.close(localSessionId, result);
  }

  /**
   * L2TPv3: report a change of the local circuit's status to the peer (Set-Link-Info with
   * Circuit Status, RFC 3931 §6.14). Does nothing for L2TPv2 or a session not established.
   *
   * @param localSessionId Our session ID.
   * @param active Whether the circuit is up.
   */
  setCircuitStatus(localSessionId: number, active: boolean): void {
    this.#tunnel.calls.setCircuitStatus(localSessionId, active);
  }

  /**
   * Close the tunnel: StopCCN (result 1, general request, unless given), sessions and kernel
   * tunnel down; the transport then keeps acknowledging for the hold time before `done`.
   *
   * @param result The StopCCN's Result Code.
   * @returns Resolves once the StopCCN is queued and the hooks have run.
   */
  close(result?: ResultCodeValue): Promise<void> {
    return this.#tunnel.close(result);
  }

  /**
   * End now, without a StopCCN hold: hooks run (sessions and tunnel down), the transport is
   * closed, `done` resolves.
   *
   * @param reason For logs and the tunnel-down event.
   */
  abort(reason = "aborted"): void {
    this.#tunnel.abort(reason);
  }

  /**
   * Settle an SCCRQ from our peer that reached a listener while our own SCCRQ is unanswered
   * (RFC 2661 §4.4.3, RFC 3931 §5.4.3). On `"lose"` this connection gives up (the listener
   * should then accept the peer's SCCRQ); on `"win"` the listener should ignore it.
   *
   * @param peerTieBreaker The Tie Breaker of the peer's SCCRQ, if any.
   * @returns `"none"` when there is no contest (we are not waiting for an SCCRP, or neither side
   *   sent a tie breaker).
   */
  contest(peerTieBreaker: bigint | undefined): "win" | "lose" | "none" {
    return this.#tunnel.contest(peerTieBreaker);
  }

  /**
   * The connection's events, until it is over (empty when `onEvent` was given). While nobody
   * reads, the newest 1024 are kept.
   *
   * @returns The iterator.
   */
  [Symbol.asyncIterator](): AsyncIterator<ConnectionEvent<S>> {
    return this.#events[Symbol.asyncIterator]();
  }
}
