/**
 * The "pppac" pseudowire's data plane (go-l2tp's kpppoed): a PPPoE subscriber's session relayed
 * into an L2TP session, entirely in the kernel.
 *
 * {@linkcode openPppac} opens the L2TP session's PPPoL2TP socket (as `startPppd` does for the
 * ppp pseudowire; for L2TPv2 the connect creates the kernel session), reads its PPP channel
 * (`PPPIOCGCHAN`), opens the PPPoE session socket and reads its channel, and bridges the two
 * (`PPPIOCBRIDGECHAN`, Linux 5.13+). From then on the kernel forwards PPP frames between the
 * subscriber and the LNS both ways; no pppd runs on the access concentrator. PPPoE discovery,
 * which finds the subscriber's MAC and assigns the session ID, happens before, over a packet
 * socket (`packet_socket.ts`).
 *
 * {@linkcode PppacPseudowire.close} undoes it in reverse order: unbridge and close `/dev/ppp`,
 * close the PPPoE socket (ending the kernel PPPoE session), close the PPPoL2TP socket (which
 * deletes a kernel session its connect created). A failure half way through opening leaves
 * nothing open. Everything happens in the caller's network namespace; the kernel tunnel must
 * already exist (created over netlink with `tunnelFd`, a managed tunnel).
 *
 * @module
 */

import type { Endpoint, L2tpVersion } from "../control/types.ts";
import { libc } from "./ffi/libc.ts";
import { decodeSockaddr, SOCKADDR_STORAGE_SIZE } from "./ffi/sockaddr.ts";
import { bridgeChannels, type PppBridge, pppChannelOf } from "./ppp_bridge.ts";
import { openPppoeSession, type PppoeSession } from "./pppoe_session.ts";
import { openPppol2tpSocket, type Pppol2tpSocket } from "./socket.ts";

export type { Endpoint, L2tpVersion, PppBridge, PppoeSession, Pppol2tpSocket };

/** The PPPoE side of a pppac pseudowire: the session discovery agreed on. */
export interface PppacPppoeOptions {
  /** The PPPoE session ID (1..65534). */
  sessionId: number;
  /** The subscriber's MAC address. */
  peerMac: string;
  /** The access concentrator's Ethernet interface towards the subscriber. */
  ifname: string;
}

/** Options of {@linkcode openPppac}. */
export interface PppacOptions {
  /** The tunnel's UDP or L2TP/IP socket fd (the kernel tunnel must already exist). */
  tunnelFd: number;
  /** L2TP version (selects the PPPoL2TP sockaddr variant). */
  version: L2tpVersion;
  /** Our tunnel ID. */
  tunnelId: number;
  /** Our session ID. */
  sessionId: number;
  /** The peer's tunnel ID. */
  peerTunnelId: number;
  /** The peer's session ID. */
  peerSessionId: number;
  /**
   * The LNS's address, for the PPPoL2TP sockaddr. The kernel takes the addressing from the
   * tunnel socket, so by default it is read from `tunnelFd` (`getpeername`; 0.0.0.0:0 when the
   * socket is not connected).
   */
  peer?: Endpoint;
  /** The subscriber's PPPoE session. */
  pppoe: PppacPppoeOptions;
}

function tunnelPeer(fd: number): Endpoint {
  const buf = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  const len = new Uint32Array([buf.length]);
  if (libc().getpeername(fd, buf, len) < 0) {
    // Not connected (or not a socket: the PPPoL2TP connect reports that).
    return { address: "0.0.0.0", port: 0 };
  }
  try {
    const sa = decodeSockaddr(buf, Math.min(len[0], buf.length));
    return { address: sa.address, port: sa.port };
  } catch {
    return { address: "0.0.0.0", port: 0 };
  }
}

/**
 * A running pppac pseudowire: an L2TP session's PPP channel bridged with a PPPoE session's.
 *
 * @example Usage
 * Not run as a doc test: it needs root, the kernel's l2tp_ppp and pppoe modules and a tunnel.
 * ```ts ignore
 * import { openPppac } from "./pppac.ts";
 * await using pw = openPppac({
 *   tunnelFd: 5, version: 2, tunnelId: 1, sessionId: 2, peerTunnelId: 3, peerSessionId: 4,
 *   pppoe: { sessionId: 0x1234, peerMac: "02:00:00:00:00:01", ifname: "eth1" },
 * });
 * console.log(pw.l2tpChannel, pw.pppoeChannel);
 * ```
 */
export class PppacPseudowire implements AsyncDisposable {
  /** The PPPoL2TP socket's PPP channel index. */
  readonly l2tpChannel: number;
  /** The PPPoE socket's PPP channel index. */
  readonly pppoeChannel: number;
  /** Our L2TP tunnel ID. */
  readonly tunnelId: number;
  /** Our L2TP session ID. */
  readonly sessionId: number;
  /** The PPPoE session ID. */
  readonly pppoeSessionId: number;
  readonly #l2tp: Pppol2tpSocket;
  readonly #pppoe: PppoeSession;
  readonly #bridge: PppBridge;
  #closing: Promise<void> | undefined;

