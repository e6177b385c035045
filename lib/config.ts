/**
 * Configuration: a TOML file describing tunnels and sessions, turned into a typed, validated
 * {@linkcode Config}.
 *
 * The file format is go-l2tp's: tunnels are named tables `[tunnel.NAME]`, sessions are named
 * tables inside them `[tunnel.NAME.session.NAME]`. Every go-l2tp key is understood with
 * go-l2tp's meaning and units (timeouts in milliseconds, IDs as integers, cookies as arrays of
 * bytes); this daemon adds a few keys of its own in the same snake_case style (`mode`,
 * `managed`, `role`, `udp_checksum`, `mtu`, ...). `config.example.toml` documents every key.
 *
 * Validation is strict and complete: unknown keys are rejected with the nearest known key as a
 * suggestion, every type, range and combination is checked, and all problems are reported at
 * once in a single {@linkcode ConfigError}.
 *
 * @example Usage
 * ```ts
 * import { formatConfig, parseConfig } from "./config.ts";
 * const config = parseConfig(
 *   `[tunnel.t1]
 *    local = "192.0.2.1:5000"
 *    peer = "192.0.2.2:5001"
 *    version = "l2tpv3"
 *    tid = 1
 *    ptid = 2
 *    [tunnel.t1.session.s1]
 *    sid = 10
 *    psid = 20
 *    pseudowire = "eth"`,
 *   "example.toml",
 * );
 * console.log(config.tunnels[0].config.mode); // "static"
 * console.log(formatConfig(config));
 * ```
 *
 * @module
 */

import { parse as parseToml, TomlError } from "smol-toml";
import type { Endpoint } from "../dataplane/dataplane.ts";
import { formatEndpoint } from "../dataplane/ffi/sockaddr.ts";

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
 * import type { TunnelMode } from "./config.ts";
 * const mode: TunnelMode = "quiescent";
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
 * import type { DefaultMode } from "./config.ts";
 * const forKl2tpd: DefaultMode = "dynamic";
 * ```
 */
export type DefaultMode = "auto" | TunnelMode;

/**
 * Session pseudowire types: `ppp` (PPP frames, pppd terminates them), `eth` (an `l2tpethN`
 * interface), `pppac` (PPP relayed to a PPPoE peer, go-l2tp's access-concentrator mode) and
 * `eth_vlan` (ours: the L2TPv3 Ethernet VLAN pseudowire, type 4, negotiated by dynamic tunnels;
 * its data plane is that of `eth`).
 *
 * @example Usage
 * ```ts
 * import type { Pseudowire } from "./config.ts";
 * const pw: Pseudowire = "eth";
 * ```
 */
export type Pseudowire = "ppp" | "eth" | "pppac" | "eth_vlan";

/**
 * A framing capability advertised in the L2TPv2 Framing Capabilities AVP.
 *
 * @example Usage
 * ```ts
 * import type { FramingCap } from "./config.ts";
 * const caps: FramingCap[] = ["sync", "async"];
 * ```
 */
export type FramingCap = "sync" | "async";

/**
 * Which side opens a dynamic tunnel: `lac` sends the first control message (SCCRQ) to `peer`;
 * `lns` waits on `local` for a peer to open it. For L2TPv3 read "initiator" and "responder".
 *
 * @example Usage
 * ```ts
 * import type { TunnelRole } from "./config.ts";
 * const role: TunnelRole = "lac";
 * ```
 */
export type TunnelRole = "lac" | "lns";

/**
 * A whole configuration: the file it came from and its tunnels, in file order.
 *
 * @example Usage
 * ```ts
 * import type { Config } from "./config.ts";
 * const empty: Config = { file: "none.toml", tunnels: [] };
 * ```
 */
export interface Config {
  /** The file the configuration was read from (as given to {@linkcode loadConfig}). */
  file: string;
  /** The tunnels, in file order, each with its sessions in file order. */
  tunnels: NamedTunnel[];
  /**
   * Things that were accepted but have no effect (for example a go-l2tp key that does not apply
   * to the tunnel's mode). Present only when there is at least one.
   */
  warnings?: string[];
}

/**
 * One tunnel, with every default filled in.
 *
 * Control-connection settings (`windowSize`, `helloTimeoutMs`, `retryTimeoutMs`, `maxRetries`)
 * are present for quiescent and dynamic tunnels only; `framingCaps` for L2TPv2 quiescent and
 * dynamic tunnels only; `role` for dynamic tunnels only.
 *
 * @example Usage
 * ```ts
 * import type { TunnelConfig } from "./config.ts";
 * const t: TunnelConfig = {
 *   mode: "static", version: 3, encap: "ip", managed: false,
 *   local: { address: "192.0.2.1", port: 0 }, peer: { address: "192.0.2.2", port: 0 },
 *   tid: 1, ptid: 2,
 * };
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
 * import type { SessionConfig } from "./config.ts";
 * const s: SessionConfig = {
 *   sid: 10, psid: 20, pseudowire: "eth", sendSeqnum: false, recvSeqnum: false,
 *   l2specType: "none", reorderTimeoutMs: 0, lnsMode: false,
 * };
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
  /** Network interface name (`interface_name`); absent lets the kernel (or pppd) choose. */
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
  /** PPPoE session ID (`pppoe_session_id`), pppac pseudowires only. */
  pppoeSessionId?: number;
  /** MAC address of the PPPoE peer (`pppoe_peer_mac`, 6 bytes), pppac pseudowires only. */
  pppoePeerMac?: Uint8Array;
  /**
   * L2TPv3 Remote End ID (`remote_end_id`: a string, a 32-bit integer or an array of bytes): the
   * circuit a dynamic session binds to; a responder accepts a call whose Remote End ID matches.
   */
  remoteEndId?: Uint8Array;
  /** How a dynamic session is opened (`call_type`); absent: `incoming`. */
  callType?: CallType;
}

/**
 * A tunnel of a configuration file: its name (the NAME of `[tunnel.NAME]`), its settings and
 * its sessions in file order (go-l2tp's `NamedTunnel`).
 *
 * @example Usage
 * ```ts
 * import { parseConfig } from "./config.ts";
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
 * import type { NamedSession } from "./config.ts";
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
 * A session's settings together with its name: how the runtime carries a session.
 *
 * @example Usage
 * ```ts
 * import type { SessionEntry } from "./config.ts";
 * const s: SessionEntry = {
 *   name: "s1", pseudowire: "eth", sendSeqnum: false, recvSeqnum: false, l2specType: "none",
 * };
 * console.log(s.name); // s1
 * ```
 */
export interface SessionEntry extends SessionConfig {
  /** The session's name. */
  name: string;
}

/**
 * A tunnel's settings together with its name and sessions: how the runtime carries a tunnel.
 *
 * @example Usage
 * ```ts
 * import { tunnelEntry } from "./config.ts";
 * const t = tunnelEntry({
 *   name: "t1",
 *   config: { mode: "dynamic", version: 2, encap: "udp", managed: true, role: "lns" },
 *   sessions: [],
 * });
 * console.log(t.name, t.role); // t1 lns
 * ```
 */
export interface TunnelEntry extends TunnelConfig {
  /** The tunnel's name. */
  name: string;
  /** Its sessions, in order. */
  sessions: SessionEntry[];
}

/**
 * Flatten a {@linkcode NamedTunnel} into a {@linkcode TunnelEntry}.
 *
 * @example Usage
 * ```ts
 * import { parseConfig, tunnelEntry } from "./config.ts";
 * const [t] = parseConfig('[tunnel.t1]\npeer = "192.0.2.2"\n[tunnel.t1.session.s1]\n').tunnels;
 * console.log(tunnelEntry(t).sessions[0].name); // s1
 * ```
 */
export function tunnelEntry(t: NamedTunnel): TunnelEntry {
  return {
    ...t.config,
    name: t.name,
    sessions: t.sessions.map((s) => ({ ...s.config, name: s.name })),
  };
}

/**
 * The inverse of {@linkcode tunnelEntry}: a flat tunnel back into its name, settings and sessions.
 *
 * @example Usage
 * ```ts
 * import { namedTunnel } from "./config.ts";
 * const t = namedTunnel({
 *   name: "t1", mode: "dynamic", version: 2, encap: "udp", managed: true, role: "lns",
 *   sessions: [{ name: "s1", pseudowire: "ppp", sendSeqnum: false, recvSeqnum: false,
 *     l2specType: "none" }],
 * });
 * console.log(t.sessions[0].config.pseudowire); // ppp
 * ```
 */
export function namedTunnel(t: TunnelEntry): NamedTunnel {
  const { name, sessions, ...config } = t;
  return {
    name,
    config,
    sessions: sessions.map(({ name, ...config }) => ({ name, config })),
  };
}

