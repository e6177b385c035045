/**
 * Bringing one session's data path up and down: the kernel session, and for PPP pseudowires the
 * pppd that terminates the PPP link.
 *
 * Ethernet sessions are created over netlink. L2TPv2 PPP sessions are created by the PPPoL2TP
 * socket that pppd's pppol2tp plugin is given (the kernel makes the session on its connect);
 * L2TPv3 PPP sessions are created over netlink first (with their cookies and L2-Specific
 * Sublayer) and the socket attaches to them. Without pppd (the null data plane, or `pppd: false`) a PPP
 * session is only recorded in the data plane.
 *
 * @module
 */

import {
  type DataPlane,
  type Endpoint,
  type SessionInfo,
  type SessionSpec,
  zeroStats,
} from "../dataplane/dataplane.ts";
import { type PppdExit, type PppdProcess, startPppd } from "../dataplane/pppd.ts";
import type { Log } from "./log.ts";
import type { SessionConfig } from "./config.ts";

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
  /** Log with the tunnel/session context. */
  log: Log;
  /** Called when pppd exits on its own (not through `down`). */
  onPppdExit?: (exit: PppdExit) => void;
  /** A kernel session left by an earlier run that matches `spec` (see reconcile.ts): kept. */
  adopted?: SessionInfo;
}

/** A session whose data path is up. */
export interface LiveSession {
  /**
   * The session: as the data plane reported it when it created it (interface name, ...), or as
   * asked for when the PPPoL2TP connect created it.
   */
  info: SessionInfo;
  /** The pppd running for it. */
  pppd?: PppdProcess;
  /** Take the data path down (stop pppd, delete the kernel session). Idempotent. */
  down(): Promise<void>;
}

/**
 * Bring a session's data path up. On failure nothing of it is left behind.
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
  const runPppd = spec.pseudowire === "ppp" && p.pppd;
  // The kernel makes a PPP session itself on the PPPoL2TP connect, but an L2TPv3 session made
  // that way has neither cookies nor an L2-Specific Sublayer: L2TPv3 sessions are created over
  // netlink first, and the PPPoL2TP socket attaches to them.
  const viaNetlink = !runPppd || p.version === 3;
  let created: SessionInfo | undefined = runPppd ? undefined : p.adopted;
  if (viaNetlink && created === undefined) created = await p.dataPlane.createSession(spec);
  let pppd: PppdProcess | undefined;
  if (runPppd) {
    if (p.tunnelFd === undefined) {
      if (created) await p.dataPlane.deleteSession(spec.tunnelId, spec.sessionId).catch(() => {});
      throw new Error(
        `Cannot start pppd for session ${spec.tunnelId}/${spec.sessionId}: no tunnel socket`,
      );
    }
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
        onOutput: (line) => p.log.debug("pppd: {line}", { line }),
      });
    } catch (error) {
      if (created) await p.dataPlane.deleteSession(spec.tunnelId, spec.sessionId).catch(() => {});
      throw error;
    }
    p.log.debug("pppd {pid} started", { pid: pppd.pid });
  }
  let stopping = false;
  pppd?.exited.then((exit) => {
    if (stopping) return;
    p.log.warn("pppd exited: {reason}", { reason: exit.reason });
    try {
      p.onPppdExit?.(exit);
    } catch (error) {
      p.log.error("Cannot handle the pppd exit: {error}", { error: String(error) });
    }
  });
  let downed: Promise<void> | undefined;
  return {
    info: created ?? {
      ...spec,
      sendSeq: !!spec.sendSeq,
      recvSeq: !!spec.recvSeq,
      lnsMode: !!spec.lnsMode,
      reorderTimeoutMs: spec.reorderTimeoutMs ?? 0,
      stats: zeroStats(),
    },
    pppd,
    down: () =>
      downed ??= (async () => {
        stopping = true;
        if (pppd) {
          const exit = await pppd.stop();
          p.log.debug("pppd {pid} stopped ({reason})", { pid: pppd.pid, reason: exit.reason });
        }
        // Closing the PPPoL2TP socket may already have removed the session.
        await p.dataPlane.deleteSession(spec.tunnelId, spec.sessionId).catch((error) => {
          p.log.debug("Session already gone: {error}", { error: String(error) });
        });
      })(),
  };
}
