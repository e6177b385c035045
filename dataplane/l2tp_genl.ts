/**
 * The Linux "l2tp" generic netlink family (include/uapi/linux/l2tp.h): pure builders of request
 * payloads from {@linkcode TunnelSpec} / {@linkcode SessionSpec} and IDs, and (re-exported from
 * its parts) the family's numbers, spec validation and parsers of GET replies into
 * {@linkcode TunnelInfo} / {@linkcode SessionInfo}.
 *
 * Nothing here does I/O: a builder returns a {@linkcode GenlMessage} (genl header + attributes)
 * that the caller frames for the resolved family id.
 *
 * This module is the entry; its parts, each importing only those below it:
 * - `l2tp_genl_parse.ts`: {@linkcode parseTunnel}, {@linkcode parseSession},
 *   {@linkcode parseStats}, {@linkcode UnsupportedPseudowireError};
 * - `l2tp_genl_validate.ts`: {@linkcode validateTunnelSpec}, {@linkcode validateSessionSpec}
 *   and the checks of the other requests;
 * - `l2tp_genl_constants.ts`: command, attribute and type numbers ({@linkcode L2TP_CMD},
 *   {@linkcode L2TP_ATTR}, ...).
 *
 * @example Usage
 * ```ts
 * import { L2TP_CMD, parseTunnel, tunnelCreateRequest } from "./l2tp_genl.ts";
 * const g = tunnelCreateRequest({
 *   tunnelId: 42, peerTunnelId: 45, version: 3, encap: "ip",
 *   local: { address: "192.0.2.1", port: 0 }, peer: { address: "192.0.2.2", port: 0 },
 * });
 * console.log(g.header.command === L2TP_CMD.TUNNEL_CREATE, parseTunnel(g.attributes).encap);
 * // true "ip"
 * ```
 *
 * @module
 */

import type {
  Encap,
  L2SpecType,
  L2tpVersion,
  PseudowireType,
  SessionChanges,
  SessionSpec,
  TunnelChanges,
  TunnelSpec,
} from "./dataplane.ts";
import {
  L2TP_ATTR,
  L2TP_CMD,
  L2TP_ENCAPTYPE,
  L2TP_GENL_VERSION,
  L2TP_L2SPECTYPE,
  L2TP_PWTYPE,
} from "./l2tp_genl_constants.ts";
import {
  checkOptionalInt,
  checkSessionIds,
  checkTunnelId,
  checkTunnelSpec,
  validateSessionSpec,
} from "./l2tp_genl_validate.ts";
import { AttributeEncoder } from "./netlink/attr.ts";
import type { GenlMessage } from "./netlink/message.ts";

export {
  L2TP_ATTR,
  L2TP_ATTR_STATS,
  L2TP_CMD,
  L2TP_ENCAPTYPE,
  L2TP_GENL_NAME,
  L2TP_GENL_VERSION,
  L2TP_L2SPECTYPE,
  L2TP_PWTYPE,
} from "./l2tp_genl_constants.ts";
export { validateSessionSpec, validateTunnelSpec } from "./l2tp_genl_validate.ts";
export {
  parseSession,
  parseStats,
  parseTunnel,
  UnsupportedPseudowireError,
} from "./l2tp_genl_parse.ts";

const U32_MAX = 0xffffffff;

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