/**
 * L2TPv3 control message authentication (RFC 3931 §5.4.1): no Message Digest, HMAC-MD5 or
 * HMAC-SHA-1.
 *
 * @example Usage
 * ```ts
 * import type { MessageDigest } from "./config.ts";
 * const d: MessageDigest = "sha1";
 * ```
 */
export type MessageDigest = "none" | "md5" | "sha1";

/**
 * How a dynamic session is opened: `incoming` (ICRQ, the default) or `outgoing` (OCRQ).
 *
 * @example Usage
 * ```ts
 * import type { CallType } from "./config.ts";
 * const c: CallType = "outgoing";
 * ```
 */
export type CallType = "incoming" | "outgoing";

/**
 * One problem found in a configuration, located as precisely as possible.
 *
 * @example Usage
 * ```ts
 * import type { ConfigIssue } from "./config.ts";
 * const issue: ConfigIssue = { tunnel: "t1", key: "tid", message: "expected an integer" };
 * ```
 */
export interface ConfigIssue {
  /** The tunnel the problem is in, if any. */
  tunnel?: string;
  /** The session the problem is in, if any. */
  session?: string;
  /** The key at fault, if any. */
  key?: string;
  /** TOML syntax errors: 1-based line. */
  line?: number;
  /** TOML syntax errors: 1-based column. */
  column?: number;
  /** What is wrong and what was expected. */
  message: string;
}

/**
 * An invalid configuration: every problem found, in {@linkcode ConfigError.issues}, and one line
 * per problem in the message.
 *
 * @example Usage
 * ```ts
 * import { ConfigError, parseConfig } from "./config.ts";
 * try {
 *   parseConfig('[tunnel.t1]\nversion = "l2tpv4"', "bad.toml");
 * } catch (e) {
 *   if (e instanceof ConfigError) console.log(e.issues.length, e.message);
 * }
 * ```
 */
export class ConfigError extends Error {
  /** The configuration file. */
  readonly file: string;
  /** Every problem found. */
  readonly issues: readonly ConfigIssue[];

  /** Build the error for `file` from its issues (at least one). */
  constructor(file: string, issues: readonly ConfigIssue[]) {
    const lines = issues.map(formatIssue);
    const detail = lines.length === 1
      ? lines[0]
      : `${lines.length} problems:\n${
        lines.map((l) => `  ${l.replaceAll("\n", "\n    ")}`).join("\n")
      }`;
    super(`Cannot load config ${file}: ${detail}`);
    this.name = "ConfigError";
    this.file = file;
    this.issues = issues;
  }
}

/**
 * Options for {@linkcode parseConfig} and {@linkcode loadConfig}.
 *
 * @example Usage
 * ```ts
 * import type { ConfigOptions } from "./config.ts";
 * const asKl2tpd: ConfigOptions = { defaultMode: "dynamic" };
 * ```
 */
export interface ConfigOptions {
  /** The mode of tunnels that do not set `mode` (default `auto`). */
  defaultMode?: DefaultMode;
}

/**
 * Default values, as go-l2tp defines them where it defines them.
 *
 * @example Usage
 * ```ts
 * import { CONFIG_DEFAULTS } from "./config.ts";
 * console.log(CONFIG_DEFAULTS.retryTimeoutMs); // 1000
 * ```
 */
export const CONFIG_DEFAULTS: {
  readonly udpPort: number;
  readonly windowSize: number;
  readonly helloTimeoutMs: number;
  readonly retryTimeoutMs: number;
  readonly maxRetries: number;
  readonly framingCaps: readonly FramingCap[];
} = Object.freeze({
  udpPort: 1701,
  windowSize: 4,
  helloTimeoutMs: 0,
  retryTimeoutMs: 1000,
  maxRetries: 3,
  framingCaps: Object.freeze(["sync", "async"] as FramingCap[]),
});

/**
 * Render one issue as `tunnel "t1" session "s1" key "cookie": message`.
 *
 * @example Usage
 * ```ts
 * import { formatIssue } from "./config.ts";
 * console.log(formatIssue({ tunnel: "t1", key: "tid", message: "expected an integer" }));
 * // tunnel "t1" key "tid": expected an integer
 * ```
 */
export function formatIssue(issue: ConfigIssue): string {
  const where: string[] = [];
  if (issue.line !== undefined) {
    where.push(`line ${issue.line}${issue.column !== undefined ? `, column ${issue.column}` : ""}`);
  }
  if (issue.tunnel !== undefined) where.push(`tunnel ${quote(issue.tunnel)}`);
  if (issue.session !== undefined) where.push(`session ${quote(issue.session)}`);
  if (issue.key !== undefined) where.push(`key ${quote(issue.key)}`);
  return where.length > 0 ? `${where.join(" ")}: ${issue.message}` : issue.message;
}

// ---------------------------------------------------------------------------------------------
// Keys

const TOP_KEYS = ["tunnel"] as const;

const TUNNEL_KEYS = [
  // go-l2tp
  "local",
  "peer",
  "encap",
  "version",
  "tid",
  "ptid",
  "window_size",
  "hello_timeout",
  "retry_timeout",
  "max_retries",
  "host_name",
  "framing_caps",
  "session",
  // ours
  "mode",
  "managed",
  "role",
  "udp_checksum",
  "udp6_zero_checksum_tx",
  "udp6_zero_checksum_rx",
  "debug",
  "secret",
  "hide_avps",
  "message_digest",
  "router_id",
  "accept_any_peer",
  "max_sessions",
  "max_tunnels",
  "redial",
  "redial_timeout",
  "max_redials",
] as const;

const SESSION_KEYS = [
  // go-l2tp
  "sid",
  "psid",
  "pseudowire",
  "seqnum",
  "reorder_timeout",
  "cookie",
  "peer_cookie",
  "interface_name",
  "l2spec_type",
  "pppd_args",
  "pppoe_session_id",
  "pppoe_peer_mac",
  // ours
  "send_seqnum",
  "recv_seqnum",
  "mtu",
  "lns_mode",
  "debug",
  "remote_end_id",
  "call_type",
] as const;

const U32_MAX = 0xffffffff;
/** The longest timer JavaScript can arm (2^31 - 1 ms, about 24.8 days). */
const TIMER_MAX = 0x7fffffff;
const U16_MAX = 0xffff;

// ---------------------------------------------------------------------------------------------
// Addresses

/**
 * What an address text is: an IPv4 or IPv6 literal, or a host name to resolve later.
 *
 * @example Usage
 * ```ts
 * import { addressKind } from "./config.ts";
 * console.log(addressKind("2001:db8::1")); // "ipv6"
 * ```
 */
export type AddressKind = "ipv4" | "ipv6" | "hostname";

/**
 * Classify an address text; `undefined` if it is neither an IP literal nor a valid host name.
 *
 * IPv6 literals may carry a zone (`fe80::1%eth0`); IPv4 literals must not have leading zeros.
 *
 * @example Usage
 * ```ts
 * import { addressKind } from "./config.ts";
 * console.log(addressKind("192.0.2.1"), addressKind("lns.example.net"), addressKind("1.2.3.999"));
 * // ipv4 hostname undefined
 * ```
 */
export function addressKind(address: string): AddressKind | undefined {
  if (parseIpv4(address) !== undefined) return "ipv4";
  if (parseIpv6(address) !== undefined) return "ipv6";
  if (isHostname(address)) return "hostname";
  return undefined;
}

function parseIpv4(text: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (m === null) return undefined;
  const octets: number[] = [];
  for (const part of m.slice(1)) {
    if (part.length > 1 && part.startsWith("0")) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    octets.push(n);
  }
  return octets;
}

