/**
 * The public vocabulary of a control connection (control/connection.ts): its options, the socket
 * and log it is given, the hooks the daemon plugs in to reach the kernel and pppd, the events it
 * reports, and what it says about its sessions. Types only; control/connection.ts re-exports
 * every one of them.
 *
 * @example Usage
 * ```ts
 * import type { SessionParams, TunnelDownInfo } from "./connection_types.ts";
 * const s: SessionParams = { name: "s1", pseudowire: "ppp", sendSeqnum: false, recvSeqnum: false,
 *   l2specType: "none" };
 * const d: TunnelDownInfo = { localTunnelId: 5, peerTunnelId: 9, reason: "closed", wasUp: false };
 * console.log(s.name, d.reason); // s1 closed
 * ```
 *
 * @module
 */

import type { Datagram, Encap, Endpoint, L2tpVersion } from "./types.ts";
import type { CircuitStatusValue, ResultCodeValue } from "./avp.ts";
import type { PseudowireName } from "./builders.ts";
import type { Clock } from "./clock.ts";
import type { IdAllocator } from "./ids.ts";
import type { SessionKind, SessionState } from "./session_fsm.ts";
import type { ControlTransportOptions } from "./transport.ts";

/**
 * The socket a control connection runs over: datagrams in (async iterable), datagrams out, and
 * connect. A `ReactorSocket` (dataplane/reactor.ts) is one.
 *
 * For L2TP/IP the datagrams are control messages without the 4-byte zero Session ID (what a real
 * L2TP/IP socket delivers), unless the connection's `ipPrefix` option says otherwise.
 *
 * @example Usage
 * ```ts
 * import type { ControlSocket } from "./connection_types.ts";
 * const sent: Uint8Array[] = [];
 * const sock: ControlSocket = {
 *   send: (data) => sent.push(data),
 *   connect: () => {},
 *   async *[Symbol.asyncIterator]() {},
 * };
 * sock.send(new Uint8Array(12));
 * console.log(sent.length); // 1
 * ```
 */
export interface ControlSocket extends AsyncIterable<Datagram> {
  /**
   * Send one datagram (to `to`, or to the connected peer). Losses are fine (the transport
   * retransmits); a throw counts as a loss.
   */
  send(data: Uint8Array, to?: Endpoint): unknown;
  /** Connect to the peer (for L2TP/IP also the peer's control connection ID). */
  connect(peer: Endpoint, peerConnId?: number): void;
}

/**
 * Where the connection writes its log lines. A `Log` from lib/log.ts (or a logtape logger) is
 * one. Messages are templates: `{name}` is replaced by the property `name`.
 *
 * @example Usage
 * ```ts
 * import type { ControlLog } from "./connection_types.ts";
 * const quiet: ControlLog = { debug() {}, info() {}, warn() {}, error() {} };
 * quiet.warn("{tunnel}: not shown", { tunnel: "t1" });
 * ```
 */
export interface ControlLog {
  /** Debug level. */
  debug(message: string, properties?: Record<string, unknown>): void;
  /** Info level. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Warning level. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** Error level. */
  error(message: string, properties?: Record<string, unknown>): void;
}

/**
 * What the engine needs to know about a session's configuration. lib/config.ts's
 * `SessionConfig` has these fields, so it can be passed as it is (and comes back in the hooks).
 *
 * @example Usage
 * ```ts
 * import type { SessionParams } from "./connection_types.ts";
 * const s: SessionParams = { name: "s1", pseudowire: "eth", sendSeqnum: false, recvSeqnum: false,
 *   l2specType: "none", remoteEndId: new TextEncoder().encode("pw-1") };
 * console.log(s.pseudowire); // eth
 * ```
 */
export interface SessionParams {
  /** Name, for logs. */
  name: string;
  /** Our session ID if configured (else allocated). */
  sid?: number;
  /** Pseudowire. */
  pseudowire: PseudowireName;
  /** Send sequence numbers on data packets. */
  sendSeqnum: boolean;
  /** Require sequence numbers on received data packets. */
  recvSeqnum: boolean;
  /** L2TPv3: the cookie we require on receipt, advertised as our Assigned Cookie. */
  peerCookie?: Uint8Array;
  /** L2TPv3 L2-Specific Sublayer we require. */
  l2specType: "none" | "default";
  /** LNS mode for data sequencing (passed to the `sessionUp` hook). */
  lnsMode?: boolean;
  /** L2TPv3 Remote End ID: the circuit this session binds to. */
  remoteEndId?: Uint8Array;
  /** Whether we open the session with ICRQ (`incoming`, default) or OCRQ (`outgoing`). */
  callType?: "incoming" | "outgoing";
}

