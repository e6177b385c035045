/**
 * Socket addresses as bytes: `struct sockaddr_in`, `sockaddr_in6`, `sockaddr_l2tpip`,
 * `sockaddr_l2tpip6` and the four `sockaddr_pppol2tp*` variants. The IP text forms are defined in
 * `control/endpoint.ts` (re-exported here).
 *
 * Everything here is pure (no FFI): encoders return fresh `Uint8Array`s laid out exactly as the
 * Linux UAPI headers define them (`linux/in.h`, `linux/in6.h`, `linux/l2tp.h`,
 * `linux/if_pppox.h`, `linux/if_pppol2tp.h`). Address family and host-order integer fields use the
 * host byte order; ports, IPv4/IPv6 addresses and the IPv6 flow label use network byte order.
 *
 * Layouts (offsets in bytes):
 *
 * | struct                   | size | fields                                                     |
 * | ------------------------ | ---- | ---------------------------------------------------------- |
 * | sockaddr_in              | 16   | family 0, port 2 (be), addr 4, zero 8..15                  |
 * | sockaddr_in6             | 28   | family 0, port 2 (be), flowinfo 4 (be), addr 8, scope 24   |
 * | sockaddr_l2tpip          | 16   | family 0, unused 2, addr 4, conn_id 8, pad 12..15          |
 * | sockaddr_l2tpip6         | 32   | family 0, unused 2, flowinfo 4, addr 8, scope 24, conn 28  |
 * | sockaddr_pppol2tp        | 38   | family 0, proto 2, pid 6, fd 10, sockaddr_in 14, ids 30 u16|
 * | sockaddr_pppol2tpin6     | 50   | family 0, proto 2, pid 6, fd 10, ids 14 u16, sockaddr_in6 22|
 * | sockaddr_pppol2tpv3      | 46   | family 0, proto 2, pid 6, fd 10, sockaddr_in 14, ids 30 u32|
 * | sockaddr_pppol2tpv3in6   | 58   | family 0, proto 2, pid 6, fd 10, ids 14 u32, sockaddr_in6 30|
 * | sockaddr_ll              | 20   | family 0, proto 2 (be), ifindex 4, hatype 8, pkttype 10,   |
 * |                          |      | halen 11, addr 12..19                                      |
 * | sockaddr_pppox (PPPoE)   | 30   | family 0, proto 2, sid 6 (be), remote 8..13, dev 14..29    |
 *
 * The `sockaddr_pppol2tp*` structs are `__packed__`: `sa_protocol` (unsigned int) sits at offset 2.
 * The ids are, in order: source tunnel, source session, destination tunnel, destination session.
 *
 * `struct sockaddr_pppox` (`linux/if_pppox.h`) is `__attribute__((packed))` too: `sa_family`
 * (u16) at 0, `sa_protocol` (unsigned int, `PX_PROTO_OE` = 0) at 2, then the union `sa_addr`
 * at 6, whose largest member is `struct pppoe_addr { sid_t sid; unsigned char remote[ETH_ALEN];
 * char dev[IFNAMSIZ]; }` (2 + 6 + 16 = 24 bytes; `sid_t` is `__be16`): 30 bytes in all, and the
 * kernel's `pppoe_connect()` refuses any other length (EINVAL). `struct sockaddr_ll`
 * (`linux/if_packet.h`) is not packed but has no padding: 20 bytes.
 *
 * @module
 */

import type { Endpoint } from "../../control/types.ts";
import { formatMac, parseMac } from "../../control/mac.ts";
import {
  formatEndpoint,
  formatIP,
  formatIPv4,
  formatIPv6,
  type IpFamily,
  ipFamily,
  isIP,
  parseIP,
  parseIPv4,
  parseIPv6,
  scopeIdOf,
  splitZone,
  type ZoneResolver,
} from "../../control/endpoint.ts";

export type { Endpoint, IpFamily, ZoneResolver };
export {
  formatEndpoint,
  formatIP,
  formatIPv4,
  formatIPv6,
  ipFamily,
  isIP,
  parseIP,
  parseIPv4,
  parseIPv6,
  scopeIdOf,
  splitZone,
};

