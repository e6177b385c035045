/**
 * The shape of a configuration: a {@linkcode Config} holds named tunnels
 * ({@linkcode NamedTunnel}, go-l2tp's `NamedTunnel`), each with its settings
 * ({@linkcode TunnelConfig}) and named sessions ({@linkcode NamedSession} with a
 * {@linkcode SessionConfig}), every default filled in; plus the value types of the keys.
 *
 * @example Usage
 * ```ts
 * import { type Config, parseConfig } from "../config.ts";
 * const config: Config = parseConfig('[tunnel.t1]\npeer = "192.0.2.2"\n[tunnel.t1.session.s1]\n');
 * console.log(config.tunnels[0].config.mode, config.tunnels[0].sessions[0].config.pseudowire);
 * // dynamic ppp
 * ```
 *
 * @module
 */

import type { Endpoint } from "../../control/types.ts";

export type { Endpoint };

/**
 * How much of the control protocol a tunnel runs.
 *
 * - `static`: none; the data plane is programmed from the configuration alone.
 * - `quiescent`: static, plus a control connection that only acknowledges messages and sends
 *   keep-alive HELLOs (`hello_timeout`), so a dead peer is noticed.
 * - `dynamic`: the full control protocol (tunnel and session establishment).
 *
 * @example Usage
 * ```ts
 * import type { TunnelMode } from "../config.ts";
 * const mode: TunnelMode = "quiescent";
 * console.log(mode);
 * ```
 */
export type TunnelMode = "static" | "quiescent" | "dynamic";

/**
 * The default mode of tunnels that do not set `mode`.
 *
 * - `auto` (the `l2tpd` personality): a tunnel that sets `ptid` is static, or quiescent when it
 *   also sets a non-zero `hello_timeout`; any other tunnel is dynamic.
 * - `static` (the `ql2tpd` personality): static, or quiescent when `hello_timeout` is non-zero.
 * - `quiescent`: always quiescent.
 * - `dynamic` (the `kl2tpd` personality): always dynamic.
 *
 * @example Usage
 * ```ts
 * import type { DefaultMode } from "../config.ts";
 * const forKl2tpd: DefaultMode = "dynamic";
 * console.log(forKl2tpd);
 * ```
 */
export type DefaultMode = "auto" | TunnelMode;

/**
 * Session pseudowire types: `ppp` (PPP frames, pppd terminates them), `eth` (an `l2tpethN`
 * interface), `pppac` (go-l2tp's access-concentrator mode: the PPP frames of a subscriber's
 * PPPoE session, identified by `pppoe_session_id`, `pppoe_peer_mac` and the Ethernet
 * `interface_name`, are relayed by the kernel to the LNS; no pppd runs; L2TPv2 only, and not
 * in a tunnel with role "lns") and `eth_vlan` (ours: the L2TPv3 Ethernet VLAN pseudowire, type
 * 4, negotiated by dynamic tunnels; its data plane is that of `eth`).
 *
 * @example Usage
 * ```ts
 * import type { Pseudowire } from "../config.ts";
 * const pw: Pseudowire = "eth";
 * console.log(pw);
 * ```
 */
export type Pseudowire = "ppp" | "eth" | "pppac" | "eth_vlan";

/**
 * A framing capability advertised in the L2TPv2 Framing Capabilities AVP.
 *
 * @example Usage
 * ```ts
 * import type { FramingCap } from "../config.ts";
 * const caps: FramingCap[] = ["sync", "async"];
 * console.log(caps);
 * ```
 */
export type FramingCap = "sync" | "async";

/**
 * Which side opens a dynamic tunnel: `lac` sends the first control message (SCCRQ) to `peer`;
 * `lns` waits on `local` for a peer to open it. For L2TPv3 read "initiator" and "responder".
 *
 * @example Usage
 * ```ts
 * import type { TunnelRole } from "../config.ts";
 * const role: TunnelRole = "lac";
 * console.log(role);
 * ```
 */
export type TunnelRole = "lac" | "lns";

/**
 * A whole configuration: the file it came from and its tunnels, in file order.
 *
 * @example Usage
 * ```ts
 * import type { Config } from "../config.ts";
 * const empty: Config = { file: "none.toml", tunnels: [] };
 * console.log(empty.tunnels.length); // 0
 * ```
 */
