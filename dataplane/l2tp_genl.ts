/**
 * The Linux "l2tp" generic netlink family (include/uapi/linux/l2tp.h): command and attribute
 * numbers, spec validation, pure builders of request payloads from {@linkcode TunnelSpec} /
 * {@linkcode SessionSpec}, and parsers of GET replies into {@linkcode TunnelInfo} /
 * {@linkcode SessionInfo}.
 *
 * Nothing here does I/O: a builder returns a {@linkcode GenlMessage} (genl header + attributes)
 * that the caller frames for the resolved family id.
 *
 * @module
 */

import type {
  Encap,
  Endpoint,
  L2SpecType,
  L2tpVersion,
  PseudowireType,
  SessionChanges,
  SessionInfo,
  SessionSpec,
  Stats,
  TunnelChanges,
  TunnelInfo,
  TunnelSpec,
} from "./dataplane.ts";
import { zeroStats } from "./dataplane.ts";
import { AttributeDecoder, AttributeEncoder } from "./netlink/attr.ts";
import { NetlinkDecodeError } from "./netlink/errors.ts";
import { formatIP, ipFamily, isIP, parseIP, parseIPv4, splitZone } from "./ffi/sockaddr.ts";
import type { GenlMessage } from "./netlink/message.ts";

/** The family name to resolve. */
export const L2TP_GENL_NAME = "l2tp";
/** The family interface version we speak. */
export const L2TP_GENL_VERSION = 1;

/** Commands (enum in l2tp.h). */
export const L2TP_CMD = {
  NOOP: 0,
  TUNNEL_CREATE: 1,
  TUNNEL_DELETE: 2,
  TUNNEL_MODIFY: 3,
  TUNNEL_GET: 4,
  SESSION_CREATE: 5,
  SESSION_DELETE: 6,
  SESSION_MODIFY: 7,
  SESSION_GET: 8,
} as const;

/** Top-level attributes (enum in l2tp.h), with their wire types. */
export const L2TP_ATTR = {
  NONE: 0,
  /** u16, L2TP_PWTYPE_* */
  PW_TYPE: 1,
  /** u16, L2TP_ENCAPTYPE_* */
  ENCAP_TYPE: 2,
  /** u16, obsolete: never sent. */
  OFFSET: 3,
  /** u16, unused. */
  DATA_SEQ: 4,
  /** u8, L2TP_L2SPECTYPE_* */
  L2SPEC_TYPE: 5,
  /** u8, ignored by current kernels. */
  L2SPEC_LEN: 6,
  /** u8 */
  PROTO_VERSION: 7,
  /** string */
  IFNAME: 8,
  /** u32 */
  CONN_ID: 9,
  /** u32 */
  PEER_CONN_ID: 10,
  /** u32 */
  SESSION_ID: 11,
  /** u32 */
  PEER_SESSION_ID: 12,
  /** u8 in replies; on create its presence turns IPv4 UDP checksums on. */
  UDP_CSUM: 13,
  /** u16, unused. */
  VLAN_ID: 14,
  /** 0, 4 or 8 bytes */
  COOKIE: 15,
  /** 0, 4 or 8 bytes */
  PEER_COOKIE: 16,
  /** u32 */
  DEBUG: 17,
  /** u8 */
  RECV_SEQ: 18,
  /** u8 */
  SEND_SEQ: 19,
  /** u8 */
  LNS_MODE: 20,
  /** u8 */
  USING_IPSEC: 21,
  /** u64, milliseconds */
  RECV_TIMEOUT: 22,
  /** u32 (int) */
  FD: 23,
  /** struct in_addr (network order) */
  IP_SADDR: 24,
  /** struct in_addr (network order) */
  IP_DADDR: 25,
  /** u16 (host order) */
  UDP_SPORT: 26,
  /** u16 (host order) */
  UDP_DPORT: 27,
  /** u16 */
  MTU: 28,
  /** u16, unused. */
  MRU: 29,
  /** nested, L2TP_ATTR_STATS_* */
  STATS: 30,
  /** struct in6_addr */
  IP6_SADDR: 31,
  /** struct in6_addr */
  IP6_DADDR: 32,
  /** flag */
  UDP_ZERO_CSUM6_TX: 33,
  /** flag */
  UDP_ZERO_CSUM6_RX: 34,
  /** padding for u64 alignment */
  PAD: 35,
} as const;

/** Attributes nested in L2TP_ATTR_STATS (all u64). */
export const L2TP_ATTR_STATS = {
  NONE: 0,
  TX_PACKETS: 1,
  TX_BYTES: 2,
  TX_ERRORS: 3,
  RX_PACKETS: 4,
  RX_BYTES: 5,
  RX_SEQ_DISCARDS: 6,
  RX_OOS_PACKETS: 7,
  RX_ERRORS: 8,
  /** padding for u64 alignment */
  PAD: 9,
  RX_COOKIE_DISCARDS: 10,
  RX_INVALID: 11,
} as const;