/** `AF_INET`. */
export const AF_INET = 2;
/** `AF_INET6`. */
export const AF_INET6 = 10;
/** `AF_PPPOX`. */
export const AF_PPPOX = 24;
/** `PX_PROTO_OL2TP`: the PPP-over-L2TP protocol of `AF_PPPOX`. */
export const PX_PROTO_OL2TP = 1;
/** `PX_PROTO_OE`: the PPP-over-Ethernet (PPPoE) protocol of `AF_PPPOX`. */
export const PX_PROTO_OE = 0;
/** `AF_PACKET`: raw link-layer sockets. */
export const AF_PACKET = 17;
/** `IPPROTO_L2TP`: L2TPv3 directly over IP. */
export const IPPROTO_L2TP = 115;

/** `sizeof(struct sockaddr_in)`. */
export const SOCKADDR_IN_SIZE = 16;
/** `sizeof(struct sockaddr_in6)`. */
export const SOCKADDR_IN6_SIZE = 28;
/** `sizeof(struct sockaddr_l2tpip)`. */
export const SOCKADDR_L2TPIP_SIZE = 16;
/** `sizeof(struct sockaddr_l2tpip6)`. */
export const SOCKADDR_L2TPIP6_SIZE = 32;
/** `sizeof(struct sockaddr_pppol2tp)` (packed). */
export const SOCKADDR_PPPOL2TP_SIZE = 38;
/** `sizeof(struct sockaddr_pppol2tpin6)` (packed). */
export const SOCKADDR_PPPOL2TPIN6_SIZE = 50;
/** `sizeof(struct sockaddr_pppol2tpv3)` (packed). */
export const SOCKADDR_PPPOL2TPV3_SIZE = 46;
/** `sizeof(struct sockaddr_pppol2tpv3in6)` (packed). */
export const SOCKADDR_PPPOL2TPV3IN6_SIZE = 58;
/** `sizeof(struct sockaddr_ll)`. */
export const SOCKADDR_LL_SIZE = 20;
/** `sizeof(struct sockaddr_pppox)` (packed). */
export const SOCKADDR_PPPOX_SIZE = 30;
/** `IFNAMSIZ`: bytes of an interface name field, the terminating NUL included. */
export const IFNAMSIZ = 16;
/** `sizeof(struct sockaddr_storage)`: big enough for any address the kernel returns. */
export const SOCKADDR_STORAGE_SIZE = 128;

/** True when the host stores integers little-endian (x86_64, aarch64). */
export const HOST_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new RangeError(`Cannot use port ${port}: not an integer in 0..65535`);
  }
}

function checkU32(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`Cannot use ${what} ${v}: not an integer in 0..4294967295`);
  }
}

function checkU16(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new RangeError(`Cannot use ${what} ${v}: not an integer in 0..65535 (L2TPv2 is 16-bit)`);
  }
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function writeIn(dv: DataView, at: number, address: string, port: number): void {
  checkPort(port);
  dv.setUint16(at, AF_INET, HOST_LITTLE_ENDIAN);
  dv.setUint16(at + 2, port, false);
  new Uint8Array(dv.buffer, dv.byteOffset + at + 4, 4).set(parseIPv4(address));
}

function writeIn6(
  dv: DataView,
  at: number,
  address: string,
  port: number,
  resolve?: ZoneResolver,
): void {
  checkPort(port);
  const scope = scopeIdOf(address, resolve);
  dv.setUint16(at, AF_INET6, HOST_LITTLE_ENDIAN);
  dv.setUint16(at + 2, port, false);
  dv.setUint32(at + 4, 0, false); // flowinfo
  new Uint8Array(dv.buffer, dv.byteOffset + at + 8, 16).set(parseIPv6(splitZone(address).address));
  dv.setUint32(at + 24, scope, HOST_LITTLE_ENDIAN);
}

/**
 * Encode `struct sockaddr_in` (16 bytes).
 *
 * @example Usage
 * ```ts
 * import { encodeSockaddrIn } from "./sockaddr.ts";
 * const sa = encodeSockaddrIn({ address: "127.0.0.1", port: 1701 });
 * console.log(sa[2], sa[3]); // 6 165 (port in network order)
 * ```
 */
export function encodeSockaddrIn(ep: Endpoint): Uint8Array {
  const out = new Uint8Array(SOCKADDR_IN_SIZE);
  writeIn(view(out), 0, ep.address, ep.port);
  return out;
}

