/**
 * A data plane that keeps tunnels and sessions in memory instead of the kernel.
 *
 * It enforces the same rules the kernel does (unique IDs, a session needs its tunnel, deleting a
 * tunnel deletes its sessions), so code that runs against it runs against the kernel. It needs no
 * root and no L2TP modules: `--null-dataplane`, unit tests and benchmarks use it.
 *
 * @module
 */

import {
  type DataPlane,
  type SessionChanges,
  type SessionInfo,
  type SessionSpec,
  type TunnelChanges,
  type TunnelInfo,
  type TunnelSpec,
  zeroStats,
} from "./dataplane.ts";

/** The name of a {@linkcode DataPlane} method. */
export type DataPlaneOp = Exclude<keyof DataPlane, symbol>;

/** One call made to a {@linkcode NullDataPlane}, for tests that check what was asked. */
export interface DataPlaneCall {
  /** The method called. */
  op: DataPlaneOp;
  /** The tunnel it concerned. */
  tunnelId?: number;
  /** The session it concerned. */
  sessionId?: number;
}

/**
 * An in-memory {@linkcode DataPlane}.
 *
 * @example Usage
 * ```ts
 * import { NullDataPlane } from "./null.ts";
 * import assert from "node:assert/strict";
 *
 * using dp = new NullDataPlane();
 * await dp.createTunnel({ tunnelId: 1, peerTunnelId: 2, version: 3, encap: "udp",
 *   local: { address: "127.0.0.1", port: 5000 }, peer: { address: "127.0.0.1", port: 5001 } });
 * await dp.createSession({ tunnelId: 1, sessionId: 10, peerSessionId: 20, pseudowire: "eth" });
 * assert.equal((await dp.listSessions()).length, 1);
 * await dp.deleteTunnel(1);
 * assert.equal((await dp.listSessions()).length, 0);
 * ```
 */
export class NullDataPlane implements DataPlane {
  /** Every call made, in order. */
  readonly calls: DataPlaneCall[] = [];
  /** When set, the next call of this kind fails (for rollback tests), then the hook clears. */
  failNext?: { op: DataPlaneOp; error: Error };

  #tunnels = new Map<number, TunnelInfo>();
  #sessions = new Map<string, SessionInfo>();
  #ifindex = 0;
  #closed = false;

  #enter(op: DataPlaneOp, tunnelId?: number, sessionId?: number): void {
    if (this.#closed) throw new Error(`Cannot ${op}: the data plane is closed`);
    this.calls.push({ op, tunnelId, sessionId });
    if (this.failNext?.op === op) {
      const { error } = this.failNext;
      this.failNext = undefined;
      throw error;
    }
  }

