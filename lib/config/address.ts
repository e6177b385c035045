/**
 * Addresses and endpoints as the configuration writes them (`local`, `peer`, `router_id`).
 *
 * IP text is parsed by `control/endpoint.ts`, the one definition every layer uses; this module
 * adds what a configuration needs on top: host names (kept as text, resolved when the tunnel
 * starts), a stricter IPv6 zone (an interface name or number), the `"address:port"` and
 * `"[v6]:port"` forms with a default port, and messages that say what is wrong.
 *
 * @example Usage
 * ```ts
 * import { addressKind, parseEndpoint } from "../config.ts";
 * console.log(addressKind("lns.example.net"), parseEndpoint("[2001:db8::1]:1701", 1701));
 * // hostname { address: "2001:db8::1", port: 1701 }
 * ```
 *
 * @module
 */

import { ipFamily, isIP, parseIPv4, parseIPv6, splitZone } from "../../control/endpoint.ts";
import type { Endpoint } from "./types.ts";
import { quote } from "./text.ts";

const U16_MAX = 0xffff;

/**
 * What an address text is: an IPv4 or IPv6 literal, or a host name to resolve later.
 *
 * @example Usage
 * ```ts
 * import { type AddressKind, addressKind } from "../config.ts";
 * const kind: AddressKind | undefined = addressKind("2001:db8::1");
 * console.log(kind); // "ipv6"
 * ```
 */
export type AddressKind = "ipv4" | "ipv6" | "hostname";

/**
 * Classify an address text; `undefined` if it is neither an IP literal nor a valid host name.
 *
 * IP literals are those of `control/endpoint.ts` (`isIP`): IPv4 dotted quads without leading
 * zeros, IPv6 in any RFC 4291 text form. On top of that an IPv6 zone must be an interface name
 * or number (`fe80::1%eth0`), and a host name must be made of valid DNS labels and not look like
 * a mistyped IPv4 address.
 *
 * @example Usage
 * ```ts
 * import { addressKind } from "../config.ts";
 * console.log(addressKind("192.0.2.1"), addressKind("lns.example.net"), addressKind("1.2.3.999"));
 * // ipv4 hostname undefined
 * ```
 */
export function addressKind(address: string): AddressKind | undefined {
  if (isIP(address)) {
    if (ipFamily(address) === 4) return "ipv4";
    const { zone } = splitZone(address);
    return zone === undefined || /^[A-Za-z0-9_.-]+$/.test(zone) ? "ipv6" : undefined;
  }
  return isHostname(address) ? "hostname" : undefined;
}

function isHostname(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  const labels = text.replace(/\.$/, "").split(".");
  if (labels.every((l) => /^\d+$/.test(l))) return false; // looks like a mistyped IPv4 address
  return labels.every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

/**
 * An IPv4 dotted quad as a 32-bit number (`router_id = "a.b.c.d"`); `undefined` if the text is
 * not one.
 *
 * @example Usage
 * ```ts
 * import { ipv4Number } from "./address.ts";
 * console.log(ipv4Number("10.0.0.1"), ipv4Number("10.0.0")); // 167772161 undefined
 * ```
 */
export function ipv4Number(text: string): number | undefined {
  if (ipFamily(text) !== 4 || !isIP(text)) return undefined;
  const b = parseIPv4(text);
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

/**
 * Whether an IP literal of the given kind is the unspecified address (`0.0.0.0`, `::`); host
 * names never are.
 *
 * @example Usage
 * ```ts
 * import { isUnspecified } from "./address.ts";
 * console.log(isUnspecified("0:0::0", "ipv6"), isUnspecified("192.0.2.1", "ipv4")); // true false
 * ```
 */
export function isUnspecified(address: string, kind: AddressKind): boolean {
  if (kind === "hostname") return false;
  const bytes = kind === "ipv4" ? parseIPv4(address) : parseIPv6(splitZone(address).address);
  return bytes.every((b) => b === 0);
}

/**
 * An address kind in words, for messages: IPv4, IPv6 or host name.
 *
 * @example Usage
 * ```ts
 * import { familyName } from "./address.ts";
 * console.log(familyName("ipv6")); // IPv6
 * ```
 */
export function familyName(kind: AddressKind): string {
  return kind === "ipv4" ? "IPv4" : kind === "ipv6" ? "IPv6" : "host name";
}

/**
 * An endpoint read from the configuration, with the kind of its address.
 *
 * @example Usage
 * ```ts
 * import { type ParsedEndpoint, readEndpoint } from "./address.ts";
 * const p: ParsedEndpoint | string = readEndpoint("lns.example.net", 1701);
 * console.log(typeof p === "string" ? p : p.kind); // hostname
 * ```
 */
export interface ParsedEndpoint {
  /** The address (as written, without brackets) and port. */
  endpoint: Endpoint;
  /** What the address is. */
  kind: AddressKind;
  /** The text it was read from. */
  text: string;
}

/**
 * Read `"address:port"`, `"[ipv6]:port"`, a bare IPv6 address or a bare address or host name
 * (which gets `defaultPort`); a message saying what is wrong if the text is none of these.
 *
 * @example Usage
 * ```ts
 * import { readEndpoint } from "./address.ts";
 * console.log(readEndpoint("192.0.2.1:5000", 1701), readEndpoint("192.0.2.1:x", 1701));
 * // { endpoint: { address: "192.0.2.1", port: 5000 }, kind: "ipv4", text: ... } expected ...
 * ```
 */
export function readEndpoint(text: string, defaultPort: number): ParsedEndpoint | string {
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
    if (addressKind(host) !== "ipv6") {
      return `${expected}, got ${quote(text)} (${quote(host)} is not an IPv6 address)`;
    }
  } else if (text.split(":").length === 2) {
    [host, portText] = text.split(":");
  } else {
    host = text; // no colon, or an IPv6 address without brackets (and so without a port)
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
  return { endpoint: { address: host, port }, kind, text };
}

/**
 * Parse `"address:port"`, `"[ipv6]:port"`, a bare IPv6 address or a bare address/host name
 * (which gets `defaultPort`).
 *
 * @throws {RangeError} when the text is not an endpoint.
 *
 * @example Usage
 * ```ts
 * import { parseEndpoint } from "../config.ts";
 * console.log(parseEndpoint("[2001:db8::1]:1701", 1701)); // { address: "2001:db8::1", port: 1701 }
 * ```
 */
export function parseEndpoint(text: string, defaultPort: number): Endpoint {
  const r = readEndpoint(text, defaultPort);
  if (typeof r === "string") throw new RangeError(`Cannot parse endpoint: ${r}`);
  return r.endpoint;
}