/** Parse an IPv6 literal (optionally with a `%zone`) into its eight 16-bit groups. */
function parseIpv6(text: string): number[] | undefined {
  let addr = text;
  const pct = addr.indexOf("%");
  if (pct >= 0) {
    if (!/^[A-Za-z0-9_.-]+$/.test(addr.slice(pct + 1))) return undefined;
    addr = addr.slice(0, pct);
  }
  let tail: number[] = [];
  const lastColon = addr.lastIndexOf(":");
  if (lastColon < 0) return undefined;
  if (addr.slice(lastColon + 1).includes(".")) {
    // An embedded IPv4 address ("::ffff:192.0.2.1") stands for the last two groups.
    const v4 = parseIpv4(addr.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [(v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]];
    addr = addr.slice(0, lastColon + 1);
    if (!addr.endsWith("::")) addr = addr.slice(0, -1);
  }
  const halves = addr.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parseGroups(halves[0]);
  if (head === undefined) return undefined;
  if (halves.length === 1) {
    const groups = [...head, ...tail];
    return groups.length === 8 ? groups : undefined;
  }
  const rest = parseGroups(halves[1]);
  if (rest === undefined) return undefined;
  const known = head.length + rest.length + tail.length;
  if (known > 7) return undefined;
  return [...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail];
}

function isHostname(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  const labels = text.replace(/\.$/, "").split(".");
  if (labels.every((l) => /^\d+$/.test(l))) return false; // looks like a mistyped IPv4 address
  return labels.every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

function isUnspecified(address: string, kind: AddressKind): boolean {
  if (kind === "ipv4") return address === "0.0.0.0";
  if (kind === "ipv6") return (parseIpv6(address) ?? [1]).every((g) => g === 0);
  return false;
}

interface ParsedEndpoint {
  endpoint: Endpoint;
  kind: AddressKind;
}

function parseEndpointText(text: string, defaultPort: number): ParsedEndpoint | string {
  const expected = `expected "address:port", "[ipv6-address]:port" or an address`;
  if (text.length === 0) return `${expected}, got an empty string`;
  let host: string;
  let portText: string | undefined;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return `${expected}, got ${quote(text)} (missing "]")`;
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return `${expected}, got ${quote(text)}`;
      portText = rest.slice(1);
    }
    if (parseIpv6(host) === undefined) {
      return `${expected}, got ${quote(text)} (${quote(host)} is not an IPv6 address)`;
    }
  } else {
    const colons = text.split(":").length - 1;
    if (colons === 1) {
      [host, portText] = text.split(":");
    } else {
      host = text;
    }
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > U16_MAX) {
      return `${expected}, got ${quote(text)} (port must be 0..65535)`;
    }
    port = Number(portText);
  }
  const kind = addressKind(host);
  if (kind === undefined) {
    const why = /^[\d.]+$/.test(host)
      ? "not a valid IPv4 address"
      : host.includes(":")
      ? "not a valid IPv6 address"
      : "not an IP address or host name";
    return `${expected}, got ${quote(text)} (${quote(host)} is ${why})`;
  }
  return { endpoint: { address: host, port }, kind };
}

/**
 * Parse `"address:port"`, `"[ipv6]:port"`, a bare IPv6 address or a bare address/host name
 * (which gets `defaultPort`).
 *
 * @throws {RangeError} when the text is not an endpoint.
 *
 * @example Usage
 * ```ts
 * import { parseEndpoint } from "./config.ts";
 * console.log(parseEndpoint("[2001:db8::1]:1701", 1701)); // { address: "2001:db8::1", port: 1701 }
 * ```
 */
export function parseEndpoint(text: string, defaultPort: number): Endpoint {
  const r = parseEndpointText(text, defaultPort);
  if (typeof r === "string") throw new RangeError(`Cannot parse endpoint: ${r}`);
  return r.endpoint;
}

/**
 * Render an endpoint as `address:port`, bracketing IPv6 addresses (the socket layer's
 * formatting, re-exported for configuration users).
 *
 * @example Usage
 * ```ts
 * import { formatEndpoint } from "./config.ts";
 * console.log(formatEndpoint({ address: "2001:db8::1", port: 1701 })); // [2001:db8::1]:1701
 * ```
 */
export { formatEndpoint };

// ---------------------------------------------------------------------------------------------
// pppd arguments

/**
 * Split the text of a `pppd_args` file into arguments: one or more per line, separated by
 * spaces or tabs (go-l2tp splits each line on spaces; empty arguments are dropped here).
 *
 * @example Usage
 * ```ts
 * import { splitPppdArgs } from "./config.ts";
 * console.log(splitPppdArgs("noauth\nuser bob  mtu 1400\n")); // ["noauth","user","bob","mtu","1400"]
 * ```
 */
export function splitPppdArgs(text: string): string[] {
  return text.split(/\r?\n/).flatMap((line) => line.split(/[ \t]+/)).filter((a) => a !== "");
}

// ---------------------------------------------------------------------------------------------
// Parsing

type TomlValue = unknown;
type TomlTable = Record<string, TomlValue>;

interface Where {
  tunnel?: string;
  session?: string;
}

class Collector {
  readonly issues: ConfigIssue[] = [];
  readonly warnings: string[] = [];

  add(where: Where, key: string | undefined, message: string): void {
    this.issues.push(compact({ tunnel: where.tunnel, session: where.session, key, message }));
  }

  warn(where: Where, key: string | undefined, message: string): void {
    this.warnings.push(formatIssue(compact({ ...where, key, message })));
  }
}

function isTable(v: TomlValue): v is TomlTable {
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Date) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === null || proto === Object.prototype;
}

function typeName(v: TomlValue): string {
  if (typeof v === "string") return "string";
  if (typeof v === "bigint") return "integer";
  if (typeof v === "number") return "float";
  if (typeof v === "boolean") return "boolean";
  if (Array.isArray(v)) return "array";
  if (isTable(v)) return "table";
  return "date-time";
}

function describe(v: TomlValue): string {
  if (typeof v === "string") return `string ${quote(v)}`;
  if (typeof v === "bigint") return `integer ${v}`;
  if (typeof v === "number") return `float ${v}`;
  if (typeof v === "boolean") return `boolean ${v}`;
  return typeName(v);
}

/** Reads typed values out of one TOML table, recording an issue for every bad value. */
class TableReader {
  readonly #c: Collector;
  readonly #where: Where;
  readonly #table: TomlTable;
  readonly bad: Set<string> = new Set();

  constructor(c: Collector, where: Where, table: TomlTable, known: readonly string[]) {
    this.#c = c;
    this.#where = where;
    this.#table = table;
    for (const key of Object.keys(table)) {
      if (!known.includes(key)) {
        c.add(where, key, unknownKeyMessage(key, known, where));
        this.bad.add(key);
      }
    }
  }

