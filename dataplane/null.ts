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
 * Options for {@linkcode NullDataPlane}.
 *
 * @example Usage
 * ```ts
 * import { NullDataPlane, type NullDataPlaneOptions } from "./null.ts";
 * const options: NullDataPlaneOptions = { callLimit: 100 };
 * using dp = new NullDataPlane(options);
 * console.log(dp.callLimit); // 100
 * ```
 */
export interface NullDataPlaneOptions {
  /**
   * How many of the most recent calls {@linkcode NullDataPlane.calls} keeps (default
   * {@linkcode DEFAULT_CALL_LIMIT}; 0 records none, `Infinity` all). Dropping the oldest is
   * O(1) up to some ten thousand; far larger limits make every call cost more.
   */
  callLimit?: number;
}

/**
 * How many calls a {@linkcode NullDataPlane} keeps by default: plenty for a test, and a bounded
 * few hundred KiB for a long run.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_CALL_LIMIT } from "./null.ts";
 * console.log(DEFAULT_CALL_LIMIT); // 10000
 * ```
 */
export const DEFAULT_CALL_LIMIT = 10_000;

/**
 * An in-memory {@linkcode DataPlane}.
 *
 * Reads hand out copies (so callers cannot change the stored state), made field by field: no
 * `structuredClone` on the hot path.
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
 * assert.deepEqual(dp.calls.map((c) => c.op).slice(-2), ["deleteTunnel", "listSessions"]);
 * ```
 */
export class NullDataPlane implements DataPlane {
  /**
   * The most recent calls, oldest first: at most {@linkcode NullDataPlane.callLimit} of them
   * (the oldest is dropped as a new one comes). Tests may read and clear it
   * (`calls.length = 0`).
   */
  readonly calls: DataPlaneCall[] = [];
  /** How many calls {@linkcode NullDataPlane.calls} keeps. */
  readonly callLimit: number;
  /** When set, the next call of this kind fails (for rollback tests), then the hook clears. */
  failNext?: { op: DataPlaneOp; error: Error };

  #tunnels = new Map<number, TunnelInfo>();
  /** Sessions by tunnel, then session ID; no counters are kept (a null data plane carries nothing). */
  #sessions = new Map<number, Map<number, StoredSession>>();
  #ifindex = 0;
  #closed = false;

  /**
   * Make an empty data plane.
   *
   * @param options How many calls to keep.
   * @throws {RangeError} when `callLimit` is not a non-negative integer or `Infinity`.
   */
  constructor(options: NullDataPlaneOptions = {}) {
    const limit = options.callLimit ?? DEFAULT_CALL_LIMIT;
    if (!(limit === Infinity || (Number.isInteger(limit) && limit >= 0))) {
      throw new RangeError(
        `Cannot create null data plane: call limit ${limit} is not a non-negative integer`,
      );
    }
    this.callLimit = limit;
  }