/** Pseudowire types (enum l2tp_pwtype). */
export const L2TP_PWTYPE = {
  NONE: 0x0000,
  ETH_VLAN: 0x0004,
  ETH: 0x0005,
  PPP: 0x0007,
  PPP_AC: 0x0008,
  IP: 0x000b,
} as const;

/** Encapsulations (enum l2tp_encap_type). */
export const L2TP_ENCAPTYPE = { UDP: 0, IP: 1 } as const;

/** L2-Specific Sublayer types (enum l2tp_l2spec_type). */
export const L2TP_L2SPECTYPE = { NONE: 0, DEFAULT: 1 } as const;

const IFNAMSIZ = 16;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

/** Largest ID for a protocol version. */
function idMax(version: L2tpVersion | undefined): number {
  return version === 2 ? U16_MAX : U32_MAX;
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
}

function checkId(what: string, op: string, v: unknown, version: L2tpVersion | undefined): void {
  const max = idMax(version);
  if (!isInt(v, 1, max)) {
    const bits = version === 2 ? "16-bit (1..65535) for L2TPv2" : "32-bit (1..4294967295)";
    throw new RangeError(`Cannot ${op}: ${what} ${String(v)} is not a non-zero ${bits} ID`);
  }
}

function checkOptionalInt(op: string, what: string, v: unknown, min: number, max: number): void {
  if (v !== undefined && !isInt(v, min, max)) {
    throw new RangeError(`Cannot ${op}: ${what} ${String(v)} is not an integer in ${min}..${max}`);
  }
}

function checkEndpoint(op: string, what: string, e: Endpoint): Uint8Array {
  const bytes = typeof e.address === "string" ? ipBytes(e.address) : undefined;
  if (bytes === undefined) {
    throw new TypeError(
      `Cannot ${op}: ${what} address "${String(e.address)}" is not an IP address`,
    );
  }
  if (!isInt(e.port, 0, U16_MAX)) {
    throw new RangeError(`Cannot ${op}: ${what} port ${String(e.port)} is not in 0..65535`);
  }
  return bytes;
}

function tunnelOp(spec: { tunnelId: unknown }): string {
  return `create tunnel ${String(spec.tunnelId)}`;
}

function sessionOp(spec: { tunnelId: unknown; sessionId: unknown }): string {
  return `create session ${String(spec.tunnelId)}/${String(spec.sessionId)}`;
}

/**
 * Check a tunnel spec before anything is sent to the kernel.
 *
 * Rules: version 2 or 3; encap "udp" or "ip", and "ip" needs L2TPv3; IDs non-zero, 16-bit for
 * v2 and 32-bit for v3; either a socket `fd` (managed) or both `local` and `peer` of one address
 * family (unmanaged); ports 0..65535; debug a u32.
 *
 * @throws {RangeError | TypeError | Error} "Cannot create tunnel N: ...".
 * @example Usage
 * ```ts
 * import { validateTunnelSpec } from "./l2tp_genl.ts";
 * validateTunnelSpec({
 *   tunnelId: 1, peerTunnelId: 2, version: 3, encap: "ip",
 *   local: { address: "10.0.0.1", port: 0 }, peer: { address: "10.0.0.2", port: 0 },
 * });
 * ```
 */
export function validateTunnelSpec(spec: TunnelSpec): void {
  checkTunnelSpec(spec);
}

/** {@linkcode validateTunnelSpec}, returning the parsed addresses of an unmanaged tunnel. */
function checkTunnelSpec(spec: TunnelSpec): { local: Uint8Array; peer: Uint8Array } | undefined {
  const op = tunnelOp(spec);
  if (spec.version !== 2 && spec.version !== 3) {
    throw new RangeError(`Cannot ${op}: version ${String(spec.version)} is not 2 or 3`);
  }
  if (spec.encap !== "udp" && spec.encap !== "ip") {
    throw new RangeError(`Cannot ${op}: encapsulation "${String(spec.encap)}" is not udp or ip`);
  }
  if (spec.encap === "ip" && spec.version !== 3) {
    throw new Error(`Cannot ${op}: IP encapsulation needs L2TPv3 (L2TPv2 runs only over UDP)`);
  }
  checkId("tunnel ID", op, spec.tunnelId, spec.version);
  checkId("peer tunnel ID", op, spec.peerTunnelId, spec.version);
  checkOptionalInt(op, "debug mask", spec.debug, 0, U32_MAX);
  if (spec.fd !== undefined) {
    checkOptionalInt(op, "socket fd", spec.fd, 0, 0x7fffffff);
    return undefined;
  }
  if (spec.local === undefined || spec.peer === undefined) {
    throw new Error(
      `Cannot ${op}: give either a tunnel socket fd (managed) or both local and peer endpoints (unmanaged)`,
    );
  }
  const local = checkEndpoint(op, "local", spec.local);
  const peer = checkEndpoint(op, "peer", spec.peer);
  if (local.length !== peer.length) {
    throw new Error(
      `Cannot ${op}: local ${spec.local.address} and peer ${spec.peer.address} are of different address families`,
    );
  }
  return { local, peer };
}