  has(key: string): boolean {
    return Object.hasOwn(this.#table, key);
  }

  raw(key: string): TomlValue {
    return this.#table[key];
  }

  fail(key: string, message: string): undefined {
    this.bad.add(key);
    this.#c.add(this.#where, key, message);
    return undefined;
  }

  string(key: string): string | undefined {
    if (!this.has(key)) return undefined;
    const v = this.#table[key];
    if (typeof v !== "string") return this.fail(key, `expected a string, got ${describe(v)}`);
    return v;
  }

  bool(key: string): boolean | undefined {
    if (!this.has(key)) return undefined;
    const v = this.#table[key];
    if (typeof v !== "boolean") {
      return this.fail(key, `expected true or false, got ${describe(v)}`);
    }
    return v;
  }

  int(key: string, min: number, max: number, what = ""): number | undefined {
    if (!this.has(key)) return undefined;
    const v = this.#table[key];
    if (typeof v !== "bigint") {
      return this.fail(key, `expected an integer${what}, got ${describe(v)}`);
    }
    if (v < BigInt(min) || v > BigInt(max)) {
      return this.fail(key, `expected an integer in ${min}..${max}${what}, got ${v}`);
    }
    return Number(v);
  }

  oneOf<T extends string>(key: string, values: readonly T[]): T | undefined {
    if (!this.has(key)) return undefined;
    const v = this.#table[key];
    if (typeof v !== "string" || !(values as readonly string[]).includes(v)) {
      const hint = typeof v === "string" ? suggestion(v, values) : "";
      return this.fail(key, `expected ${alternatives(values)}, got ${describe(v)}${hint}`);
    }
    return v as T;
  }

  bytes(key: string, lengths: readonly number[]): Uint8Array | undefined {
    if (!this.has(key)) return undefined;
    const v = this.#table[key];
    if (!Array.isArray(v)) {
      return this.fail(key, `expected an array of bytes (integers 0..255), got ${describe(v)}`);
    }
    const out = new Uint8Array(v.length);
    for (const [i, b] of v.entries()) {
      if (typeof b !== "bigint" || b < 0n || b > 255n) {
        return this.fail(
          key,
          `expected an array of bytes (integers 0..255), element ${i} is ${describe(b)}`,
        );
      }
      out[i] = Number(b);
    }
    if (!lengths.includes(out.length)) {
      const want = lengths.filter((n) => n > 0);
      return this.fail(key, `expected ${want.join(" or ")} bytes, got ${out.length}`);
    }
    return out;
  }

  stringArray<T extends string>(key: string, values: readonly T[]): T[] | undefined {
    if (!this.has(key)) return undefined;
    const v = this.#table[key];
    if (!Array.isArray(v)) {
      return this.fail(key, `expected an array of ${alternatives(values)}, got ${describe(v)}`);
    }
    const out: T[] = [];
    for (const [i, s] of v.entries()) {
      if (typeof s !== "string" || !(values as readonly string[]).includes(s)) {
        return this.fail(
          key,
          `expected an array of ${alternatives(values)}, element ${i} is ${describe(s)}`,
        );
      }
      if (!out.includes(s as T)) out.push(s as T);
    }
    return out;
  }
}

function unknownKeyMessage(key: string, known: readonly string[], where: Where): string {
  const inSession = (SESSION_KEYS as readonly string[]).includes(key);
  const inTunnel = (TUNNEL_KEYS as readonly string[]).includes(key);
  const t = tableKey(where.tunnel ?? "NAME");
  if (inSession && where.session === undefined) {
    return `${quote(key)} is a session key: put it in a session table [tunnel.${t}.session.NAME]`;
  }
  if (inTunnel && where.tunnel === undefined) {
    return `${quote(key)} is a tunnel key: put it in a tunnel table [tunnel.NAME]`;
  }
  if (inTunnel && where.session !== undefined) {
    return `${quote(key)} is a tunnel key: put it in [tunnel.${t}]`;
  }
  const near = nearest(key, known);
  if (near !== undefined) return `unknown key; did you mean ${quote(near)}?`;
  return `unknown key; expected one of ${known.join(", ")}`;
}

function normaliseKey(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase().replaceAll("-", "_");
}

function nearest(key: string, known: readonly string[]): string | undefined {
  const norm = normaliseKey(key);
  const exact = known.find((k) => k === norm);
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(norm, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  const limit = Math.max(2, Math.floor(norm.length / 3));
  return bestDistance <= limit ? best : undefined;
}

function suggestion(value: string, values: readonly string[]): string {
  const near = nearest(value, values);
  return near !== undefined ? `; did you mean ${quote(near)}?` : "";
}

/** Levenshtein distance with adjacent transpositions (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = 0; i <= a.length; i++) d[i][0] = i;
  for (let j = 0; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

function alternatives(values: readonly string[]): string {
  const q = values.map(quote);
  return q.length <= 2 ? q.join(" or ") : `${q.slice(0, -1).join(", ")} or ${q[q.length - 1]}`;
}

function quote(s: string): string {
  return JSON.stringify(s);
}

/** Drop properties whose value is undefined (so equal configurations compare deep-equal). */
function compact<T extends object>(obj: T): T {
  for (const k of Object.keys(obj) as (keyof T)[]) {
    if (obj[k] === undefined) delete obj[k];
  }
  return obj;
}

interface PppdRef {
  tunnel: string;
  session: string;
  path: string;
  target: SessionEntry;
}

/** A configuration as the parser builds it: tunnels flat, until {@linkcode toConfig}. */
interface FlatConfig {
  file: string;
  tunnels: TunnelEntry[];
  warnings?: string[];
}

function toConfig(flat: FlatConfig): Config {
  const config: Config = { file: flat.file, tunnels: flat.tunnels.map(namedTunnel) };
  if (flat.warnings) config.warnings = flat.warnings;
  return config;
}

interface ParseResult {
  config: FlatConfig;
  collector: Collector;
  pppdRefs: PppdRef[];
}

function parseInternal(text: string, file: string, opts: ConfigOptions): ParseResult {
  const c = new Collector();
  const pppdRefs: PppdRef[] = [];
  const config: FlatConfig = { file, tunnels: [] };
  let doc: TomlTable;
  try {
    doc = parseToml(text, { integersAsBigInt: true, unsafeKeyBehaviour: "throw" }) as TomlTable;
  } catch (e) {
    if (e instanceof TomlError) {
      const first = e.message.split("\n")[0].replace(/^Invalid TOML document:\s*/, "");
      const block = e.codeblock.trimEnd();
      c.issues.push({
        line: e.line,
        column: e.column,
        message: `invalid TOML: ${first}${block !== "" ? `\n${block}` : ""}`,
      });
    } else {
      c.issues.push({ message: `invalid TOML: ${e instanceof Error ? e.message : String(e)}` });
    }
    return { config, collector: c, pppdRefs };
  }

  const top = new TableReader(c, {}, doc, TOP_KEYS);
  // A file without tunnels is valid: the daemon starts with nothing to run (as go-l2tp's does),
  // and tunnels can be added to it while it runs.
  if (!top.has("tunnel")) {
    // Nothing to parse.
  } else if (!isTable(doc.tunnel)) {
    top.fail(
      "tunnel",
      `expected named tunnel tables such as [tunnel.t1], got ${typeName(doc.tunnel)}`,
    );
  } else {
    const tunnels = doc.tunnel;
    for (const [name, value] of Object.entries(tunnels)) {
      if (!isTable(value)) {
        c.add(
          {},
          "tunnel",
          `${quote(name)} (${describe(value)}) is not a tunnel; tunnels are named tables ` +
            `such as [tunnel.t1]`,
        );
        continue;
      }
      config.tunnels.push(parseTunnel(c, name, value, opts, pppdRefs));
    }
    crossChecks(c, config.tunnels);
  }
  if (c.warnings.length > 0) config.warnings = [...c.warnings];
  return { config, collector: c, pppdRefs };
}

function checkName(c: Collector, where: Where, what: "tunnel" | "session", name: string): void {
  if (name === "" || hasControlChars(name)) {
    c.add(
      where,
      undefined,
      `invalid ${what} name: expected a non-empty name without control characters`,
    );
  }
}

function hasControlChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function parseTunnel(
  c: Collector,
  name: string,
  table: TomlTable,
  opts: ConfigOptions,
  pppdRefs: PppdRef[],
): TunnelEntry {
  const where: Where = { tunnel: name };
  checkName(c, where, "tunnel", name);
  const r = new TableReader(c, where, table, TUNNEL_KEYS);

  // Values whose meaning does not depend on anything else.
  const modeKey = r.oneOf("mode", ["static", "quiescent", "dynamic"] as const);
  const versionKey = r.oneOf("version", ["l2tpv2", "l2tpv3"] as const);
  const encapKey = r.oneOf("encap", ["udp", "ip"] as const);
  const helloMs = r.int("hello_timeout", 0, TIMER_MAX, " (milliseconds)");
  const windowSize = r.int("window_size", 0, U16_MAX, " (messages)");
  const retryMs = r.int("retry_timeout", 0, TIMER_MAX, " (milliseconds)");
  const maxRetries = r.int("max_retries", 0, U16_MAX);
  const hostName = r.string("host_name");
  const framingCaps = r.stringArray("framing_caps", ["sync", "async"] as const);
  const managedKey = r.bool("managed");
  const roleKey = r.oneOf("role", ["lac", "lns"] as const);
  const udpChecksum = r.bool("udp_checksum");
  const udp6Tx = r.bool("udp6_zero_checksum_tx");
  const udp6Rx = r.bool("udp6_zero_checksum_rx");
  const debug = r.int("debug", 0, U32_MAX, " (kernel debug mask)");
  const secret = r.string("secret");
  const hideAvps = r.bool("hide_avps");
  const digestKey = r.oneOf("message_digest", ["none", "md5", "sha1"] as const);
  const routerId = readRouterId(r);
  const acceptAnyPeer = r.bool("accept_any_peer");
  const maxSessions = r.int("max_sessions", 1, U32_MAX, " (sessions)");
  const maxTunnels = r.int("max_tunnels", 1, U32_MAX, " (tunnels)");
  const redial = r.bool("redial");
  const redialMs = r.int("redial_timeout", 0, TIMER_MAX, " (milliseconds)");
  const maxRedials = r.int("max_redials", 1, U32_MAX, " (redials)");
  const localText = r.string("local");
  const peerText = r.string("peer");

  // Mode: explicit, or from the personality's default and the keys present.
  const hello = (helloMs ?? 0) > 0;
  const defaultMode = opts.defaultMode ?? "auto";
  const mode: TunnelMode = modeKey ??
    (defaultMode === "auto"
      ? (r.has("ptid") ? (hello ? "quiescent" : "static") : "dynamic")
      : defaultMode === "static"
      ? (hello ? "quiescent" : "static")
      : defaultMode);

  // Version: explicit, else L2TPv2 for dynamic tunnels that could be L2TPv2 (UDP, no Ethernet
  // pseudowire), L2TPv3 otherwise.
  const encap = encapKey ?? "udp";
  const sessionTables = isTable(table.session) ? Object.values(table.session) : [];
  const wantsEth = sessionTables.some((v) =>
    isTable(v) && (v.pseudowire === "eth" || v.pseudowire === "eth_vlan")
  );
  const version: 2 | 3 = versionKey !== undefined
    ? (versionKey === "l2tpv2" ? 2 : 3)
    : (mode === "dynamic" && encap === "udp" && !wantsEth ? 2 : 3);
  const versionKnown = !r.bad.has("version");
  const versionWhy = versionKey === undefined
    ? ` (version defaults to l2tpv${version} for ${mode} tunnels)`
    : "";

  if (versionKnown && version === 2 && encap === "ip") {
    r.fail("encap", `"ip" encapsulation needs version = "l2tpv3"${versionWhy}`);
  }

  // IDs.
  const idMax = version === 2 ? U16_MAX : U32_MAX;
  const idWhat = versionKnown ? ` (L2TPv${version} tunnel ID)` : "";
  const tid = r.int("tid", 1, versionKnown ? idMax : U32_MAX, idWhat);
  let ptid = r.int("ptid", 1, versionKnown ? idMax : U32_MAX, idWhat);

  // Endpoints.
  const defaultPort = encap === "ip" ? 0 : CONFIG_DEFAULTS.udpPort;
  const endpoint = (
    key: "local" | "peer",
    text: string | undefined,
  ): ParsedEndpoint | undefined => {
    if (text === undefined) return undefined;
    const p = parseEndpointText(text, defaultPort);
    if (typeof p === "string") return r.fail(key, p);
    if (encap === "ip" && p.endpoint.port !== 0) {
      c.warn(where, key, `port ${p.endpoint.port} ignored: IP encapsulation has no ports`);
      p.endpoint.port = 0;
    }
    return p;
  };
  const local = endpoint("local", localText);
  const peer = endpoint("peer", peerText);
  if (peer !== undefined) {
    if (isUnspecified(peer.endpoint.address, peer.kind)) {
      r.fail("peer", `expected a unicast address, got ${quote(peer.endpoint.address)}`);
    } else if (encap === "udp" && peer.endpoint.port === 0) {
      r.fail("peer", `expected a non-zero UDP port, got ${quote(peerText ?? "")}`);
    }
  }
  if (
    local !== undefined && peer !== undefined && local.kind !== "hostname" &&
    peer.kind !== "hostname" && local.kind !== peer.kind
  ) {
    r.fail(
      "peer",
      `expected the same address family as local (${familyName(local.kind)}), got ` +
        familyName(peer.kind),
    );
  }
  const family = local !== undefined && local.kind !== "hostname"
    ? local.kind
    : peer !== undefined && peer.kind !== "hostname"
    ? peer.kind
    : undefined;

  // Managed / unmanaged.
  const managed = managedKey ?? !(mode === "static" && version === 3);
  if (managedKey === false) {
    if (versionKnown && version === 2) {
      r.fail("managed", `unmanaged tunnels need version = "l2tpv3"${versionWhy}`);
    } else if (mode !== "static") {
      r.fail(
        "managed",
        `unmanaged tunnels must be static: a ${mode} tunnel needs its own socket for control ` +
          `messages`,
      );
    }
  }

  // Requirements and ignored keys by mode.
  const require = (key: string, why: string): void => {
    if (!r.has(key)) c.add(where, key, `missing: ${why}`);
  };
  let role: TunnelRole | undefined;
  if (mode === "static" || mode === "quiescent") {
    const why = `${mode} tunnels need local, peer, tid and ptid`;
    require("local", why);
    require("peer", why);
    require("tid", why);
    require("ptid", why);
    if (roleKey !== undefined) {
      r.fail("role", `only dynamic tunnels have a role, this one is ${mode}`);
    }
  } else {
    role = roleKey ?? "lac";
    if (role === "lac") {
      require("peer", 'dynamic tunnels with role "lac" need the peer\'s address');
    } else {
      require("local", 'dynamic tunnels with role "lns" need a local address to listen on');
      if (!r.has("peer") && acceptAnyPeer !== true && !r.bad.has("accept_any_peer")) {
        c.add(
          where,
          "peer",
          'missing: a tunnel with role "lns" accepts the peer named here, or any peer with ' +
            "accept_any_peer = true (and a secret)",
        );
      }
    }
    if (ptid !== undefined) {
      c.warn(where, "ptid", "ignored: dynamic tunnels learn the peer's tunnel ID from the peer");
      ptid = undefined;
    }
  }
  checkControlKeys(r, c, where, {
    mode,
    version,
    versionKnown,
    versionWhy,
    role,
    secret,
    hideAvps,
    digest: digestKey,
    acceptAnyPeer,
  });
  if (mode === "static" && modeKey === "static" && hello) {
    r.fail("hello_timeout", `static tunnels send no HELLOs; use mode = "quiescent"`);
  }

  // Control connection settings: quiescent and dynamic tunnels only.
  const control = mode !== "static";
  if (!control) {
    for (
      const key of ["window_size", "retry_timeout", "max_retries", "host_name", "framing_caps"]
    ) {
      if (r.has(key) && !r.bad.has(key)) {
        c.warn(where, key, "ignored: static tunnels have no control connection");
      }
    }
    if (r.has("hello_timeout") && !r.bad.has("hello_timeout") && !hello) {
      c.warn(where, "hello_timeout", "ignored: static tunnels have no control connection");
    }
  }
  if (control && version === 3 && versionKnown && framingCaps !== undefined) {
    c.warn(where, "framing_caps", "ignored: L2TPv3 has no Framing Capabilities AVP");
  }

  // UDP checksum options.
  if (encap === "ip") {
    for (const key of ["udp_checksum", "udp6_zero_checksum_tx", "udp6_zero_checksum_rx"]) {
      if (r.has(key) && !r.bad.has(key)) {
        r.fail(key, `applies to UDP encapsulation only, encap is "ip"`);
      }
    }
  } else if (family === "ipv6" && udpChecksum !== undefined) {
    r.fail(
      "udp_checksum",
      "applies to IPv4 only (IPv6 UDP always has checksums unless udp6_zero_checksum_tx is set)",
    );
  } else if (family === "ipv4") {
    for (const key of ["udp6_zero_checksum_tx", "udp6_zero_checksum_rx"]) {
      if (r.has(key) && !r.bad.has(key)) r.fail(key, "applies to IPv6 only, the tunnel is IPv4");
    }
  }

  // IPv4 checksum settings apply unless the tunnel is known to be IPv6, and vice versa; with
  // both addresses given as host names, only what the file sets is kept.
  const v4Udp = encap === "udp" && family !== "ipv6";
  const v6Udp = encap === "udp" && family !== "ipv4";
  const tunnel: TunnelEntry = compact({
    name,
    mode,
    version,
    encap,
    local: local?.endpoint,
    peer: peer?.endpoint,
    tid,
    ptid,
    windowSize: control ? (windowSize || CONFIG_DEFAULTS.windowSize) : undefined,
    helloTimeoutMs: control ? (helloMs ?? CONFIG_DEFAULTS.helloTimeoutMs) : undefined,
    retryTimeoutMs: control ? (retryMs || CONFIG_DEFAULTS.retryTimeoutMs) : undefined,
    maxRetries: control ? (maxRetries || CONFIG_DEFAULTS.maxRetries) : undefined,
    hostName: control ? hostName : undefined,
    framingCaps: control && version === 2
      ? (framingCaps ?? [...CONFIG_DEFAULTS.framingCaps])
      : undefined,
    managed,
    udpChecksum: v4Udp ? (udpChecksum ?? (family === "ipv4" ? false : undefined)) : undefined,
    udp6ZeroChecksumTx: v6Udp ? (udp6Tx ?? (family === "ipv6" ? false : undefined)) : undefined,
    udp6ZeroChecksumRx: v6Udp ? (udp6Rx ?? (family === "ipv6" ? false : undefined)) : undefined,
    role,
    debug,
    ...dynamicKeys(mode === "dynamic", r, {
      version,
      encap,
      role,
      secret,
      hideAvps,
      digest: digestKey,
      routerId,
      acceptAnyPeer,
      maxSessions,
      maxTunnels,
      redial,
      redialMs,
      maxRedials,
    }),
    sessions: [],
  });
  const unresolved: ("local" | "peer")[] = [];
  if (local?.kind === "hostname") unresolved.push("local");
  if (peer?.kind === "hostname") unresolved.push("peer");
  if (unresolved.length > 0) tunnel.unresolved = unresolved;

  // Sessions.
  if (r.has("session")) {
    const sessions = r.raw("session");
    if (!isTable(sessions)) {
      r.fail(
        "session",
        `expected named session tables such as [tunnel.${tableKey(name)}.session.s1], got ` +
          typeName(sessions),
      );
    } else {
      for (const [sname, value] of Object.entries(sessions)) {
        if (!isTable(value)) {
          c.add(
            where,
            "session",
            `${quote(sname)} (${describe(value)}) is not a session; sessions are named ` +
              `tables such as [tunnel.${tableKey(name)}.session.s1]`,
          );
          continue;
        }
        const s = parseSession(c, tunnel, versionKnown, versionWhy, sname, value, pppdRefs);
        tunnel.sessions.push(s);
      }
    }
  }
  return tunnel;
}

function familyName(kind: AddressKind): string {
  return kind === "ipv4" ? "IPv4" : kind === "ipv6" ? "IPv6" : "host name";
}

function parseSession(
  c: Collector,
  tunnel: TunnelEntry,
  versionKnown: boolean,
  versionWhy: string,
  name: string,
  table: TomlTable,
  pppdRefs: PppdRef[],
): SessionEntry {
  const where: Where = { tunnel: tunnel.name, session: name };
  checkName(c, where, "session", name);
  const r = new TableReader(c, where, table, SESSION_KEYS);
  const v2 = tunnel.version === 2;
  const idMax = v2 ? U16_MAX : U32_MAX;
  const idWhat = versionKnown ? ` (L2TPv${tunnel.version} session ID)` : "";
  const sid = r.int("sid", 1, versionKnown ? idMax : U32_MAX, idWhat);
  let psid = r.int("psid", 1, versionKnown ? idMax : U32_MAX, idWhat);
  const pwKey = readPseudowire(r);
  const seqnum = r.bool("seqnum");
  const sendSeq = r.bool("send_seqnum");
  const recvSeq = r.bool("recv_seqnum");
  const reorderMs = r.int("reorder_timeout", 0, U32_MAX, " (milliseconds)");
  let cookie = r.bytes("cookie", [0, 4, 8]);
  const peerCookie = r.bytes("peer_cookie", [0, 4, 8]);
  const ifname = r.string("interface_name");
  const l2specKey = r.oneOf("l2spec_type", ["none", "default"] as const);
  const pppdArgs = r.string("pppd_args");
  const mtu = r.int("mtu", 68, U16_MAX, " (bytes)");
  const lnsMode = r.bool("lns_mode");
  const debug = r.int("debug", 0, U32_MAX, " (kernel debug mask)");
  let pppoeSessionId = r.int("pppoe_session_id", 1, U16_MAX);
  let pppoePeerMac = r.bytes("pppoe_peer_mac", [6]);
  let remoteEndId = readRemoteEndId(r);
  let callType = r.oneOf("call_type", ["incoming", "outgoing"] as const);

  const pseudowire: Pseudowire = pwKey ?? (v2 ? "ppp" : "eth");
  const static_ = tunnel.mode !== "dynamic";
  if (static_) {
    const why = `sessions of ${tunnel.mode} tunnels need sid and psid`;
    if (!r.has("sid")) c.add(where, "sid", `missing: ${why}`);
    if (!r.has("psid")) c.add(where, "psid", `missing: ${why}`);
  } else if (psid !== undefined) {
    c.warn(where, "psid", "ignored: dynamic sessions learn the peer's session ID from the peer");
    psid = undefined;
  }
  if (!static_ && cookie !== undefined && cookie.length > 0) {
    c.warn(where, "cookie", "ignored: dynamic sessions send the cookie the peer assigns");
    cookie = undefined;
  }
  if (pseudowire === "eth_vlan" && tunnel.mode !== "dynamic") {
    r.fail(
      "pseudowire",
      `"eth_vlan" is negotiated by the control protocol: dynamic tunnels only (use "eth" for a ` +
        `${tunnel.mode} tunnel)`,
    );
  }
  if (tunnel.mode !== "dynamic") {
    for (const [key, value] of [["remote_end_id", remoteEndId], ["call_type", callType]] as const) {
      if (value !== undefined) c.warn(where, key, `ignored: only dynamic sessions are negotiated`);
    }
    remoteEndId = undefined;
    callType = undefined;
  } else if (versionKnown && v2 && remoteEndId !== undefined) {
    r.fail("remote_end_id", `the Remote End ID is L2TPv3 only${versionWhy}`);
  }
  if (versionKnown && v2) {
    if (pseudowire === "eth" || pseudowire === "eth_vlan") {
      r.fail("pseudowire", `L2TPv2 carries PPP only: expected "ppp" or "pppac"${versionWhy}`);
    }
    if (cookie !== undefined && cookie.length > 0) {
      r.fail("cookie", `cookies are L2TPv3 only${versionWhy}`);
    }
    if (peerCookie !== undefined && peerCookie.length > 0) {
      r.fail("peer_cookie", `cookies are L2TPv3 only${versionWhy}`);
    }
    if (l2specKey === "default") {
      r.fail(
        "l2spec_type",
        `the L2-Specific Sublayer is L2TPv3 only: expected "none"${versionWhy}`,
      );
    }
  }
  if (ifname !== undefined) {
    if (
      ifname.length === 0 || new TextEncoder().encode(ifname).length > 15 ||
      /[\s/:]/.test(ifname) || ifname === "." ||
      ifname === ".."
    ) {
      r.fail(
        "interface_name",
        `expected a Linux interface name (1..15 bytes, no whitespace, "/" or ":"), got ` +
          quote(ifname),
      );
    }
  }
  if (mtu !== undefined && pseudowire !== "eth" && pseudowire !== "eth_vlan") {
    r.fail("mtu", `applies to "eth" pseudowires only (for PPP, pass "mtu" to pppd via pppd_args)`);
  }
  let pppdPath = pppdArgs;
  if (pppdArgs !== undefined) {
    if (pseudowire !== "ppp") {
      c.warn(where, "pppd_args", `ignored: pppd runs for "ppp" pseudowires only`);
      pppdPath = undefined;
    } else if (pppdArgs === "") {
      r.fail("pppd_args", "expected the path of a file of pppd arguments, got an empty string");
      pppdPath = undefined;
    }
  }
  if (pseudowire !== "pppac") {
    if (pppoeSessionId !== undefined) {
      c.warn(where, "pppoe_session_id", `ignored: applies to "pppac" pseudowires only`);
      pppoeSessionId = undefined;
    }
    if (pppoePeerMac !== undefined) {
      c.warn(where, "pppoe_peer_mac", `ignored: applies to "pppac" pseudowires only`);
      pppoePeerMac = undefined;
    }
  }

  // RFC 3931 §4.6: L2TPv3 data packets carry sequence numbers only in the default L2-Specific
  // Sublayer, so sequencing picks it when the file does not say, and cannot work with "none".
  const sequenced = (sendSeq ?? seqnum ?? false) || (recvSeq ?? seqnum ?? false);
  if (!v2 && sequenced && l2specKey === "none") {
    r.fail(
      "l2spec_type",
      `L2TPv3 sequence numbers travel in the L2-Specific Sublayer: expected "default" when ` +
        `seqnum, send_seqnum or recv_seqnum is set`,
    );
  }

  const session: SessionEntry = compact({
    name,
    sid,
    psid,
    pseudowire,
    sendSeqnum: sendSeq ?? seqnum ?? false,
    recvSeqnum: recvSeq ?? seqnum ?? false,
    reorderTimeoutMs: reorderMs ?? 0,
    cookie: cookie !== undefined && cookie.length > 0 ? cookie : undefined,
    peerCookie: peerCookie !== undefined && peerCookie.length > 0 ? peerCookie : undefined,
    interfaceName: ifname,
    l2specType: v2 ? "none" : (l2specKey ?? (sequenced ? "default" : "none")),
    pppdArgs: pppdPath,
    mtu,
    lnsMode: lnsMode ?? false,
    debug,
    pppoeSessionId,
    pppoePeerMac,
    remoteEndId,
    callType,
  });
  if (pppdPath !== undefined && !r.bad.has("pppd_args")) {
    pppdRefs.push({ tunnel: tunnel.name, session: name, path: pppdPath, target: session });
  }
  return session;
}

/** `pseudowire`: go-l2tp's three, plus "eth_vlan" (ours). */
function readPseudowire(r: TableReader): Pseudowire | undefined {
  if (!r.has("pseudowire")) return undefined;
  const v = r.raw("pseudowire");
  if (v === "eth_vlan") return "eth_vlan";
  const values = ["ppp", "eth", "pppac"] as const;
  if (typeof v === "string" && (values as readonly string[]).includes(v)) return v as Pseudowire;
  const hint = typeof v === "string" ? suggestion(v, [...values, "eth_vlan"]) : "";
  return r.fail(
    "pseudowire",
    `expected ${alternatives(values)} (or "eth_vlan" for dynamic L2TPv3 tunnels), got ` +
      `${describe(v)}${hint}`,
  );
}

/** `router_id`: dotted IPv4 form or a non-zero 32-bit integer. */
function readRouterId(r: TableReader): number | undefined {
  if (!r.has("router_id")) return undefined;
  const v = r.raw("router_id");
  const expected = 'expected a non-zero 32-bit integer or an IPv4-style "a.b.c.d"';
  if (typeof v === "string") {
    const octets = parseIpv4(v);
    if (octets === undefined) return r.fail("router_id", `${expected}, got ${describe(v)}`);
    const n = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
    return n === 0 ? r.fail("router_id", `${expected}, got ${describe(v)}`) : n;
  }
  if (typeof v === "bigint" && v >= 1n && v <= BigInt(U32_MAX)) return Number(v);
  return r.fail("router_id", `${expected}, got ${describe(v)}`);
}

/** `remote_end_id`: a string (UTF-8), a 32-bit integer (4 bytes, big-endian) or bytes. */
function readRemoteEndId(r: TableReader): Uint8Array | undefined {
  if (!r.has("remote_end_id")) return undefined;
  const v = r.raw("remote_end_id");
  const expected = "expected a non-empty string, a 32-bit integer or an array of bytes";
  if (typeof v === "string") {
    const b = new TextEncoder().encode(v);
    if (b.length === 0 || b.length > 1000) {
      return r.fail("remote_end_id", `${expected} (1..1000 bytes), got ${describe(v)}`);
    }
    return b;
  }
  if (typeof v === "bigint") {
    if (v < 0n || v > BigInt(U32_MAX)) return r.fail("remote_end_id", `${expected}, got ${v}`);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, Number(v));
    return b;
  }
  if (Array.isArray(v)) {
    const out = new Uint8Array(v.length);
    for (const [i, x] of v.entries()) {
      if (typeof x !== "bigint" || x < 0n || x > 255n) {
        return r.fail("remote_end_id", `${expected}, element ${i} is ${describe(x)}`);
      }
      out[i] = Number(x);
    }
    if (out.length === 0 || out.length > 1000) {
      return r.fail("remote_end_id", `${expected} (1..1000 bytes), got ${out.length} bytes`);
    }
    return out;
  }
  return r.fail("remote_end_id", `${expected}, got ${describe(v)}`);
}

interface ControlKeys {
  mode: TunnelMode;
  version: 2 | 3;
  versionKnown: boolean;
  versionWhy: string;
  role: TunnelRole | undefined;
  secret: string | undefined;
  hideAvps: boolean | undefined;
  digest: MessageDigest | undefined;
  acceptAnyPeer: boolean | undefined;
}

const DYNAMIC_KEYS = [
  "secret",
  "hide_avps",
  "message_digest",
  "router_id",
  "accept_any_peer",
  "max_sessions",
  "max_tunnels",
  "redial",
  "redial_timeout",
  "max_redials",
] as const;

/** Checks of the dynamic control connection keys (secret, hiding, digest, roles, limits). */
function checkControlKeys(r: TableReader, c: Collector, where: Where, k: ControlKeys): void {
  if (k.mode !== "dynamic") {
    for (const key of DYNAMIC_KEYS) {
      if (r.has(key) && !r.bad.has(key)) {
        c.warn(where, key, `ignored: only dynamic tunnels negotiate with the peer`);
      }
    }
    return;
  }
  if (k.secret === "") r.fail("secret", "expected a non-empty shared secret");
  const haveSecret = k.secret !== undefined && k.secret !== "";
  if (k.hideAvps === true && !haveSecret && !r.bad.has("secret")) {
    r.fail("hide_avps", "hidden AVPs are hidden with the shared secret: set secret too");
  }
  if (k.digest !== undefined && k.versionKnown && k.version === 2) {
    r.fail("message_digest", `the Message Digest is L2TPv3 only${k.versionWhy}`);
  } else if (k.digest !== undefined && k.digest !== "none" && !haveSecret) {
    r.fail("message_digest", "the Message Digest is keyed with the shared secret: set secret too");
  }
  if (r.has("router_id") && !r.bad.has("router_id") && k.versionKnown && k.version === 2) {
    r.fail("router_id", `the Router ID is L2TPv3 only${k.versionWhy}`);
  }
  if (k.acceptAnyPeer !== undefined && k.role !== "lns") {
    r.fail("accept_any_peer", 'only a tunnel with role = "lns" accepts peers');
  } else if (k.acceptAnyPeer === true && !haveSecret && !r.bad.has("secret")) {
    r.fail("accept_any_peer", "accepting any peer needs a shared secret: set secret too");
  } else if (k.acceptAnyPeer === true && k.version === 3 && k.digest === "none") {
    // L2TPv3 authenticates only through the Message Digest (RFC 3931 §4.3).
    r.fail("accept_any_peer", 'accepting any L2TPv3 peer needs message_digest "md5" or "sha1"');
  }
  if (r.has("max_tunnels") && !r.bad.has("max_tunnels") && k.role !== "lns") {
    r.fail("max_tunnels", 'only a tunnel with role = "lns" accepts tunnels');
  }
  for (const key of ["redial", "redial_timeout", "max_redials"]) {
    if (r.has(key) && !r.bad.has(key) && k.role === "lns") {
      r.fail(key, 'only a tunnel with role = "lac" dials (a responder waits for its peers)');
    }
  }
}

/** The dynamic keys' values for the tunnel (nothing for other modes), defaults filled in. */
function dynamicKeys(
  dynamic: boolean,
  r: TableReader,
  v: {
    version: 2 | 3;
    encap: "udp" | "ip";
    role: TunnelRole | undefined;
    secret: string | undefined;
    hideAvps: boolean | undefined;
    digest: MessageDigest | undefined;
    routerId: number | undefined;
    acceptAnyPeer: boolean | undefined;
    maxSessions: number | undefined;
    maxTunnels: number | undefined;
    redial: boolean | undefined;
    redialMs: number | undefined;
    maxRedials: number | undefined;
  },
): Partial<TunnelEntry> {
  if (!dynamic) return {};
  const ok = (key: string): boolean => !r.bad.has(key);
  const secret = v.secret !== undefined && v.secret !== "" ? v.secret : undefined;
  const digest = v.version === 3
    ? (v.digest ?? (secret !== undefined ? "md5" : undefined))
    : undefined;
  return compact({
    secret,
    hideAvps: ok("hide_avps") ? v.hideAvps : undefined,
    messageDigest: ok("message_digest") ? digest : undefined,
    routerId: v.version === 3 && ok("router_id") ? v.routerId : undefined,
    acceptAnyPeer: v.role === "lns" ? v.acceptAnyPeer : undefined,
    maxSessions: v.maxSessions,
    maxTunnels: v.role === "lns" ? v.maxTunnels : undefined,
    // `redial = true` waits 30 s (xl2tpd's default); a redial_timeout alone implies redial.
    redialTimeoutMs: v.role !== "lns" && v.redial !== false &&
        (v.redial === true || v.redialMs !== undefined)
      ? (v.redialMs ?? 30_000)
      : undefined,
    maxRedials: v.role !== "lns" && v.redial !== false ? v.maxRedials : undefined,
  });
}

/** A 32-bit value as "a.b.c.d". */
function dottedQuad(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** A Remote End ID as TOML: a string when it is printable UTF-8, else an array of bytes. */
function remoteEndIdText(b: Uint8Array): string {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(b);
  const printable = /^[\x20-\x7e]+$/.test(text) &&
    new TextEncoder().encode(text).length === b.length;
  return printable ? tomlString(text) : byteArray(b);
}

function crossChecks(c: Collector, tunnels: TunnelEntry[]): void {
  const tids = new Map<number, string>();
  const ifnames = new Map<string, string>();
  const v3Sids = new Map<number, string>();
  for (const t of tunnels) {
    if (t.tid !== undefined) {
      const other = tids.get(t.tid);
      if (other !== undefined) {
        c.add(
          { tunnel: t.name },
          "tid",
          `duplicate tunnel ID ${t.tid}: tunnel ${quote(other)} uses it too`,
        );
      } else {
        tids.set(t.tid, t.name);
      }
    }
    const sids = new Map<number, string>();
    const endIds = new Map<string, string>();
    for (const s of t.sessions) {
      const where = { tunnel: t.name, session: s.name };
      if (s.remoteEndId !== undefined) {
        const k = Array.from(s.remoteEndId).join(",");
        const other = endIds.get(k);
        if (other !== undefined) {
          c.add(
            where,
            "remote_end_id",
            `duplicate Remote End ID: session ${quote(other)} uses it too`,
          );
        } else {
          endIds.set(k, s.name);
        }
      }
      if (s.sid !== undefined) {
        const other = sids.get(s.sid);
        if (other !== undefined) {
          c.add(where, "sid", `duplicate session ID ${s.sid}: session ${quote(other)} uses it too`);
        } else {
          sids.set(s.sid, s.name);
          if (t.version === 3) {
            const elsewhere = v3Sids.get(s.sid);
            if (elsewhere !== undefined) {
              c.warn(
                where,
                "sid",
                `L2TPv3 session ID ${s.sid} is also used by ${elsewhere}; the kernel may refuse ` +
                  `the second one (L2TPv3 session IDs are often host-wide)`,
              );
            } else {
              v3Sids.set(s.sid, `tunnel ${quote(t.name)} session ${quote(s.name)}`);
            }
          }
        }
      }
      if (s.interfaceName !== undefined) {
        const other = ifnames.get(s.interfaceName);
        if (other !== undefined) {
          c.add(
            where,
            "interface_name",
            `duplicate interface name ${quote(s.interfaceName)}: ${other} uses it too`,
          );
        } else {
          ifnames.set(s.interfaceName, `tunnel ${quote(t.name)} session ${quote(s.name)}`);
        }
      }
    }
  }
}

/**
 * Parse and validate configuration text (pure: `pppd_args` files are not read, so
 * `pppdArgsList` stays unset).
 *
 * @param text TOML text.
 * @param file The file name to report in errors (default `<config>`).
 * @param opts Defaults that depend on how the daemon was invoked.
 * @throws {ConfigError} listing every problem found.
 *
 * @example Usage
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const config = parseConfig(
 *   '[tunnel.t1]\npeer = "192.0.2.2:1701"\nversion = "l2tpv2"\n[tunnel.t1.session.s1]\npseudowire = "ppp"',
 *   "kl2tpd.toml",
 * );
 * console.log(config.tunnels[0].config.mode); // "dynamic"
 * ```
 */
export function parseConfig(
  text: string,
  file: string = "<config>",
  opts: ConfigOptions = {},
): Config {
  const { config, collector } = parseInternal(text, file, opts);
  if (collector.issues.length > 0) throw new ConfigError(file, collector.issues);
  return toConfig(config);
}

/**
 * Read, parse and validate a configuration file, and read the `pppd_args` file of every session
 * that has one (relative paths are taken from the configuration file's directory).
 *
 * @param path The configuration file.
 * @param opts Defaults that depend on how the daemon was invoked.
 * @throws {ConfigError} listing every problem found, including unreadable files.
 *
 * @example Usage
 * ```ts ignore
 * import { loadConfig } from "./config.ts";
 * const config = await loadConfig("/etc/kl2tpd/kl2tpd.toml", { defaultMode: "dynamic" });
 * ```
 */
export async function loadConfig(path: string, opts: ConfigOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError(path, [{ message: `cannot read the file: ${readErrorText(e)}` }]);
  }
  const { config, collector, pppdRefs } = parseInternal(text, path, opts);
  const dir = dirname(path);
  for (const ref of pppdRefs) {
    const file = ref.path.startsWith("/") ? ref.path : `${dir}/${ref.path}`;
    try {
      ref.target.pppdArgsList = splitPppdArgs(await Deno.readTextFile(file));
    } catch (e) {
      collector.add(
        { tunnel: ref.tunnel, session: ref.session },
        "pppd_args",
        `cannot read pppd arguments file ${quote(file)}: ${readErrorText(e)}`,
      );
    }
  }
  if (collector.issues.length > 0) throw new ConfigError(path, collector.issues);
  return toConfig(config);
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

function readErrorText(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "file not found";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.IsADirectory) return "is a directory";
  if (e instanceof Error) return e.message;
  return String(e);
}

// ---------------------------------------------------------------------------------------------
// Formatting

/**
 * Render a configuration as TOML with every default written out (the effective configuration).
 * The text parses back to an equal {@linkcode Config} (warnings aside; `pppdArgsList` is filled
 * again by {@linkcode loadConfig}).
 *
 * @example Usage
 * ```ts
 * import { formatConfig, parseConfig } from "./config.ts";
 * const config = parseConfig(
 *   '[tunnel.t1]\nlocal = "10.0.0.1"\npeer = "10.0.0.2"\ntid = 1\nptid = 2\nencap = "ip"',
 *   "t.toml",
 * );
 * console.log(formatConfig(config));
 * ```
 */
export function formatConfig(config: Config): string {
  const out: string[] = [`# Effective configuration of ${config.file.replaceAll("\n", " ")}`];
  for (const w of config.warnings ?? []) out.push(`# warning: ${w.replaceAll("\n", " ")}`);
  for (const t of config.tunnels.map(tunnelEntry)) {
    out.push("", `[tunnel.${tableKey(t.name)}]`);
    const kv = (key: string, value: string | undefined): void => {
      if (value !== undefined) out.push(`${key} = ${value}`);
    };
    kv("mode", tomlString(t.mode));
    kv("version", tomlString(`l2tpv${t.version}`));
    kv("encap", tomlString(t.encap));
    kv("role", t.role === undefined ? undefined : tomlString(t.role));
    kv("local", t.local === undefined ? undefined : tomlString(endpointText(t.local, t.encap)));
    kv("peer", t.peer === undefined ? undefined : tomlString(endpointText(t.peer, t.encap)));
    kv("tid", t.tid?.toString());
    kv("ptid", t.ptid?.toString());
    kv("managed", String(t.managed));
    kv("window_size", t.windowSize?.toString());
    kv("hello_timeout", t.helloTimeoutMs?.toString());
    kv("retry_timeout", t.retryTimeoutMs?.toString());
    kv("max_retries", t.maxRetries?.toString());
    kv("host_name", t.hostName === undefined ? undefined : tomlString(t.hostName));
    kv(
      "framing_caps",
      t.framingCaps === undefined ? undefined : `[${t.framingCaps.map(tomlString).join(", ")}]`,
    );
    kv("udp_checksum", t.udpChecksum?.toString());
    kv("udp6_zero_checksum_tx", t.udp6ZeroChecksumTx?.toString());
    kv("udp6_zero_checksum_rx", t.udp6ZeroChecksumRx?.toString());
    kv("debug", t.debug?.toString());
    kv("secret", t.secret === undefined ? undefined : tomlString(t.secret));
    kv("hide_avps", t.hideAvps?.toString());
    kv("message_digest", t.messageDigest === undefined ? undefined : tomlString(t.messageDigest));
    kv("router_id", t.routerId === undefined ? undefined : tomlString(dottedQuad(t.routerId)));
    kv("accept_any_peer", t.acceptAnyPeer?.toString());
    kv("max_sessions", t.maxSessions?.toString());
    kv("max_tunnels", t.maxTunnels?.toString());
    kv("redial", t.redialTimeoutMs === undefined ? undefined : "true");
    kv("redial_timeout", t.redialTimeoutMs?.toString());
    kv("max_redials", t.maxRedials?.toString());
    for (const s of t.sessions) {
      out.push("", `[tunnel.${tableKey(t.name)}.session.${tableKey(s.name)}]`);
      kv("sid", s.sid?.toString());
      kv("psid", s.psid?.toString());
      kv("pseudowire", tomlString(s.pseudowire));
      kv("send_seqnum", String(s.sendSeqnum));
      kv("recv_seqnum", String(s.recvSeqnum));
      kv("reorder_timeout", s.reorderTimeoutMs?.toString());
      kv("cookie", s.cookie === undefined ? undefined : byteArray(s.cookie));
      kv("peer_cookie", s.peerCookie === undefined ? undefined : byteArray(s.peerCookie));
      kv("l2spec_type", tomlString(s.l2specType));
      kv("interface_name", s.interfaceName === undefined ? undefined : tomlString(s.interfaceName));
      kv("mtu", s.mtu?.toString());
      kv("lns_mode", s.lnsMode?.toString());
      kv("pppd_args", s.pppdArgs === undefined ? undefined : tomlString(s.pppdArgs));
      kv("pppoe_session_id", s.pppoeSessionId?.toString());
      kv("pppoe_peer_mac", s.pppoePeerMac === undefined ? undefined : byteArray(s.pppoePeerMac));
      kv("debug", s.debug?.toString());
      kv("remote_end_id", s.remoteEndId === undefined ? undefined : remoteEndIdText(s.remoteEndId));
      kv("call_type", s.callType === undefined ? undefined : tomlString(s.callType));
    }
  }
  return out.join("\n") + "\n";
}

function endpointText(e: Endpoint, encap: "udp" | "ip"): string {
  return encap === "ip" ? e.address : formatEndpoint(e);
}

function byteArray(bytes: Uint8Array): string {
  return `[${Array.from(bytes, (b) => `0x${b.toString(16).padStart(2, "0")}`).join(", ")}]`;
}

function tableKey(name: string): string {
  return /^[A-Za-z0-9_-]+$/.test(name) ? name : tomlString(name);
}

/** A TOML basic string: JSON escaping plus DEL, which TOML also requires escaped. */
function tomlString(s: string): string {
  return JSON.stringify(s).replaceAll("\u007f", "\\u007F");
}
