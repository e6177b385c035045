/**
 * The data plane contract: what the daemon asks of the kernel (or of a stand-in).
 *
 * The kernel carries L2TP data frames; userspace creates, modifies, reads and deletes the
 * kernel's tunnel and session contexts. {@linkcode DataPlane} is that surface, implemented by
 * `KernelDataPlane` (generic netlink "l2tp" family) and `NullDataPlane` (records calls; no root).
 *
 * @module
 */

import type { Encap, Endpoint, L2tpVersion } from "../control/types.ts";

export type { Encap, Endpoint, L2tpVersion };

/** Pseudowire types the Linux kernel can carry: Ethernet (`l2tp_eth`) and PPP (`l2tp_ppp`). */
export type PseudowireType = "eth" | "ppp";

/** L2-Specific Sublayer: none, or the RFC 3931 §4.6 default (4 bytes, with sequencing). */
export type L2SpecType = "none" | "default";

/**
 * What the kernel needs to create a tunnel context.
 *
 * A *managed* tunnel uses a socket we created (`fd`); an *unmanaged* tunnel (L2TPv3 only) has the
 * kernel create its own socket from `local`/`peer`.
 *
 * @example Usage
 * ```ts
 * import type { TunnelSpec } from "./dataplane.ts";
 * const spec: TunnelSpec = {
 *   tunnelId: 42, peerTunnelId: 45, version: 3, encap: "udp",
 *   local: { address: "192.0.2.1", port: 5000 }, peer: { address: "192.0.2.2", port: 5001 },
 * };
 * console.log(spec);
 * ```
 */
export interface TunnelSpec {
  /** Our tunnel (control connection) ID: 16-bit for v2, 32-bit for v3. */
  tunnelId: number;
  /** The peer's tunnel ID. */
  peerTunnelId: number;
  /** Protocol version. */
  version: L2tpVersion;
  /** Encapsulation. */
  encap: Encap;
  /** File descriptor of our bound and connected tunnel socket (managed tunnel). */
  fd?: number;
  /** Local endpoint (unmanaged tunnel). */
  local?: Endpoint;
  /** Peer endpoint (unmanaged tunnel). */
  peer?: Endpoint;
  /** IPv4 UDP: send checksums (default false, as the kernel does). */
  udpChecksum?: boolean;
  /** IPv6 UDP: transmit zero checksums. */
  udp6ZeroChecksumTx?: boolean;
  /** IPv6 UDP: accept zero checksums. */
  udp6ZeroChecksumRx?: boolean;
  /** Kernel debug mask (L2TP_MSG_*); informational on modern kernels. */
  debug?: number;
}

/**
 * What the kernel needs to create a session context.
 *
 * @example Usage
 * ```ts
 * import type { SessionSpec } from "./dataplane.ts";
 * const spec: SessionSpec = {
 *   tunnelId: 42, sessionId: 128, peerSessionId: 5196755, pseudowire: "eth",
 *   cookie: new Uint8Array([1, 2, 3, 4]),
 * };
 * console.log(spec);
 * ```
 */
export interface SessionSpec {
  /** The tunnel this session belongs to. */
  tunnelId: number;
  /** Our session ID: 16-bit for v2, 32-bit for v3. */
  sessionId: number;
  /** The peer's session ID. */
  peerSessionId: number;
  /** Pseudowire type. */
  pseudowire: PseudowireType;
  /**
   * Cookie the kernel puts on the frames it sends (0, 4 or 8 bytes; L2TPv3): the value the peer
   * assigned (RFC 3931 §5.4.4), which is the peer's `peerCookie`.
   */
  cookie?: Uint8Array;
  /**
   * Cookie the kernel requires on received frames (0, 4 or 8 bytes; L2TPv3); frames without it
   * are dropped and counted in `rxCookieDiscards`. This is the peer's `cookie`.
   */
  peerCookie?: Uint8Array;
  /** L2-Specific Sublayer type (L2TPv3). */
  l2specType?: L2SpecType;
  /** L2-Specific Sublayer length in bytes (0 or 4). */
  l2specLen?: number;
  /** Send data packets with sequence numbers. */
  sendSeq?: boolean;
  /** Drop received data packets without sequence numbers. */
  recvSeq?: boolean;
  /** Act as LNS (L2TPv2: the LNS controls sequencing). */
  lnsMode?: boolean;
  /** Reorder timeout in milliseconds; 0 disables reordering. */
  reorderTimeoutMs?: number;
  /** Interface name for Ethernet pseudowires (kernel picks `l2tpethN` if absent). */
  ifname?: string;
  /** Interface MTU for Ethernet pseudowires. */
  mtu?: number;
  /** Kernel debug mask (L2TP_MSG_*). */
  debug?: number;
}

/** Changes that can be made to a live tunnel. */
export interface TunnelChanges {
  /** Kernel debug mask. */
  debug?: number;
}

/** Changes that can be made to a live session. */
export interface SessionChanges {
  /** Send data packets with sequence numbers. */
  sendSeq?: boolean;
  /** Drop received data packets without sequence numbers. */
  recvSeq?: boolean;
  /** LNS mode. */
  lnsMode?: boolean;
  /** Reorder timeout in milliseconds. */
  reorderTimeoutMs?: number;
  /** Kernel debug mask. */
  debug?: number;
}

