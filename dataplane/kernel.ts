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
  L2TP_ATTR,
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
  validateSessionSpec,
} from "./l2tp_genl.ts";
import { libc } from "./ffi/libc.ts";
import { getInterfaceMtu, setInterfaceMtu } from "./netdev.ts";
import { AttributeDecoder } from "./netlink/attr.ts";
import { type Connection, genlDump, genlGet, genlRequest, resolveFamily } from "./netlink/conn.ts";
import { LibnlConnection, type LibnlConnectionOptions } from "./netlink/libnl_connection.ts";
import { GENL_HDRLEN, type GenlMessage, NLMSG_HDRLEN } from "./netlink/message.ts";

/**
 * How {@linkcode KernelDataPlane.deleteTunnel} waits for the kernel's deferred removal: a window
 * of {@linkcode DeleteWait.baseMs} plus {@linkcode DeleteWait.perSessionMs} for each session the
 * tunnel still has, renewed while sessions keep going away.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_DELETE_WAIT, type DeleteWait } from "./kernel.ts";
 * const slow: DeleteWait = { ...DEFAULT_DELETE_WAIT, perSessionMs: 500 };
 * console.log(slow.baseMs); // 5000
 * ```
 */
export interface DeleteWait {
  /** The window for a tunnel without sessions, and the least one (ms). */
  baseMs: number;
  /** Added to the window for each session still to be removed (ms). */
  perSessionMs: number;
}

/**
 * The default {@linkcode DeleteWait}: 5 s plus 100 ms a session. The kernel removes an Ethernet
 * session in about 35 ms in our emulated (TCG) test VM and faster on real hardware.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_DELETE_WAIT } from "./kernel.ts";
 * console.log(DEFAULT_DELETE_WAIT.perSessionMs); // 100
 * ```
 */
export const DEFAULT_DELETE_WAIT: Readonly<DeleteWait> = Object.freeze({
  baseMs: 5000,
  perSessionMs: 100,
});

/**
 * Pauses between the checks that a deleted tunnel is gone (ms). The kernel's work queue usually
 * finishes while the first check is on its way. When it has not, the next checks only yield the
 * CPU first (`sched_yield`: the worker may be waiting for this very CPU, and any sleep costs a
 * timer, 1-2 ms however short it is asked to be, far more under emulation); then timers, growing
 * to 100 ms.
 */
const GONE_CHECK_PAUSES_MS = [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64];
const GONE_CHECK_MAX_PAUSE_MS = 100;

let schedYield: (() => void) | undefined;

