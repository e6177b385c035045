/**
 * Bringing one session's data path up and down: the kernel session, and for PPP pseudowires the
 * pppd that terminates the PPP link.
 *
 * Ethernet sessions are created over netlink. L2TPv2 PPP sessions are created by the PPPoL2TP
 * socket that pppd's pppol2tp plugin is given (the kernel makes the session on its connect);
 * L2TPv3 PPP sessions are created over netlink first (with their cookies and L2-Specific
 * Sublayer) and the socket attaches to them. A pppac session (a PPPoE subscriber's session
 * relayed into the L2TP session, `../dataplane/pppac.ts`) is made the same way, but its PPP
 * channel is bridged to the PPPoE session's instead of given to a pppd. Without pppd (the null
 * data plane, or `pppd: false`) a PPP or pppac session is only recorded in the data plane.
 *
 * @module
 */

import {
  type DataPlane,
  type Endpoint,
  type SessionInfo,
  type SessionSpec,
} from "../dataplane/dataplane.ts";
import { type PppdExit, type PppdProcess, startPppd } from "../dataplane/pppd.ts";
import { openPppac, type PppacPppoeOptions, type PppacPseudowire } from "../dataplane/pppac.ts";
import type { Log } from "./log.ts";
import type { SessionConfig } from "./config.ts";
import { formatMac } from "../control/mac.ts";

/**
 * The kernel session for a configured session: IDs, and what the control protocol negotiated
 * (cookies, sublayer, sequencing) where it differs from the configuration.
 *
 * @example Usage
 * ```ts
 * import { kernelSessionSpec } from "./sessions.ts";
 * const spec = kernelSessionSpec(3, { tunnelId: 1, sessionId: 2, peerSessionId: 3 }, {
 *   pseudowire: "eth", sendSeqnum: true, recvSeqnum: false, l2specType: "default",
 * });
 * console.log(spec.l2specLen); // 4
 * ```
 */
export function kernelSessionSpec(
  version: 2 | 3,
  ids: Pick<SessionSpec, "tunnelId" | "sessionId" | "peerSessionId">,
  cfg: SessionConfig,
  negotiated: Pick<
    SessionSpec,
    "cookie" | "peerCookie" | "l2specType" | "sendSeq" | "recvSeq" | "lnsMode"
  > = {},
): SessionSpec {
  const l2spec = negotiated.l2specType ?? cfg.l2specType;
  return {
    ...ids,
    pseudowire: cfg.pseudowire === "ppp" || cfg.pseudowire === "pppac" ? "ppp" : "eth",
    cookie: "cookie" in negotiated ? negotiated.cookie : cfg.cookie,
    peerCookie: "peerCookie" in negotiated ? negotiated.peerCookie : cfg.peerCookie,
    l2specType: version === 3 ? l2spec : undefined,
    l2specLen: version === 3 ? (l2spec === "default" ? 4 : 0) : undefined,
    sendSeq: negotiated.sendSeq ?? cfg.sendSeqnum,
    recvSeq: negotiated.recvSeq ?? cfg.recvSeqnum,
    lnsMode: negotiated.lnsMode ?? cfg.lnsMode,
    reorderTimeoutMs: cfg.reorderTimeoutMs,
    ifname: cfg.interfaceName,
    mtu: cfg.mtu,
    debug: cfg.debug,
  };
}

/**
 * The PPPoE fields of a pppac session's events and status: its PPPoE session ID and the
 * subscriber's MAC; nothing for other pseudowires (or a pppac session without them).
 *
 * @param cfg The session's settings.
 * @returns `pppoeSessionId` and `pppoePeerMac`, or an empty object.
 *
 * @example Usage
 * ```ts
 * import { pppoeFields } from "./sessions.ts";
 * console.log(pppoeFields({
 *   pseudowire: "pppac", sendSeqnum: false, recvSeqnum: false, l2specType: "none",
 *   pppoeSessionId: 7, pppoePeerMac: new Uint8Array([2, 0, 0, 0, 0, 1]),
 * })); // { pppoeSessionId: 7, pppoePeerMac: "02:00:00:00:00:01" }
 * ```
 */