export interface Config {
  /** The file the configuration was read from (as given to {@linkcode loadConfig}). */
  file: string;
  /** The tunnels, in file order, each with its sessions in file order. */
  tunnels: NamedTunnel[];
  /** The daemon's own settings (the `[daemon]` table); absent when the file has none. */
  daemon?: DaemonConfig;
  /**
   * Things that were accepted but have no effect (for example a go-l2tp key that does not apply
   * to the tunnel's mode). Present only when there is at least one.
   */
  warnings?: string[];
}

/**
 * The `[daemon]` table: settings of the daemon rather than of a tunnel. Keys the file does not
 * set are absent, except `hookTimeoutMs`, which is filled in (10000) whenever the table exists.
 *
 * @example Usage
 * ```ts
 * import { parseConfig } from "../config.ts";
 * const { daemon } = parseConfig('[daemon]\nsocket = "/run/l2tpd.sock"\nmetrics = "[::1]:9100"');
 * console.log(daemon);
 * // { socket: "/run/l2tpd.sock", metrics: { address: "::1", port: 9100 }, hookTimeoutMs: 10000 }
 * ```
 */
export interface DaemonConfig {
  /** Path of the control socket (`socket`), absolute. */
  socket?: string;
  /** Group allowed to use the control socket (`socket_group`): a name or a numeric ID. */
  socketGroup?: string;
  /** Where to serve metrics (`metrics`, `"ADDR:PORT"`): an IP address (or host name) and port. */
  metrics?: { address: string; port: number };
  /** How long an `on_up` / `on_down` command may run (`hook_timeout`), in milliseconds. */
  hookTimeoutMs?: number;
}

/**
 * A command run when a tunnel or session comes up or goes down (`on_up`, `on_down`): an argument
 * vector run as is (`argv[0]` is looked up in `PATH`), or a shell script run with `/bin/sh -c`.
 *
 * @example Usage
 * ```ts
 * import type { Hook } from "../config.ts";
 * const direct: Hook = { argv: ["ip", "link", "set", "dev", "l2tpeth0", "master", "br0"] };
 * const script: Hook = { shell: 'ip link set dev "$L2TPD_INTERFACE" up' };
 * console.log("argv" in direct, "shell" in script); // true true
 * ```
 */
export type Hook = { argv: string[] } | { shell: string };

/**
 * One tunnel, with every default filled in.
 *
 * Control-connection settings (`windowSize`, `helloTimeoutMs`, `retryTimeoutMs`, `maxRetries`)
 * are present for quiescent and dynamic tunnels only; `framingCaps` for L2TPv2 quiescent and
 * dynamic tunnels only; `role` for dynamic tunnels only.
 *
 * @example Usage
 * ```ts
 * import type { TunnelConfig } from "../config.ts";
 * const t: TunnelConfig = {
 *   mode: "static", version: 3, encap: "ip", managed: false,
 *   local: { address: "192.0.2.1", port: 0 }, peer: { address: "192.0.2.2", port: 0 },
 *   tid: 1, ptid: 2,
 * };
 * console.log(t.mode);
 * ```
 */