/** Let another runnable thread of this CPU (the kernel's worker) run; no-op without FFI. */
function yieldCpu(): void {
  if (schedYield === undefined) {
    try {
      const c = libc();
      schedYield = () => void c.sched_yield();
    } catch {
      schedYield = () => {};
    }
  }
  schedYield();
}

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
  /** How long a tunnel deletion waits for the kernel (default {@linkcode DEFAULT_DELETE_WAIT}). */
  deleteWait?: Partial<DeleteWait>;
  /** The clock for that wait, in ms (default `Date.now`; tests replace it). */
  now?: () => number;
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
  readonly #deleteWait: DeleteWait;
  readonly #now: () => number;
  #family: Promise<number> | undefined;
  /** The family id once resolved: requests then skip a promise. */
  #familyId: number | undefined;
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
    this.#deleteWait = { ...DEFAULT_DELETE_WAIT, ...options.deleteWait };
    this.#now = options.now ?? Date.now;
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
      p.then((id) => {
        if (this.#family === p) this.#familyId = id;
      }, () => {
        if (this.#family === p) this.#family = undefined; // retry next time
      });
    }
    return this.#family;
  }

  #request(g: GenlMessage, op: string): Promise<GenlMessage[]> {
    const id = this.#closed ? undefined : this.#familyId;
    if (id !== undefined) return genlRequest(this.#conn, id, g, op);
    return this.familyId().then((f) => genlRequest(this.#conn, f, g, op));
  }

  /** A GET of one object: `undefined` when the kernel has none. */
  #get(g: GenlMessage, op: string): Promise<GenlMessage[] | undefined> {
    const id = this.#closed ? undefined : this.#familyId;
    if (id !== undefined) return genlGet(this.#conn, id, g, op);
    return this.familyId().then((f) => genlGet(this.#conn, f, g, op));
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
   * Delete a kernel tunnel context and its sessions, and wait until the kernel has removed them.
   *
   * The kernel acknowledges the delete at once and removes the tunnel from a work queue, which
   * first deletes each session (an Ethernet session's interface takes milliseconds to
   * unregister). The promise resolves when the tunnel is gone (so its ID and port can be reused
   * and a read-back agrees). It waits a window of `baseMs` plus `perSessionMs` for each session
   * still present ({@linkcode DeleteWait}), renewed as long as sessions keep going away, and
   * rejects only when a whole window passes without the kernel removing any.
   *
   * @param tunnelId The tunnel.
   * @throws {Error} "Cannot delete tunnel N: still present ... ms after the kernel acknowledged
   *   the delete ..." when the kernel stops making progress; a {@linkcode NetlinkError} when it
   *   refuses the delete.
   */
  async deleteTunnel(tunnelId: number): Promise<void> {
    await this.#request(tunnelDeleteRequest(tunnelId), `delete tunnel ${tunnelId}`);
    this.#versions.delete(tunnelId);
    await this.#awaitTunnelGone(tunnelId);
  }

  async #awaitTunnelGone(tunnelId: number): Promise<void> {
    const op = `get tunnel ${tunnelId}`;
    const request = tunnelGetRequest(tunnelId);
    const { baseMs, perSessionMs } = this.#deleteWait;
    const start = this.#now();
    let windowStart = start;
    let deadline = start + baseMs;
    let sessionsLeft: number | undefined;
    for (let check = 0;; check++) {
      if (await this.#get(request, op) === undefined) return;
      const now = this.#now();
      if (now >= deadline) {
        // Renew the window while the kernel is still removing sessions.
        const left = await this.#countSessions(tunnelId);
        const progress = sessionsLeft === undefined ? left > 0 : left < sessionsLeft;
        if (!progress) {
          const state = left === 0
            ? "it has no sessions left"
            : `${left} of its sessions are left and none was removed in the last ${
              Math.round(now - windowStart)
            } ms`;
          throw new Error(
            `Cannot delete tunnel ${tunnelId}: still present ${
              Math.round(now - start)
            } ms after the kernel acknowledged the delete; ${state}`,
          );
        }
        sessionsLeft = left;
        windowStart = now;
        deadline = now + baseMs + perSessionMs * left;
      }
      const pause = GONE_CHECK_PAUSES_MS[check] ?? GONE_CHECK_MAX_PAUSE_MS;
      if (pause === 0) yieldCpu();
      else await new Promise((r) => setTimeout(r, pause));
    }
  }

  /** How many sessions the kernel lists for a tunnel (of any pseudowire type). */
  async #countSessions(tunnelId: number): Promise<number> {
    const parts = await this.#dump(sessionGetRequest(), `list sessions of tunnel ${tunnelId}`);
    let n = 0;
    for (const p of parts) {
      const ad = new AttributeDecoder(p.attributes, ATTR_BASE);
      while (ad.next()) {
        if (ad.type === L2TP_ATTR.CONN_ID) {
          if (ad.u32() === tunnelId) n++;
          break;
        }
      }
    }
    return n;
  }

  /**
   * Read one tunnel.
   *
   * @param tunnelId The tunnel.
   * @returns The tunnel, or `undefined` if the kernel has none with this ID.
   */
  async getTunnel(tunnelId: number): Promise<TunnelInfo | undefined> {
    const replies = await this.#get(tunnelGetRequest(tunnelId), `get tunnel ${tunnelId}`);
    const r = replies?.[0];
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
    validateSessionSpec(spec);
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
    const replies = await this.#get(sessionGetRequest(tunnelId, sessionId), op);
    const r = replies?.[0];
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
