/**
 * Which configured responder tunnel a new SCCRQ is for (control/listener.ts): first those whose
 * `peer` address is the sender's, then those that accept any peer (which need a shared secret).
 * The SCCRQ must decode with that tunnel's secret (hidden AVPs, RFC 2661 §4.3) and, for L2TPv3
 * with a Message Digest, authenticate with it (RFC 3931 §5.4.1): the first tunnel it does is
 * the one. A sender that matches no tunnel still has its SCCRQ decoded (without a secret), so
 * that it can be refused by name.
 *
 * @example Usage
 * ```ts
 * import { matchSccrq } from "./listener_match.ts";
 * import { buildSccrq } from "./builders.ts";
 * import { encodeControl } from "./message.ts";
 * const sccrq = buildSccrq({ version: 2, hostName: "lac", receiveWindow: 4 }, 9, {});
 * const data = encodeControl({ version: 2, tunnelId: 0, ns: 0, nr: 0, ...sccrq });
 * const tunnels = [{ name: "lns", version: 2 as const,
 *   peer: { address: "192.0.2.1", port: 1701 }, connection: { hostName: "lns" } }];
 * const m = matchSccrq(tunnels, 2, { data, from: { address: "192.0.2.1", port: 4000 } }, "udp");
 * console.log(m.tunnel?.name, m.priority); // lns configured
 * ```
 *
 * @module
 */

import { digestKey } from "./auth.ts";
import type { SessionParams } from "./connection_types.ts";
import type { L2tpVersion } from "./header.ts";
import type { ListenerTunnel } from "./listener_types.ts";
import { type ControlMessage, decodeControl } from "./message.ts";
import type { SourcePriority } from "./source_limits.ts";
import type { Datagram } from "./types.ts";

/**
 * What {@linkcode matchSccrq} found for an SCCRQ.
 *
 * @example Usage
 * ```ts
 * import type { SccrqMatch } from "./listener_match.ts";
 * const m: SccrqMatch = { msg: undefined, tunnel: undefined, priority: "any",
 *   error: "bad digest" };
 * console.log(m.msg === undefined ? `cannot decode it (${m.error})` : "decoded");
 * // cannot decode it (bad digest)
 * ```
 */
export interface SccrqMatch<S extends SessionParams = SessionParams> {
  /** The message decoded, or undefined when no candidate tunnel could decode it. */
  msg: ControlMessage | undefined;
  /**
   * The tunnel whose secret decoded it; undefined when it decoded without a secret because no
   * tunnel accepts the sender (or when it did not decode).
   */
  tunnel: ListenerTunnel<S> | undefined;
  /** Whether `tunnel` names the sender's address ("configured") or accepts any peer ("any"). */
  priority: SourcePriority;
  /** Why the last candidate could not decode it ("" when one could). */
  error: string;
}

/**
 * Decode a control message with what a tunnel's connections decode with: its secret (hidden
 * AVPs) and, for L2TPv3, its Message Digest key (required unless `messageDigest` is "none").
 *
 * @param data The datagram.
 * @param wire How it is framed ("ip": L2TP/IP with the zero Session ID).
 * @param version Protocol version.
 * @param tunnel The tunnel, or undefined: no secret.
 * @returns The message.
 * @throws {Error} If it does not decode or authenticate.
 *
 * @example Usage
 * ```ts
 * import { decodeFor } from "./listener_match.ts";
 * import { buildSccrq } from "./builders.ts";
 * import { encodeControl } from "./message.ts";
 * const sccrq = buildSccrq({ version: 2, hostName: "lac", receiveWindow: 4 }, 9, {});
 * const data = encodeControl({ version: 2, tunnelId: 0, ns: 0, nr: 0, ...sccrq });
 * console.log(decodeFor(data, "udp", 2, undefined).type); // 1
 * ```
 */
export function decodeFor<S extends SessionParams>(
  data: Uint8Array,
  wire: "ip" | "udp",
  version: L2tpVersion,
  tunnel: ListenerTunnel<S> | undefined,
): ControlMessage {
  const secret = tunnel?.connection.secret;
  const v3digest = version === 3 && secret !== undefined && secret.length > 0;
  const digestOn = v3digest && (tunnel?.connection.messageDigest ?? "md5") !== "none";
  return decodeControl(data, {
    transport: wire,
    version,
    ignoreMalformed: true,
    ...(secret !== undefined && secret.length > 0 ? { secret } : {}),
    ...(v3digest ? { digest: { key: digestKey(secret), required: digestOn } } : {}),
  });
}

/**
 * Find the tunnel a new SCCRQ is for and decode it (see the module documentation).
 *
 * @param tunnels The configured responder tunnels.
 * @param version The SCCRQ's protocol version.
 * @param d The datagram.
 * @param wire How it is framed.
 * @returns The message and its tunnel, or why it could not be decoded.
 *
 * @example Usage
 * ```ts
 * import { matchSccrq } from "./listener_match.ts";
 * import { buildSccrq } from "./builders.ts";
 * import { encodeControl } from "./message.ts";
 * const sccrq = buildSccrq({ version: 2, hostName: "lac", receiveWindow: 4 }, 9, {});
 * const data = encodeControl({ version: 2, tunnelId: 0, ns: 0, nr: 0, ...sccrq });
 * const m = matchSccrq([], 2, { data, from: { address: "198.51.100.1", port: 1701 } }, "udp");
 * console.log(m.msg?.type, m.tunnel); // 1 undefined
 * ```
 */
export function matchSccrq<S extends SessionParams>(
  tunnels: readonly ListenerTunnel<S>[],
  version: L2tpVersion,
  d: Datagram,
  wire: "ip" | "udp",
): SccrqMatch<S> {
  const byAddress = tunnels.filter((t) =>
    t.version === version && t.peer !== undefined && t.peer.address === d.from.address
  );
  const anyPeer = tunnels.filter((t) =>
    t.version === version && t.acceptAnyPeer && !byAddress.includes(t)
  );
  const candidates = [...byAddress, ...anyPeer];
  let lastError = "";
  for (const t of candidates.length > 0 ? candidates : [undefined]) {
    try {
      const msg = decodeFor(d.data, wire, version, t);
      const priority: SourcePriority = t !== undefined && byAddress.includes(t)
        ? "configured"
        : "any";
      return { msg, tunnel: t, priority, error: "" };
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
  }
  return { msg: undefined, tunnel: undefined, priority: "any", error: lastError };
}