function checkCookie(op: string, what: string, c: Uint8Array | undefined): void {
  if (c === undefined) return;
  if (!(c instanceof Uint8Array) || ![0, 4, 8].includes(c.length)) {
    throw new RangeError(
      `Cannot ${op}: ${what} must be 0, 4 or 8 bytes, not ${
        c instanceof Uint8Array ? c.length : typeof c
      }`,
    );
  }
}

/**
 * Check a session spec before anything is sent to the kernel.
 *
 * Rules: IDs non-zero, 16-bit for v2 and 32-bit for v3 (32-bit when `version` is unknown);
 * pseudowire "eth" or "ppp", and L2TPv2 carries only PPP; cookies 0, 4 or 8 bytes and L2TPv3
 * only; L2-Specific Sublayer length 0 or 4 and consistent with its type; interface name 1..15
 * bytes; MTU 68..65535; reorder timeout and debug mask non-negative integers.
 *
 * @param spec The session.
 * @param version The tunnel's protocol version, when known.
 * @throws {RangeError | TypeError | Error} "Cannot create session T/S: ...".
 * @example Usage
 * ```ts
 * import { validateSessionSpec } from "./l2tp_genl.ts";
 * validateSessionSpec({ tunnelId: 1, sessionId: 2, peerSessionId: 3, pseudowire: "eth" }, 3);
 * ```
 */
export function validateSessionSpec(spec: SessionSpec, version?: L2tpVersion): void {
  const op = sessionOp(spec);
  checkId("tunnel ID", op, spec.tunnelId, version);
  checkId("session ID", op, spec.sessionId, version);
  checkId("peer session ID", op, spec.peerSessionId, version);
  if (spec.pseudowire !== "eth" && spec.pseudowire !== "ppp") {
    throw new RangeError(`Cannot ${op}: pseudowire "${String(spec.pseudowire)}" is not eth or ppp`);
  }
  if (version === 2 && spec.pseudowire !== "ppp") {
    throw new Error(`Cannot ${op}: L2TPv2 carries only PPP pseudowires`);
  }
  checkCookie(op, "cookie", spec.cookie);
  checkCookie(op, "peer cookie", spec.peerCookie);
  if (version === 2 && ((spec.cookie?.length ?? 0) > 0 || (spec.peerCookie?.length ?? 0) > 0)) {
    throw new Error(`Cannot ${op}: cookies are an L2TPv3 feature`);
  }
  if (
    spec.l2specType !== undefined && spec.l2specType !== "none" && spec.l2specType !== "default"
  ) {
    throw new RangeError(
      `Cannot ${op}: L2-Specific Sublayer type "${String(spec.l2specType)}" is not none or default`,
    );
  }
  if (spec.l2specLen !== undefined && spec.l2specLen !== 0 && spec.l2specLen !== 4) {
    throw new RangeError(
      `Cannot ${op}: L2-Specific Sublayer length ${String(spec.l2specLen)} is not 0 or 4`,
    );
  }
  if (spec.l2specType !== undefined && spec.l2specLen !== undefined) {
    const want = spec.l2specType === "none" ? 0 : 4;
    if (spec.l2specLen !== want) {
      throw new RangeError(
        `Cannot ${op}: L2-Specific Sublayer type ${spec.l2specType} has length ${want}, not ${spec.l2specLen}`,
      );
    }
  }
  if (spec.ifname !== undefined) {
    const n = typeof spec.ifname === "string" ? new TextEncoder().encode(spec.ifname).length : 0;
    if (n < 1 || n >= IFNAMSIZ || /[\s/:\0]/.test(spec.ifname)) {
      throw new RangeError(
        `Cannot ${op}: interface name "${
          String(spec.ifname)
        }" must be 1 to 15 bytes without whitespace, '/' or ':'`,
      );
    }
  }
  checkOptionalInt(op, "MTU", spec.mtu, 68, U16_MAX);
  checkOptionalInt(op, "reorder timeout (ms)", spec.reorderTimeoutMs, 0, Number.MAX_SAFE_INTEGER);
  checkOptionalInt(op, "debug mask", spec.debug, 0, U32_MAX);
}

function genl(command: number, ae: AttributeEncoder): GenlMessage {
  return { header: { command, version: L2TP_GENL_VERSION }, attributes: ae.view() };
}

const ENCAP_NUMBER: Record<Encap, number> = { udp: L2TP_ENCAPTYPE.UDP, ip: L2TP_ENCAPTYPE.IP };
const PW_NUMBER: Record<PseudowireType, number> = { eth: L2TP_PWTYPE.ETH, ppp: L2TP_PWTYPE.PPP };
const L2SPEC_NUMBER: Record<L2SpecType, number> = {
  none: L2TP_L2SPECTYPE.NONE,
  default: L2TP_L2SPECTYPE.DEFAULT,
};

