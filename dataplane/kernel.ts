/**
 * {@linkcode KernelDataPlane}: the {@linkcode DataPlane} over the kernel's "l2tp" generic
 * netlink family.
 *
 * It takes any netlink {@linkcode Connection} (so tests drive it through a fake);
 * {@linkcode KernelDataPlane.open} makes the real one over libnl and resolves the family up front,
 * so a missing `l2tp_netlink` module is reported at startup.
 *
 * @module
 */

import type {
  DataPlane,
  L2tpVersion,
  SessionChanges,
  SessionInfo,
  SessionSpec,
  TunnelChanges,
  TunnelInfo,
  TunnelSpec,
} from "./dataplane.ts";
import {
  L2TP_GENL_NAME,
  parseSession,
  parseTunnel,
  sessionCreateRequest,
  sessionDeleteRequest,
  sessionGetRequest,
  sessionModifyRequest,
  tunnelCreateRequest,
  tunnelDeleteRequest,
  tunnelGetRequest,
  tunnelModifyRequest,
  UnsupportedPseudowireError,
} from "./l2tp_genl.ts";
import { getInterfaceMtu, setInterfaceMtu } from "./netdev.ts";
import { type Connection, genlDump, genlRequest, resolveFamily } from "./netlink/conn.ts";
import { isNotFound } from "./netlink/errors.ts";
import { LibnlConnection, type LibnlConnectionOptions } from "./netlink/libnl_connection.ts";
import { GENL_HDRLEN, type GenlMessage, NLMSG_HDRLEN } from "./netlink/message.ts";

/** How long {@linkcode KernelDataPlane.deleteTunnel} waits for the kernel to let go. */
const TUNNEL_DELETE_WAIT_MS = 5000;
/** Offset of the first attribute in a generic netlink message, for error offsets. */
const ATTR_BASE = NLMSG_HDRLEN + GENL_HDRLEN;

/**
 * Options for {@linkcode KernelDataPlane}.
 *
 * @example Usage
 * ```ts
 * import type { KernelDataPlaneOptions } from "./kernel.ts";
 * const o: KernelDataPlaneOptions = { setMtu: () => {}, getMtu: () => 1500 };
 * console.log(o);
 * ```
 */
export interface KernelDataPlaneOptions {
  /** Sets an interface MTU (default: SIOCSIFMTU via {@linkcode setInterfaceMtu}). */
  setMtu?: (ifname: string, mtu: number) => void;
  /** Reads an interface MTU (default: SIOCGIFMTU via {@linkcode getInterfaceMtu}). */
  getMtu?: (ifname: string) => number;
}

/**
 * The data plane backed by the Linux kernel (l2tp_core, l2tp_netlink, l2tp_eth, l2tp_ppp).
 *
 * @example Usage
 * Not run as a doc test: it needs root and a kernel with the l2tp modules.
 * ```ts ignore
 * import { KernelDataPlane } from "./kernel.ts";
 * using dp = await KernelDataPlane.open();
 * await dp.createTunnel({
 *   tunnelId: 42, peerTunnelId: 45, version: 3, encap: "udp",
 *   local: { address: "192.168.1.1", port: 5000 }, peer: { address: "192.168.1.2", port: 5001 },
 * });
 * const s = await dp.createSession({
 *   tunnelId: 42, sessionId: 128, peerSessionId: 5196755, pseudowire: "eth", mtu: 1400,
 * });
 * console.log(s.ifname); // "l2tpeth0"
 * ```
 */
export class KernelDataPlane implements DataPlane {
  readonly #conn: Connection;
  readonly #setMtu: (ifname: string, mtu: number) => void;
  readonly #getMtu: (ifname: string) => number;
  #family: Promise<number> | undefined;
  #closed = false;
  /** Versions of the tunnels we created, for session validation without a round trip. */
  readonly #versions = new Map<number, L2tpVersion>();

  /**
   * Make a data plane over a connection (which it then owns and closes).
   *
   * @param conn The netlink connection.
   * @param options MTU helpers (tests replace them).
   */
  constructor(conn: Connection, options: KernelDataPlaneOptions = {}) {
    this.#conn = conn;
    this.#setMtu = options.setMtu ?? setInterfaceMtu;
    this.#getMtu = options.getMtu ?? getInterfaceMtu;
  }