export function pppoeFields(
  cfg: SessionConfig,
): { pppoeSessionId?: number; pppoePeerMac?: string } {
  if (cfg.pseudowire !== "pppac") return {};
  const { pppoeSessionId, pppoePeerMac } = cfg;
  return {
    ...(pppoeSessionId !== undefined ? { pppoeSessionId } : {}),
    ...(pppoePeerMac !== undefined ? { pppoePeerMac: formatMac(pppoePeerMac) } : {}),
  };
}

/** What {@linkcode sessionUp} needs besides the kernel session's spec. */
export interface SessionPlumbing {
  /** The data plane. */
  dataPlane: DataPlane;
  /** Start pppd for PPP sessions (false with the null data plane). */
  pppd: boolean;
  /** The tunnel socket's fd (PPPoL2TP sockets attach to it). */
  tunnelFd?: number;
  /** Protocol version of the tunnel. */
  version: 2 | 3;
  /** The peer's tunnel ID. */
  peerTunnelId: number;
  /** The peer's address. */
  peer: Endpoint;
  /** Extra pppd arguments (the session's pppd_args file). */
  pppdArgs?: readonly string[];
  /** Log with the tunnel's (or the session's) context. */
  log: Log;
  /** The session's name: pppd's messages are logged with it (see `log`). */
  sessionName?: string;
  /** Called when pppd exits on its own (not through `down`). */
  onPppdExit?: (exit: PppdExit) => void;
  /** A kernel session left by an earlier run that matches `spec` (see reconcile.ts): kept. */
  adopted?: SessionInfo;
  /** For a pppac session: the PPPoE session to bridge to (see {@linkcode pppoeOf}). */
  pppoe?: PppacPppoeOptions;
}

/**
 * The PPPoE session a pppac session is bridged to, from its `pppoe_session_id`,
 * `pppoe_peer_mac` and `interface_name`; `undefined` for other pseudowires.
 *
 * @param cfg The session's settings.
 * @returns The PPPoE side of the pseudowire.
 * @throws {TypeError} When a pppac session lacks one of the three keys.
 *
 * @example Usage
 * ```ts
 * import { pppoeOf } from "./sessions.ts";
 * console.log(pppoeOf({
 *   pseudowire: "pppac", sendSeqnum: false, recvSeqnum: false, l2specType: "none",
 *   pppoeSessionId: 0x1234, pppoePeerMac: new Uint8Array([2, 0, 0, 0, 0, 1]),
 *   interfaceName: "eth1",
 * })); // { sessionId: 4660, peerMac: "02:00:00:00:00:01", ifname: "eth1" }
 * ```
 */
export function pppoeOf(cfg: SessionConfig): PppacPppoeOptions | undefined {
  if (cfg.pseudowire !== "pppac") return undefined;
  const { pppoeSessionId, pppoePeerMac, interfaceName } = cfg;
  if (pppoeSessionId === undefined || pppoePeerMac === undefined || interfaceName === undefined) {
    throw new TypeError(
      'Cannot relay a pppac session: it needs "pppoe_session_id", "pppoe_peer_mac" and ' +
        '"interface_name" (the PPPoE session to bridge to)',
    );
  }
  return { sessionId: pppoeSessionId, peerMac: formatMac(pppoePeerMac), ifname: interfaceName };
}

/** What a live session reports of itself: its IDs and, once known, its interface. */
export type LiveSessionInfo = Pick<SessionInfo, "tunnelId" | "sessionId" | "peerSessionId"> & {
  /** Interface name (Ethernet pseudowires, or pppd's `pppN` once it says). */
  readonly ifname?: string;
};