/**
 * Encode `struct sockaddr_in6` (28 bytes). A "%zone" suffix sets `sin6_scope_id`.
 *
 * @example Usage
 * ```ts
 * import { encodeSockaddrIn6 } from "./sockaddr.ts";
 * const sa = encodeSockaddrIn6({ address: "::1", port: 1701 });
 * console.log(sa.length, sa[23]); // 28 1
 * ```
 */
export function encodeSockaddrIn6(ep: Endpoint, resolve?: ZoneResolver): Uint8Array {
  const out = new Uint8Array(SOCKADDR_IN6_SIZE);
  writeIn6(view(out), 0, ep.address, ep.port, resolve);
  return out;
}

/**
 * Encode `sockaddr_in` or `sockaddr_in6`, chosen by the address text.
 *
 * @example Usage
 * ```ts
 * import { encodeSockaddr } from "./sockaddr.ts";
 * console.log(encodeSockaddr({ address: "::", port: 0 }).length); // 28
 * ```
 */
export function encodeSockaddr(ep: Endpoint, resolve?: ZoneResolver): Uint8Array {
  return ipFamily(ep.address) === 6 ? encodeSockaddrIn6(ep, resolve) : encodeSockaddrIn(ep);
}

/** A decoded IP socket address: the endpoint plus the L2TPIP connection id, if any. */
export interface DecodedSockaddr extends Endpoint {
  /** `AF_INET` or `AF_INET6`. */
  family: number;
  /** `sockaddr_l2tpip(6)`'s `l2tp_conn_id` when the address was long enough to hold one. */
  connId?: number;
}

/**
 * Decode `sockaddr_in`, `sockaddr_in6`, `sockaddr_l2tpip` or `sockaddr_l2tpip6` (the L2TPIP forms
 * share the family/address offsets and add `connId`). `length` is what the kernel wrote
 * (`socklen_t` out-parameter); a non-zero IPv6 scope id comes back as a numeric "%zone".
 *
 * @example Usage
 * ```ts
 * import { decodeSockaddr, encodeSockaddrIn } from "./sockaddr.ts";
 * const ep = decodeSockaddr(encodeSockaddrIn({ address: "10.1.2.3", port: 99 }));
 * console.log(ep.address, ep.port); // "10.1.2.3" 99
 * ```
 */
export function decodeSockaddr(bytes: Uint8Array, length: number = bytes.length): DecodedSockaddr {
  if (length < 2 || bytes.length < length) {
    throw new RangeError(`Cannot decode socket address: ${length} bytes is too short`);
  }
  const dv = view(bytes);
  const family = dv.getUint16(0, HOST_LITTLE_ENDIAN);
  if (family === AF_INET) {
    if (length < 8) {
      throw new RangeError(`Cannot decode sockaddr_in: ${length} bytes, need at least 8`);
    }
    const port = dv.getUint16(2, false);
    const address = formatIPv4(bytes.slice(4, 8));
    return length >= 12
      ? { family, address, port, connId: dv.getUint32(8, HOST_LITTLE_ENDIAN) }
      : { family, address, port };
  }
  if (family === AF_INET6) {
    if (length < 24) {
      throw new RangeError(`Cannot decode sockaddr_in6: ${length} bytes, need at least 24`);
    }
    const port = dv.getUint16(2, false);
    let address = formatIPv6(bytes.slice(8, 24));
    if (length >= 28) {
      const scope = dv.getUint32(24, HOST_LITTLE_ENDIAN);
      if (scope !== 0) address += `%${scope}`;
    }
    return length >= 32
      ? { family, address, port, connId: dv.getUint32(28, HOST_LITTLE_ENDIAN) }
      : { family, address, port };
  }
  throw new RangeError(`Cannot decode socket address: unsupported family ${family}`);
}

/**
 * Encode `struct sockaddr_l2tpip` (16 bytes): an IPv4 address and an L2TPv3 control connection
 * id (host order; 0 binds a listener that receives SCCRQs for any new tunnel).
 *
 * @example Usage
 * ```ts
 * import { encodeSockaddrL2tpip } from "./sockaddr.ts";
 * console.log(encodeSockaddrL2tpip("192.0.2.1", 42).length); // 16
 * ```
 */
export function encodeSockaddrL2tpip(address: string, connId: number): Uint8Array {
  checkU32("connection ID", connId);
  const out = new Uint8Array(SOCKADDR_L2TPIP_SIZE);
  const dv = view(out);
  writeIn(dv, 0, address, 0);
  dv.setUint32(8, connId, HOST_LITTLE_ENDIAN);
  return out;
}