/**
 * Arguments of the `tunnelUp` hook: the kernel tunnel can now be created.
 *
 * @example Usage
 * ```ts
 * import type { TunnelUpInfo } from "./connection_types.ts";
 * function describe(t: TunnelUpInfo): string {
 *   return `${t.localTunnelId}/${t.peerTunnelId} to ${t.peer.address}:${t.peer.port}`;
 * }
 * console.log(typeof describe); // function
 * ```
 */
export interface TunnelUpInfo {
  /** Our tunnel (control connection) ID. */
  localTunnelId: number;
  /** The peer's. */
  peerTunnelId: number;
  /** The peer, as followed (address and the port it answered from). */
  peer: Endpoint;
  /** Protocol version. */
  version: L2tpVersion;
  /** Encapsulation. */
  encap: Encap;
  /** The socket (its fd is what the kernel tunnel should use). */
  socket: ControlSocket;
  /** The peer's Host Name AVP. */
  peerHostName?: string;
}

/**
 * Arguments of the `tunnelDown` hook and of the `tunnel-down` event.
 *
 * @example Usage
 * ```ts
 * import type { TunnelDownInfo } from "./connection_types.ts";
 * const d: TunnelDownInfo = { localTunnelId: 5, peerTunnelId: 9, reason: "closed", wasUp: true };
 * console.log(d.reason); // closed
 * ```
 */
export interface TunnelDownInfo {
  /** Our tunnel ID. */
  localTunnelId: number;
  /** The peer's tunnel ID (0 if never learned). */
  peerTunnelId: number;
  /** Why, for logs. */
  reason: string;
  /** The Result Code of the StopCCN that ended the tunnel (sent or received), if one did. */
  result?: ResultCodeValue;
  /** Whether the kernel tunnel had been created (the hook is only called then). */
  wasUp: boolean;
}

/**
 * Arguments of the `sessionUp` hook: the kernel session can now be created.
 *
 * @example Usage
 * ```ts
 * import type { SessionUpInfo } from "./connection_types.ts";
 * function kernelSpec(s: SessionUpInfo): object {
 *   return { tunnelId: s.localTunnelId, sessionId: s.localSessionId,
 *     peerSessionId: s.peerSessionId, cookie: s.cookie, peerCookie: s.peerCookie };
 * }
 * console.log(typeof kernelSpec); // function
 * ```
 */
export interface SessionUpInfo<S extends SessionParams = SessionParams> {
  /** Our tunnel ID. */
  localTunnelId: number;
  /** The peer's tunnel ID. */
  peerTunnelId: number;
  /** Our session ID. */
  localSessionId: number;
  /** The peer's session ID. */
  peerSessionId: number;
  /** Protocol version. */
  version: L2tpVersion;
  /** Encapsulation. */
  encap: Encap;
  /** The peer. */
  peer: Endpoint;
  /** Pseudowire (from the session's configuration). */
  pseudowire: PseudowireName;
  /** L2TPv3: the cookie we send (the peer's Assigned Cookie); the kernel's `cookie`. */
  cookie?: Uint8Array;
  /** L2TPv3: the cookie we require (our Assigned Cookie); the kernel's `peer_cookie`. */
  peerCookie?: Uint8Array;
  /** L2TPv3: the L2-Specific Sublayer agreed with the peer. */
  l2specType?: "none" | "default";
  /** Send sequence numbers (configured, or requested by the peer). */
  sendSeq: boolean;
  /** Require sequence numbers. */
  recvSeq: boolean;
  /** LNS mode (from the configuration). */
  lnsMode: boolean;
  /** Incoming (ICRQ) or outgoing (OCRQ) call. */
  callType: "incoming" | "outgoing";
  /** Whether we sent the call request. */
  initiator: boolean;
  /** L2TPv3 Remote End ID of the call. */
  remoteEndId?: Uint8Array;
  /** The session's configuration (as given to openSession, or the responder's match). */
  session: S;
}

/**
 * Arguments of the `sessionDown` hook and of the `session-down` event.
 *
 * @example Usage
 * ```ts
 * import type { SessionDownInfo } from "./connection_types.ts";
 * function line(s: SessionDownInfo): string {
 *   return `session ${s.localSessionId} down: ${s.reason}`;
 * }
 * console.log(line({ localTunnelId: 5, localSessionId: 7, peerSessionId: 9, reason: "CDN",
 *   wasUp: true })); // session 7 down: CDN
 * ```
 */
export interface SessionDownInfo<S extends SessionParams = SessionParams> {
  /** Our tunnel ID. */
  localTunnelId: number;
  /** Our session ID. */
  localSessionId: number;
  /** The peer's session ID (0 if never learned). */
  peerSessionId: number;
  /** Why, for logs. */
  reason: string;
  /** The Result Code of the CDN that ended the session (sent or received), if one did. */
  result?: ResultCodeValue;
  /** Whether the kernel session had been created (the hook is only called then). */
  wasUp: boolean;
  /** The session's configuration, if it had one. */
  session?: S;
}