/**
 * A session whose data path is up. One small object per session (a responder may hold tens of
 * thousands): no closures, no copy of the kernel's session record.
 *
 * @example Usage
 * ```ts
 * import { sessionUp } from "./sessions.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * import { getLog } from "./log.ts";
 * const dataPlane = new NullDataPlane();
 * await dataPlane.createTunnel({ tunnelId: 1, peerTunnelId: 2, version: 3, encap: "udp",
 *   local: { address: "127.0.0.1", port: 1701 }, peer: { address: "127.0.0.1", port: 1702 } });
 * const live = await sessionUp(
 *   { tunnelId: 1, sessionId: 2, peerSessionId: 3, pseudowire: "eth", ifname: "pw0" },
 *   { dataPlane, pppd: false, version: 3, peerTunnelId: 2,
 *     peer: { address: "127.0.0.1", port: 1702 }, log: getLog("example") },
 * );
 * console.log(live.ifname); // pw0
 * await live.down();
 * ```
 */
export class LiveSession implements LiveSessionInfo {
  /** Our tunnel ID. */
  readonly tunnelId: number;
  /** Our session ID. */
  readonly sessionId: number;
  /** The peer's session ID. */
  readonly peerSessionId: number;
  /** Interface name, when one is known. */
  readonly ifname: string | undefined;
  /** When it came up (milliseconds since the epoch). */
  readonly since: number = Date.now();
  /** The pppd running for it. */
  readonly pppd: PppdProcess | undefined;
  /** Its bridge to a PPPoE session (pppac). */
  readonly pppac: PppacPseudowire | undefined;
  readonly #dataPlane: DataPlane;
  readonly #log: Log;
  #downed: Promise<void> | undefined;

  /**
   * A session that is up (see {@linkcode sessionUp}).
   *
   * @param info Its IDs and interface.
   * @param dataPlane Where it lives.
   * @param log Logger.
   * @param pppd Its pppd, if one runs.
   * @param pppac Its bridge to a PPPoE session, for a relayed pppac session.
   */
  constructor(
    info: LiveSessionInfo,
    dataPlane: DataPlane,
    log: Log,
    pppd?: PppdProcess,
    pppac?: PppacPseudowire,
  ) {
    this.tunnelId = info.tunnelId;
    this.sessionId = info.sessionId;
    this.peerSessionId = info.peerSessionId;
    this.ifname = info.ifname;
    this.#dataPlane = dataPlane;
    this.#log = log;
    this.pppd = pppd;
    this.pppac = pppac;
  }

  /** Whether {@linkcode LiveSession.down} was called. */
  get stopping(): boolean {
    return this.#downed !== undefined;
  }

  /**
   * Take the data path down (stop pppd, delete the kernel session). Idempotent.
   *
   * @returns Once it is down.
   */
  down(): Promise<void> {
    return this.#downed ??= this.#down();
  }

  async #down(): Promise<void> {
    const { tunnelId, sessionId } = this;
    const pppd = this.pppd;
    if (pppd) {
      const exit = await pppd.stop();
      this.#log.debug("pppd {pid} stopped ({reason})", { pid: pppd.pid, reason: exit.reason });
    }
    await this.pppac?.close().catch((error) => {
      this.#log.warn("Cannot unbridge session {tunnelId}/{sessionId}: {error}", {
        tunnelId,
        sessionId,
        error: String(error),
      });
    });
    // Closing the PPPoL2TP socket may already have removed the session.
    await this.#dataPlane.deleteSession(tunnelId, sessionId).catch((error) => {
      this.#log.debug("Session {tunnelId}/{sessionId} already gone: {error}", {
        tunnelId,
        sessionId,
        error: String(error),
      });
    });
  }
}

/**
 * Bring a session's data path up. On failure nothing of it is left behind.
 *
 * @param spec The kernel session.
 * @param p The data plane, pppd, the tunnel's socket and peer.
 * @returns The live session.
 *
 * @example Usage
 * ```ts ignore
 * import { sessionUp } from "./sessions.ts";
 * const live = await sessionUp(
 *   { tunnelId: 1, sessionId: 2, peerSessionId: 3, pseudowire: "eth" },
 *   { dataPlane, pppd: false, version: 3, peerTunnelId: 4, peer, log },
 * );
 * await live.down();
 * ```
 */