export interface TunnelConfig {
  /** How much of the control protocol the tunnel runs. */
  mode: TunnelMode;
  /** L2TP version (`version = "l2tpv2"` or `"l2tpv3"`). */
  version: 2 | 3;
  /** Encapsulation (`encap`). IP encapsulation is L2TPv3 only. */
  encap: "udp" | "ip";
  /** Local address (`local`); absent lets the system choose (dynamic tunnels only). */
  local?: Endpoint;
  /** Peer address (`peer`); absent only for dynamic tunnels with `role = "lns"`. */
  peer?: Endpoint;
  /** Our tunnel ID (`tid`); absent means allocated at run time (dynamic tunnels). */
  tid?: number;
  /** The peer's tunnel ID (`ptid`); static and quiescent tunnels only. */
  ptid?: number;
  /** Control message transmit window (`window_size`), in messages. */
  windowSize?: number;
  /** Keep-alive interval (`hello_timeout`) in milliseconds; 0 disables HELLOs. */
  helloTimeoutMs?: number;
  /** Initial retransmission timeout (`retry_timeout`) in milliseconds, doubled per retry. */
  retryTimeoutMs?: number;
  /** Retransmissions before the control connection is declared dead (`max_retries`). */
  maxRetries?: number;
  /** Host Name AVP (`host_name`); absent means the system host name. */
  hostName?: string;
  /** Framing Capabilities AVP (`framing_caps`). */
  framingCaps?: FramingCap[];
  /** Whether we own the tunnel socket (true) or the kernel creates it (false, L2TPv3 static). */
  managed: boolean;
  /** IPv4 UDP: send checksums (`udp_checksum`). */
  udpChecksum?: boolean;
  /** IPv6 UDP: send zero checksums (`udp6_zero_checksum_tx`). */
  udp6ZeroChecksumTx?: boolean;
  /** IPv6 UDP: accept zero checksums (`udp6_zero_checksum_rx`). */
  udp6ZeroChecksumRx?: boolean;
  /** Which side opens a dynamic tunnel (`role`). */
  role?: TunnelRole;
  /** Kernel debug mask for the tunnel (`debug`). */
  debug?: number;
  /** Shared secret (`secret`): tunnel authentication, hidden AVPs, Message Digest. Dynamic. */
  secret?: string;
  /** Hide the AVPs that carry IDs (`hide_avps`); needs `secret`. Dynamic. */
  hideAvps?: boolean;
  /**
   * L2TPv3 Message Digest (`message_digest`); for dynamic L2TPv3 tunnels with a secret it
   * defaults to `md5` whenever an L2TPv3 tunnel has a secret.
   */
  messageDigest?: MessageDigest;
  /** L2TPv3 Router ID (`router_id`, dotted IPv4 form or integer); absent: chosen at random. */
  routerId?: number;
  /** Role `lns`: accept an SCCRQ from any address (`accept_any_peer`); needs `secret`. */
  acceptAnyPeer?: boolean;
  /** Most sessions at once in this tunnel (`max_sessions`); absent: no limit. Dynamic. */
  maxSessions?: number;
  /** Role `lac`: dial again after the tunnel goes down (`redial`, milliseconds to wait). */
  redialTimeoutMs?: number;
  /** Role `lac`: give up after this many redials in a row (`max_redials`); absent: never. */
  maxRedials?: number;
  /** Role `lns`: most tunnels accepted at once for this entry (`max_tunnels`); absent: no limit. */
  maxTunnels?: number;
  /** Run when the tunnel comes up (`on_up`; each accepted peer of a responder). */
  onUp?: Hook;
  /** Run when the tunnel goes down (`on_down`), after it had come up. */
  onDown?: Hook;
  /**
   * Endpoints whose address is a host name rather than an IP literal: they must be resolved
   * before use (and their address family is not known yet). Present only when non-empty.
   */
  unresolved?: ("local" | "peer")[];
}

/**
 * One session, with every default filled in.
 *
 * @example Usage
 * ```ts
 * import type { SessionConfig } from "../config.ts";
 * const s: SessionConfig = {
 *   sid: 10, psid: 20, pseudowire: "eth", sendSeqnum: false, recvSeqnum: false,
 *   l2specType: "none", reorderTimeoutMs: 0, lnsMode: false,
 * };
 * console.log(s.pseudowire);
 * ```
 */
