/**
 * Restart reconciliation: what to do with kernel tunnels and sessions that already carry the IDs
 * a configuration asks for (left behind by a daemon that crashed or was killed).
 *
 * The rule:
 * - A static tunnel whose kernel tunnel exists with the same version, encapsulation, peer tunnel
 *   ID and addresses, and that is unmanaged (the kernel owns its socket), is **adopted**: it is
 *   not created again, and it is deleted when the tunnel is closed. A managed tunnel cannot be
 *   adopted (its socket died with the old process), so a kernel tunnel with its ID is
 *   **replaced**: deleted, then created afresh. So is any tunnel that does not match.
 * - A static session whose kernel session exists with the same peer session ID, pseudowire,
 *   cookies, L2-Specific Sublayer and (when configured) interface name is adopted, unless it
 *   needs a pppd (a PPP session's pppd died with the old process): then it is replaced, as is
 *   any session that does not match.
 * - Dynamic tunnels never adopt: their state lives in the control connection. A kernel tunnel
 *   with a dynamic tunnel's configured ID is replaced, and IDs allocated at run time avoid every
 *   kernel tunnel that exists.
 *
 * So starting never fails with "File exists".
 *
 * @example Usage
 * ```ts
 * import { reconcileTunnel } from "./reconcile.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * const dp = new NullDataPlane();
 * const spec = { tunnelId: 1, peerTunnelId: 2, version: 3 as const, encap: "ip" as const,
 *   local: { address: "192.0.2.1", port: 0 }, peer: { address: "192.0.2.2", port: 0 } };
 * await dp.createTunnel(spec);
 * console.log(await reconcileTunnel(dp, spec)); // adopt
 * ```
 *
 * @module
 */

import type {
  DataPlane,
  SessionInfo,
  SessionSpec,
  TunnelInfo,
  TunnelSpec,
} from "../dataplane/dataplane.ts";
import type { Log } from "./log.ts";

/**
 * Decide for a static tunnel: `"create"` (nothing there, or a stale one was deleted) or
 * `"adopt"` (the kernel tunnel matches and is kept).
 *
 * @param dp The data plane.
 * @param spec The tunnel as configured (`fd` set means managed).
 * @param log Where a replacement is reported.
 * @returns What to do.
 *
 * @example Usage
 * ```ts
 * import { reconcileTunnel } from "./reconcile.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * const dp = new NullDataPlane();
 * console.log(await reconcileTunnel(dp, { tunnelId: 1, peerTunnelId: 2, version: 2,
 *   encap: "udp", fd: 5 })); // create
 * ```
 */
export async function reconcileTunnel(
  dp: DataPlane,
  spec: TunnelSpec,
  log?: Log,
): Promise<"create" | "adopt"> {
  const existing = await dp.getTunnel(spec.tunnelId);
  if (existing === undefined) return "create";
  if (spec.fd === undefined && tunnelMatches(existing, spec)) {
    log?.info("Adopting kernel tunnel {tunnelId}: it matches the configuration", {
      tunnelId: spec.tunnelId,
    });
    return "adopt";
  }
  log?.warn("Replacing kernel tunnel {tunnelId}: {why}", {
    tunnelId: spec.tunnelId,
    why: spec.fd !== undefined
      ? "a managed tunnel's socket cannot be taken over"
      : "it does not match the configuration",
  });
  await dp.deleteTunnel(spec.tunnelId);
  return "create";
}

/**
 * Delete a kernel tunnel that carries a dynamic tunnel's configured ID (a leftover).
 *
 * @param dp The data plane.
 * @param tunnelId The configured ID.
 * @param log Where the replacement is reported.
 *
 * @example Usage
 * ```ts
 * import { clearStaleTunnel } from "./reconcile.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * const dp = new NullDataPlane();
 * await dp.createTunnel({ tunnelId: 9, peerTunnelId: 1, version: 2, encap: "udp", fd: 3 });
 * await clearStaleTunnel(dp, 9);
 * console.log((await dp.listTunnels()).length); // 0
 * ```
 */
export async function clearStaleTunnel(dp: DataPlane, tunnelId: number, log?: Log): Promise<void> {
  if (await dp.getTunnel(tunnelId) === undefined) return;
  log?.warn("Replacing kernel tunnel {tunnelId}: a dynamic tunnel's state cannot be taken over", {
    tunnelId,
  });
  await dp.deleteTunnel(tunnelId);
}

/**
 * Decide for a static session: the existing kernel session when it can be adopted, else
 * `undefined` (after deleting a stale one).
 *
 * @param dp The data plane.
 * @param spec The session as configured.
 * @param needsPppd Whether the session runs a pppd (then it is never adopted).
 * @param log Where adoption and replacement are reported.
 * @returns The adopted session, or `undefined` to create it.
 *
 * @example Usage
 * ```ts
 * import { reconcileSession } from "./reconcile.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * const dp = new NullDataPlane();
 * const spec = { tunnelId: 1, sessionId: 2, peerSessionId: 3, pseudowire: "eth" as const };
 * console.log(await reconcileSession(dp, spec, false)); // undefined
 * ```
 */
export async function reconcileSession(
  dp: DataPlane,
  spec: SessionSpec,
  needsPppd: boolean,
  log?: Log,
): Promise<SessionInfo | undefined> {
  const existing = await dp.getSession(spec.tunnelId, spec.sessionId);
  if (existing === undefined) return undefined;
  if (!needsPppd && sessionMatches(existing, spec)) {
    log?.info("Adopting kernel session {sessionId}: it matches the configuration", {
      sessionId: spec.sessionId,
    });
    return existing;
  }
  log?.warn("Replacing kernel session {sessionId}: {why}", {
    sessionId: spec.sessionId,
    why: needsPppd ? "its pppd is gone" : "it does not match the configuration",
  });
  await dp.deleteSession(spec.tunnelId, spec.sessionId);
  return undefined;
}

function tunnelMatches(t: TunnelInfo, spec: TunnelSpec): boolean {
  return t.version === spec.version && t.encap === spec.encap &&
    t.peerTunnelId === spec.peerTunnelId &&
    sameAddress(t.local?.address, spec.local?.address) &&
    sameAddress(t.peer?.address, spec.peer?.address) &&
    (spec.encap === "ip" || (samePort(t.local?.port, spec.local?.port) &&
      samePort(t.peer?.port, spec.peer?.port)));
}

function sessionMatches(s: SessionInfo, spec: SessionSpec): boolean {
  return s.peerSessionId === spec.peerSessionId && s.pseudowire === spec.pseudowire &&
    sameBytes(s.cookie, spec.cookie) && sameBytes(s.peerCookie, spec.peerCookie) &&
    (s.l2specType === undefined || spec.l2specType === undefined ||
      s.l2specType === spec.l2specType) &&
    (spec.ifname === undefined || s.ifname === spec.ifname);
}

/** An address the kernel did not report counts as matching. */
function sameAddress(reported: string | undefined, wanted: string | undefined): boolean {
  return reported === undefined || wanted === undefined || reported === wanted;
}

function samePort(reported: number | undefined, wanted: number | undefined): boolean {
  return reported === undefined || wanted === undefined || reported === wanted;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  const x = a ?? new Uint8Array(0);
  const y = b ?? new Uint8Array(0);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
