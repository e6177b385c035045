/**
 * The handles a {@linkcode Context} gives out — {@linkcode Tunnel} and {@linkcode Session} — and
 * the plain, JSON-serializable status snapshots they report.
 *
 * @example Usage
 * ```ts
 * import type { ContextStatus } from "./tunnel.ts";
 * const status: ContextStatus = { time: new Date(0).toISOString(), tunnels: [] };
 * console.log(JSON.stringify(status)); // {"time":"1970-01-01T00:00:00.000Z","tunnels":[]}
 * ```
 *
 * @module
 */

import type { SessionConfig, TunnelConfig, TunnelMode } from "./config.ts";
import type { Endpoint } from "../control/types.ts";

/**
 * Control-plane counters of a tunnel's reliable transport (RFC 2661 §5.8, RFC 3931 §4.2).
 *
 * @example Usage
 * ```ts
 * import type { ControlCounters } from "./tunnel.ts";
 * const c: ControlCounters = {
 *   sent: 3, retransmits: 0, received: 3, acksSent: 1, acksReceived: 1, duplicates: 0,
 *   outOfOrder: 0, outOfWindow: 0, errors: 0,
 * };
 * console.log(c.sent); // 3
 * ```
 */
export interface ControlCounters {
  /** Datagrams sent (messages, retransmissions and ZLB acknowledgements). */
  sent: number;
  /** Retransmissions. */
  retransmits: number;
  /** Datagrams received. */
  received: number;
  /** ZLB acknowledgements sent. */
  acksSent: number;
  /** Acknowledgements received. */
  acksReceived: number;
  /** Duplicate messages received. */
  duplicates: number;
  /** Messages received out of order (held for reordering). */
  outOfOrder: number;
  /** Messages received outside the receive window. */
  outOfWindow: number;
  /** Messages that could not be processed. */
  errors: number;
}

/**
 * Data-plane counters of a kernel tunnel or session (the kernel's L2TP_ATTR_STATS), as numbers.
 *
 * @example Usage
 * ```ts
 * import type { KernelCounters } from "./tunnel.ts";
 * const k: KernelCounters = {
 *   rxPackets: 5, rxBytes: 500, rxErrors: 0, rxDiscards: 0, txPackets: 5, txBytes: 500,
 *   txErrors: 0,
 * };
 * console.log(k.rxPackets); // 5
 * ```
 */
export interface KernelCounters {
  /** Packets received. */
  rxPackets: number;
  /** Bytes received. */
  rxBytes: number;
  /** Receive errors. */
  rxErrors: number;
  /** Received packets dropped: sequence number, wrong cookie or invalid. */
  rxDiscards: number;
  /** Packets sent. */
  txPackets: number;
  /** Bytes sent. */
  txBytes: number;
  /** Send errors. */
  txErrors: number;
}

/**
 * A session in a status snapshot.
 *
 * @example Usage
 * ```ts
 * import type { SessionStatus } from "./tunnel.ts";
 * const s: SessionStatus = {
 *   name: "s1", state: "up", pseudowire: "eth", localSessionId: 10, peerSessionId: 20,
 *   interface: "l2tpeth0", upSince: "2026-01-01T00:00:00.000Z", uptimeSeconds: 5,
 * };
 * console.log(s.state); // up
 * ```
 */
export interface SessionStatus {
  /** The session's name. */
  name: string;
  /**
   * `up`; `connecting` while a call is being placed or answered; `waiting` for a tunnel (an
   * initiator's call before its tunnel is up) or, on a responder, for calls to bind to it.
   */
  state: "up" | "connecting" | "waiting";
  /** Pseudowire. */
  pseudowire: string;
  /** Our session ID, once assigned. */
  localSessionId?: number;
  /** The peer's session ID, once known. */
  peerSessionId?: number;
  /** Network interface, when there is one. */
  interface?: string;
  /** When it came up (ISO 8601). */
  upSince?: string;
  /** Seconds since it came up. */
  uptimeSeconds?: number;
  /** The kernel session's counters (only in `Context.readStatus`). */
  kernel?: KernelCounters;
  /** For a pppac session: the PPPoE session it relays (RFC 2516 SESSION_ID). */
  pppoeSessionId?: number;
  /** For a pppac session: the PPPoE subscriber's MAC address ("aa:bb:cc:dd:ee:ff"). */
  pppoePeerMac?: string;
}

/**
 * One control connection (or, for a static tunnel, the kernel tunnel) in a status snapshot.
 *
 * @example Usage
 * ```ts
 * import type { ConnectionStatus } from "./tunnel.ts";
 * const c: ConnectionStatus = {
 *   state: "up", localTunnelId: 1, peerTunnelId: 2, peer: { address: "192.0.2.2", port: 1701 },
 *   sessions: [],
 * };
 * console.log(c.localTunnelId); // 1
 * ```
 */