/**
 * L2TP_CMD_TUNNEL_CREATE for a spec (validated first).
 *
 * Attributes, in order: CONN_ID, PEER_CONN_ID, PROTO_VERSION, ENCAP_TYPE; then FD (managed) or
 * IP_SADDR/IP_DADDR or IP6_SADDR/IP6_DADDR (unmanaged) with, for UDP, UDP_SPORT/UDP_DPORT and
 * UDP_CSUM (flag-like: sent only when on) or UDP_ZERO_CSUM6_TX/RX; then DEBUG when given.
 *
 * @example Usage
 * ```ts
 * import { tunnelCreateRequest } from "./l2tp_genl.ts";
 * const g = tunnelCreateRequest({ tunnelId: 1, peerTunnelId: 2, version: 3, encap: "udp", fd: 7 });
 * console.log(g.header.command); // 1
 * ```
 */
export function tunnelCreateRequest(spec: TunnelSpec): GenlMessage {
  const addresses = checkTunnelSpec(spec);
  const ae = new AttributeEncoder()
    .u32(L2TP_ATTR.CONN_ID, spec.tunnelId)
    .u32(L2TP_ATTR.PEER_CONN_ID, spec.peerTunnelId)
    .u8(L2TP_ATTR.PROTO_VERSION, spec.version)
    .u16(L2TP_ATTR.ENCAP_TYPE, ENCAP_NUMBER[spec.encap]);
  if (spec.fd !== undefined) {
    ae.u32(L2TP_ATTR.FD, spec.fd);
  } else if (addresses !== undefined && spec.local !== undefined && spec.peer !== undefined) {
    const { local, peer } = addresses;
    const v6 = local.length === 16;
    ae.bytes(v6 ? L2TP_ATTR.IP6_SADDR : L2TP_ATTR.IP_SADDR, local);
    ae.bytes(v6 ? L2TP_ATTR.IP6_DADDR : L2TP_ATTR.IP_DADDR, peer);
    if (spec.encap === "udp") {
      ae.u16(L2TP_ATTR.UDP_SPORT, spec.local.port);
      ae.u16(L2TP_ATTR.UDP_DPORT, spec.peer.port);
      if (!v6 && spec.udpChecksum === true) ae.u8(L2TP_ATTR.UDP_CSUM, 1);
      if (v6 && spec.udp6ZeroChecksumTx === true) ae.flag(L2TP_ATTR.UDP_ZERO_CSUM6_TX);
      if (v6 && spec.udp6ZeroChecksumRx === true) ae.flag(L2TP_ATTR.UDP_ZERO_CSUM6_RX);
    }
  }
  if (spec.debug !== undefined) ae.u32(L2TP_ATTR.DEBUG, spec.debug);
  return genl(L2TP_CMD.TUNNEL_CREATE, ae);
}

function checkTunnelId(op: string, tunnelId: number): void {
  if (!isInt(tunnelId, 1, U32_MAX)) {
    throw new RangeError(`Cannot ${op}: tunnel ID ${String(tunnelId)} is not in 1..4294967295`);
  }
}

function checkSessionIds(op: string, tunnelId: number, sessionId: number): void {
  checkTunnelId(op, tunnelId);
  if (!isInt(sessionId, 1, U32_MAX)) {
    throw new RangeError(`Cannot ${op}: session ID ${String(sessionId)} is not in 1..4294967295`);
  }
}

/**
 * L2TP_CMD_TUNNEL_DELETE.
 *
 * @example Usage
 * ```ts
 * import { tunnelDeleteRequest } from "./l2tp_genl.ts";
 * console.log(tunnelDeleteRequest(42).header.command); // 2
 * ```
 */
export function tunnelDeleteRequest(tunnelId: number): GenlMessage {
  checkTunnelId(`delete tunnel ${tunnelId}`, tunnelId);
  return genl(L2TP_CMD.TUNNEL_DELETE, new AttributeEncoder().u32(L2TP_ATTR.CONN_ID, tunnelId));
}

/**
 * L2TP_CMD_TUNNEL_MODIFY (the kernel accepts only the debug mask, which it ignores nowadays).
 *
 * @example Usage
 * ```ts
 * import { tunnelModifyRequest } from "./l2tp_genl.ts";
 * console.log(tunnelModifyRequest(42, { debug: 0 }).header.command); // 3
 * ```
 */
export function tunnelModifyRequest(tunnelId: number, changes: TunnelChanges): GenlMessage {
  const op = `modify tunnel ${tunnelId}`;
  checkTunnelId(op, tunnelId);
  checkOptionalInt(op, "debug mask", changes.debug, 0, U32_MAX);
  const ae = new AttributeEncoder().u32(L2TP_ATTR.CONN_ID, tunnelId);
  if (changes.debug !== undefined) ae.u32(L2TP_ATTR.DEBUG, changes.debug);
  return genl(L2TP_CMD.TUNNEL_MODIFY, ae);
}

/**
 * L2TP_CMD_TUNNEL_GET for one tunnel, or (no ID) the payload of a dump of all tunnels.
 *
 * @example Usage
 * ```ts
 * import { tunnelGetRequest } from "./l2tp_genl.ts";
 * console.log(tunnelGetRequest().attributes.length); // 0
 * ```
 */