/**
 * Encode `struct sockaddr_l2tpip6` (32 bytes): IPv6 address, scope id and connection id.
 *
 * @example Usage
 * ```ts
 * import { encodeSockaddrL2tpip6 } from "./sockaddr.ts";
 * console.log(encodeSockaddrL2tpip6("2001:db8::1", 42).length); // 32
 * ```
 */
export function encodeSockaddrL2tpip6(
  address: string,
  connId: number,
  resolve?: ZoneResolver,
): Uint8Array {
  checkU32("connection ID", connId);
  const out = new Uint8Array(SOCKADDR_L2TPIP6_SIZE);
  const dv = view(out);
  writeIn6(dv, 0, address, 0, resolve);
  dv.setUint32(28, connId, HOST_LITTLE_ENDIAN);
  return out;
}

/**
 * Encode `sockaddr_l2tpip` or `sockaddr_l2tpip6`, chosen by the address text.
 *
 * @example Usage
 * ```ts
 * import { encodeL2tpipSockaddr } from "./sockaddr.ts";
 * console.log(encodeL2tpipSockaddr("::1", 7).length); // 32
 * ```
 */
export function encodeL2tpipSockaddr(
  address: string,
  connId: number,
  resolve?: ZoneResolver,
): Uint8Array {
  return ipFamily(address) === 6
    ? encodeSockaddrL2tpip6(address, connId, resolve)
    : encodeSockaddrL2tpip(address, connId);
}

/** What a PPPoL2TP socket's `connect()` needs (`struct pppol2tp*_addr`). */
export interface Pppol2tpAddress {
  /** 2 selects the 16-bit id structs, 3 the 32-bit ones. */
  version: 2 | 3;
  /** Process owning `fd`; 0 (default) means the caller. */
  pid?: number;
  /** The tunnel socket's file descriptor (UDP or L2TPIP). */
  fd: number;
  /** Our tunnel id (`s_tunnel`). */
  tunnelId: number;
  /** Our session id (`s_session`); 0 with `peerSessionId` 0 makes a tunnel management socket. */
  sessionId: number;
  /** The peer's tunnel id (`d_tunnel`). */
  peerTunnelId: number;
  /** The peer's session id (`d_session`). */
  peerSessionId: number;
  /** The peer's address; its family picks the plain or the `in6` variant. */
  peer: Endpoint;
}

/**
 * Encode the `sockaddr_pppol2tp` variant matching the version and the peer's address family:
 * `sockaddr_pppol2tp` (v2, IPv4, 38 bytes), `sockaddr_pppol2tpin6` (v2, IPv6, 50),
 * `sockaddr_pppol2tpv3` (v3, IPv4, 46) or `sockaddr_pppol2tpv3in6` (v3, IPv6, 58).
 *
 * @example Usage
 * ```ts
 * import { encodeSockaddrPppol2tp } from "./sockaddr.ts";
 * const sa = encodeSockaddrPppol2tp({
 *   version: 2, fd: 5, tunnelId: 1, sessionId: 2, peerTunnelId: 3, peerSessionId: 4,
 *   peer: { address: "192.0.2.2", port: 1701 },
 * });
 * console.log(sa.length); // 38
 * ```
 */