export interface ConnectionStatus {
  /** `up`, `connecting` (control connection being set up), `down` (an initiator between dials). */
  state: "up" | "connecting" | "down";
  /** Our tunnel ID, once assigned. */
  localTunnelId?: number;
  /** The peer's tunnel ID, once known. */
  peerTunnelId?: number;
  /** Our address, when known. */
  local?: Endpoint;
  /** The peer's address, when known. */
  peer?: Endpoint;
  /** The peer's Host Name AVP. */
  peerHostName?: string;
  /** When it came up (ISO 8601). */
  upSince?: string;
  /** Seconds since it came up. */
  uptimeSeconds?: number;
  /** Control-plane counters (tunnels that run a control connection). */
  counters?: ControlCounters;
  /** The kernel tunnel's counters (only in `Context.readStatus`). */
  kernel?: KernelCounters;
  /** Its sessions. */
  sessions: SessionStatus[];
}

/**
 * A tunnel in a status snapshot. A responder (`role = "lns"`) is `listening`: each accepted peer
 * is one of its `peers`, and its `sessions` are the declared sessions calls are bound to.
 *
 * @example Usage
 * ```ts
 * import type { TunnelStatus } from "./tunnel.ts";
 * const t: TunnelStatus = {
 *   name: "lns", mode: "dynamic", version: 2, encap: "udp", role: "lns", state: "listening",
 *   local: { address: "0.0.0.0", port: 1701 }, sessions: [], peers: [],
 * };
 * console.log(t.state); // listening
 * ```
 */
export interface TunnelStatus extends Omit<ConnectionStatus, "state"> {
  /** The tunnel's name. */
  name: string;
  /** Mode. */
  mode: TunnelMode;
  /** L2TP version. */
  version: 2 | 3;
  /** Encapsulation. */
  encap: "udp" | "ip";
  /** Dynamic tunnels: which side opens the control connection. */
  role?: "lac" | "lns";
  /** State; `listening` for responders. */
  state: ConnectionStatus["state"] | "listening";
  /** Responders: the accepted control connections. */
  peers?: ConnectionStatus[];
}

/**
 * Everything a context runs, at one moment: plain data, safe for `JSON.stringify`.
 *
 * @example Usage
 * ```ts
 * import type { ContextStatus } from "./tunnel.ts";
 * const s: ContextStatus = { time: "2026-01-01T00:00:00.000Z", tunnels: [] };
 * console.log(s.tunnels.length); // 0
 * ```
 */
export interface ContextStatus {
  /** When the snapshot was taken (ISO 8601). */
  time: string;
  /** The tunnels, in creation order. */
  tunnels: TunnelStatus[];
}

/**
 * A session of a {@linkcode Tunnel}.
 *
 * On a static tunnel it is one kernel session. On a dynamic initiator it is a call we place
 * (again after each redial). On a responder it is a declaration: incoming calls that match it
 * are bound to it, as the configuration file's sessions are.
 *
 * @example Usage
 * ```ts ignore
 * const s = await tunnel.newSession("s1", { pseudowire: "eth", sendSeqnum: false,
 *   recvSeqnum: false, l2specType: "none" });
 * console.log(s.status().state);
 * await s.close();
 * ```
 */
export interface Session {
  /** The session's name (unique in its tunnel). */
  readonly name: string;
  /** The tunnel's name. */
  readonly tunnelName: string;
  /** Its settings. */
  readonly config: Readonly<SessionConfig>;
  /** Whether it was closed (or its tunnel was). */
  readonly closed: boolean;
  /** A snapshot; a responder's declared session reports its first bound call, if any. */
  status(): SessionStatus;
  /** Take it down (a CDN on dynamic tunnels); the tunnel and other sessions stay. Idempotent. */
  close(): Promise<void>;
}

/**
 * A tunnel of a {@linkcode Context}.
 *
 * @example Usage
 * ```ts ignore
 * const t = await ctx.newStaticTunnel("t1", config);
 * await t.newSession("s1", sessionConfig);
 * console.log(t.status().state); // up
 * await t.close();
 * ```
 */
export interface Tunnel {
  /** The tunnel's name (unique in its context). */
  readonly name: string;
  /** Mode. */
  readonly mode: TunnelMode;
  /** Its settings (host names resolved). */
  readonly config: Readonly<TunnelConfig>;
  /** Its sessions, in creation order. */
  readonly sessions: readonly Session[];
  /** Whether it was closed (by `close`, by its context, or because its peer went away for good). */
  readonly closed: boolean;
  /**
   * Add a session.
   *
   * @param name Unique in the tunnel.
   * @param config Its settings.
   * @returns The session: up (static), placed (initiator) or declared (responder).
   */
  newSession(name: string, config: SessionConfig): Promise<Session>;
  /** A snapshot. */
  status(): TunnelStatus;
  /** Take it down with its sessions (StopCCN on dynamic tunnels); the rest runs on. Idempotent. */
  close(): Promise<void>;
}