export function tunnelGetRequest(tunnelId?: number): GenlMessage {
  const ae = new AttributeEncoder();
  if (tunnelId !== undefined) {
    checkTunnelId(`get tunnel ${tunnelId}`, tunnelId);
    ae.u32(L2TP_ATTR.CONN_ID, tunnelId);
  }
  return genl(L2TP_CMD.TUNNEL_GET, ae);
}

/**
 * L2TP_CMD_SESSION_CREATE for a spec (validated first; `version` is the tunnel's, when known).
 *
 * Attributes, in order: CONN_ID, SESSION_ID, PEER_SESSION_ID, PW_TYPE; then, when given,
 * L2SPEC_TYPE, L2SPEC_LEN, COOKIE, PEER_COOKIE (non-empty only), IFNAME, RECV_SEQ, SEND_SEQ,
 * LNS_MODE, RECV_TIMEOUT, MTU, DEBUG.
 *
 * @example Usage
 * ```ts
 * import { sessionCreateRequest } from "./l2tp_genl.ts";
 * const g = sessionCreateRequest({ tunnelId: 1, sessionId: 2, peerSessionId: 3, pseudowire: "ppp" });
 * console.log(g.header.command); // 5
 * ```
 */
export function sessionCreateRequest(spec: SessionSpec, version?: L2tpVersion): GenlMessage {
  validateSessionSpec(spec, version);
  const ae = new AttributeEncoder()
    .u32(L2TP_ATTR.CONN_ID, spec.tunnelId)
    .u32(L2TP_ATTR.SESSION_ID, spec.sessionId)
    .u32(L2TP_ATTR.PEER_SESSION_ID, spec.peerSessionId)
    .u16(L2TP_ATTR.PW_TYPE, PW_NUMBER[spec.pseudowire]);
  if (spec.l2specType !== undefined) ae.u8(L2TP_ATTR.L2SPEC_TYPE, L2SPEC_NUMBER[spec.l2specType]);
  if (spec.l2specLen !== undefined) ae.u8(L2TP_ATTR.L2SPEC_LEN, spec.l2specLen);
  if (spec.cookie !== undefined && spec.cookie.length > 0) {
    ae.bytes(L2TP_ATTR.COOKIE, spec.cookie);
  }
  if (spec.peerCookie !== undefined && spec.peerCookie.length > 0) {
    ae.bytes(L2TP_ATTR.PEER_COOKIE, spec.peerCookie);
  }
  if (spec.ifname !== undefined) ae.string(L2TP_ATTR.IFNAME, spec.ifname);
  if (spec.recvSeq !== undefined) ae.u8(L2TP_ATTR.RECV_SEQ, spec.recvSeq ? 1 : 0);
  if (spec.sendSeq !== undefined) ae.u8(L2TP_ATTR.SEND_SEQ, spec.sendSeq ? 1 : 0);
  if (spec.lnsMode !== undefined) ae.u8(L2TP_ATTR.LNS_MODE, spec.lnsMode ? 1 : 0);
  if (spec.reorderTimeoutMs !== undefined) {
    ae.u64(L2TP_ATTR.RECV_TIMEOUT, spec.reorderTimeoutMs);
  }
  if (spec.mtu !== undefined) ae.u16(L2TP_ATTR.MTU, spec.mtu);
  if (spec.debug !== undefined) ae.u32(L2TP_ATTR.DEBUG, spec.debug);
  return genl(L2TP_CMD.SESSION_CREATE, ae);
}

/**
 * L2TP_CMD_SESSION_DELETE.
 *
 * @example Usage
 * ```ts
 * import { sessionDeleteRequest } from "./l2tp_genl.ts";
 * console.log(sessionDeleteRequest(1, 2).header.command); // 6
 * ```
 */
export function sessionDeleteRequest(tunnelId: number, sessionId: number): GenlMessage {
  checkSessionIds(`delete session ${tunnelId}/${sessionId}`, tunnelId, sessionId);
  return genl(
    L2TP_CMD.SESSION_DELETE,
    new AttributeEncoder().u32(L2TP_ATTR.CONN_ID, tunnelId).u32(L2TP_ATTR.SESSION_ID, sessionId),
  );
}

/**
 * L2TP_CMD_SESSION_MODIFY with the given changes.
 *
 * @example Usage
 * ```ts
 * import { sessionModifyRequest } from "./l2tp_genl.ts";
 * console.log(sessionModifyRequest(1, 2, { sendSeq: true }).header.command); // 7
 * ```
 */
