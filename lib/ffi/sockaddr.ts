/**
 * Socket addresses as bytes: `struct sockaddr_in`, `sockaddr_in6`, `sockaddr_l2tpip`,
 * `sockaddr_l2tpip6` and the four `sockaddr_pppol2tp*` variants, plus IPv4/IPv6 text <-> bytes.
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
 *
 * The `sockaddr_pppol2tp*` structs are `__packed__`: `sa_protocol` (unsigned int) sits at offset 2.
 * The ids are, in order: source tunnel, source session, destination tunnel, destination session.
 *
 * @module
 */

import type { Endpoint } from "../../dataplane/dataplane.ts";

export type { Endpoint };

/** `AF_INET`. */
export const AF_INET = 2;
/** `AF_INET6`. */
export const AF_INET6 = 10;
/** `AF_PPPOX`. */
export const AF_PPPOX = 24;
/** `PX_PROTO_OL2TP`: the PPP-over-L2TP protocol of `AF_PPPOX`. */
export const PX_PROTO_OL2TP = 1;
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
/** `sizeof(struct sockaddr_storage)`: big enough for any address the kernel returns. */
export const SOCKADDR_STORAGE_SIZE = 128;

/** True when the host stores integers little-endian (x86_64, aarch64). */
export const HOST_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** IP version of an address. */
export type IpFamily = 4 | 6;

/**
 * The IP version an address text denotes: any `:` means IPv6.
 *
 * @example Usage
 * ```ts
 * import { ipFamily } from "./sockaddr.ts";
 * console.log(ipFamily("192.0.2.1"), ipFamily("2001:db8::1")); // 4 6
 * ```
 */
export function ipFamily(address: string): IpFamily {
  return address.includes(":") ? 6 : 4;
}

/**
 * Parse an IPv4 dotted quad ("192.0.2.1") into 4 bytes. Leading zeros are rejected (they are
 * octal to some parsers), as are fewer than four parts.
 *
 * @example Usage
 * ```ts
 * import { parseIPv4 } from "./sockaddr.ts";
 * console.log(parseIPv4("192.0.2.1")); // Uint8Array(4) [ 192, 0, 2, 1 ]
 * ```
 */
export function parseIPv4(text: string): Uint8Array {
  const out = parseIPv4Into(text);
  if (out === null) throw new TypeError(`Cannot parse IPv4 address "${text}": not a dotted quad`);
  return out;
}

function parseIPv4Into(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

/**
 * Format 4 bytes as an IPv4 dotted quad.
 *
 * @example Usage
 * ```ts
 * import { formatIPv4 } from "./sockaddr.ts";
 * console.log(formatIPv4(new Uint8Array([127, 0, 0, 1]))); // "127.0.0.1"
 * ```
 */
export function formatIPv4(bytes: Uint8Array): string {
  if (bytes.length !== 4) {
    throw new RangeError(`Cannot format IPv4 address: need 4 bytes, got ${bytes.length}`);
  }
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/**
 * Parse an IPv6 address in any RFC 4291 §2.2 text form (full, "::"-compressed, with a trailing
 * embedded IPv4 dotted quad) into 16 bytes. A zone ("%eth0") is not accepted here; see
 * {@linkcode splitZone}.
 *
 * @example Usage
 * ```ts
 * import { parseIPv6 } from "./sockaddr.ts";
 * console.log(parseIPv6("::ffff:192.0.2.1").slice(10)); // Uint8Array(6) [ 255, 255, 192, 0, 2, 1 ]
 * ```
 */
export function parseIPv6(text: string): Uint8Array {
  const out = parseIPv6Into(text);
  if (out === null) {
    throw new TypeError(`Cannot parse IPv6 address "${text}": not an RFC 4291 text form`);
  }
  return out;
}

function parseGroups(part: string, allowV4Tail: boolean): number[] | null {
  if (part === "") return [];
  const fields = part.split(":");
  const groups: number[] = [];
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (allowV4Tail && i === fields.length - 1 && f.includes(".")) {
      const v4 = parseIPv4Into(f);
      if (v4 === null) return null;
      groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(f)) return null;
      groups.push(parseInt(f, 16));
    }
  }
  return groups;
}

function parseIPv6Into(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  let groups: number[];
  if (halves.length === 2) {
    const head = parseGroups(halves[0], false);
    const tail = parseGroups(halves[1], true);
    if (head === null || tail === null) return null;
    // "::" stands for at least one group of zeros.
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    const all = parseGroups(text, true);
    if (all === null || all.length !== 8) return null;
    groups = all;
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i] >> 8;
    out[2 * i + 1] = groups[i] & 0xff;
  }
  return out;
}