  /** Create a tunnel context in memory. */
  createTunnel(spec: TunnelSpec): Promise<void> {
    return Promise.resolve().then(() => {
      this.#enter("createTunnel", spec.tunnelId);
      if (this.#tunnels.has(spec.tunnelId)) {
        throw new Error(`Cannot create tunnel ${spec.tunnelId}: it already exists`);
      }
      if (spec.fd === undefined && (spec.local === undefined || spec.peer === undefined)) {
        throw new TypeError(
          `Cannot create tunnel ${spec.tunnelId}: an unmanaged tunnel needs local and peer`,
        );
      }
      this.#tunnels.set(spec.tunnelId, {
        tunnelId: spec.tunnelId,
        peerTunnelId: spec.peerTunnelId,
        version: spec.version,
        encap: spec.encap,
        local: spec.local,
        peer: spec.peer,
        udpChecksum: spec.udpChecksum,
        udp6ZeroChecksumTx: spec.udp6ZeroChecksumTx,
        udp6ZeroChecksumRx: spec.udp6ZeroChecksumRx,
        debug: spec.debug,
        stats: zeroStats(),
      });
    });
  }

  /** Modify a tunnel context in memory. */
  modifyTunnel(tunnelId: number, changes: TunnelChanges): Promise<void> {
    return Promise.resolve().then(() => {
      this.#enter("modifyTunnel", tunnelId);
      const t = this.#tunnel("modify", tunnelId);
      if (changes.debug !== undefined) t.debug = changes.debug;
    });
  }

  /** Delete a tunnel context and its sessions. */
  deleteTunnel(tunnelId: number): Promise<void> {
    return Promise.resolve().then(() => {
      this.#enter("deleteTunnel", tunnelId);
      this.#tunnel("delete", tunnelId);
      this.#tunnels.delete(tunnelId);
      for (const [key, s] of this.#sessions) {
        if (s.tunnelId === tunnelId) this.#sessions.delete(key);
      }
    });
  }

  /** Read one tunnel. */
  getTunnel(tunnelId: number): Promise<TunnelInfo | undefined> {
    return Promise.resolve().then(() => {
      this.#enter("getTunnel", tunnelId);
      const t = this.#tunnels.get(tunnelId);
      return t && structuredClone(t);
    });
  }

  /** Read all tunnels. */
  listTunnels(): Promise<TunnelInfo[]> {
    return Promise.resolve().then(() => {
      this.#enter("listTunnels");
      return [...this.#tunnels.values()].map((t) => structuredClone(t));
    });
  }

  /** Create a session context in memory; Ethernet sessions get an interface name. */
  createSession(spec: SessionSpec): Promise<SessionInfo> {
    return Promise.resolve().then(() => {
      this.#enter("createSession", spec.tunnelId, spec.sessionId);
      const tunnel = this.#tunnels.get(spec.tunnelId);
      if (!tunnel) {
        throw new Error(
          `Cannot create session ${spec.tunnelId}/${spec.sessionId}: no tunnel ${spec.tunnelId}`,
        );
      }
      const key = sessionKey(spec.tunnelId, spec.sessionId);
      if (this.#sessions.has(key)) {
        throw new Error(
          `Cannot create session ${spec.tunnelId}/${spec.sessionId}: it already exists`,
        );
      }
      const info: SessionInfo = {
        tunnelId: spec.tunnelId,
        sessionId: spec.sessionId,
        peerSessionId: spec.peerSessionId,
        peerTunnelId: tunnel.peerTunnelId,
        pseudowire: spec.pseudowire,
        cookie: spec.cookie,
        peerCookie: spec.peerCookie,
        ifname: spec.pseudowire === "eth" ? spec.ifname ?? `l2tpeth${this.#ifindex++}` : undefined,
        sendSeq: spec.sendSeq ?? false,
        recvSeq: spec.recvSeq ?? false,
        lnsMode: spec.lnsMode ?? false,
        reorderTimeoutMs: spec.reorderTimeoutMs ?? 0,
        l2specType: spec.l2specType,
        l2specLen: spec.l2specLen,
        stats: zeroStats(),
      };
      this.#sessions.set(key, info);
      return structuredClone(info);
    });
  }

  /** Modify a session context in memory. */
  modifySession(tunnelId: number, sessionId: number, changes: SessionChanges): Promise<void> {
    return Promise.resolve().then(() => {
      this.#enter("modifySession", tunnelId, sessionId);
      const s = this.#session("modify", tunnelId, sessionId);
      if (changes.sendSeq !== undefined) s.sendSeq = changes.sendSeq;
      if (changes.recvSeq !== undefined) s.recvSeq = changes.recvSeq;
      if (changes.lnsMode !== undefined) s.lnsMode = changes.lnsMode;
      if (changes.reorderTimeoutMs !== undefined) s.reorderTimeoutMs = changes.reorderTimeoutMs;
    });
  }

  /** Delete a session context. */
  deleteSession(tunnelId: number, sessionId: number): Promise<void> {
    return Promise.resolve().then(() => {
      this.#enter("deleteSession", tunnelId, sessionId);
      this.#session("delete", tunnelId, sessionId);
      this.#sessions.delete(sessionKey(tunnelId, sessionId));
    });
  }

  /** Read one session. */
  getSession(tunnelId: number, sessionId: number): Promise<SessionInfo | undefined> {
    return Promise.resolve().then(() => {
      this.#enter("getSession", tunnelId, sessionId);
      const s = this.#sessions.get(sessionKey(tunnelId, sessionId));
      return s && structuredClone(s);
    });
  }

  /** Read all sessions, optionally of one tunnel. */
  listSessions(tunnelId?: number): Promise<SessionInfo[]> {
    return Promise.resolve().then(() => {
      this.#enter("listSessions", tunnelId);
      return [...this.#sessions.values()]
        .filter((s) => tunnelId === undefined || s.tunnelId === tunnelId)
        .map((s) => structuredClone(s));
    });
  }

  /** Close; later calls fail. Idempotent. */
  close(): void {
    this.#closed = true;
  }

  /** Same as {@linkcode NullDataPlane.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #tunnel(verb: string, tunnelId: number): TunnelInfo {
    const t = this.#tunnels.get(tunnelId);
    if (!t) throw new Error(`Cannot ${verb} tunnel ${tunnelId}: no such tunnel`);
    return t;
  }

  #session(verb: string, tunnelId: number, sessionId: number): SessionInfo {
    const s = this.#sessions.get(sessionKey(tunnelId, sessionId));
    if (!s) {
      throw new Error(`Cannot ${verb} session ${tunnelId}/${sessionId}: no such session`);
    }
    return s;
  }
}

function sessionKey(tunnelId: number, sessionId: number): string {
  return `${tunnelId}/${sessionId}`;
}