export function encodeSockaddrPppol2tp(a: Pppol2tpAddress, resolve?: ZoneResolver): Uint8Array {
  const v6 = ipFamily(a.peer.address) === 6;
  const pid = a.pid ?? 0;
  if (!Number.isInteger(pid) || pid < 0 || pid > 0x7fffffff) {
    throw new RangeError(`Cannot use pid ${pid}: not a non-negative 32-bit integer`);
  }
  if (!Number.isInteger(a.fd) || a.fd < 0 || a.fd > 0x7fffffff) {
    throw new RangeError(`Cannot use fd ${a.fd}: not a non-negative 32-bit integer`);
  }
  const ids = [a.tunnelId, a.sessionId, a.peerTunnelId, a.peerSessionId];
  const names = ["tunnel ID", "session ID", "peer tunnel ID", "peer session ID"];
  let size: number;
  let addrAt: number;
  let idsAt: number;
  const idSize = a.version === 2 ? 2 : 4;
  if (a.version === 2) {
    ids.forEach((v, i) => checkU16(names[i], v));
    [size, addrAt, idsAt] = v6
      ? [SOCKADDR_PPPOL2TPIN6_SIZE, 22, 14]
      : [SOCKADDR_PPPOL2TP_SIZE, 14, 30];
  } else if (a.version === 3) {
    ids.forEach((v, i) => checkU32(names[i], v));
    [size, addrAt, idsAt] = v6
      ? [SOCKADDR_PPPOL2TPV3IN6_SIZE, 30, 14]
      : [SOCKADDR_PPPOL2TPV3_SIZE, 14, 30];
  } else {
    throw new RangeError(`Cannot encode PPPoL2TP address: unknown L2TP version ${a.version}`);
  }
  const out = new Uint8Array(size);
  const dv = view(out);
  dv.setUint16(0, AF_PPPOX, HOST_LITTLE_ENDIAN);
  dv.setUint32(2, PX_PROTO_OL2TP, HOST_LITTLE_ENDIAN);
  dv.setInt32(6, pid, HOST_LITTLE_ENDIAN);
  dv.setInt32(10, a.fd, HOST_LITTLE_ENDIAN);
  if (v6) writeIn6(dv, addrAt, a.peer.address, a.peer.port, resolve);
  else writeIn(dv, addrAt, a.peer.address, a.peer.port);
  ids.forEach((v, i) => {
    if (idSize === 2) dv.setUint16(idsAt + 2 * i, v, HOST_LITTLE_ENDIAN);
    else dv.setUint32(idsAt + 4 * i, v, HOST_LITTLE_ENDIAN);
  });
  return out;
}

/** A link-layer socket address (`struct sockaddr_ll`), decoded. */
export interface SockaddrLl {
  /** `sll_protocol`: the EtherType (host value; network order on the wire), e.g. 0x8863. */
  protocol: number;
  /** `sll_ifindex`: the interface. */
  ifindex: number;
  /** `sll_hatype`: ARP hardware type (1 = Ethernet); 0 when sending. */
  hatype: number;
  /** `sll_pkttype`: how a received frame was addressed (PACKET_HOST 0, BROADCAST 1, ...). */
  pkttype: number;
  /** `sll_addr[0..sll_halen)`: the peer's hardware address as "aa:bb:...", "" when none. */
  address: string;
}

/**
 * Encode `struct sockaddr_ll` (20 bytes) for `bind` or `sendto` on an `AF_PACKET` socket:
 * `sll_protocol` in network order, `sll_halen` 6 when an address is given (0 otherwise).
 *
 * @param sa EtherType, interface index and, to send, the destination MAC.
 * @returns The bytes.
 * @throws {RangeError} For an EtherType outside 0..65535, a bad interface index or MAC.
 *
 * @example Usage
 * ```ts
 * import { encodeSockaddrLl } from "./sockaddr.ts";
 * const sa = encodeSockaddrLl({ protocol: 0x8863, ifindex: 2, address: "ff:ff:ff:ff:ff:ff" });
 * console.log(sa.length, sa[2].toString(16), sa[3].toString(16), sa[11]); // 20 "88" "63" 6
 * ```
 */
export function encodeSockaddrLl(
  sa: Pick<SockaddrLl, "protocol" | "ifindex"> & Partial<Pick<SockaddrLl, "address">>,
): Uint8Array {
  if (!Number.isInteger(sa.protocol) || sa.protocol < 0 || sa.protocol > 0xffff) {
    throw new RangeError(`Cannot use EtherType ${sa.protocol}: not an integer in 0..65535`);
  }
  if (!Number.isInteger(sa.ifindex) || sa.ifindex < 0 || sa.ifindex > 0x7fffffff) {
    throw new RangeError(`Cannot use interface index ${sa.ifindex}: not a non-negative int`);
  }
  const out = new Uint8Array(SOCKADDR_LL_SIZE);
  const dv = view(out);
  dv.setUint16(0, AF_PACKET, HOST_LITTLE_ENDIAN);
  dv.setUint16(2, sa.protocol, false);
  dv.setInt32(4, sa.ifindex, HOST_LITTLE_ENDIAN);
  if (sa.address !== undefined && sa.address !== "") {
    const mac = parseMac(sa.address);
    out[11] = mac.length;
    out.set(mac, 12);
  }
  return out;
}

