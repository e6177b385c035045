/**
 * The vocabulary of the listener (control/listener.ts): what a configured responder tunnel is,
 * what the listener is made with, what it asks the per-tunnel socket factory for, and what it
 * reports. Every name here is re-exported by control/listener.ts, which is where to import them
 * from.
 *
 * @example Usage
 * ```ts
 * import type { ListenerOptions, ListenerTunnel } from "./listener.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const net = new MemoryNetwork();
 * const local = { address: "192.0.2.2", port: 1701 };
 * const lns: ListenerTunnel = { name: "lns", version: 2, acceptAnyPeer: true,
 *   connection: { hostName: "lns", secret: "s3cret" } };
 * const o: ListenerOptions = { socket: net.socket(local), encap: "udp", local,
 *   tunnels: [lns], openSocket: () => net.socket(local) };
 * console.log(o.tunnels[0].name); // lns
 * ```
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import type { ControlConnection } from "./connection.ts";
import type {
  ControlConnectionOptions,
  ControlLog,
  ControlSocket,
  SessionParams,
} from "./connection_types.ts";
import type { L2tpVersion } from "./header.ts";
import type { IdAllocator } from "./ids.ts";
import type { Endpoint } from "./types.ts";

/**
 * What a responder tunnel's connections are made with: the connection options other than those
 * the listener fills in.
 *
 * @example Usage
 * ```ts
 * import type { ResponderOptions } from "./listener.ts";
 * const o: ResponderOptions = { hostName: "lns", secret: "s3cret" };
 * console.log(o.hostName); // lns
 * ```
 */
export type ResponderOptions<S extends SessionParams = SessionParams> = Omit<
  ControlConnectionOptions<S>,
  | "version"
  | "encap"
  | "role"
  | "socket"
  | "peer"
  | "connected"
  | "ipPrefix"
  | "initial"
  | "localTunnelId"
  | "tunnelIds"
  | "onForeign"
  | "sccrpReply"
>;

/**
 * One configured responder tunnel (a `role = "lns"` tunnel of the configuration): whom it
 * accepts and how its connections are made.
 *
 * @example Usage
 * ```ts
 * import type { ListenerTunnel } from "./listener.ts";
 * const t: ListenerTunnel = {
 *   name: "lns", version: 2, peer: { address: "192.0.2.1", port: 1701 },
 *   connection: { hostName: "lns" },
 * };
 * console.log(t.name); // lns
 * ```
 */
export interface ListenerTunnel<S extends SessionParams = SessionParams> {
  /** Name, for logs. */
  name: string;
  /** Protocol version it speaks. */
  version: L2tpVersion;
  /** The peer it accepts (its address; the port is not checked). */
  peer?: Endpoint;
  /** Accept an SCCRQ from any address (requires `connection.secret`). */
  acceptAnyPeer?: boolean;
  /** Most connections at once from this entry (default unlimited). */
  maxTunnels?: number;
  /** How its connections are made. */
  connection: ResponderOptions<S>;
}

/**
 * What the per-tunnel socket factory is asked for.
 *
 * @example Usage
 * ```ts
 * import type { TunnelSocketRequest } from "./listener.ts";
 * const r: TunnelSocketRequest = { encap: "udp", version: 2, local: { address: "0.0.0.0", port: 1701 },
 *   peer: { address: "192.0.2.1", port: 1701 }, localTunnelId: 5, peerTunnelId: 9, tunnel: "lns" };
 * console.log(r.localTunnelId); // 5
 * ```
 */
export interface TunnelSocketRequest {
  /** Encapsulation. */
  encap: "udp" | "ip";
  /** Protocol version. */
  version: L2tpVersion;
  /** The listener's local endpoint (bind the new socket there). */
  local: Endpoint;
  /** The peer (connect the new socket to it). */
  peer: Endpoint;
  /** Our new tunnel ID (for L2TP/IP: bind to it). */
  localTunnelId: number;
  /** The peer's tunnel ID (for L2TP/IP: connect to it). */
  peerTunnelId: number;
  /** The configured tunnel's name. */
  tunnel: string;
}

/**
 * A socket for one accepted tunnel, closed by the listener when the tunnel is over.
 *
 * @example Usage
 * ```ts
 * import type { TunnelSocket } from "./listener.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const s: TunnelSocket = new MemoryNetwork().socket({ address: "192.0.2.2", port: 1701 });
 * s.close();
 * ```
 */
export type TunnelSocket = ControlSocket & { close(): void };

/**
 * Opens the socket of an accepted tunnel.
 *
 * @example Usage
 * ```ts
 * import type { TunnelSocketFactory } from "./listener.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const net = new MemoryNetwork();
 * const open: TunnelSocketFactory = ({ local, peer }) => {
 *   const s = net.socket(local);
 *   s.connect(peer);
 *   return s;
 * };
 * const s = open({
 *   encap: "udp", version: 2, local: { address: "192.0.2.2", port: 1701 },
 *   peer: { address: "192.0.2.1", port: 1701 }, localTunnelId: 5, peerTunnelId: 9, tunnel: "lns",
 * });
 * s.close();
 * ```
 */