export function sessionModifyRequest(
  tunnelId: number,
  sessionId: number,
  changes: SessionChanges,
): GenlMessage {
  const op = `modify session ${tunnelId}/${sessionId}`;
  checkSessionIds(op, tunnelId, sessionId);
  checkOptionalInt(
    op,
    "reorder timeout (ms)",
    changes.reorderTimeoutMs,
    0,
    Number.MAX_SAFE_INTEGER,
  );
  checkOptionalInt(op, "debug mask", changes.debug, 0, U32_MAX);
  const ae = new AttributeEncoder()
    .u32(L2TP_ATTR.CONN_ID, tunnelId)
    .u32(L2TP_ATTR.SESSION_ID, sessionId);
  if (changes.recvSeq !== undefined) ae.u8(L2TP_ATTR.RECV_SEQ, changes.recvSeq ? 1 : 0);
  if (changes.sendSeq !== undefined) ae.u8(L2TP_ATTR.SEND_SEQ, changes.sendSeq ? 1 : 0);
  if (changes.lnsMode !== undefined) ae.u8(L2TP_ATTR.LNS_MODE, changes.lnsMode ? 1 : 0);
  if (changes.reorderTimeoutMs !== undefined) {
    ae.u64(L2TP_ATTR.RECV_TIMEOUT, changes.reorderTimeoutMs);
  }
  if (changes.debug !== undefined) ae.u32(L2TP_ATTR.DEBUG, changes.debug);
  return genl(L2TP_CMD.SESSION_MODIFY, ae);
}

/**
 * L2TP_CMD_SESSION_GET for one session, or (no IDs) the payload of a dump of all sessions.
 *
 * @example Usage
 * ```ts
 * import { sessionGetRequest } from "./l2tp_genl.ts";
 * console.log(sessionGetRequest(1, 2).header.command); // 8
 * ```
 */
export function sessionGetRequest(tunnelId?: number, sessionId?: number): GenlMessage {
  const ae = new AttributeEncoder();
  if (tunnelId !== undefined && sessionId !== undefined) {
    checkSessionIds(`get session ${tunnelId}/${sessionId}`, tunnelId, sessionId);
    ae.u32(L2TP_ATTR.CONN_ID, tunnelId).u32(L2TP_ATTR.SESSION_ID, sessionId);
  }
  return genl(L2TP_CMD.SESSION_GET, ae);
}

/**
 * Parse an L2TP_ATTR_STATS nest (PAD attributes are skipped, unknown ones ignored).
 *
 * @example Usage
 * ```ts
 * import { parseStats } from "./l2tp_genl.ts";
 * import { AttributeEncoder } from "./netlink/attr.ts";
 * console.log(parseStats(new AttributeEncoder().u64(4, 10n).encode()).rxPackets); // 10n
 * ```
 */
export function parseStats(nest: Uint8Array, baseOffset = 0): Stats {
  const s = zeroStats();
  const ad = new AttributeDecoder(nest, baseOffset);
  while (ad.next()) {
    switch (ad.type) {
      case L2TP_ATTR_STATS.TX_PACKETS:
        s.txPackets = ad.u64();
        break;
      case L2TP_ATTR_STATS.TX_BYTES:
        s.txBytes = ad.u64();
        break;
      case L2TP_ATTR_STATS.TX_ERRORS:
        s.txErrors = ad.u64();
        break;
      case L2TP_ATTR_STATS.RX_PACKETS:
        s.rxPackets = ad.u64();
        break;
      case L2TP_ATTR_STATS.RX_BYTES:
        s.rxBytes = ad.u64();
        break;
      case L2TP_ATTR_STATS.RX_SEQ_DISCARDS:
        s.rxSeqDiscards = ad.u64();
        break;
      case L2TP_ATTR_STATS.RX_OOS_PACKETS:
        s.rxOosPackets = ad.u64();
        break;
      case L2TP_ATTR_STATS.RX_ERRORS:
        s.rxErrors = ad.u64();
        break;
      case L2TP_ATTR_STATS.RX_COOKIE_DISCARDS:
        s.rxCookieDiscards = ad.u64();
        break;
      case L2TP_ATTR_STATS.RX_INVALID:
        s.rxInvalid = ad.u64();
        break;
      default: // PAD and attributes from newer kernels
        break;
    }
  }
  return s;
}

function versionOf(v: number, offset: number): L2tpVersion {
  if (v === 2 || v === 3) return v;
  throw new NetlinkDecodeError("l2tp attribute", offset, `protocol version ${v} is not 2 or 3`);
}

function ipAddr(ad: AttributeDecoder, size: number): string {
  if (ad.length !== size) {
    throw new NetlinkDecodeError(
      "l2tp attribute",
      ad.current.offset,
      `address attribute ${ad.type} has ${ad.length} bytes, expected ${size}`,
    );
  }
  return formatIP(ad.bytes());
}

/**
 * Parse the attributes of a TUNNEL_GET / TUNNEL_CREATE reply.
 *
 * The kernel reports addresses and ports of the tunnel socket (managed or not): they become
 * `local` / `peer` (port 0 for IP encapsulation).
 *
 * @throws {NetlinkDecodeError} on malformed attributes or missing CONN_ID / PEER_CONN_ID /
 *   PROTO_VERSION.
 * @example Usage
 * A create request carries the attributes the kernel's answers to a get have:
 * ```ts
 * import { parseTunnel, tunnelCreateRequest } from "./l2tp_genl.ts";
 * const { attributes } = tunnelCreateRequest({
 *   tunnelId: 42, peerTunnelId: 45, version: 3, encap: "udp",
 *   local: { address: "192.0.2.1", port: 5000 }, peer: { address: "192.0.2.2", port: 5001 },
 * });
 * console.log(parseTunnel(attributes).tunnelId); // 42
 * ```
 */