/** Data plane counters (the kernel's L2TP_ATTR_STATS nest). Counters are bigint (u64). */
export interface Stats {
  /** Packets sent. */
  txPackets: bigint;
  /** Bytes sent. */
  txBytes: bigint;
  /** Send errors. */
  txErrors: bigint;
  /** Packets received. */
  rxPackets: bigint;
  /** Bytes received. */
  rxBytes: bigint;
  /** Received packets dropped for sequence number. */
  rxSeqDiscards: bigint;
  /** Received packets out of sequence. */
  rxOosPackets: bigint;
  /** Receive errors. */
  rxErrors: bigint;
  /** Received packets dropped for a wrong cookie. */
  rxCookieDiscards: bigint;
  /** Received packets dropped as invalid. */
  rxInvalid: bigint;
}

/** A tunnel as the data plane reports it. */
export interface TunnelInfo {
  /** Our tunnel ID. */
  tunnelId: number;
  /** Peer tunnel ID. */
  peerTunnelId: number;
  /** Protocol version. */
  version: L2tpVersion;
  /** Encapsulation. */
  encap: Encap;
  /** Local endpoint, when the kernel reports it. */
  local?: Endpoint;
  /** Peer endpoint, when the kernel reports it. */
  peer?: Endpoint;
  /** IPv4 UDP checksums on, when reported. */
  udpChecksum?: boolean;
  /** IPv6 zero checksum tx, when reported. */
  udp6ZeroChecksumTx?: boolean;
  /** IPv6 zero checksum rx, when reported. */
  udp6ZeroChecksumRx?: boolean;
  /** Debug mask, when reported. */
  debug?: number;
  /** Counters. */
  stats: Stats;
}

/** A session as the data plane reports it. */
export interface SessionInfo {
  /** Tunnel ID. */
  tunnelId: number;
  /** Our session ID. */
  sessionId: number;
  /** Peer session ID. */
  peerSessionId: number;
  /** Peer tunnel ID, when reported. */
  peerTunnelId?: number;
  /** Pseudowire type. */
  pseudowire: PseudowireType;
  /** The cookie we send, when reported. */
  cookie?: Uint8Array;
  /** The cookie we require on received frames, when reported. */
  peerCookie?: Uint8Array;
  /** Interface name (Ethernet pseudowires, or PPP once pppd attached). */
  ifname?: string;
  /** Send sequence numbers. */
  sendSeq: boolean;
  /** Require sequence numbers. */
  recvSeq: boolean;
  /** LNS mode. */
  lnsMode: boolean;
  /** Reorder timeout in milliseconds. */
  reorderTimeoutMs: number;
  /** L2-Specific Sublayer type, when reported. */
  l2specType?: L2SpecType;
  /** L2-Specific Sublayer length, when reported. */
  l2specLen?: number;
  /** Counters. */
  stats: Stats;
}

/**
 * The data plane: programs kernel tunnel and session contexts.
 *
 * Every method rejects with an `Error` whose message reads "Cannot X: detail"; kernel failures
 * carry the errno and extended-ack text (see `NetlinkError`).
 *
 * @example Usage
 * With the in-memory data plane (the kernel's, `KernelDataPlane.open()`, needs root and the l2tp
 * modules):
 * ```ts
 * import { NullDataPlane } from "./null.ts";
 * import type { DataPlane } from "./dataplane.ts";
 * const dp: DataPlane = new NullDataPlane();
 * await dp.createTunnel({ tunnelId: 1, peerTunnelId: 2, version: 3, encap: "ip",
 *   local: { address: "10.0.0.1", port: 0 }, peer: { address: "10.0.0.2", port: 0 } });
 * await dp.createSession({ tunnelId: 1, sessionId: 1, peerSessionId: 1, pseudowire: "eth" });
 * console.log(await dp.listSessions());
 * await dp.deleteTunnel(1);
 * dp.close();
 * ```
 */
export interface DataPlane extends Disposable {
  /** Create a tunnel context. */
  createTunnel(spec: TunnelSpec): Promise<void>;
  /** Modify a tunnel context. */
  modifyTunnel(tunnelId: number, changes: TunnelChanges): Promise<void>;
  /** Delete a tunnel context (and, in the kernel, its sessions). */
  deleteTunnel(tunnelId: number): Promise<void>;
  /** Read one tunnel; `undefined` if it does not exist. */
  getTunnel(tunnelId: number): Promise<TunnelInfo | undefined>;
  /** Read all tunnels. */
  listTunnels(): Promise<TunnelInfo[]>;
  /** Create a session context; resolves with what the kernel reports (e.g. the interface name). */
  createSession(spec: SessionSpec): Promise<SessionInfo>;
  /** Modify a session context. */
  modifySession(tunnelId: number, sessionId: number, changes: SessionChanges): Promise<void>;
  /** Delete a session context. */
  deleteSession(tunnelId: number, sessionId: number): Promise<void>;
  /** Read one session; `undefined` if it does not exist. */
  getSession(tunnelId: number, sessionId: number): Promise<SessionInfo | undefined>;
  /** Read all sessions (optionally of one tunnel). */
  listSessions(tunnelId?: number): Promise<SessionInfo[]>;
  /** Release resources (netlink socket). Idempotent. */
  close(): void;
}

/**
 * All-zero counters.
 *
 * @example Usage
 * ```ts
 * import { zeroStats } from "./dataplane.ts";
 * console.log(zeroStats().rxPackets); // 0n
 * ```
 */
export function zeroStats(): Stats {
  return {
    txPackets: 0n,
    txBytes: 0n,
    txErrors: 0n,
    rxPackets: 0n,
    rxBytes: 0n,
    rxSeqDiscards: 0n,
    rxOosPackets: 0n,
    rxErrors: 0n,
    rxCookieDiscards: 0n,
    rxInvalid: 0n,
  };
}
