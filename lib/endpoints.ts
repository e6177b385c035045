/**
 * A tunnel's `local` and `peer` with host names resolved (both in the same address family).
 *
 * @module
 */

import type { TunnelConfig } from "./config.ts";
import type { Endpoint } from "../control/types.ts";
import { ipFamily } from "../control/endpoint.ts";
import type { Log } from "./log.ts";

/**
 * Resolve the host names among a tunnel's endpoints. The peer is resolved first, in the local
 * address's family when that is an IP literal; then the local name, in the peer's family.
 *
 * @param name The tunnel's name (for errors).
 * @param config The tunnel's settings.
 * @param resolve The resolver (libc getaddrinfo in the daemon).
 * @param log Where each resolution is reported.
 * @returns The settings with literal addresses.
 * @throws {Error} "Cannot bring up tunnel ...: key ...: ..." when a name does not resolve.
 *
 * @example Usage
 * ```ts
 * import { resolveEndpoints } from "./endpoints.ts";
 * const t = await resolveEndpoints("t1", {
 *   mode: "dynamic", version: 2, encap: "udp", managed: true,
 *   peer: { address: "lns.example", port: 1701 }, unresolved: ["peer"],
 * }, () => Promise.resolve(["192.0.2.7"]));
 * console.log(t.peer?.address); // 192.0.2.7
 * ```
 */
export async function resolveEndpoints(
  name: string,
  config: TunnelConfig,
  resolve: (name: string, family?: 4 | 6) => Promise<string[]>,
  log?: Log,
): Promise<TunnelConfig> {
  const unresolved = config.unresolved ?? [];
  if (unresolved.length === 0) return config;
  let { local, peer } = config;
  const familyOf = (e?: Endpoint): 4 | 6 | undefined =>
    e === undefined ? undefined : ipFamily(e.address);
  const lookup = async (key: "local" | "peer", e: Endpoint, family?: 4 | 6): Promise<Endpoint> => {
    try {
      const [address] = await resolve(e.address, family);
      if (address === undefined) throw new Error(`no address for ${e.address}`);
      log?.info("{key} {host} is {address}", { key, host: e.address, address });
      return { ...e, address };
    } catch (error) {
      throw new Error(
        `Cannot bring up tunnel "${name}": key "${key}": ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  };
  if (peer && unresolved.includes("peer")) {
    peer = await lookup("peer", peer, unresolved.includes("local") ? undefined : familyOf(local));
  }
  if (local && unresolved.includes("local")) {
    local = await lookup("local", local, familyOf(peer));
  }
  const { unresolved: _done, ...rest } = config;
  return { ...rest, local, peer };
}