export function parseTunnel(attributes: Uint8Array, baseOffset = 0): TunnelInfo {
  let tunnelId: number | undefined;
  let peerTunnelId: number | undefined;
  let version: L2tpVersion | undefined;
  let encap: Encap = "udp";
  let saddr: string | undefined;
  let daddr: string | undefined;
  let sport = 0;
  let dport = 0;
  let stats = zeroStats();
  const info: Partial<TunnelInfo> = {};
  const ad = new AttributeDecoder(attributes, baseOffset);
  while (ad.next()) {
    switch (ad.type) {
      case L2TP_ATTR.CONN_ID:
        tunnelId = ad.u32();
        break;
      case L2TP_ATTR.PEER_CONN_ID:
        peerTunnelId = ad.u32();
        break;
      case L2TP_ATTR.PROTO_VERSION:
        version = versionOf(ad.u8(), ad.current.offset);
        break;
      case L2TP_ATTR.ENCAP_TYPE:
        encap = ad.u16() === L2TP_ENCAPTYPE.IP ? "ip" : "udp";
        break;
      case L2TP_ATTR.DEBUG:
        info.debug = ad.u32();
        break;
      case L2TP_ATTR.UDP_CSUM:
        info.udpChecksum = ad.length === 0 ? true : ad.u8() !== 0;
        break;
      case L2TP_ATTR.UDP_ZERO_CSUM6_TX:
        info.udp6ZeroChecksumTx = true;
        break;
      case L2TP_ATTR.UDP_ZERO_CSUM6_RX:
        info.udp6ZeroChecksumRx = true;
        break;
      case L2TP_ATTR.UDP_SPORT:
        sport = ad.u16();
        break;
      case L2TP_ATTR.UDP_DPORT:
        dport = ad.u16();
        break;
      case L2TP_ATTR.IP_SADDR:
        saddr = ipAddr(ad, 4);
        break;
      case L2TP_ATTR.IP_DADDR:
        daddr = ipAddr(ad, 4);
        break;
      case L2TP_ATTR.IP6_SADDR:
        saddr = ipAddr(ad, 16);
        break;
      case L2TP_ATTR.IP6_DADDR:
        daddr = ipAddr(ad, 16);
        break;
      case L2TP_ATTR.STATS:
        stats = parseStats(ad.current.data, ad.current.offset + 4);
        break;
      default: // PAD and attributes we do not use
        break;
    }
  }
  if (tunnelId === undefined || peerTunnelId === undefined || version === undefined) {
    throw new NetlinkDecodeError(
      "l2tp tunnel",
      baseOffset,
      "reply lacks CONN_ID, PEER_CONN_ID or PROTO_VERSION",
    );
  }
  const out: TunnelInfo = { tunnelId, peerTunnelId, version, encap, stats };
  if (saddr !== undefined) out.local = { address: saddr, port: sport };
  if (daddr !== undefined) out.peer = { address: daddr, port: dport };
  if (info.udpChecksum !== undefined) out.udpChecksum = info.udpChecksum;
  if (info.udp6ZeroChecksumTx !== undefined) out.udp6ZeroChecksumTx = true;
  if (info.udp6ZeroChecksumRx !== undefined) out.udp6ZeroChecksumRx = true;
  if (info.debug !== undefined) out.debug = info.debug;
  return out;
}

/**
 * A session reply whose pseudowire type this library does not model (e.g. one made by another
 * tool with L2TP_PWTYPE_PPP_AC); listings skip such sessions.
 *
 * @example Usage
 * ```ts
 * import { UnsupportedPseudowireError } from "./l2tp_genl.ts";
 * console.log(new UnsupportedPseudowireError(40, 8).pwType); // 8
 * ```
 */
export class UnsupportedPseudowireError extends NetlinkDecodeError {
  /** The kernel's pseudowire type number. */
  readonly pwType: number;

  /**
   * Make the error.
   *
   * @param offset Offset of the PW_TYPE attribute.
   * @param pwType The pseudowire type number.
   */
  constructor(offset: number, pwType: number) {
    super("l2tp session", offset, `pseudowire type ${pwType} is not supported`);
    this.name = "UnsupportedPseudowireError";
    this.pwType = pwType;
  }
}

/**
 * Parse the attributes of a SESSION_GET / SESSION_CREATE reply.
 *
 * @throws {NetlinkDecodeError} on malformed attributes or missing CONN_ID / SESSION_ID /
 *   PEER_SESSION_ID / PW_TYPE; {@linkcode UnsupportedPseudowireError} for a pseudowire type
 *   other than Ethernet or PPP.
 * @example Usage
 * A create request carries the attributes the kernel's answers to a get have:
 * ```ts
 * import { parseSession, sessionCreateRequest } from "./l2tp_genl.ts";
 * const { attributes } = sessionCreateRequest({
 *   tunnelId: 42, sessionId: 128, peerSessionId: 5196755, pseudowire: "eth", ifname: "l2tpeth7",
 * }, 3);
 * console.log(parseSession(attributes).ifname); // "l2tpeth7"
 * ```
 */