  /**
   * Take ownership of the three parts (use {@linkcode openPppac}).
   *
   * @param l2tp The PPPoL2TP session socket.
   * @param l2tpChannel Its channel.
   * @param pppoe The PPPoE session socket.
   * @param pppoeChannel Its channel.
   * @param bridge The bridge between the two channels.
   * @param ids Our tunnel and session IDs.
   */
  constructor(
    l2tp: Pppol2tpSocket,
    l2tpChannel: number,
    pppoe: PppoeSession,
    pppoeChannel: number,
    bridge: PppBridge,
    ids: { tunnelId: number; sessionId: number },
  ) {
    this.#l2tp = l2tp;
    this.#pppoe = pppoe;
    this.#bridge = bridge;
    this.l2tpChannel = l2tpChannel;
    this.pppoeChannel = pppoeChannel;
    this.tunnelId = ids.tunnelId;
    this.sessionId = ids.sessionId;
    this.pppoeSessionId = pppoe.sessionId;
  }

  /** Whether {@linkcode PppacPseudowire.close} was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** The subscriber's MAC address. */
  get peerMac(): string {
    return this.#pppoe.peerMac;
  }

  /** The PPPoE interface. */
  get ifname(): string {
    return this.#pppoe.ifname;
  }

  /**
   * Undo everything in reverse order: unbridge and close `/dev/ppp`, close the PPPoE socket,
   * close the PPPoL2TP socket. Every step runs even if an earlier one fails; the first failure
   * is then thrown. Calling it again, or concurrently, returns the same promise.
   *
   * @returns Resolves once everything is closed.
   */
  close(): Promise<void> {
    this.#closing ??= Promise.resolve().then(() => {
      const failures = closeAll([this.#bridge, this.#pppoe, this.#l2tp]);
      if (failures.length > 0) throw failures[0];
    });
    return this.#closing;
  }

  /** Same as {@linkcode PppacPseudowire.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Close each (in order), collecting failures instead of stopping at the first. */
function closeAll(parts: readonly ({ close(): void } | undefined)[]): unknown[] {
  const failures: unknown[] = [];
  for (const p of parts) {
    try {
      p?.close();
    } catch (e) {
      failures.push(e);
    }
  }
  return failures;
}

/**
 * Set up a pppac pseudowire: PPPoL2TP session socket and its channel, PPPoE session socket and
 * its channel, and the bridge between them. Synchronous: every step is one system call. On a
 * failure half way, what was opened is closed again (in reverse order) before the error is
 * thrown, so a v2 kernel session made by the connect is gone too.
 *
 * @param opts Tunnel socket, L2TP IDs and the PPPoE session.
 * @returns The pseudowire; close it to tear it down.
 * @throws {OsError} From the steps: "Cannot connect PPPoL2TP socket to tunnel ...: ...",
 *   "Cannot get the PPP channel of ...: ...", "Cannot connect PPPoE socket to session ...: ...",
 *   "Cannot bridge PPP channels A and B: ...".
 * @throws {RangeError} For out-of-range IDs, a bad MAC or interface name.
 *
 * @example Usage
 * Not run as a doc test: it needs root, the kernel's l2tp_ppp and pppoe modules and a tunnel.
 * ```ts ignore
 * import { openPppac } from "./pppac.ts";
 * const pw = openPppac({
 *   tunnelFd: 5, version: 2, tunnelId: 1, sessionId: 2, peerTunnelId: 3, peerSessionId: 4,
 *   pppoe: { sessionId: 0x1234, peerMac: "02:00:00:00:00:01", ifname: "eth1" },
 * });
 * // ... the kernel relays PPP between the subscriber and the LNS ...
 * await pw.close();
 * ```
 */
export function openPppac(opts: PppacOptions): PppacPseudowire {
  let l2tp: Pppol2tpSocket | undefined;
  let pppoe: PppoeSession | undefined;
  let bridge: PppBridge | undefined;
  try {
    l2tp = openPppol2tpSocket({
      tunnelFd: opts.tunnelFd,
      tunnelId: opts.tunnelId,
      sessionId: opts.sessionId,
      peerTunnelId: opts.peerTunnelId,
      peerSessionId: opts.peerSessionId,
      peer: opts.peer ?? tunnelPeer(opts.tunnelFd),
      version: opts.version,
    });
    const l2tpChannel = pppChannelOf(
      l2tp.fd,
      `PPPoL2TP socket (tunnel ${opts.tunnelId}, session ${opts.sessionId})`,
    );
    pppoe = openPppoeSession(opts.pppoe);
    const pppoeChannel = pppoe.channel();
    bridge = bridgeChannels(l2tpChannel, pppoeChannel);
    return new PppacPseudowire(l2tp, l2tpChannel, pppoe, pppoeChannel, bridge, opts);
  } catch (e) {
    closeAll([bridge, pppoe, l2tp]);
    throw e;
  }
}
