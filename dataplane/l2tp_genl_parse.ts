/**
 * Parsers of the l2tp family's replies: the attributes of a TUNNEL_GET / TUNNEL_CREATE reply into
 * a {@linkcode TunnelInfo}, of a SESSION_GET / SESSION_CREATE reply into a
 * {@linkcode SessionInfo}, and the nested statistics into {@linkcode Stats}. Malformed replies
 * raise {@linkcode NetlinkDecodeError} (a pseudowire type we do not model,
 * {@linkcode UnsupportedPseudowireError}). Re-exported by `l2tp_genl.ts`.
 *
 * @example Usage
 * ```ts
 * import { parseSession } from "./l2tp_genl_parse.ts";
 * import { L2TP_ATTR, L2TP_PWTYPE } from "./l2tp_genl_constants.ts";
 * import { AttributeEncoder } from "./netlink/attr.ts";
 * const reply = new AttributeEncoder()
 *   .u32(L2TP_ATTR.CONN_ID, 1).u32(L2TP_ATTR.SESSION_ID, 2).u32(L2TP_ATTR.PEER_SESSION_ID, 3)
 *   .u16(L2TP_ATTR.PW_TYPE, L2TP_PWTYPE.PPP).encode();
 * console.log(parseSession(reply).pseudowire); // "ppp"
 * ```
 *
 * @module
 */

import type {
  Encap,
  L2tpVersion,
  PseudowireType,
  SessionInfo,
  Stats,
  TunnelInfo,
} from "./dataplane.ts";
import { zeroStats } from "./dataplane.ts";
import {
  L2TP_ATTR,
  L2TP_ATTR_STATS,
  L2TP_ENCAPTYPE,
  L2TP_L2SPECTYPE,
  L2TP_PWTYPE,
} from "./l2tp_genl_constants.ts";
import { AttributeDecoder } from "./netlink/attr.ts";
import { NetlinkDecodeError } from "./netlink/errors.ts";
import { formatIP } from "./ffi/sockaddr.ts";

/**
 * Parse an L2TP_ATTR_STATS nest (PAD attributes are skipped, unknown ones ignored).
 *
 * @example Usage
 * ```ts
 * import { parseStats } from "./l2tp_genl_parse.ts";
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
 * import { parseTunnel } from "./l2tp_genl_parse.ts";
 * import { tunnelCreateRequest } from "./l2tp_genl.ts";
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
 * import { UnsupportedPseudowireError } from "./l2tp_genl_parse.ts";
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
 * import { parseSession } from "./l2tp_genl_parse.ts";
 * import { sessionCreateRequest } from "./l2tp_genl.ts";
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
