/**
 * IP addresses and endpoints as text, defined once for every layer: IPv4 and IPv6 text to bytes
 * and back (RFC 4291 §2.2 forms in, RFC 5952 canonical form out), IPv6 zones, and the
 * `address:port` / `[v6]:port` form of an {@linkcode Endpoint}.
 *
 * @example Usage
 * ```ts
 * import { formatEndpoint, formatIP, parseIP } from "./endpoint.ts";
 * console.log(formatIP(parseIP("2001:0DB8::0001"))); // 2001:db8::1
 * console.log(formatEndpoint({ address: "::1", port: 1701 })); // [::1]:1701
 * ```
 *
 * @module
 */

import type { Endpoint } from "./types.ts";

/**
 * IP version of an address.
 *
 * @example Usage
 * ```ts
 * import { type IpFamily, ipFamily } from "./endpoint.ts";
 * const family: IpFamily = ipFamily("2001:db8::1");
 * console.log(family); // 6
 * ```
 */
export type IpFamily = 4 | 6;

/**
 * The IP version an address text denotes: any `:` means IPv6.
 *
 * @example Usage
 * ```ts
 * import { ipFamily } from "./endpoint.ts";
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
 * import { parseIPv4 } from "./endpoint.ts";
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
 * import { formatIPv4 } from "./endpoint.ts";
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
 * import { parseIPv6 } from "./endpoint.ts";
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
 * import { formatIPv6, parseIPv6 } from "./endpoint.ts";
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
 * import { parseIP } from "./endpoint.ts";
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
 * import { formatIP } from "./endpoint.ts";
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
 * import { isIP } from "./endpoint.ts";
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
 * import { splitZone } from "./endpoint.ts";
 * console.log(splitZone("fe80::1%2")); // { address: "fe80::1", zone: "2" }
 * ```
 */
export function splitZone(text: string): { address: string; zone?: string } {
  const at = text.indexOf("%");
  if (at < 0) return { address: text };
  return { address: text.slice(0, at), zone: text.slice(at + 1) };
}

/**
 * Turns an interface name into its index (0 if unknown); the socket layer passes `if_nametoindex`.
 *
 * @example Usage
 * ```ts
 * import { scopeIdOf, type ZoneResolver } from "./endpoint.ts";
 * const resolve: ZoneResolver = (name) => name === "eth0" ? 2 : 0;
 * console.log(scopeIdOf("fe80::1%eth0", resolve)); // 2
 * ```
 */
export type ZoneResolver = (name: string) => number;

/**
 * The scope id for an IPv6 address text: 0 without a zone, the number for a numeric zone, else
 * the resolver's answer for an interface name.
 *
 * @example Usage
 * ```ts
 * import { scopeIdOf } from "./endpoint.ts";
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
 * import { formatEndpoint } from "./endpoint.ts";
 * console.log(formatEndpoint({ address: "::1", port: 1701 })); // "[::1]:1701"
 * ```
 */
export function formatEndpoint(ep: Endpoint): string {
  return ipFamily(ep.address) === 6 ? `[${ep.address}]:${ep.port}` : `${ep.address}:${ep.port}`;
}