export function parseSession(attributes: Uint8Array, baseOffset = 0): SessionInfo {
  let tunnelId: number | undefined;
  let sessionId: number | undefined;
  let peerSessionId: number | undefined;
  let pwType: number | undefined;
  let pwOffset = baseOffset;
  const out: Partial<SessionInfo> = {};
  let stats = zeroStats();
  const ad = new AttributeDecoder(attributes, baseOffset);
  while (ad.next()) {
    switch (ad.type) {
      case L2TP_ATTR.CONN_ID:
        tunnelId = ad.u32();
        break;
      case L2TP_ATTR.SESSION_ID:
        sessionId = ad.u32();
        break;
      case L2TP_ATTR.PEER_CONN_ID:
        out.peerTunnelId = ad.u32();
        break;
      case L2TP_ATTR.PEER_SESSION_ID:
        peerSessionId = ad.u32();
        break;
      case L2TP_ATTR.PW_TYPE:
        pwType = ad.u16();
        pwOffset = ad.current.offset;
        break;
      case L2TP_ATTR.IFNAME:
        out.ifname = ad.string();
        break;
      case L2TP_ATTR.COOKIE:
        out.cookie = ad.bytes();
        break;
      case L2TP_ATTR.PEER_COOKIE:
        out.peerCookie = ad.bytes();
        break;
      case L2TP_ATTR.RECV_SEQ:
        out.recvSeq = ad.u8() !== 0;
        break;
      case L2TP_ATTR.SEND_SEQ:
        out.sendSeq = ad.u8() !== 0;
        break;
      case L2TP_ATTR.LNS_MODE:
        out.lnsMode = ad.u8() !== 0;
        break;
      case L2TP_ATTR.RECV_TIMEOUT:
        out.reorderTimeoutMs = Number(ad.u64());
        break;
      case L2TP_ATTR.L2SPEC_TYPE:
        out.l2specType = ad.u8() === L2TP_L2SPECTYPE.NONE ? "none" : "default";
        break;
      case L2TP_ATTR.L2SPEC_LEN:
        out.l2specLen = ad.u8();
        break;
      case L2TP_ATTR.STATS:
        stats = parseStats(ad.current.data, ad.current.offset + 4);
        break;
      default: // DEBUG, USING_IPSEC, MTU, PAD and attributes we do not use
        break;
    }
  }
  if (
    tunnelId === undefined || sessionId === undefined || peerSessionId === undefined ||
    pwType === undefined
  ) {
    throw new NetlinkDecodeError(
      "l2tp session",
      baseOffset,
      "reply lacks CONN_ID, SESSION_ID, PEER_SESSION_ID or PW_TYPE",
    );
  }
  let pseudowire: PseudowireType;
  if (pwType === L2TP_PWTYPE.ETH) pseudowire = "eth";
  else if (pwType === L2TP_PWTYPE.PPP) pseudowire = "ppp";
  else throw new UnsupportedPseudowireError(pwOffset, pwType);
  const info: SessionInfo = {
    tunnelId,
    sessionId,
    peerSessionId,
    pseudowire,
    sendSeq: out.sendSeq ?? false,
    recvSeq: out.recvSeq ?? false,
    lnsMode: out.lnsMode ?? false,
    reorderTimeoutMs: out.reorderTimeoutMs ?? 0,
    stats,
  };
  if (out.peerTunnelId !== undefined) info.peerTunnelId = out.peerTunnelId;
  if (out.cookie !== undefined) info.cookie = out.cookie;
  if (out.peerCookie !== undefined) info.peerCookie = out.peerCookie;
  if (out.ifname !== undefined) info.ifname = out.ifname;
  if (out.l2specType !== undefined) info.l2specType = out.l2specType;
  if (out.l2specLen !== undefined) info.l2specLen = out.l2specLen;
  return info;
}

/** Recently parsed addresses: a host's tunnels mostly share their local (and peer) address. */
const ipCache = new Map<string, Uint8Array>();
const IP_CACHE_SIZE = 64;

/**
 * Address bytes of IP text (a "%zone" suffix ignored), or undefined when it is not an IP. The
 * result may be shared: callers only read it.
 */
function ipBytes(text: string): Uint8Array | undefined {
  const cached = ipCache.get(text);
  if (cached !== undefined) return cached;
  const bytes = parseIpBytes(text);
  if (bytes !== undefined) {
    if (ipCache.size >= IP_CACHE_SIZE) ipCache.clear();
    ipCache.set(text, bytes);
  }
  return bytes;
}

function parseIpBytes(text: string): Uint8Array | undefined {
  const { address } = splitZone(text);
  if (ipFamily(address) === 4) {
    // The common case, parsed once (isIP then parseIP would parse it twice).
    try {
      return parseIPv4(address);
    } catch {
      return undefined;
    }
  }
  return isIP(address) ? parseIP(address) : undefined;
}
