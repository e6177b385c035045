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

import type { Endpoint } from "./types.ts";
import type { Datagram } from "./types.ts";
import { chapResponse, digestKey, verifyChapResponse, verifyMessageDigest } from "./auth.ts";
import type { CircuitStatusValue, ResultCodeValue } from "./avp.ts";
import {
  buildCallMessage,
  buildCdn,
  buildScccn,
  buildSccrp,
  buildSccrq,
  buildSli,
  buildStopccn,
  type PeerSessionInfo,
  type PeerTunnelInfo,
  pseudowireCode,
  type PseudowireName,
  readSessionAvps,
  readTunnelAvps,
  type SessionAvps,
  type TunnelIdentity,
} from "./builders.ts";
import { type Clock, systemClock, type Timer } from "./clock.ts";
import {
  AvpType,
  CdnResult,
  DataSequencingLevel,
  DigestType,
  ErrorCode,
  L2SpecificSublayerType,
  MessageType,
  type MessageTypeCode,
  messageTypeName,
  StopCcnResult,
} from "./constants.ts";
import { UnknownAvpError, UnknownMessageTypeError } from "./errors.ts";
import { IP_CONTROL_PREFIX_LENGTH, type L2tpVersion, peekHeader } from "./header.ts";
import { IdAllocator } from "./ids.ts";
import { type ControlMessage, decodeControl, getAvp } from "./message.ts";
import {
  type SessionAction,
  type SessionEvent,
  type SessionKind,
  type SessionState,
  sessionTransition,
} from "./session_fsm.ts";
import {
  ControlTransport,
  type ControlTransportOptions,
  type TransportEnd,
  type TransportErrorEvent,
} from "./transport.ts";
import {
  type TunnelAction,
  type TunnelEvent,
  type TunnelState,
  tunnelTransition,
} from "./tunnel_fsm.ts";
import { randomBytes } from "node:crypto";

/**
 * The socket a control connection runs over: datagrams in (async iterable), datagrams out, and
 * connect. A `ReactorSocket` (dataplane/reactor.ts) is one.
 *
 * For L2TP/IP the datagrams are control messages without the 4-byte zero Session ID (what a real
 * L2TP/IP socket delivers), unless the connection's `ipPrefix` option says otherwise.
 *
 * @example Usage
 * ```ts
 * import type { ControlSocket } from "./connection.ts";
 * const sent: Uint8Array[] = [];
 * const sock: ControlSocket = {
 *   send: (data) => sent.push(data),
 *   connect: () => {},
 *   async *[Symbol.asyncIterator]() {},
 * };
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
 * import type { ControlLog } from "./connection.ts";
 * const quiet: ControlLog = { debug() {}, info() {}, warn() {}, error() {} };
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
 * import type { SessionParams } from "./connection.ts";
 * const s: SessionParams = { name: "s1", pseudowire: "eth", sendSeqnum: false, recvSeqnum: false,
 *   l2specType: "none", remoteEndId: new TextEncoder().encode("pw-1") };
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
 * import type { TunnelUpInfo } from "./connection.ts";
 * function describe(t: TunnelUpInfo): string {
 *   return `${t.localTunnelId}/${t.peerTunnelId} to ${t.peer.address}:${t.peer.port}`;
 * }
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
  encap: "udp" | "ip";
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
 * import type { TunnelDownInfo } from "./connection.ts";
 * const d: TunnelDownInfo = { localTunnelId: 5, peerTunnelId: 9, reason: "closed", wasUp: true };
 * ```
 */
export interface TunnelDownInfo {
  /** Our tunnel ID. */
  localTunnelId: number;
  /** The peer's tunnel ID (0 if never learned). */
  peerTunnelId: number;
  /** Why, for logs. */
  reason: string;
  /** Whether the kernel tunnel had been created (the hook is only called then). */
  wasUp: boolean;
}

/**
 * Arguments of the `sessionUp` hook: the kernel session can now be created.
 *
 * @example Usage
 * ```ts
 * import type { SessionUpInfo } from "./connection.ts";
 * function kernelSpec(s: SessionUpInfo): object {
 *   return { tunnelId: s.localTunnelId, sessionId: s.localSessionId,
 *     peerSessionId: s.peerSessionId, cookie: s.cookie, peerCookie: s.peerCookie };
 * }
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
  encap: "udp" | "ip";
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
 * import type { SessionDownInfo } from "./connection.ts";
 * function line(s: SessionDownInfo): string {
 *   return `session ${s.localSessionId} down: ${s.reason}`;
 * }
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
 * import type { ConnectionHooks } from "./connection.ts";
 * const created: number[] = [];
 * const hooks: ConnectionHooks = {
 *   tunnelUp: (t) => { created.push(t.localTunnelId); return Promise.resolve(); },
 * };
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
 * import type { ConnectionEvent } from "./connection.ts";
 * function line(e: ConnectionEvent): string {
 *   switch (e.type) {
 *     case "tunnel-up": return `tunnel ${e.tunnel.localTunnelId} up`;
 *     case "tunnel-down": return `tunnel down: ${e.tunnel.reason}`;
 *     case "session-up": return `session ${e.session.localSessionId} up`;
 *     case "session-down": return `session down: ${e.session.reason}`;
 *     case "session-info": return `session ${e.localSessionId}: ${e.message}`;
 *   }
 * }
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
 * ```ts ignore
 * import type { ControlConnectionOptions } from "./connection.ts";
 * const opts: ControlConnectionOptions = {
 *   version: 3, encap: "ip", role: "initiator", socket, peer: { address: "192.0.2.2", port: 0 },
 *   hostName: "pe1", routerId: 0xc0000201, secret: "s3cret", sessions: [],
 * };
 * ```
 */