/**
 * Format 16 bytes as the RFC 5952 canonical IPv6 text: lower case, no leading zeros, the longest
 * run (leftmost on a tie) of two or more zero groups compressed to "::", and IPv4-mapped
 * addresses (::ffff:0:0/96) written with a trailing dotted quad.
 *
 * @example Usage
 * ```ts
 * import { formatIPv6, parseIPv6 } from "./sockaddr.ts";
 * console.log(formatIPv6(parseIPv6("2001:0DB8:0:0:0:0:0:0001"))); // "2001:db8::1"
 * ```
 */
export function formatIPv6(bytes: Uint8Array): string {
  if (bytes.length !== 16) {
    throw new RangeError(`Cannot format IPv6 address: need 16 bytes, got ${bytes.length}`);
  }
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) return `::ffff:${formatIPv4(bytes.subarray(12, 16))}`;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(":");
  if (bestLen < 2) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/**
 * Parse IPv4 or IPv6 text (chosen by {@linkcode ipFamily}) into 4 or 16 bytes.
 *
 * @example Usage
 * ```ts
 * import { parseIP } from "./sockaddr.ts";
 * console.log(parseIP("::1").length, parseIP("10.0.0.1").length); // 16 4
 * ```
 */
export function parseIP(text: string): Uint8Array {
  return ipFamily(text) === 6 ? parseIPv6(text) : parseIPv4(text);
}

/**
 * Format 4 or 16 bytes as IPv4 or canonical IPv6 text.
 *
 * @example Usage
 * ```ts
 * import { formatIP } from "./sockaddr.ts";
 * console.log(formatIP(new Uint8Array(16))); // "::"
 * ```
 */
export function formatIP(bytes: Uint8Array): string {
  return bytes.length === 16 ? formatIPv6(bytes) : formatIPv4(bytes);
}

/**
 * Whether text is a valid IPv4 or IPv6 address (IPv6 may carry a "%zone").
 *
 * @example Usage
 * ```ts
 * import { isIP } from "./sockaddr.ts";
 * console.log(isIP("fe80::1%eth0"), isIP("1.2.3")); // true false
 * ```
 */
export function isIP(text: string): boolean {
  if (ipFamily(text) === 4) return parseIPv4Into(text) !== null;
  const { address, zone } = splitZone(text);
  return parseIPv6Into(address) !== null && zone !== "";
}

/**
 * Split an IPv6 zone off an address: "fe80::1%eth0" -> { address: "fe80::1", zone: "eth0" }.
 *
 * @example Usage
 * ```ts
 * import { splitZone } from "./sockaddr.ts";
 * console.log(splitZone("fe80::1%2")); // { address: "fe80::1", zone: "2" }
 * ```
 */
export function splitZone(text: string): { address: string; zone?: string } {
  const at = text.indexOf("%");
  if (at < 0) return { address: text };
  return { address: text.slice(0, at), zone: text.slice(at + 1) };
}

/** Turns an interface name into its index (0 if unknown); the socket layer passes `if_nametoindex`. */
export type ZoneResolver = (name: string) => number;

/**
 * The scope id for an IPv6 address text: 0 without a zone, the number for a numeric zone, else
 * the resolver's answer for an interface name.
 *
 * @example Usage
 * ```ts
 * import { scopeIdOf } from "./sockaddr.ts";
 * console.log(scopeIdOf("fe80::1%3")); // 3
 * ```
 */
export function scopeIdOf(text: string, resolve?: ZoneResolver): number {
  const { zone } = splitZone(text);
  if (zone === undefined) return 0;
  if (/^[0-9]+$/.test(zone)) {
    const n = Number(zone);
    if (n > 0xffffffff) throw new RangeError(`Cannot use zone "${zone}": above 2^32-1`);
    return n;
  }
  const idx = resolve ? resolve(zone) : 0;
  if (idx === 0) throw new TypeError(`Cannot resolve IPv6 zone "${zone}": no such interface`);
  return idx;
}

/**
 * Format an endpoint for messages: "192.0.2.1:1701", "[2001:db8::1]:1701".
 *
 * @example Usage
 * ```ts
 * import { formatEndpoint } from "./sockaddr.ts";
 * console.log(formatEndpoint({ address: "::1", port: 1701 })); // "[::1]:1701"
 * ```
 */
export function formatEndpoint(ep: Endpoint): string {
  return ipFamily(ep.address) === 6 ? `[${ep.address}]:${ep.port}` : `${ep.address}:${ep.port}`;
}

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