/**
 * What the daemon plugs in to reach the kernel and pppd. Every hook is optional (a missing one
 * does nothing); a hook that rejects makes the tunnel send StopCCN or the session send CDN.
 *
 * @example Usage
 * ```ts
 * import type { ConnectionHooks } from "./connection_types.ts";
 * const created: number[] = [];
 * const hooks: ConnectionHooks = {
 *   tunnelUp: (t) => { created.push(t.localTunnelId); return Promise.resolve(); },
 * };
 * console.log(hooks.sessionUp === undefined); // true
 * ```
 */
export interface ConnectionHooks<S extends SessionParams = SessionParams> {
  /** Create the kernel tunnel. */
  tunnelUp?(info: TunnelUpInfo): Promise<void>;
  /** Delete the kernel tunnel (after every session's `sessionDown`). */
  tunnelDown?(info: TunnelDownInfo): Promise<void>;
  /** Create the kernel session (and start pppd). */
  sessionUp?(info: SessionUpInfo<S>): Promise<void>;
  /** Delete the kernel session. */
  sessionDown?(info: SessionDownInfo<S>): Promise<void>;
}

/**
 * What a connection reports, for the daemon's log.
 *
 * @example Usage
 * ```ts
 * import type { ConnectionEvent } from "./connection_types.ts";
 * function line(e: ConnectionEvent): string {
 *   switch (e.type) {
 *     case "tunnel-up": return `tunnel ${e.tunnel.localTunnelId} up`;
 *     case "tunnel-down": return `tunnel down: ${e.tunnel.reason}`;
 *     case "session-up": return `session ${e.session.localSessionId} up`;
 *     case "session-down": return `session down: ${e.session.reason}`;
 *     case "session-info": return `session ${e.localSessionId}: ${e.message}`;
 *   }
 * }
 * console.log(line({ type: "session-info", localSessionId: 7, message: "WEN" })); // session 7: WEN
 * ```
 */
export type ConnectionEvent<S extends SessionParams = SessionParams> =
  | { type: "tunnel-up"; tunnel: TunnelUpInfo }
  | { type: "tunnel-down"; tunnel: TunnelDownInfo }
  | { type: "session-up"; session: SessionUpInfo<S> }
  | { type: "session-down"; session: SessionDownInfo<S> }
  | {
    type: "session-info";
    localSessionId: number;
    message: string;
    circuit?: CircuitStatusValue;
  };

/**
 * Options of {@linkcode ControlConnection}. Times in milliseconds.
 *
 * @example Usage
 * ```ts
 * import type { ControlConnectionOptions } from "./connection_types.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const socket = new MemoryNetwork().socket({ address: "192.0.2.1", port: 0 });
 * const opts: ControlConnectionOptions = {
 *   version: 3, encap: "ip", role: "initiator", socket, peer: { address: "192.0.2.2", port: 0 },
 *   hostName: "pe1", routerId: 0xc0000201, secret: "s3cret", sessions: [],
 * };
 * console.log(opts.messageDigest ?? "md5 (the default with a secret)");
 * ```
 */