export async function sessionUp(spec: SessionSpec, p: SessionPlumbing): Promise<LiveSession> {
  const relay = spec.pseudowire === "ppp" && p.pppd && p.pppoe !== undefined;
  const runPppd = spec.pseudowire === "ppp" && p.pppd;
  // The kernel makes a PPP session itself on the PPPoL2TP connect, but an L2TPv3 session made
  // that way has neither cookies nor an L2-Specific Sublayer: L2TPv3 sessions are created over
  // netlink first, and the PPPoL2TP socket attaches to them.
  const viaNetlink = !runPppd || p.version === 3;
  let created: SessionInfo | undefined = runPppd ? undefined : p.adopted;
  if (viaNetlink && created === undefined) created = await p.dataPlane.createSession(spec);
  const info: LiveSessionInfo = {
    tunnelId: spec.tunnelId,
    sessionId: spec.sessionId,
    peerSessionId: spec.peerSessionId,
    ...((created?.ifname ?? spec.ifname) !== undefined
      ? { ifname: created?.ifname ?? spec.ifname }
      : {}),
  };
  if (!runPppd) return new LiveSession(info, p.dataPlane, p.log);
  /** Remove the kernel session made above, when what should use it cannot start. */
  const undo = async (): Promise<void> => {
    if (created) await p.dataPlane.deleteSession(spec.tunnelId, spec.sessionId).catch(() => {});
  };
  let pppd: PppdProcess;
  if (p.tunnelFd === undefined) {
    await undo();
    throw new Error(
      `Cannot ${relay ? "relay" : "start pppd for"} session ${spec.tunnelId}/${spec.sessionId}: ` +
        "no tunnel socket",
    );
  }
  if (relay && p.pppoe !== undefined) {
    let pppac: PppacPseudowire;
    try {
      pppac = openPppac({
        tunnelFd: p.tunnelFd,
        version: p.version,
        tunnelId: spec.tunnelId,
        sessionId: spec.sessionId,
        peerTunnelId: p.peerTunnelId,
        peerSessionId: spec.peerSessionId,
        peer: p.peer,
        pppoe: p.pppoe,
      });
    } catch (error) {
      await undo();
      throw error;
    }
    return new LiveSession(info, p.dataPlane, p.log, undefined, pppac);
  }
  const log = p.sessionName === undefined ? p.log : p.log.with({ session: p.sessionName });
  try {
    pppd = startPppd({
      tunnelFd: p.tunnelFd,
      version: p.version,
      tunnelId: spec.tunnelId,
      sessionId: spec.sessionId,
      peerTunnelId: p.peerTunnelId,
      peerSessionId: spec.peerSessionId,
      peer: p.peer,
      lnsMode: spec.lnsMode,
      sendSeq: spec.sendSeq,
      recvSeq: spec.recvSeq,
      reorderTimeoutMs: spec.reorderTimeoutMs,
      debugMask: spec.debug,
      ifname: spec.ifname,
      extraArgs: p.pppdArgs,
      onOutput: (line) => log.debug("pppd: {line}", { line }),
    });
  } catch (error) {
    await undo();
    throw error;
  }
  log.debug("pppd {pid} started", { pid: pppd.pid });
  const live = new LiveSession(info, p.dataPlane, log, pppd);
  const onPppdExit = p.onPppdExit;
  pppd.exited.then((exit) => {
    if (live.stopping) return;
    log.warn("pppd exited: {reason}", { reason: exit.reason });
    try {
      onPppdExit?.(exit);
    } catch (error) {
      log.error("Cannot handle the pppd exit: {error}", { error: String(error) });
    }
  });
  return live;
}