  #enter(op: DataPlaneOp, tunnelId?: number, sessionId?: number): void {
    if (this.#closed) throw new Error(`Cannot ${op}: the data plane is closed`);
    if (this.callLimit > 0) {
      const calls = this.calls;
      calls.push({ op, tunnelId, sessionId });
      // One at a time, shift() is O(1) for an array of this size (V8 trims it in place).
      while (calls.length > this.callLimit) calls.shift();
    }
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
        local: spec.local && { ...spec.local },
        peer: spec.peer && { ...spec.peer },
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
      this.#sessions.delete(tunnelId);
    });
  }

  /** Read one tunnel. */
  getTunnel(tunnelId: number): Promise<TunnelInfo | undefined> {
    return Promise.resolve().then(() => {
      this.#enter("getTunnel", tunnelId);
      const t = this.#tunnels.get(tunnelId);
      return t && copyTunnel(t);
    });
  }

  /** Read all tunnels. */
  listTunnels(): Promise<TunnelInfo[]> {
    return Promise.resolve().then(() => {
      this.#enter("listTunnels");
      return Array.from(this.#tunnels.values(), copyTunnel);
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
      let inTunnel = this.#sessions.get(spec.tunnelId);
      if (inTunnel?.has(spec.sessionId)) {
        throw new Error(
          `Cannot create session ${spec.tunnelId}/${spec.sessionId}: it already exists`,
        );
      }
      const info = new StoredSession(
        spec,
        tunnel.peerTunnelId,
        spec.pseudowire === "eth" ? spec.ifname ?? `l2tpeth${this.#ifindex++}` : undefined,
      );
      if (inTunnel === undefined) this.#sessions.set(spec.tunnelId, inTunnel = new Map());
      inTunnel.set(spec.sessionId, info);
      return copySession(info);
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
      const inTunnel = this.#sessions.get(tunnelId);
      inTunnel?.delete(sessionId);
      if (inTunnel?.size === 0) this.#sessions.delete(tunnelId);
    });
  }

  /** Read one session. */
  getSession(tunnelId: number, sessionId: number): Promise<SessionInfo | undefined> {
    return Promise.resolve().then(() => {
      this.#enter("getSession", tunnelId, sessionId);
      const s = this.#sessions.get(tunnelId)?.get(sessionId);
      return s && copySession(s);
    });
  }

  /** Read all sessions, optionally of one tunnel. */
  listSessions(tunnelId?: number): Promise<SessionInfo[]> {
    return Promise.resolve().then(() => {
      this.#enter("listSessions", tunnelId);
      const out: SessionInfo[] = [];
      for (const [id, inTunnel] of this.#sessions) {
        if (tunnelId !== undefined && id !== tunnelId) continue;
        for (const s of inTunnel.values()) out.push(copySession(s));
      }
      return out;
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

  #session(verb: string, tunnelId: number, sessionId: number): StoredSession {
    const s = this.#sessions.get(tunnelId)?.get(sessionId);
    if (!s) {
      throw new Error(`Cannot ${verb} session ${tunnelId}/${sessionId}: no such session`);
    }
    return s;
  }
}

/** A copy of a stored tunnel that shares nothing mutable with it. */
function copyTunnel(t: TunnelInfo): TunnelInfo {
  const c: TunnelInfo = { ...t, stats: { ...t.stats } };
  if (t.local !== undefined) c.local = { ...t.local };
  if (t.peer !== undefined) c.peer = { ...t.peer };
  return c;
}

/** What is kept of a session: one fixed-shape object, no counters (they are always zero). */
class StoredSession {
  readonly tunnelId: number;
  readonly sessionId: number;
  readonly peerSessionId: number;
  readonly peerTunnelId: number;
  readonly pseudowire: SessionSpec["pseudowire"];
  readonly cookie: Uint8Array | undefined;
  readonly peerCookie: Uint8Array | undefined;
  readonly ifname: string | undefined;
  sendSeq: boolean;
  recvSeq: boolean;
  lnsMode: boolean;
  reorderTimeoutMs: number;
  readonly l2specType: SessionSpec["l2specType"];
  readonly l2specLen: number | undefined;

  constructor(spec: SessionSpec, peerTunnelId: number, ifname: string | undefined) {
    this.tunnelId = spec.tunnelId;
    this.sessionId = spec.sessionId;
    this.peerSessionId = spec.peerSessionId;
    this.peerTunnelId = peerTunnelId;
    this.pseudowire = spec.pseudowire;
    this.cookie = spec.cookie?.slice();
    this.peerCookie = spec.peerCookie?.slice();
    this.ifname = ifname;
    this.sendSeq = spec.sendSeq ?? false;
    this.recvSeq = spec.recvSeq ?? false;
    this.lnsMode = spec.lnsMode ?? false;
    this.reorderTimeoutMs = spec.reorderTimeoutMs ?? 0;
    this.l2specType = spec.l2specType;
    this.l2specLen = spec.l2specLen;
  }
}

/** A stored session as the data plane reports it: a fresh copy (cookies sliced), zero counters. */
function copySession(s: StoredSession): SessionInfo {
  return {
    tunnelId: s.tunnelId,
    sessionId: s.sessionId,
    peerSessionId: s.peerSessionId,
    peerTunnelId: s.peerTunnelId,
    pseudowire: s.pseudowire,
    cookie: s.cookie?.slice(),
    peerCookie: s.peerCookie?.slice(),
    ifname: s.ifname,
    sendSeq: s.sendSeq,
    recvSeq: s.recvSeq,
    lnsMode: s.lnsMode,
    reorderTimeoutMs: s.reorderTimeoutMs,
    l2specType: s.l2specType,
    l2specLen: s.l2specLen,
    stats: zeroStats(),
  };
}