export interface ControlConnectionOptions<S extends SessionParams = SessionParams> {
  /** Protocol version. */
  version: L2tpVersion;
  /** Encapsulation (IP is L2TPv3 only). */
  encap: Encap;
  /** Whether we send the SCCRQ (`initiator`: LAC, or an L2TPv3 initiator) or answer one. */
  role: "initiator" | "responder";
  /** The socket. */
  socket: ControlSocket;
  /** The peer (initiator: where the SCCRQ goes; responder: where the SCCRQ came from). */
  peer: Endpoint;
  /** The socket is already connected to `peer` (default: true for a responder). */
  connected?: boolean;
  /** L2TP/IP datagrams carry the 4-byte zero Session ID (default false: real sockets strip it). */
  ipPrefix?: boolean;
  /** Name of the tunnel, for logs. */
  name?: string;
  /** Host Name AVP. */
  hostName: string;
  /** Vendor Name AVP (default "l2tpd"). */
  vendorName?: string;
  /** L2TPv3 Router ID (default: random non-zero). */
  routerId?: number;
  /** Our receive window (default 16). */
  receiveWindow?: number;
  /** The peer's window until it says otherwise (default 4). */
  peerWindow?: number;
  /** HELLO after this long without hearing from the peer (default 0: never). */
  helloInterval?: number;
  /** First retransmission timeout (default 1000). */
  retryTimeout?: number;
  /** Retransmissions before the peer is declared dead (default: the transport's). */
  maxRetries?: number;
  /** L2TPv2 Framing Capabilities (default sync and async). */
  framingCaps?: readonly ("sync" | "async")[];
  /** L2TPv2 Bearer Capabilities (default none). */
  bearerCaps?: readonly ("analog" | "digital")[];
  /** L2TPv3 Pseudowire Capabilities (default: those of `sessions`, else eth, eth_vlan, ppp). */
  pseudowires?: readonly PseudowireName[];
  /** Shared secret (authentication, hidden AVPs, Message Digest). */
  secret?: string | Uint8Array;
  /** Hide ID-carrying AVPs (needs `secret`). */
  hideAvps?: boolean;
  /** L2TPv3 Message Digest (default: "md5" over IP when a secret is set, else "none"). */
  messageDigest?: "none" | "md5" | "sha1";
  /** Tie Breaker value in our SCCRQ (default random; `false`: none). */
  tieBreaker?: bigint | false;
  /** Sessions a responder accepts (the peer's calls are matched against them). */
  sessions?: readonly S[];
  /** Most sessions at once (default unlimited). */
  maxSessions?: number;
  /** Our tunnel ID (default: allocated from `tunnelIds`). */
  localTunnelId?: number;
  /** Tunnel IDs in use on this host (default: a private allocator). */
  tunnelIds?: IdAllocator;
  /** Session IDs in use (default: a private allocator; share one host-wide for L2TPv3). */
  sessionIds?: IdAllocator;
  /** Tunnel and session establishment time limit (default 60000). */
  setupTimeout?: number;
  /** Clock (default the system clock). */
  clock?: Clock;
  /** Random bytes (challenges, nonces, tie breakers; default node:crypto). */
  random?: (n: number) => Uint8Array;
  /** Kernel and pppd hooks. */
  hooks?: ConnectionHooks<S>;
  /** Log (default: none). */
  log?: ControlLog;
  /** Events go here instead of the async iterator (which then stays empty). */
  onEvent?: (event: ConnectionEvent<S>) => void;
  /** Responder: the SCCRQ datagram that created the connection (from a listener). */
  initial?: Datagram;
  /**
   * Responder: the peer's reply (its SCCCN, or a StopCCN refusing us) to the stateless SCCRP a
   * listener has already answered `initial` with (control/listener.ts): Ns 0, `localTunnelId`
   * as our Assigned Tunnel ID, and the Challenge (L2TPv2) or nonce (L2TPv3) that `random` gives
   * first. The connection then starts as if it had sent that SCCRP itself: it does not send it
   * again, its transport goes on at Ns 1, and this reply is processed next (RFC 2661 §5.8,
   * RFC 3931 §4.2).
   */
  sccrpReply?: Datagram;
  /**
   * Where datagrams read from the socket that belong to another control connection go: a
   * control message for another tunnel ID, or, for a responder, one with tunnel ID 0 that is
   * not a ZLB (a new SCCRQ). Several tunnels with one peer address and port (RFC 2661 allows
   * any number between two hosts; xl2tpd, for one, sends every tunnel from its one UDP port)
   * have sockets with the same addresses and ports, and the kernel delivers each datagram to
   * one of them, so a listener routes them (see control/listener.ts). Return true when the
   * datagram was taken; false lets this connection process it as it would without the hook.
   * Datagrams given to {@linkcode ControlConnection.receive} are never passed here.
   */
  onForeign?: (d: Datagram) => boolean;
  /** Transport tuning (StopCCN hold, acknowledgement delay, ...). */
  transport?: Pick<
    ControlTransportOptions,
    "stopHold" | "ackDelay" | "ackEvery" | "retransmitCap" | "congestionControl"
  >;
}

/**
 * A session opened with {@linkcode ControlConnection.openSession}.
 *
 * @example Usage
 * ```ts
 * import type { OpenedSession } from "./connection_types.ts";
 * async function report(s: OpenedSession): Promise<void> {
 *   if (await s.established) console.log("session", s.localSessionId, "up");
 *   await s.closed;
 * }
 * const closed = Promise.resolve();
 * await report({ localSessionId: 7, established: Promise.resolve(true), closed });
 * // session 7 up
 * ```
 */
export interface OpenedSession {
  /** Our session ID. */
  localSessionId: number;
  /** Resolves true once established, false if it ended first. */
  established: Promise<boolean>;
  /** Resolves once the session is over. */
  closed: Promise<void>;
}

/**
 * A snapshot of one session, for status output.
 *
 * @example Usage
 * ```ts
 * import type { SessionStatus } from "./connection_types.ts";
 * const s: SessionStatus = { localSessionId: 1, peerSessionId: 2, kind: "ic-sender",
 *   state: "established", name: "s1" };
 * console.log(s.state); // established
 * ```
 */
export interface SessionStatus {
  /** Our session ID. */
  localSessionId: number;
  /** The peer's (0 until known). */
  peerSessionId: number;
  /** Kind. */
  kind: SessionKind;
  /** State. */
  state: SessionState;
  /** Configured name. */
  name?: string;
}