/**
 * Decode `struct sockaddr_ll` as `recvfrom` fills it in.
 *
 * @param bytes The buffer.
 * @param length What the kernel wrote (the `socklen_t` out-parameter); default all of `bytes`.
 * @returns The fields.
 * @throws {RangeError} When it is shorter than 12 bytes, not `AF_PACKET`, or `sll_halen` runs
 *   past the end.
 *
 * @example Usage
 * ```ts
 * import { decodeSockaddrLl, encodeSockaddrLl } from "./sockaddr.ts";
 * const sa = decodeSockaddrLl(encodeSockaddrLl({ protocol: 0x8864, ifindex: 3, address: "02:00:00:00:00:07" }));
 * console.log(sa.protocol.toString(16), sa.ifindex, sa.address); // "8864" 3 "02:00:00:00:00:07"
 * ```
 */
export function decodeSockaddrLl(bytes: Uint8Array, length: number = bytes.length): SockaddrLl {
  if (length < 12 || bytes.length < length) {
    throw new RangeError(`Cannot decode sockaddr_ll: ${length} bytes, need at least 12`);
  }
  const dv = view(bytes);
  const family = dv.getUint16(0, HOST_LITTLE_ENDIAN);
  if (family !== AF_PACKET) {
    throw new RangeError(`Cannot decode sockaddr_ll: family ${family} is not AF_PACKET (17)`);
  }
  const halen = bytes[11];
  if (halen > 8 || 12 + halen > length) {
    throw new RangeError(`Cannot decode sockaddr_ll: sll_halen ${halen} runs past ${length} bytes`);
  }
  return {
    protocol: dv.getUint16(2, false),
    ifindex: dv.getInt32(4, HOST_LITTLE_ENDIAN),
    hatype: dv.getUint16(8, HOST_LITTLE_ENDIAN),
    pkttype: bytes[10],
    address: formatMac(bytes.subarray(12, 12 + halen)),
  };
}

/** What a PPPoE socket's `connect()` needs (`struct pppoe_addr`). */
export interface PppoeAddress {
  /** The PPPoE session ID (`sid`, sent in network order); 0 disconnects a connected socket. */
  sessionId: number;
  /** The peer's MAC address (`remote`): the subscriber's, on an access concentrator. */
  peerMac: string;
  /** Our Ethernet interface (`dev`), 1 to 15 bytes. */
  ifname: string;
}

/**
 * Encode `struct sockaddr_pppox` for PPPoE (`PX_PROTO_OE`), 30 bytes, packed: family, protocol,
 * then `struct pppoe_addr` at offset 6 (sid big-endian, remote MAC, NUL-padded device name).
 *
 * @param a Session ID, peer MAC and interface name.
 * @returns The bytes.
 * @throws {RangeError} For a session ID outside 0..65535, a bad MAC or interface name.
 *
 * @example Usage
 * ```ts
 * import { encodeSockaddrPppoe } from "./sockaddr.ts";
 * const sa = encodeSockaddrPppoe({ sessionId: 0x1234, peerMac: "02:00:00:00:00:01", ifname: "eth1" });
 * console.log(sa.length, sa[6].toString(16), sa[7].toString(16)); // 30 "12" "34"
 * ```
 */
export function encodeSockaddrPppoe(a: PppoeAddress): Uint8Array {
  if (!Number.isInteger(a.sessionId) || a.sessionId < 0 || a.sessionId > 0xffff) {
    throw new RangeError(`Cannot use PPPoE session ID ${a.sessionId}: not an integer in 0..65535`);
  }
  const mac = parseMac(a.peerMac);
  const name = new TextEncoder().encode(a.ifname);
  if (name.length < 1 || name.length >= IFNAMSIZ || name.includes(0)) {
    throw new RangeError(`Cannot use interface name "${a.ifname}": it must be 1 to 15 bytes`);
  }
  const out = new Uint8Array(SOCKADDR_PPPOX_SIZE);
  const dv = view(out);
  dv.setUint16(0, AF_PPPOX, HOST_LITTLE_ENDIAN);
  dv.setUint32(2, PX_PROTO_OE, HOST_LITTLE_ENDIAN);
  dv.setUint16(6, a.sessionId, false);
  out.set(mac, 8);
  out.set(name, 14);
  return out;
}
