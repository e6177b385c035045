/**
 * The protocol's vocabulary, defined once: the L2TP version, the encapsulation, an IP endpoint
 * and a received datagram. Every layer uses these definitions (the data plane re-exports them).
 *
 * @example Usage
 * ```ts
 * import type { Datagram, Endpoint, L2tpVersion } from "./types.ts";
 * const from: Endpoint = { address: "192.0.2.1", port: 1701 };
 * const d: Datagram = { data: new Uint8Array([0xc8, 0x02]), from };
 * const v: L2tpVersion = 2;
 * console.log(d.from.port, v); // 1701 2
 * ```
 *
 * @module
 */

/**
 * L2TP protocol version: 2 (RFC 2661) or 3 (RFC 3931).
 *
 * @example Usage
 * ```ts
 * import type { L2tpVersion } from "./types.ts";
 * const v: L2tpVersion = 3;
 * console.log(v); // 3
 * ```
 */
export type L2tpVersion = 2 | 3;

/**
 * Tunnel encapsulation: over UDP, or directly over IP (protocol 115, L2TPv3 only).
 *
 * @example Usage
 * ```ts
 * import type { Encap } from "./types.ts";
 * const encap: Encap = "ip";
 * console.log(encap); // ip
 * ```
 */
export type Encap = "udp" | "ip";

/**
 * An IP endpoint. The address family is implied by the address text (`:` means IPv6).
 *
 * @example Usage
 * ```ts
 * import type { Endpoint } from "./types.ts";
 * const peer: Endpoint = { address: "192.0.2.1", port: 1701 };
 * console.log(peer.port); // 1701
 * ```
 */
export interface Endpoint {
  /** IPv4 dotted quad or IPv6 text form. */
  address: string;
  /** UDP port; 0 for IP encapsulation or "any". */
  port: number;
}

/**
 * One received datagram.
 *
 * @example Usage
 * ```ts
 * import type { Datagram } from "./types.ts";
 * const d: Datagram = { data: new Uint8Array(12), from: { address: "::1", port: 1701 } };
 * console.log(d.data.length); // 12
 * ```
 */
export interface Datagram {
  /** Payload (a view of the receive buffer or a copy, as documented by the producer). */
  data: Uint8Array;
  /** Source address (port 0 for L2TP/IP). */
  from: Endpoint;
}