export interface SessionConfig {
  /** Our session ID (`sid`); absent means allocated at run time (dynamic tunnels). */
  sid?: number;
  /** The peer's session ID (`psid`); static and quiescent tunnels only. */
  psid?: number;
  /** Pseudowire type (`pseudowire`). */
  pseudowire: Pseudowire;
  /** Send data packets with sequence numbers (`send_seqnum`, or `seqnum`). */
  sendSeqnum: boolean;
  /** Require sequence numbers on received data packets (`recv_seqnum`, or `seqnum`). */
  recvSeqnum: boolean;
  /** Reorder timeout (`reorder_timeout`) in milliseconds; 0 disables reordering. */
  reorderTimeoutMs?: number;
  /** Cookie we send (`cookie`): 4 or 8 bytes, L2TPv3 only. */
  cookie?: Uint8Array;
  /** Cookie the peer sends (`peer_cookie`): 4 or 8 bytes, L2TPv3 only. */
  peerCookie?: Uint8Array;
  /**
   * Network interface name (`interface_name`); absent lets the kernel (or pppd) choose. For a
   * `pppac` session (which requires it) the Ethernet interface its PPPoE session runs on.
   */
  interfaceName?: string;
  /** L2-Specific Sublayer (`l2spec_type`); always `none` for L2TPv2. */
  l2specType: "none" | "default";
  /** File of extra pppd arguments (`pppd_args`), as written in the configuration. */
  pppdArgs?: string;
  /** The arguments read from `pppdArgs` (filled by {@linkcode loadConfig}). */
  pppdArgsList?: string[];
  /** Ethernet pseudowire interface MTU (`mtu`); absent lets the kernel choose. */
  mtu?: number;
  /** LNS mode (`lns_mode`): the kernel lets us, not the peer, control data sequencing. */
  lnsMode?: boolean;
  /** Kernel debug mask for the session (`debug`). */
  debug?: number;
  /** PPPoE session ID (`pppoe_session_id`, 1..65534), pppac pseudowires only (required). */
  pppoeSessionId?: number;
  /**
   * MAC address of the PPPoE peer (`pppoe_peer_mac`: 6 bytes, or `"xx:xx:xx:xx:xx:xx"`; a
   * unicast address), pppac pseudowires only (required).
   */
  pppoePeerMac?: Uint8Array;
  /**
   * L2TPv3 Remote End ID (`remote_end_id`: a string, a 32-bit integer or an array of bytes): the
   * circuit a dynamic session binds to; a responder accepts a call whose Remote End ID matches.
   */
  remoteEndId?: Uint8Array;
  /** How a dynamic session is opened (`call_type`); absent: `incoming`. */
  callType?: CallType;
  /** Run when the session comes up (`on_up`), e.g. to add its interface to a bridge. */
  onUp?: Hook;
  /** Run when the session goes down (`on_down`), after it had come up. */
  onDown?: Hook;
}

/**
 * A tunnel of a configuration file: its name (the NAME of `[tunnel.NAME]`), its settings and
 * its sessions in file order (go-l2tp's `NamedTunnel`).
 *
 * @example Usage
 * ```ts
 * import { parseConfig } from "../config.ts";
 * const { tunnels } = parseConfig('[tunnel.t1]\npeer = "192.0.2.2"\n[tunnel.t1.session.s1]\n');
 * console.log(tunnels[0].name, tunnels[0].sessions[0].name); // t1 s1
 * ```
 */
export interface NamedTunnel {
  /** The tunnel's name. */
  name: string;
  /** Its settings, every default filled in. */
  config: TunnelConfig;
  /** Its sessions, in file order. */
  sessions: NamedSession[];
}

/**
 * A session of a configuration file: its name (the last NAME of `[tunnel.T.session.NAME]`) and
 * its settings (go-l2tp's `NamedSession`).
 *
 * @example Usage
 * ```ts
 * import type { NamedSession } from "../config.ts";
 * const s: NamedSession = {
 *   name: "s1",
 *   config: { pseudowire: "ppp", sendSeqnum: false, recvSeqnum: false, l2specType: "none" },
 * };
 * console.log(s.name); // s1
 * ```
 */
export interface NamedSession {
  /** The session's name. */
  name: string;
  /** Its settings, every default filled in. */
  config: SessionConfig;
}

/**
 * L2TPv3 control message authentication (RFC 3931 §5.4.1): no Message Digest, HMAC-MD5 or
 * HMAC-SHA-1.
 *
 * @example Usage
 * ```ts
 * import type { MessageDigest } from "../config.ts";
 * const d: MessageDigest = "sha1";
 * console.log(d);
 * ```
 */
export type MessageDigest = "none" | "md5" | "sha1";

/**
 * How a dynamic session is opened: `incoming` (ICRQ, the default) or `outgoing` (OCRQ).
 *
 * @example Usage
 * ```ts
 * import type { CallType } from "../config.ts";
 * const c: CallType = "outgoing";
 * console.log(c);
 * ```
 */
export type CallType = "incoming" | "outgoing";