export type TunnelSocketFactory = (request: TunnelSocketRequest) => TunnelSocket;

/**
 * Options of {@linkcode Listener}.
 *
 * @example Usage
 * ```ts
 * import type { ListenerOptions } from "./listener.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const net = new MemoryNetwork();
 * const local = { address: "192.0.2.2", port: 1701 };
 * const o: ListenerOptions = { socket: net.socket(local), encap: "udp", local,
 *   tunnels: [], openSocket: () => net.socket(local) };
 * console.log(o.tunnels.length); // 0
 * ```
 */
export interface ListenerOptions<S extends SessionParams = SessionParams> {
  /** The listening socket (the listener reads it; its owner closes it). */
  socket: ControlSocket;
  /** Encapsulation of the socket. */
  encap: "udp" | "ip";
  /** The socket's local endpoint. */
  local: Endpoint;
  /** L2TP/IP datagrams carry the zero Session ID (default false: real sockets strip it). */
  ipPrefix?: boolean;
  /** The responder tunnels it serves. */
  tunnels: readonly ListenerTunnel<S>[];
  /** Opens each accepted tunnel's socket. */
  openSocket: TunnelSocketFactory;
  /** Most tunnels at once over all entries (default unlimited). */
  maxTunnels?: number;
  /**
   * Most tunnels accepted and not yet established at once (default 64; a quarter of them only
   * for configured peers). SCCRQs (over L2TP/IP) or SCCCNs beyond it are dropped without an
   * answer; the peer retransmits.
   */
  maxHalfOpen?: number;
  /**
   * Answer SCCRQs with stateless cookie SCCRPs, keeping no connection until the SCCCN (default
   * true; UDP only: over L2TP/IP every accepted SCCRQ gets its connection at once).
   */
  cookies?: boolean;
  /**
   * Most SCCRQs answered with a cookie and waiting for their SCCCN (default 16384, about half a
   * kilobyte each; a quarter of them only for configured peers). The oldest are forgotten to
   * make room.
   */
  maxPending?: number;
  /** Most half-open tunnels, and most SCCRQs waiting for their SCCCN, per address (default 8). */
  maxPerSource?: number;
  /**
   * How long a tunnel may stay half-open, in milliseconds (default 10000): a connection not
   * established by then is given up; a cookie is accepted for between half of it and all of it.
   */
  halfOpenTimeout?: number;
  /** Random bytes for the cookie keys (default node:crypto). */
  random?: (n: number) => Uint8Array;
  /** Tunnel ID allocators per version (default private ones). */
  tunnelIds?: { 2?: IdAllocator; 3?: IdAllocator };
  /** Session ID allocator shared by the connections (L2TPv3: host-wide). */
  sessionIds?: IdAllocator;
  /** Clock for the connections. */
  clock?: Clock;
  /** Log. */
  log?: ControlLog;
  /** Asks our initiator towards `peer` whether an SCCRQ crossing ours wins (see contest). */
  contest?: (peer: Endpoint, version: L2tpVersion, tieBreaker?: bigint) => "win" | "lose" | "none";
  /** Called for each connection accepted, before it starts. */
  onConnection?: (connection: ControlConnection<S>, tunnel: ListenerTunnel<S>) => void;
}

/**
 * What a listener holds and has done, for status and tests: the sizes of its tables and
 * counters since it was made.
 *
 * @example Usage
 * ```ts
 * import type { ListenerStats } from "./listener.ts";
 * function line(s: ListenerStats): string {
 *   return `${s.connections} tunnels (${s.halfOpen} half-open), ${s.pending} cookies out`;
 * }
 * console.log(line({ connections: 1, halfOpen: 0, pending: 3, cookieSccrps: 9, promoted: 1,
 *   evicted: 0, dropped: 2 })); // 1 tunnels (0 half-open), 3 cookies out
 * ```
 */
export interface ListenerStats {
  /** Connections accepted and not yet over. */
  connections: number;
  /** Of them, those not yet established. */
  halfOpen: number;
  /** SCCRQs answered with a cookie, waiting for their SCCCN (no connection, no socket). */
  pending: number;
  /** Cookie SCCRPs sent (a retransmitted SCCRQ gets one again). */
  cookieSccrps: number;
  /** Connections made from an SCCCN that echoed a cookie. */
  promoted: number;
  /** Answered SCCRQs forgotten to make room for newer ones. */
  evicted: number;
  /** SCCRQs and SCCCNs dropped without an answer (over a limit, expired, out of sequence). */
  dropped: number;
}