export interface ControlConnectionOptions<S extends SessionParams = SessionParams> {
  /** Protocol version. */
  version: L2tpVersion;
  /** Encapsulation (IP is L2TPv3 only). */
  encap: "udp" | "ip";
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
 * ```ts ignore
 * const s = conn.openSession(config);
 * if (await s.established) console.log("session", s.localSessionId, "up");
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
 * import type { SessionStatus } from "./connection.ts";
 * const s: SessionStatus = { localSessionId: 1, peerSessionId: 2, kind: "ic-sender",
 *   state: "established", name: "s1" };
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

/** Session messages kept while the tunnel completes its setup (see the "defer" action). */
const MAX_DEFERRED = 256;

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  done: boolean;
}

function deferred<T>(): Deferred<T> {
  const d = { done: false } as Deferred<T>;
  d.promise = new Promise<T>((resolve) => {
    d.resolve = (v: T): void => {
      if (d.done) return;
      d.done = true;
      resolve(v);
    };
  });
  return d;
}

interface TunnelCtx {
  result?: ResultCodeValue;
  reason?: string;
  info?: PeerTunnelInfo;
  msg?: ControlMessage;
  datagram?: Datagram;
  from?: Endpoint;
}

interface SessionCtx {
  result?: ResultCodeValue;
  reason?: string;
  info?: PeerSessionInfo;
  circuit?: CircuitStatusValue;
}

interface Session<S extends SessionParams> {
  kind: SessionKind;
  state: SessionState;
  localId: number;
  peerId: number;
  params?: S;
  /** A stray message's stand-in: no ID of ours, no hooks, no events. */
  stray: boolean;
  callType: "incoming" | "outgoing";
  serial: number;
  tieBreaker?: bigint;
  remoteEndId?: Uint8Array;
  /** Cookie the peer told us to send. */
  sendCookie?: Uint8Array;
  l2spec: number;
  sendSeq: boolean;
  recvSeq: boolean;
  up: boolean;
  reported: boolean;
  timer?: Timer;
  established: Deferred<boolean>;
  closed: Deferred<void>;
}

type Job = () => void | Promise<void>;

const noop = (): void => {};
const NOOP_LOG: ControlLog = { debug: noop, info: noop, warn: noop, error: noop };
const SETUP_STATES: ReadonlySet<TunnelState> = new Set([
  "wait-ctl-reply",
  "wait-ctl-conn",
  "wait-ctl-ack",
]);
const SESSION_SETUP: ReadonlySet<SessionState> = new Set([
  "wait-reply",
  "wait-connect",
  "wait-cs-answer",
]);
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
const DEFAULT_SETUP_TIMEOUT = 60_000;
/** Events kept for the async iterator while nobody reads it. */
const EVENT_BACKLOG = 1024;

/**
 * `address:port`, with brackets for IPv6.
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
export function endpointText(e: Endpoint): string {
  return e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/**
 * A result code in words, for logs ("result 4 (not authorized)", with error code and message).
 *
 * @param r The Result Code AVP value.
 * @param message Whether it came in a StopCCN (`"stopccn"`) or a CDN (`"cdn"`).
 * @returns The text.
 *
 * @example Usage
 * ```ts
 * import { describeResult } from "./connection.ts";
 * console.log(describeResult({ resultCode: 4 }, "stopccn")); // result 4 (not authorized)
 * ```
 */
export function describeResult(r: ResultCodeValue, message: "stopccn" | "cdn"): string {
  const stop: Record<number, string> = {
    1: "general request",
    2: "general error",
    3: "already exists",
    4: "not authorized",
    5: "unsupported protocol version",
    6: "shutting down",
    7: "state machine error",
  };
  const cdn: Record<number, string> = {
    1: "lost carrier",
    2: "general error",
    3: "administrative",
    4: "temporarily unavailable",
    5: "permanently unavailable",
    6: "invalid destination",
    10: "timeout",
    13: "lost tie breaker",
    14: "unsupported pseudowire type",
    15: "sequencing without L2-Specific Sublayer",
    16: "state machine error or timeout",
  };
  const name = (message === "stopccn" ? stop : cdn)[r.resultCode];
  let text = `result ${r.resultCode}${name ? ` (${name})` : ""}`;
  if (r.errorCode) text += `, error ${r.errorCode}`;
  if (r.errorMessage) text += `: ${r.errorMessage}`;
  return text;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function bytesText(b: Uint8Array): string {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(b);
  return /^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : `0x${b.toHex()}`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function u64(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/**
 * One control connection (tunnel) and its sessions. See the module documentation.
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
  readonly #encap: "udp" | "ip";
  readonly #ipPrefix: boolean;
  readonly #socket: ControlSocket;
  readonly #clock: Clock;
  readonly #log: ControlLog;
  readonly #hooks: ConnectionHooks<S>;
  readonly #opts: ControlConnectionOptions<S>;
  readonly #random: (n: number) => Uint8Array;
  readonly #tunnelIds: IdAllocator;
  readonly #sessionIds: IdAllocator;
  readonly #identity: TunnelIdentity;
  readonly #secret: string | Uint8Array | undefined;
  readonly #digestKey: Uint8Array | undefined;
  readonly #digestType: 0 | 1 | undefined;
  readonly #setupTimeout: number;
  readonly #name: string;

  #role: "initiator" | "responder";
  #state: TunnelState = "idle";
  #localTunnelId: number;
  #peer: Endpoint;
  #connected: boolean;
  #started = false;
  #transport: ControlTransport | undefined;
  #unsubscribe: (() => void)[] = [];
  #peerInfo: PeerTunnelInfo = {};
  #challenge: Uint8Array | undefined;
  #peerChallenge: Uint8Array | undefined;
  #localNonce: Uint8Array | undefined;
  #remoteNonce: Uint8Array | undefined;
  #tieBreaker: bigint | undefined;
  /** Source of the datagram the transport is processing (an initiator follows the answer). */
  #lastFrom: Endpoint | undefined;
  #setupTimer: Timer | undefined;
  #tunnelUp = false;
  #broughtDown = false;
  #downReported = false;
  #downReason = "";
  #authWarned = false;
  #serial = 0;
  #sessions = new Map<number, Session<S>>();
  #byPeer = new Map<number, Session<S>>();
  #busy = new Map<S, Session<S>>();
  #deferred: ControlMessage[] = [];
  #queue: Job[] = [];
  #draining = false;
  #established = deferred<boolean>();
  #done = deferred<void>();
  #events: ConnectionEvent<S>[] = [];
  #eventWaiters: ((r: IteratorResult<ConnectionEvent<S>>) => void)[] = [];

  /**
   * A connection in state `idle`; nothing happens until {@linkcode ControlConnection.start}.
   *
   * @param options Version, role, socket, peer, local configuration, hooks.
   * @throws {RangeError} For an option out of range (IDs, version, encapsulation).
   * @throws {TypeError} For options that do not go together (hidden AVPs without a secret).
   */
  constructor(options: ControlConnectionOptions<S>) {
    const { version, encap } = options;
    if (version !== 2 && version !== 3) {
      throw new RangeError(`Cannot create control connection: version ${version} is not 2 or 3`);
    }
    if (encap !== "udp" && encap !== "ip") {
      throw new RangeError(`Cannot create control connection: unknown encapsulation ${encap}`);
    }
    if (encap === "ip" && version !== 3) {
      throw new RangeError("Cannot create control connection: only L2TPv3 runs over IP");
    }
    if (options.hideAvps && !options.secret) {
      throw new TypeError("Cannot create control connection: hidden AVPs need a shared secret");
    }
    this.#opts = options;
    this.#version = version;
    this.#encap = encap;
    this.#ipPrefix = encap === "ip" && options.ipPrefix === true;
    this.#socket = options.socket;
    this.#role = options.role;
    this.#peer = { ...options.peer };
    this.#connected = options.connected ?? options.role === "responder";
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? NOOP_LOG;
    this.#hooks = options.hooks ?? {};
    this.#random = options.random ?? ((n: number): Uint8Array => new Uint8Array(randomBytes(n)));
    this.#tunnelIds = options.tunnelIds ?? new IdAllocator(version === 2 ? 16 : 32);
    this.#sessionIds = options.sessionIds ?? new IdAllocator(version === 2 ? 16 : 32);
    if (options.localTunnelId !== undefined) {
      const id = options.localTunnelId;
      const max = version === 2 ? 0xffff : 0xffffffff;
      if (!Number.isInteger(id) || id < 1 || id > max) {
        throw new RangeError(`Cannot create control connection: tunnel ID ${id} not in 1..${max}`);
      }
      if (!this.#tunnelIds.has(id)) this.#tunnelIds.reserve(id);
      this.#localTunnelId = id;
    } else {
      this.#localTunnelId = this.#tunnelIds.allocate();
    }
    this.#secret = options.secret && options.secret.length > 0 ? options.secret : undefined;
    // RFC 3931 §4.3: L2TPv3 authenticates with the Message Digest; with a shared secret it is on
    // unless turned off explicitly, over IP and UDP alike.
    const digest = options.messageDigest ??
      (version === 3 && this.#secret !== undefined ? "md5" : "none");
    if (digest !== "none" && (version !== 3 || this.#secret === undefined)) {
      throw new TypeError(
        "Cannot create control connection: a Message Digest needs L2TPv3 and a shared secret",
      );
    }
    this.#digestType = digest === "md5"
      ? DigestType.HmacMd5
      : digest === "sha1"
      ? DigestType.HmacSha1
      : undefined;
    this.#digestKey = version === 3 && this.#secret !== undefined
      ? digestKey(this.#secret)
      : undefined;
    this.#setupTimeout = options.setupTimeout ?? DEFAULT_SETUP_TIMEOUT;
    this.#name = options.name ?? `tunnel ${this.#localTunnelId}`;
    const sessionPws = [...new Set((options.sessions ?? []).map((s) => s.pseudowire))];
    const pws = options.pseudowires ??
      (sessionPws.length > 0 ? sessionPws : ["eth", "eth_vlan", "ppp"] as PseudowireName[]);
    let routerId = options.routerId;
    while (routerId === undefined || routerId === 0) {
      const b = this.#random(4);
      routerId = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    }
    this.#identity = {
      version,
      hostName: options.hostName || "l2tpd",
      vendorName: options.vendorName ?? "l2tpd",
      receiveWindow: options.receiveWindow ?? 16,
      framingCaps: {
        sync: (options.framingCaps ?? ["sync", "async"]).includes("sync"),
        async: (options.framingCaps ?? ["sync", "async"]).includes("async"),
      },
      bearerCaps: {
        analog: (options.bearerCaps ?? []).includes("analog"),
        digital: (options.bearerCaps ?? []).includes("digital"),
      },
      routerId,
      pseudowires: [...new Set(pws.map(pseudowireCode))],
      hide: options.hideAvps ?? false,
    };
  }

  /** Protocol version. */
  get version(): L2tpVersion {
    return this.#version;
  }

  /** Encapsulation. */
  get encap(): "udp" | "ip" {
    return this.#encap;
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
    return this.#localTunnelId;
  }

  /** The peer's tunnel ID (0 until known). */
  get peerTunnelId(): number {
    return this.#transport?.peerTunnelId ?? 0;
  }

  /** The peer (after an initiator followed the answer's source port, that one). */
  get peer(): Endpoint {
    return { ...this.#peer };
  }

  /** What the peer said about itself in its SCCRQ or SCCRP. */
  get peerInfo(): Readonly<PeerTunnelInfo> {
    return this.#peerInfo;
  }

  /** Live sessions (not yet over). */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Resolves true once the tunnel is established, false if it ended first. */
  get established(): Promise<boolean> {
    return this.#established.promise;
  }

  /** Resolves once the connection is over (after the StopCCN hold). Never rejects. */
  get done(): Promise<void> {
    return this.#done.promise;
  }

  /** The transport's counters (undefined before start). */
  get transportStats(): ControlTransport["stats"] | undefined {
    return this.#transport?.stats;
  }

  /**
   * Snapshots of the live sessions.
   *
   * @returns One entry per session.
   */
  sessions(): SessionStatus[] {
    return [...this.#sessions.values()].map((s) => ({
      localSessionId: s.localId,
      peerSessionId: s.peerId,
      kind: s.kind,
      state: s.state,
      ...(s.params ? { name: s.params.name } : {}),
    }));
  }

  /**
   * Start: read the socket and, as initiator, send the SCCRQ (as responder, process the
   * `initial` datagram). Calling it again does nothing.
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    void this.#readLoop();
    if (this.#role === "initiator") {
      this.#enqueue(() => this.#runTunnel("open", {}));
    } else {
      this.#transport = this.#newTransport();
      this.#armSetupTimer();
      if (this.#opts.initial) this.receive(this.#opts.initial);
    }
  }

  /**
   * Process one datagram as if read from the socket (a listener forwards what reached it).
   *
   * @param d The datagram (kept by reference).
   */
  receive(d: Datagram): void {
    try {
      this.#onDatagram(d);
    } catch (e) {
      this.#log.warn("{tunnel}: dropped a datagram from {from}: {error}", {
        tunnel: this.#name,
        from: endpointText(d.from),
        error: errorText(e),
      });
    }
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
    if (this.#state === "closing" || this.#state === "dead") {
      throw new Error(`Cannot open session ${params.name}: the tunnel is ${this.#state}`);
    }
    const max = this.#opts.maxSessions;
    if (max !== undefined && this.#sessions.size >= max) {
      throw new RangeError(`Cannot open session ${params.name}: limit of ${max} sessions reached`);
    }
    const localId = this.#allocateSessionId(params);
    const outgoing = params.callType === "outgoing";
    const s = this.#newSession(outgoing ? "oc-sender" : "ic-sender", localId, 0, params);
    s.remoteEndId = params.remoteEndId;
    if (this.#version === 3 && params.remoteEndId !== undefined) this.#busy.set(params, s);
    this.#enqueue(async () => {
      await this.#runSession(s, "open", {});
      if (this.#state === "established" && s.state === "wait-tunnel") {
        await this.#runSession(s, "tunnel-open", {});
      }
    });
    return {
      localSessionId: localId,
      established: s.established.promise,
      closed: s.closed.promise,
    };
  }

  /**
   * Close a session: CDN (result 3, administrative, unless given), then clean up.
   *
   * @param localSessionId Our session ID.
   * @param result The CDN's Result Code.
   * @returns Resolves once the session is over (at once if there is no such session).
   */
  closeSession(localSessionId: number, result?: ResultCodeValue): Promise<void> {
    const s = this.#sessions.get(localSessionId);
    if (s === undefined) return Promise.resolve();
    this.#enqueue(() =>
      this.#runSession(s, "close", {
        result: result ?? { resultCode: CdnResult.Administrative },
        reason: "closed locally",
      })
    );
    return s.closed.promise;
  }

  /**
   * L2TPv3: report a change of the local circuit's status to the peer (Set-Link-Info with
   * Circuit Status, RFC 3931 §6.14). Does nothing for L2TPv2 or a session not established.
   *
   * @param localSessionId Our session ID.
   * @param active Whether the circuit is up.
   */
  setCircuitStatus(localSessionId: number, active: boolean): void {
    const s = this.#sessions.get(localSessionId);
    if (s === undefined || this.#version !== 3) return;
    this.#enqueue(() => this.#runSession(s, "circuit-status", { circuit: { active, new: false } }));
  }

  /**
   * Close the tunnel: StopCCN (result 1, general request, unless given), sessions and kernel
   * tunnel down; the transport then keeps acknowledging for the hold time before `done`.
   *
   * @param result The StopCCN's Result Code.
   * @returns Resolves once the StopCCN is queued and the hooks have run.
   */
  close(result?: ResultCodeValue): Promise<void> {
    const d = deferred<void>();
    this.#enqueue(async () => {
      await this.#runTunnel("close", {
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
    this.#enqueue(async () => {
      if (this.#state === "dead") return;
      if (this.#transport === undefined) {
        await this.#runTunnel("close", { reason });
        return;
      }
      if (!this.#broughtDown) this.#downReason = reason;
      this.#transport.close(); // "end" queues transport-ended
    });
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
    if (this.#state !== "wait-ctl-reply" || this.#role !== "initiator") return "none";
    const verdict = this.#tieVerdict(peerTieBreaker);
    if (verdict === undefined) return "none";
    if (verdict === "tie-win") return "win";
    this.abort("lost the tie breaker to the peer's SCCRQ");
    return "lose";
  }

  /**
   * The connection's events, until it is over (empty when `onEvent` was given). While nobody
   * reads, the newest 1024 are kept.
   *
   * @returns The iterator.
   */
  [Symbol.asyncIterator](): AsyncIterator<ConnectionEvent<S>> {
    return {
      next: (): Promise<IteratorResult<ConnectionEvent<S>>> => {
        const e = this.#events.shift();
        if (e !== undefined) return Promise.resolve({ done: false, value: e });
        if (this.#done.done) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve) => this.#eventWaiters.push(resolve));
      },
      return: (): Promise<IteratorResult<ConnectionEvent<S>>> =>
        Promise.resolve({ done: true, value: undefined }),
    };
  }

  // ---- plumbing --------------------------------------------------------------------------------

  #emit(e: ConnectionEvent<S>): void {
    if (this.#opts.onEvent) {
      try {
        this.#opts.onEvent(e);
      } catch (err) {
        this.#log.error("{tunnel}: event listener failed: {error}", {
          tunnel: this.#name,
          error: errorText(err),
        });
      }
      return;
    }
    const w = this.#eventWaiters.shift();
    if (w) {
      w({ done: false, value: e });
      return;
    }
    // Nobody reading: keep the newest events only, so an unread iterator cannot grow forever.
    if (this.#events.length >= EVENT_BACKLOG) this.#events.shift();
    this.#events.push(e);
  }

  #enqueue(job: Job): void {
    this.#queue.push(job);
    if (!this.#draining) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      for (let job = this.#queue.shift(); job !== undefined; job = this.#queue.shift()) {
        try {
          const r = job();
          if (r !== undefined) await r;
        } catch (e) {
          this.#log.error("{tunnel}: internal error: {error}", {
            tunnel: this.#name,
            error: e instanceof Error ? e.stack ?? e.message : String(e),
          });
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  async #readLoop(): Promise<void> {
    const foreign = this.#opts.onForeign;
    try {
      for await (const d of this.#socket) {
        if (this.#state === "dead") break;
        if (foreign !== undefined && this.#isForeign(d) && foreign(d)) continue;
        this.receive(d);
      }
    } catch (e) {
      if (this.#state !== "dead") {
        this.#log.warn("{tunnel}: socket read failed: {error}", {
          tunnel: this.#name,
          error: errorText(e),
        });
      }
    }
  }

  /** A control message for another tunnel, or (responder) a non-ZLB one for tunnel ID 0. */
  #isForeign(d: Datagram): boolean {
    let peek;
    try {
      peek = peekHeader(d.data, this.#ipPrefix ? "ip" : "udp");
    } catch {
      return false;
    }
    if (peek.kind !== "control") return false;
    if (peek.tunnelId !== 0) return peek.tunnelId !== this.#localTunnelId;
    return this.#role === "responder" && !peek.zlb;
  }

  #send(packet: Uint8Array): void {
    if (this.#connected) this.#socket.send(packet);
    else this.#socket.send(packet, this.#peer);
  }

  #newTransport(): ControlTransport {
    const o = this.#opts;
    const t = new ControlTransport({
      version: this.#version,
      encap: this.#encap,
      ipPrefix: this.#ipPrefix,
      send: (p) => this.#send(p),
      clock: this.#clock,
      receiveWindow: this.#identity.receiveWindow,
      peerWindow: o.peerWindow,
      retransmitTimeout: o.retryTimeout,
      maxRetransmits: o.maxRetries,
      helloInterval: o.helloInterval ?? 0,
      ...o.transport,
      onMessage: (m) => this.#onMessage(m),
    });
    this.#unsubscribe = [
      t.on("error", (e) => this.#onTransportError(e)),
      t.on("end", (e) => this.#onTransportEnd(t, e)),
    ];
    this.#transport = t;
    this.#applyAuth();
    return t;
  }

  /** Drop the current transport without any event (restart after a tie breaker). */
  #dropTransport(): void {
    for (const u of this.#unsubscribe) u();
    this.#unsubscribe = [];
    this.#transport?.close();
    this.#transport = undefined;
  }

  /** Codec options from the secret, digest and nonces known so far. */
  #applyAuth(): void {
    const t = this.#transport;
    if (t === undefined) return;
    const key = this.#digestKey;
    const nonces = {
      ...(this.#localNonce ? { localNonce: this.#localNonce } : {}),
      ...(this.#remoteNonce ? { remoteNonce: this.#remoteNonce } : {}),
    };
    t.encodeOptions = {
      ...(this.#secret !== undefined ? { secret: this.#secret } : {}),
      ...(key && this.#digestType !== undefined
        ? { digest: { key, type: this.#digestType, ...nonces } }
        : {}),
    };
    t.decodeOptions = {
      ignoreMalformed: true,
      ...(this.#secret !== undefined ? { secret: this.#secret } : {}),
      ...(key ? { digest: { key, required: this.#digestType !== undefined, ...nonces } } : {}),
    };
  }

  #armSetupTimer(): void {
    if (this.#setupTimer !== undefined || this.#setupTimeout <= 0) return;
    this.#setupTimer = this.#clock.setTimer(this.#setupTimeout, () => {
      this.#setupTimer = undefined;
      this.#enqueue(() =>
        this.#runTunnel("timeout", {
          result: { resultCode: StopCcnResult.FsmError, errorMessage: "set-up timed out" },
          reason: "control connection set-up timed out",
        })
      );
    });
  }

  // ---- datagrams ----------------------------------------------------------------------------

  #onDatagram(d: Datagram): void {
    if (this.#state === "dead" || this.#transport === undefined && this.#role === "responder") {
      return;
    }
    if (!this.#connected && d.from.address !== this.#peer.address) {
      this.#log.debug("{tunnel}: ignored a datagram from {from}: not the peer", {
        tunnel: this.#name,
        from: endpointText(d.from),
      });
      return;
    }
    const wire = this.#ipPrefix ? "ip" : "udp";
    let peek;
    try {
      peek = peekHeader(d.data, wire);
    } catch {
      this.#transport?.receive(d.data); // reported as an error event
      return;
    }
    if (peek.kind !== "control") return; // data packets are the kernel's business
    if (peek.tunnelId === 0) {
      if (this.#role === "initiator") {
        if (this.#state === "wait-ctl-reply" && !peek.zlb) this.#crossing(d);
        return;
      }
      if (peek.zlb) return;
    } else if (peek.tunnelId !== this.#localTunnelId) {
      this.#log.debug("{tunnel}: ignored a message for tunnel {id}", {
        tunnel: this.#name,
        id: peek.tunnelId,
      });
      return;
    }
    // The SCCRP's nonce is needed to verify it (and everything after it): only with a digest,
    // and only while we wait for that reply.
    if (
      this.#role === "initiator" && this.#digestType !== undefined &&
      this.#state === "wait-ctl-reply" && this.#remoteNonce === undefined && !peek.zlb
    ) {
      this.#learnNonce(d);
    }
    if (!this.#connected && this.#state === "wait-ctl-reply") this.#lastFrom = d.from;
    this.#transport?.receive(d.data);
  }

  /** Decode without the transport (a crossing SCCRQ, or an SCCRP whose nonce we need first). */
  #peekDecode(d: Datagram, verify: boolean): ControlMessage | undefined {
    try {
      return decodeControl(d.data, {
        transport: this.#ipPrefix ? "ip" : "udp",
        version: this.#version,
        ignoreMalformed: true,
        ...(this.#secret !== undefined ? { secret: this.#secret } : {}),
        ...(verify && this.#digestKey
          ? { digest: { key: this.#digestKey, required: this.#digestType !== undefined } }
          : {}),
      });
    } catch (e) {
      this.#log.debug("{tunnel}: cannot decode a datagram from {from}: {error}", {
        tunnel: this.#name,
        from: endpointText(d.from),
        error: errorText(e),
      });
      return undefined;
    }
  }

  /** An SCCRP signed with the peer's nonce: take the nonce once its digest verifies. */
  #learnNonce(d: Datagram): void {
    const msg = this.#peekDecode(d, false);
    if (msg === undefined || msg.type !== MessageType.SCCRP) return;
    const nonce = getAvp(msg, AvpType.ControlMessageAuthNonce);
    const key = this.#digestKey;
    if (nonce === undefined || key === undefined) return;
    const bytes = this.#ipPrefix ? d.data.subarray(IP_CONTROL_PREFIX_LENGTH) : d.data;
    let verdict;
    try {
      verdict = verifyMessageDigest(bytes, {
        key,
        remoteNonce: nonce,
        ...(this.#localNonce ? { localNonce: this.#localNonce } : {}),
      });
    } catch {
      return;
    }
    if (verdict === "valid") {
      this.#remoteNonce = nonce;
      this.#applyAuth();
    }
  }

  #tieVerdict(theirs: bigint | undefined): "tie-win" | "tie-lose" | "tie-again" | undefined {
    const ours = this.#tieBreaker;
    if (ours === undefined && theirs === undefined) return undefined;
    if (theirs === undefined) return "tie-win";
    if (ours === undefined) return "tie-lose";
    return ours < theirs ? "tie-win" : ours > theirs ? "tie-lose" : "tie-again";
  }

  /** An SCCRQ from our peer crossing ours on this socket. */
  #crossing(d: Datagram): void {
    const msg = this.#peekDecode(d, true);
    if (msg === undefined || msg.type !== MessageType.SCCRQ) return;
    const theirs = getAvp(msg, AvpType.TieBreaker);
    this.#enqueue(async () => {
      if (this.#state !== "wait-ctl-reply") return;
      const verdict = this.#tieVerdict(theirs);
      if (verdict === undefined) {
        this.#log.info("{tunnel}: ignored a crossing SCCRQ from {peer}: no tie breakers", {
          tunnel: this.#name,
          peer: endpointText(d.from),
        });
        return;
      }
      this.#log.info("{tunnel}: crossing SCCRQ from {peer}: {verdict}", {
        tunnel: this.#name,
        peer: endpointText(d.from),
        verdict: verdict === "tie-win"
          ? "we win the tie breaker, ignoring it"
          : verdict === "tie-lose"
          ? "we lose the tie breaker, answering it"
          : "equal tie breakers, starting again",
      });
      await this.#runTunnel(verdict, { datagram: d });
    });
  }

  #onTransportError(e: TransportErrorEvent): void {
    const err = e.error;
    if (e.kind === "auth") {
      const args = { tunnel: this.#name, peer: endpointText(this.#peer), error: errorText(err) };
      const line =
        "{tunnel}: Cannot authenticate a control message from {peer}: {error} (wrong shared secret?)";
      if (!this.#authWarned) this.#log.warn(line, args);
      else this.#log.debug(line, args);
      this.#authWarned = true;
      return;
    }
    if (e.kind === "send") {
      this.#log.debug("{tunnel}: send failed: {error}", {
        tunnel: this.#name,
        error: errorText(err),
      });
      return;
    }
    if (!e.accepted) {
      this.#log.debug("{tunnel}: dropped a malformed datagram: {error}", {
        tunnel: this.#name,
        error: errorText(err),
      });
      return;
    }
    if (err instanceof UnknownAvpError) {
      this.#enqueue(() => this.#onUnknownAvp(err));
      return;
    }
    if (err instanceof UnknownMessageTypeError) {
      if (!err.mandatory) return;
      this.#enqueue(() =>
        this.#runTunnel("unknown-avp", {
          result: {
            resultCode: StopCcnResult.GeneralError,
            errorCode: ErrorCode.UnknownMandatoryAvp,
            errorMessage: err.message,
          },
          reason: `peer sent ${err.message}`,
        })
      );
      return;
    }
    this.#log.warn("{tunnel}: ignored a malformed message from {peer}: {error}", {
      tunnel: this.#name,
      peer: endpointText(this.#peer),
      error: errorText(err),
    });
  }

  #onTransportEnd(t: ControlTransport, end: TransportEnd): void {
    if (t !== this.#transport) return;
    if (end.reason === "failed") {
      const reason = `peer silent: ${end.error.message}`;
      this.#enqueue(() => this.#runTunnel("transport-failed", { reason }));
    } else {
      this.#enqueue(() =>
        this.#runTunnel("transport-ended", {
          reason: end.reason === "stopped" ? "StopCCN hold time over" : "closed",
        })
      );
    }
  }

  // ---- messages -----------------------------------------------------------------------------

  #onMessage(msg: ControlMessage): void {
    const from = this.#lastFrom;
    this.#enqueue(() => this.#handleMessage(msg, from));
  }

  async #handleMessage(msg: ControlMessage, from: Endpoint | undefined): Promise<void> {
    switch (msg.type) {
      case MessageType.SCCRQ:
        if (this.#state === "idle" && this.#role === "responder") {
          return await this.#runTunnel(...this.#checkSccrq(msg));
        }
        return await this.#runTunnel("recv-sccrq", this.#unexpected(msg));
      case MessageType.SCCRP:
        if (this.#state === "wait-ctl-reply") {
          const [ev, ctx] = this.#checkSccrp(msg);
          return await this.#runTunnel(ev, { ...ctx, from });
        }
        return await this.#runTunnel("recv-sccrp", this.#unexpected(msg));
      case MessageType.SCCCN:
        if (this.#state === "wait-ctl-conn") return await this.#runTunnel(...this.#checkScccn(msg));
        return await this.#runTunnel("recv-scccn", this.#unexpected(msg));
      case MessageType.StopCCN: {
        const result = getAvp(msg, AvpType.ResultCode);
        const reason = `StopCCN from the peer: ${
          describeResult(result ?? { resultCode: 0 }, "stopccn")
        }`;
        this.#log.info("{tunnel}: {reason}", { tunnel: this.#name, reason });
        return await this.#runTunnel("recv-stopccn", { reason });
      }
      case MessageType.HELLO:
        return await this.#runTunnel("recv-hello", {});
      default:
        if (msg.type !== null && RECV_EVENT.has(msg.type)) {
          return await this.#runTunnel("recv-session", {
            msg,
            ...this.#unexpected(msg),
          });
        }
        this.#log.debug("{tunnel}: ignored {type}", {
          tunnel: this.#name,
          type: messageTypeName(msg.type ?? 0),
        });
    }
  }

  #unexpected(msg: ControlMessage): TunnelCtx {
    const what = `unexpected ${messageTypeName(msg.type ?? 0)} in state ${this.#state}`;
    return {
      result: { resultCode: StopCcnResult.FsmError, errorMessage: what },
      reason: what,
    };
  }

  #refuse(reason: string, result: ResultCodeValue): TunnelCtx {
    this.#log.warn("{tunnel}: refusing {peer}: {reason}", {
      tunnel: this.#name,
      peer: endpointText(this.#peer),
      reason,
    });
    return { result, reason };
  }

  #notAuthorized(detail: string): TunnelCtx {
    return this.#refuse(`authentication failed: ${detail}`, {
      resultCode: StopCcnResult.NotAuthorized,
      errorMessage: detail,
    });
  }

  /** Checks common to SCCRQ and SCCRP; sets the peer's tunnel ID. */
  #checkStart(msg: ControlMessage): [boolean, TunnelCtx] {
    const info = readTunnelAvps(msg, this.#version);
    this.#peerInfo = info;
    const idName = this.#version === 2 ? "Assigned Tunnel ID" : "Assigned Control Connection ID";
    if (!info.tunnelId) {
      return [
        false,
        this.#refuse(`no ${idName}`, {
          resultCode: StopCcnResult.GeneralError,
          errorCode: ErrorCode.OutOfRange,
          errorMessage: `missing ${idName}`,
        }),
      ];
    }
    if (this.#transport) this.#transport.peerTunnelId = info.tunnelId;
    const pv = info.protocolVersion;
    if (this.#version === 2 && pv !== undefined && (pv.version !== 1 || pv.revision !== 0)) {
      return [
        false,
        this.#refuse(`protocol version ${pv.version}.${pv.revision}`, {
          resultCode: StopCcnResult.UnsupportedVersion,
          errorCode: 0x0100,
          errorMessage: "only protocol version 1.0 is supported",
        }),
      ];
    }
    if (this.#version === 2 && info.challenge !== undefined && this.#secret === undefined) {
      return [false, this.#notAuthorized("the peer sent a Challenge but no secret is configured")];
    }
    this.#peerChallenge = info.challenge;
    if (this.#version === 3 && info.nonce !== undefined) {
      this.#remoteNonce = info.nonce;
    }
    return [true, { info }];
  }

  #checkSccrq(msg: ControlMessage): [TunnelEvent, TunnelCtx] {
    const [ok, ctx] = this.#checkStart(msg);
    return [ok ? "recv-sccrq" : "recv-sccrq-bad", ctx];
  }

  #checkSccrp(msg: ControlMessage): [TunnelEvent, TunnelCtx] {
    const [ok, ctx] = this.#checkStart(msg);
    if (!ok) return ["recv-sccrp-bad", ctx];
    if (this.#version === 2 && this.#challenge !== undefined) {
      const response = ctx.info?.challengeResponse;
      if (response === undefined) {
        return ["recv-sccrp-bad", this.#notAuthorized("no Challenge Response in the SCCRP")];
      }
      if (
        !verifyChapResponse(MessageType.SCCRP, this.#secret ?? "", this.#challenge, response)
      ) {
        return [
          "recv-sccrp-bad",
          this.#notAuthorized("wrong Challenge Response in the SCCRP (shared secret mismatch)"),
        ];
      }
    }
    return ["recv-sccrp", ctx];
  }

  #checkScccn(msg: ControlMessage): [TunnelEvent, TunnelCtx] {
    if (this.#version === 2 && this.#challenge !== undefined) {
      const response = getAvp(msg, AvpType.ChallengeResponse);
      if (response === undefined) {
        return ["recv-scccn-bad", this.#notAuthorized("no Challenge Response in the SCCCN")];
      }
      if (
        !verifyChapResponse(MessageType.SCCCN, this.#secret ?? "", this.#challenge, response)
      ) {
        return [
          "recv-scccn-bad",
          this.#notAuthorized("wrong Challenge Response in the SCCCN (shared secret mismatch)"),
        ];
      }
    }
    return ["recv-scccn", {}];
  }

  async #onUnknownAvp(err: UnknownAvpError): Promise<void> {
    const result: ResultCodeValue = {
      resultCode: 2,
      errorCode: ErrorCode.UnknownMandatoryAvp,
      errorMessage: err.errorMessage,
    };
    const reason = `peer sent an ${err.errorMessage} in ${messageTypeName(err.decoded.type ?? 0)}`;
    this.#log.warn("{tunnel}: {reason}", { tunnel: this.#name, reason });
    if (err.scope === "tunnel" || this.#state !== "established") {
      if (err.scope === "tunnel") await this.#runTunnel("unknown-avp", { result, reason });
      return;
    }
    const msg = err.decoded;
    const info = readSessionAvps(msg, this.#version);
    let s = this.#findSession(info);
    if (s === undefined) {
      const kind: SessionKind = msg.type === MessageType.OCRQ ? "oc-recipient" : "ic-recipient";
      s = this.#newSession(kind, 0, info.peerSessionId ?? 0, undefined, true);
    }
    await this.#runSession(s, "unknown-avp", { result, reason });
  }

  // ---- the tunnel state machine -------------------------------------------------------------

  async #runTunnel(event: TunnelEvent, ctx: TunnelCtx): Promise<void> {
    let ev: TunnelEvent | undefined = event;
    let c = ctx;
    while (ev !== undefined) {
      const row = tunnelTransition(this.#state, ev);
      if (row === undefined) {
        this.#log.debug("{tunnel}: ignored event {event} in state {state}", {
          tunnel: this.#name,
          event: ev,
          state: this.#state,
        });
        return;
      }
      const from = this.#state;
      this.#state = row.to;
      if (from !== row.to) {
        this.#log.debug("{tunnel}: {from} -> {to} on {event}", {
          tunnel: this.#name,
          from,
          to: row.to,
          event: ev,
        });
        this.#onTunnelState(row.to);
      }
      let next: [TunnelEvent, TunnelCtx] | undefined;
      for (const a of row.actions) {
        const r = await this.#tunnelAction(a, ev, c);
        if (r !== undefined) next = r;
      }
      [ev, c] = next ?? [undefined, {}];
    }
  }

  #onTunnelState(to: TunnelState): void {
    if (SETUP_STATES.has(to)) {
      this.#armSetupTimer();
    } else if (to !== "idle" && to !== "wait-up") {
      this.#setupTimer?.cancel();
      this.#setupTimer = undefined;
    }
  }

  async #tunnelAction(
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
        return await this.#bringTunnelUp();
      case "report-up":
        this.#log.info("{tunnel}: up, tunnel {local} / peer {peerId} at {peer}{host}", {
          tunnel: this.#name,
          local: this.#localTunnelId,
          peerId: this.peerTunnelId,
          peer: endpointText(this.#peer),
          host: this.#peerInfo.hostName ? ` (${this.#peerInfo.hostName})` : "",
        });
        this.#emit({ type: "tunnel-up", tunnel: this.#tunnelInfo() });
        this.#established.resolve(true);
        return;
      case "open-sessions": {
        for (const s of [...this.#sessions.values()]) {
          if (s.state === "wait-tunnel") await this.#runSession(s, "tunnel-open", {});
        }
        const deferredMsgs = this.#deferred;
        this.#deferred = [];
        for (const m of deferredMsgs) await this.#dispatch(m);
        return;
      }
      case "defer":
        // Session messages that beat the tunnel's last step wait for it; a peer that floods
        // them meanwhile loses the excess (its sessions then time out) rather than our memory.
        if (c.msg && this.#deferred.length < MAX_DEFERRED) this.#deferred.push(c.msg);
        else if (c.msg) {
          this.#log.warn("{tunnel}: dropped a session message received before the tunnel was up", {
            tunnel: this.#name,
          });
        }
        return;
      case "dispatch":
        if (c.msg) await this.#dispatch(c.msg);
        return;
      case "discard":
        return;
      case "restart-as-responder":
        this.#dropTransport();
        this.#role = "responder";
        this.#challenge = undefined;
        this.#tieBreaker = undefined;
        this.#newTransport();
        if (c.datagram) this.#transport?.receive(c.datagram.data);
        return;
      case "restart":
        this.#dropTransport();
        this.#tieBreaker = undefined;
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

  #tunnelInfo(): TunnelUpInfo {
    return {
      localTunnelId: this.#localTunnelId,
      peerTunnelId: this.peerTunnelId,
      peer: { ...this.#peer },
      version: this.#version,
      encap: this.#encap,
      socket: this.#socket,
      ...(this.#peerInfo.hostName ? { peerHostName: this.#peerInfo.hostName } : {}),
    };
  }

  #sendSccrq(): void {
    const t = this.#transport ?? this.#newTransport();
    const auth: { challenge?: Uint8Array; nonce?: Uint8Array; tieBreaker?: bigint } = {};
    if (this.#version === 2 && this.#secret !== undefined) {
      this.#challenge = this.#random(16);
      auth.challenge = this.#challenge;
    }
    if (this.#version === 3 && this.#digestType !== undefined) {
      this.#localNonce ??= this.#random(16);
      auth.nonce = this.#localNonce;
      this.#applyAuth();
    }
    if (this.#opts.tieBreaker !== false) {
      this.#tieBreaker ??= this.#opts.tieBreaker ?? u64(this.#random(8));
      auth.tieBreaker = this.#tieBreaker;
    }
    void t.send(buildSccrq(this.#identity, this.#localTunnelId, auth));
  }

  #sendSccrp(): void {
    const t = this.#transport;
    if (t === undefined) return;
    const auth: { challenge?: Uint8Array; challengeResponse?: Uint8Array; nonce?: Uint8Array } = {};
    if (this.#version === 2 && this.#secret !== undefined) {
      this.#challenge = this.#random(16);
      auth.challenge = this.#challenge;
      if (this.#peerChallenge !== undefined) {
        auth.challengeResponse = chapResponse(
          MessageType.SCCRP,
          this.#secret,
          this.#peerChallenge,
        );
      }
    }
    if (this.#version === 3 && this.#digestType !== undefined) {
      this.#localNonce ??= this.#random(16);
      auth.nonce = this.#localNonce;
    }
    this.#applyAuth();
    void t.send(buildSccrp(this.#identity, this.#localTunnelId, auth));
  }

  #sendScccn(from: Endpoint | undefined): void {
    const t = this.#transport;
    if (t === undefined) return;
    if (!this.#connected) {
      const answer = from ?? this.#peer;
      if (answer.port !== this.#peer.port) {
        this.#log.info("{tunnel}: {peer} answered from port {port}: following it (RFC 2661 §8.1)", {
          tunnel: this.#name,
          peer: endpointText(this.#peer),
          port: answer.port,
        });
      }
      this.#peer = { ...answer };
      try {
        this.#socket.connect(this.#peer, t.peerTunnelId);
        this.#connected = true;
      } catch (e) {
        this.#log.warn("{tunnel}: cannot connect the socket to {peer}: {error}", {
          tunnel: this.#name,
          peer: endpointText(this.#peer),
          error: errorText(e),
        });
      }
    }
    const response = this.#version === 2 && this.#peerChallenge !== undefined && this.#secret
      ? chapResponse(MessageType.SCCCN, this.#secret, this.#peerChallenge)
      : undefined;
    t.send(buildScccn(this.#version, response)).then(
      () => this.#enqueue(() => this.#runTunnel("scccn-acked", {})),
      () => {},
    );
  }

  #sendStopccn(ev: TunnelEvent, c: TunnelCtx): void {
    const t = this.#transport;
    if (t === undefined) return;
    const result = c.result ??
      (ev === "close"
        ? { resultCode: StopCcnResult.GeneralRequest }
        : { resultCode: StopCcnResult.FsmError });
    this.#log.info("{tunnel}: sending StopCCN to {peer}: {result}", {
      tunnel: this.#name,
      peer: endpointText(this.#peer),
      result: describeResult(result, "stopccn"),
    });
    if (!this.#downReason) this.#downReason = c.reason ?? describeResult(result, "stopccn");
    void t.send(buildStopccn(this.#version, this.#localTunnelId, result, this.#identity.hide));
  }

  async #bringTunnelUp(): Promise<[TunnelEvent, TunnelCtx]> {
    try {
      await this.#hooks.tunnelUp?.(this.#tunnelInfo());
      this.#tunnelUp = true;
      return ["up-ok", {}];
    } catch (e) {
      const reason = `cannot create the kernel tunnel: ${errorText(e)}`;
      this.#log.error("{tunnel}: {reason}", { tunnel: this.#name, reason });
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
    for (const s of [...this.#sessions.values()].reverse()) {
      await this.#runSession(s, "tunnel-down", { reason: `tunnel down: ${this.#downReason}` });
    }
    this.#deferred = [];
    const info: TunnelDownInfo = {
      localTunnelId: this.#localTunnelId,
      peerTunnelId: this.peerTunnelId,
      reason: this.#downReason,
      wasUp: this.#tunnelUp,
    };
    if (this.#tunnelUp) {
      this.#tunnelUp = false;
      try {
        await this.#hooks.tunnelDown?.(info);
      } catch (e) {
        this.#log.error("{tunnel}: cannot delete the kernel tunnel: {error}", {
          tunnel: this.#name,
          error: errorText(e),
        });
      }
    }
    this.#reportDown(info);
    this.#established.resolve(false);
  }

  #reportDown(info: TunnelDownInfo): void {
    if (this.#downReported) return;
    this.#downReported = true;
    this.#log.info("{tunnel}: down: {reason}", { tunnel: this.#name, reason: info.reason });
    this.#emit({ type: "tunnel-down", tunnel: info });
  }

  async #finish(reason: string): Promise<void> {
    if (!this.#broughtDown) await this.#bringDown(reason);
    this.#setupTimer?.cancel();
    this.#setupTimer = undefined;
    for (const u of this.#unsubscribe) u();
    this.#unsubscribe = [];
    this.#transport?.close();
    this.#tunnelIds.release(this.#localTunnelId);
    this.#state = "dead";
    this.#done.resolve();
    const waiters = this.#eventWaiters;
    this.#eventWaiters = [];
    for (const w of waiters) w({ done: true, value: undefined });
  }

  // ---- sessions -----------------------------------------------------------------------------

  #allocateSessionId(params: S): number {
    if (params.sid !== undefined) {
      if (!this.#sessionIds.reserve(params.sid)) {
        throw new RangeError(`Cannot open session ${params.name}: session ID ${params.sid} in use`);
      }
      return params.sid;
    }
    return this.#sessionIds.allocate();
  }

  #newSession(
    kind: SessionKind,
    localId: number,
    peerId: number,
    params: S | undefined,
    stray = false,
  ): Session<S> {
    const s: Session<S> = {
      kind,
      state: "idle",
      localId,
      peerId,
      params,
      stray,
      callType: kind.startsWith("ic") ? "incoming" : "outgoing",
      serial: 0,
      l2spec: params?.l2specType === "default" ? 1 : 0,
      sendSeq: params?.sendSeqnum ?? false,
      recvSeq: params?.recvSeqnum ?? false,
      up: false,
      reported: false,
      established: deferred<boolean>(),
      closed: deferred<void>(),
    };
    if (!stray) {
      this.#sessions.set(localId, s);
      if (peerId !== 0) this.#byPeer.set(peerId, s);
    }
    return s;
  }

  #findSession(info: PeerSessionInfo): Session<S> | undefined {
    if (info.ourSessionId !== 0) return this.#sessions.get(info.ourSessionId);
    return info.peerSessionId ? this.#byPeer.get(info.peerSessionId) : undefined;
  }

  async #dispatch(msg: ControlMessage): Promise<void> {
    const type = msg.type as MessageTypeCode;
    const info = readSessionAvps(msg, this.#version);
    if ((type === MessageType.ICRQ || type === MessageType.OCRQ) && info.ourSessionId === 0) {
      await this.#incomingCall(type, info);
      return;
    }
    const base = RECV_EVENT.get(type);
    if (base === undefined) return;
    let s = this.#findSession(info);
    if (s === undefined) {
      // RFC 2661 §7.4.2 / §7.5.1 idle rows: a reply for no session gets a CDN, the rest nothing.
      const kind: SessionKind = type === MessageType.OCRP || type === MessageType.OCCN
        ? "oc-recipient"
        : "ic-recipient";
      s = this.#newSession(kind, 0, info.peerSessionId ?? 0, undefined, true);
      await this.#runSession(s, base, {
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
    const [ev, ctx] = this.#checkSessionMessage(s, type, base, info);
    await this.#runSession(s, ev, ctx);
  }

  #checkSessionMessage(
    s: Session<S>,
    type: MessageTypeCode,
    base: SessionEvent,
    info: PeerSessionInfo,
  ): [SessionEvent, SessionCtx] {
    const unexpected = (): SessionCtx => ({
      info,
      result: this.#fsmErrorResult(`unexpected ${messageTypeName(type)} in state ${s.state}`),
      reason: `unexpected ${messageTypeName(type)} in state ${s.state}`,
    });
    if (type === MessageType.CDN) {
      const r = info.result ?? { resultCode: 0 };
      return ["recv-cdn", { info, reason: `CDN from the peer: ${describeResult(r, "cdn")}` }];
    }
    if (type === MessageType.WEN || type === MessageType.SLI) return [base, { info }];
    const reply = (s.kind === "ic-sender" && type === MessageType.ICRP) ||
      (s.kind === "oc-sender" && type === MessageType.OCRP);
    if (reply && s.state === "wait-reply") {
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
      s.peerId = info.peerSessionId;
      this.#byPeer.set(s.peerId, s);
      const bad = this.#takePeerSessionParams(s, info);
      if (bad !== undefined) return [`${base}-bad` as SessionEvent, bad];
      return [base, { info }];
    }
    const connected = (s.kind === "ic-recipient" && type === MessageType.ICCN) ||
      (s.kind === "oc-sender" && type === MessageType.OCCN);
    if (connected && s.state === "wait-connect") {
      const bad = this.#takePeerSessionParams(s, info);
      if (bad !== undefined) return [`${base}-bad` as SessionEvent, bad];
      return [base, { info }];
    }
    return [base, unexpected()];
  }

  #fsmErrorResult(message: string): ResultCodeValue {
    return this.#version === 3
      ? { resultCode: CdnResult.FsmError, errorMessage: message }
      : { resultCode: CdnResult.GeneralError, errorMessage: message };
  }

  /** Cookie, sublayer and sequencing the peer asks for. Returns a CDN context if unusable. */
  #takePeerSessionParams(s: Session<S>, info: PeerSessionInfo): SessionCtx | undefined {
    if (info.sequencingRequired) s.sendSeq = true;
    if (this.#version === 2) return undefined;
    if (info.cookie !== undefined) s.sendCookie = info.cookie.length > 0 ? info.cookie : undefined;
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
      s.l2spec = info.l2spec;
    }
    if ((info.dataSequencing ?? 0) >= DataSequencingLevel.NonIp) s.sendSeq = true;
    if ((s.sendSeq || s.recvSeq) && s.l2spec === L2SpecificSublayerType.None) {
      return {
        info,
        result: { resultCode: CdnResult.SequencingWithoutSublayer },
        reason: "sequencing asked for without an L2-Specific Sublayer",
      };
    }
    return undefined;
  }

  /** The responder's session for a call: L2TPv3 by Remote End ID, L2TPv2 the first PPP one. */
  #matchTemplate(info: PeerSessionInfo): S | undefined {
    const templates = this.#opts.sessions ?? [];
    if (this.#version === 2) {
      return templates.find((t) => t.pseudowire === "ppp" || t.pseudowire === "pppac");
    }
    if (info.remoteEndId !== undefined) {
      const exact = templates.find((t) => sameBytes(t.remoteEndId, info.remoteEndId));
      if (exact !== undefined) return exact;
    }
    return templates.find((t) => t.remoteEndId === undefined);
  }

  async #incomingCall(type: MessageTypeCode, info: PeerSessionInfo): Promise<void> {
    const kind: SessionKind = type === MessageType.ICRQ ? "ic-recipient" : "oc-recipient";
    const good: SessionEvent = type === MessageType.ICRQ ? "recv-icrq" : "recv-ocrq";
    const bad: SessionEvent = type === MessageType.ICRQ ? "recv-icrq-bad" : "recv-ocrq-bad";
    const name = messageTypeName(type);
    const peerId = info.peerSessionId ?? 0;
    if (peerId === 0) {
      this.#log.warn("{tunnel}: ignored an {type} without a session ID", {
        tunnel: this.#name,
        type: name,
      });
      return;
    }
    if (this.#byPeer.has(peerId)) {
      this.#log.debug("{tunnel}: ignored a second {type} for peer session {id}", {
        tunnel: this.#name,
        type: name,
        id: peerId,
      });
      return;
    }
    const refuse = async (result: ResultCodeValue, reason: string): Promise<void> => {
      this.#log.warn("{tunnel}: refusing the peer's {type} (peer session {id}): {reason}", {
        tunnel: this.#name,
        type: name,
        id: peerId,
        reason,
      });
      const s = this.#newSession(kind, 0, peerId, undefined, true);
      await this.#runSession(s, bad, { info, result, reason });
    };
    const max = this.#opts.maxSessions;
    if (max !== undefined && this.#sessions.size >= max) {
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
    if (this.#version === 3) {
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
        await this.#runSession(busy, "tie-lose", { reason: "lost the session tie breaker" });
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
    const s = this.#newSession(kind, localId, peerId, template);
    s.remoteEndId = info.remoteEndId;
    if (this.#version === 3 && template.remoteEndId !== undefined) this.#busy.set(template, s);
    const problem = this.#takePeerSessionParams(s, info);
    if (problem !== undefined) {
      await this.#runSession(s, bad, problem);
      return;
    }
    await this.#runSession(s, good, { info });
  }

  // ---- the session state machines -----------------------------------------------------------

  async #runSession(s: Session<S>, event: SessionEvent, ctx: SessionCtx): Promise<void> {
    let ev: SessionEvent | undefined = event;
    let c = ctx;
    while (ev !== undefined) {
      const row = sessionTransition(s.kind, s.state, ev);
      if (row === undefined) {
        this.#log.debug("{tunnel}: session {id}: ignored {event} in state {state}", {
          tunnel: this.#name,
          id: s.localId,
          event: ev,
          state: s.state,
        });
        return;
      }
      s.state = row.to;
      if (SESSION_SETUP.has(row.to)) this.#armSessionTimer(s);
      let next: [SessionEvent, SessionCtx] | undefined;
      for (const a of row.actions) {
        const r = await this.#sessionAction(s, a, ev, c);
        if (r !== undefined) next = r;
      }
      [ev, c] = next ?? [undefined, {}];
    }
  }

  #armSessionTimer(s: Session<S>): void {
    if (s.timer !== undefined || this.#setupTimeout <= 0) return;
    s.timer = this.#clock.setTimer(this.#setupTimeout, () => {
      s.timer = undefined;
      if (!SESSION_SETUP.has(s.state)) return;
      this.#enqueue(() =>
        this.#runSession(s, "timeout", {
          result: this.#version === 3
            ? { resultCode: CdnResult.FsmError, errorMessage: "set-up timed out" }
            : { resultCode: CdnResult.Timeout },
          reason: "session set-up timed out",
        })
      );
    });
  }

  #sessionAvps(s: Session<S>): SessionAvps {
    return {
      localSessionId: s.localId,
      peerSessionId: s.peerId,
      cookie: s.params?.peerCookie,
      l2spec: this.#version === 3 ? s.l2spec : undefined,
      dataSequencing: s.recvSeq ? DataSequencingLevel.All : undefined,
      circuit: { active: true, new: true },
    };
  }

  async #sessionAction(
    s: Session<S>,
    a: SessionAction,
    ev: SessionEvent,
    c: SessionCtx,
  ): Promise<[SessionEvent, SessionCtx] | undefined> {
    const t = this.#transport;
    const hide = this.#identity.hide;
    // L2TPv2 puts the peer's session ID in the header; L2TPv3 has no such field.
    const hdr = this.#version === 2 ? s.peerId : 0;
    switch (a) {
      case "send-icrq":
      case "send-ocrq": {
        s.serial = ++this.#serial;
        if (this.#version === 3) s.tieBreaker = u64(this.#random(8));
        const type = a === "send-icrq" ? MessageType.ICRQ : MessageType.OCRQ;
        void t?.send(
          buildCallMessage(type, this.#version, {
            ...this.#sessionAvps(s),
            serial: s.serial,
            pseudowireType: s.params ? pseudowireCode(s.params.pseudowire) : undefined,
            remoteEndId: s.params?.remoteEndId,
            tieBreaker: s.tieBreaker,
          }, hide),
          0,
        );
        return;
      }
      case "send-icrp":
      case "send-ocrp": {
        const type = a === "send-icrp" ? MessageType.ICRP : MessageType.OCRP;
        void t?.send(buildCallMessage(type, this.#version, this.#sessionAvps(s), hide), hdr);
        return;
      }
      case "send-iccn":
      case "send-occn": {
        const type = a === "send-iccn" ? MessageType.ICCN : MessageType.OCCN;
        const { circuit: _c, cookie: _k, ...avps } = this.#sessionAvps(s);
        void t?.send(
          buildCallMessage(type, this.#version, {
            ...avps,
            sequencingRequired: this.#version === 2 && s.recvSeq,
          }, hide),
          hdr,
        );
        return;
      }
      case "send-sli":
        if (this.#version === 3 && c.circuit) {
          void t?.send(buildSli(s.localId, s.peerId, c.circuit, hide), 0);
        }
        return;
      case "send-cdn": {
        const result = c.result ?? this.#defaultCdnResult(ev);
        if (!s.stray) {
          this.#log.info("{tunnel}: session {id}: sending CDN: {result}", {
            tunnel: this.#name,
            id: s.localId,
            result: describeResult(result, "cdn"),
          });
        }
        void t?.send(
          buildCdn(this.#version, s.localId, s.peerId, result, hide),
          hdr,
        );
        return;
      }
      case "answer":
        return ["answered", {}];
      case "bring-up":
        return await this.#bringSessionUp(s);
      case "report-up": {
        s.reported = true;
        const info = this.#sessionUpInfo(s);
        this.#log.info("{tunnel}: session {name} up: {local} / peer {peerId}", {
          tunnel: this.#name,
          name: s.params?.name ?? "",
          local: s.localId,
          peerId: s.peerId,
        });
        this.#emit({ type: "session-up", session: info });
        s.established.resolve(true);
        return;
      }
      case "note": {
        const circuit = c.info?.circuit;
        const message = ev === "recv-wen"
          ? "WAN-Error-Notify from the peer"
          : circuit
          ? `Set-Link-Info from the peer: circuit ${circuit.active ? "up" : "down"}`
          : "Set-Link-Info from the peer";
        this.#emit({
          type: "session-info",
          localSessionId: s.localId,
          message,
          ...(circuit ? { circuit } : {}),
        });
        return;
      }
      case "cleanup":
        await this.#cleanupSession(s, c.reason ?? ev);
        return;
    }
  }

  #defaultCdnResult(ev: SessionEvent): ResultCodeValue {
    if (ev === "close") return { resultCode: CdnResult.Administrative };
    if (ev === "unknown-avp") {
      return { resultCode: CdnResult.GeneralError, errorCode: ErrorCode.UnknownMandatoryAvp };
    }
    return this.#fsmErrorResult(`event ${ev}`);
  }

  #sessionUpInfo(s: Session<S>): SessionUpInfo<S> {
    const params = s.params as S;
    const v3 = this.#version === 3;
    return {
      localTunnelId: this.#localTunnelId,
      peerTunnelId: this.peerTunnelId,
      localSessionId: s.localId,
      peerSessionId: s.peerId,
      version: this.#version,
      encap: this.#encap,
      peer: { ...this.#peer },
      pseudowire: params.pseudowire,
      ...(v3 && s.sendCookie ? { cookie: s.sendCookie } : {}),
      ...(v3 && params.peerCookie && params.peerCookie.length > 0
        ? { peerCookie: params.peerCookie }
        : {}),
      ...(v3 ? { l2specType: s.l2spec === 1 ? "default" as const : "none" as const } : {}),
      sendSeq: s.sendSeq,
      recvSeq: s.recvSeq,
      lnsMode: params.lnsMode ?? false,
      callType: s.callType,
      initiator: s.kind === "ic-sender" || s.kind === "oc-sender",
      ...(s.remoteEndId ? { remoteEndId: s.remoteEndId } : {}),
      session: params,
    };
  }

  async #bringSessionUp(s: Session<S>): Promise<[SessionEvent, SessionCtx]> {
    if (s.params === undefined) return ["up-failed", { reason: "no configuration" }];
    try {
      await this.#hooks.sessionUp?.(this.#sessionUpInfo(s));
      s.up = true;
      return ["up-ok", {}];
    } catch (e) {
      const reason = `cannot create the kernel session: ${errorText(e)}`;
      this.#log.error("{tunnel}: session {id}: {reason}", {
        tunnel: this.#name,
        id: s.localId,
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

  async #cleanupSession(s: Session<S>, reason: string): Promise<void> {
    s.timer?.cancel();
    s.timer = undefined;
    s.state = "dead";
    if (s.stray) return;
    const info: SessionDownInfo<S> = {
      localTunnelId: this.#localTunnelId,
      localSessionId: s.localId,
      peerSessionId: s.peerId,
      reason,
      wasUp: s.up,
      ...(s.params ? { session: s.params } : {}),
    };
    if (s.up) {
      s.up = false;
      try {
        await this.#hooks.sessionDown?.(info);
      } catch (e) {
        this.#log.error("{tunnel}: session {id}: cannot delete the kernel session: {error}", {
          tunnel: this.#name,
          id: s.localId,
          error: errorText(e),
        });
      }
    }
    if (this.#sessions.get(s.localId) === s) {
      this.#sessions.delete(s.localId);
      this.#sessionIds.release(s.localId);
    }
    if (s.peerId !== 0 && this.#byPeer.get(s.peerId) === s) this.#byPeer.delete(s.peerId);
    if (s.params !== undefined && this.#busy.get(s.params) === s) this.#busy.delete(s.params);
    this.#log.info("{tunnel}: session {name} ({id}) down: {reason}", {
      tunnel: this.#name,
      name: s.params?.name ?? "",
      id: s.localId,
      reason,
    });
    this.#emit({ type: "session-down", session: info });
    s.established.resolve(false);
    s.closed.resolve();
  }
}
