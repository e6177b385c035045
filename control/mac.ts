/**
 * Ethernet MAC addresses, shared vocabulary of the protocol (PPPoE discovery), the data plane
 * (packet and PPPoX sockets) and the configuration: {@linkcode formatMac} writes one as
 * lowercase "aa:bb:cc:dd:ee:ff", {@linkcode parseMac} reads that form (or "AA-BB-..."), and
 * {@linkcode BROADCAST_MAC} is ff:ff:ff:ff:ff:ff.
 *
 * @example Usage
 * ```ts
 * import { formatMac, parseMac } from "./mac.ts";
 * console.log(formatMac(parseMac("02-00-5E-10-00-01"))); // 02:00:5e:10:00:01
 * ```
 *
 * @module
 */

/** Bytes in an Ethernet address (`ETH_ALEN`). */
export const ETH_ALEN = 6;

/**
 * The Ethernet broadcast address, where a PADI goes (RFC 2516 §5.1).
 *
 * @example Usage
 * ```ts
 * import { BROADCAST_MAC, formatMac } from "./mac.ts";
 * console.log(formatMac(BROADCAST_MAC)); // ff:ff:ff:ff:ff:ff
 * ```
 */
export const BROADCAST_MAC: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/**
 * A MAC address as text.
 *
 * @param mac The address (any length; normally 6 bytes).
 * @returns Lower-case hexadecimal bytes joined by colons.
 *
 * @example Usage
 * ```ts
 * import { formatMac } from "./mac.ts";
 * console.log(formatMac(new Uint8Array([2, 0, 0, 0, 0xab, 1]))); // 02:00:00:00:ab:01
 * ```
 */
export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/**
 * Read a MAC address written as six hex byte pairs separated by `:` or `-`.
 *
 * @param text The address.
 * @returns Its bytes.
 * @throws {RangeError} "Cannot use MAC address ...: ..." when it is not six hex byte pairs.
 *
 * @example Usage
 * ```ts
 * import { parseMac } from "./mac.ts";
 * console.log(parseMac("02:00:5E:10:00:01")); // Uint8Array(6) [ 2, 0, 94, 16, 0, 1 ]
 * ```
 */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== ETH_ALEN || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw new RangeError(
      `Cannot use MAC address "${text}": write six hex byte pairs, e.g. "02:00:5e:10:00:01"`,
    );
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}