  /**
   * Open a libnl generic netlink socket and resolve the "l2tp" family.
   *
   * @param options Connection and MTU options.
   * @returns The data plane.
   * @throws {Error} "Cannot resolve generic netlink family l2tp: ...; is the l2tp_netlink module
   *   loaded?" when the kernel lacks L2TP netlink support, or a library load error.
   */
  static async open(
    options: KernelDataPlaneOptions & LibnlConnectionOptions = {},
  ): Promise<KernelDataPlane> {
    const conn = LibnlConnection.open(options);
    const dp = new KernelDataPlane(conn, options);
    try {
      await dp.familyId();
    } catch (e) {
      dp.close();
      throw e;
    }
    return dp;
  }

  /** The underlying netlink connection. */
  get connection(): Connection {
    return this.#conn;
  }

  /**
   * The "l2tp" family id, resolved once.
   *
   * @returns The family id.
   */
  familyId(): Promise<number> {
    if (this.#closed) return Promise.reject(new Error("Cannot use data plane: it is closed"));
    if (this.#family === undefined) {
      const p = resolveFamily(this.#conn, L2TP_GENL_NAME);
      this.#family = p;
      p.catch(() => {
        if (this.#family === p) this.#family = undefined; // retry next time
      });
    }
    return this.#family;
  }

  async #request(g: GenlMessage, op: string): Promise<GenlMessage[]> {
    return genlRequest(this.#conn, await this.familyId(), g, op);
  }

  async #dump(g: GenlMessage, op: string): Promise<GenlMessage[]> {
    return genlDump(this.#conn, await this.familyId(), g, op);
  }

  /**
   * Create a kernel tunnel context.
   *
   * @param spec The tunnel.
   */
  async createTunnel(spec: TunnelSpec): Promise<void> {
    const g = tunnelCreateRequest(spec);
    await this.#request(g, `create tunnel ${spec.tunnelId}`);
    this.#versions.set(spec.tunnelId, spec.version);
  }

  /**
   * Modify a kernel tunnel context.
   *
   * @param tunnelId The tunnel.
   * @param changes What to change.
   */
  async modifyTunnel(tunnelId: number, changes: TunnelChanges): Promise<void> {
    await this.#request(tunnelModifyRequest(tunnelId, changes), `modify tunnel ${tunnelId}`);
  }

  /**
   * Delete a kernel tunnel context and its sessions.
   *
   * @param tunnelId The tunnel.
   */
  async deleteTunnel(tunnelId: number): Promise<void> {
    await this.#request(tunnelDeleteRequest(tunnelId), `delete tunnel ${tunnelId}`);
    this.#versions.delete(tunnelId);
    // The kernel acknowledges the delete and removes the tunnel from a work queue a moment later;
    // wait until it is gone, so the ID can be reused and a read-back agrees.
    for (let waitMs = 1, waited = 0; await this.getTunnel(tunnelId); waited += waitMs) {
      if (waited >= TUNNEL_DELETE_WAIT_MS) {
        throw new Error(
          `Cannot delete tunnel ${tunnelId}: still present ${TUNNEL_DELETE_WAIT_MS} ms after the ` +
            `kernel acknowledged the delete`,
        );
      }
      await new Promise((r) => setTimeout(r, waitMs));
      waitMs = Math.min(waitMs * 2, 100);
    }
  }

  /**
   * Read one tunnel.
   *
   * @param tunnelId The tunnel.
   * @returns The tunnel, or `undefined` if the kernel has none with this ID.
   */
  async getTunnel(tunnelId: number): Promise<TunnelInfo | undefined> {
    const op = `get tunnel ${tunnelId}`;
    let replies: GenlMessage[];
    try {
      replies = await this.#request(tunnelGetRequest(tunnelId), op);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    const r = replies[0];
    return r === undefined ? undefined : parseTunnel(r.attributes, ATTR_BASE);
  }

  /**
   * Read all tunnels.
   *
   * @returns Every tunnel in this network namespace.
   */
  async listTunnels(): Promise<TunnelInfo[]> {
    const parts = await this.#dump(tunnelGetRequest(), "list tunnels");
    return parts.map((p) => parseTunnel(p.attributes, ATTR_BASE));
  }

  async #versionOf(tunnelId: number): Promise<L2tpVersion | undefined> {
    const known = this.#versions.get(tunnelId);
    if (known !== undefined) return known;
    const t = await this.getTunnel(tunnelId);
    if (t !== undefined) this.#versions.set(tunnelId, t.version);
    return t?.version;
  }

  /**
   * Create a kernel session context, read it back (to learn the interface name) and, for an
   * Ethernet pseudowire with an MTU, set the interface MTU. If setting the MTU fails the session
   * is deleted again.
   *
   * @param spec The session.
   * @returns The session as the kernel reports it.
   */
  async createSession(spec: SessionSpec): Promise<SessionInfo> {
    const op = `create session ${spec.tunnelId}/${spec.sessionId}`;
    // Validate what needs no version first, so bad input never reaches the kernel.
    sessionCreateRequest(spec);
    const version = Number.isInteger(spec.tunnelId) && spec.tunnelId > 0
      ? await this.#versionOf(spec.tunnelId)
      : undefined;
    await this.#request(sessionCreateRequest(spec, version), op);
    // From here on a failure must not leave the new session behind.
    try {
      const info = await this.getSession(spec.tunnelId, spec.sessionId);
      if (info === undefined) {
        throw new Error("the kernel did not report the session after creating it");
      }
      if (spec.pseudowire === "eth" && spec.mtu !== undefined && info.ifname !== undefined) {
        if (this.#getMtu(info.ifname) !== spec.mtu) this.#setMtu(info.ifname, spec.mtu);
      }
      return info;
    } catch (e) {
      let rollback = "";
      await this.deleteSession(spec.tunnelId, spec.sessionId).catch((d) => {
        rollback = `; and it could not be deleted again: ${d instanceof Error ? d.message : d}`;
      });
      throw new Error(`Cannot ${op}: ${e instanceof Error ? e.message : String(e)}${rollback}`, {
        cause: e,
      });
    }
  }

  /**
   * Modify a kernel session context.
   *
   * @param tunnelId The tunnel.
   * @param sessionId The session.
   * @param changes What to change.
   */
  async modifySession(
    tunnelId: number,
    sessionId: number,
    changes: SessionChanges,
  ): Promise<void> {
    await this.#request(
      sessionModifyRequest(tunnelId, sessionId, changes),
      `modify session ${tunnelId}/${sessionId}`,
    );
  }

  /**
   * Delete a kernel session context.
   *
   * @param tunnelId The tunnel.
   * @param sessionId The session.
   */
  async deleteSession(tunnelId: number, sessionId: number): Promise<void> {
    await this.#request(
      sessionDeleteRequest(tunnelId, sessionId),
      `delete session ${tunnelId}/${sessionId}`,
    );
  }

  /**
   * Read one session.
   *
   * @param tunnelId The tunnel.
   * @param sessionId The session.
   * @returns The session, or `undefined` if the kernel has none with these IDs.
   */
  async getSession(tunnelId: number, sessionId: number): Promise<SessionInfo | undefined> {
    const op = `get session ${tunnelId}/${sessionId}`;
    let replies: GenlMessage[];
    try {
      replies = await this.#request(sessionGetRequest(tunnelId, sessionId), op);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    const r = replies[0];
    return r === undefined ? undefined : parseSession(r.attributes, ATTR_BASE);
  }

  /**
   * Read all sessions, or those of one tunnel. Sessions of pseudowire types this library does
   * not model (made by other tools) are left out.
   *
   * @param tunnelId Only this tunnel's sessions.
   * @returns The sessions.
   */
  async listSessions(tunnelId?: number): Promise<SessionInfo[]> {
    const op = tunnelId === undefined ? "list sessions" : `list sessions of tunnel ${tunnelId}`;
    const parts = await this.#dump(sessionGetRequest(), op);
    const out: SessionInfo[] = [];
    for (const p of parts) {
      let s: SessionInfo;
      try {
        s = parseSession(p.attributes, ATTR_BASE);
      } catch (e) {
        if (e instanceof UnsupportedPseudowireError) continue;
        throw e;
      }
      if (tunnelId === undefined || s.tunnelId === tunnelId) out.push(s);
    }
    return out;
  }

  /** Close the netlink connection. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
  }

  /** Same as {@linkcode KernelDataPlane.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
