/**
 * Kernel PPPoE session sockets (`AF_PPPOX`, `PX_PROTO_OE`; the `pppoe` kernel module).
 *
 * Once PPPoE discovery (PADI/PADO/PADR/PADS, done in userspace over a packet socket) has agreed
 * on a session ID with a peer, {@linkcode openPppoeSession} connects a PPPoE socket to that
 * session: the kernel then carries the session's frames (EtherType 0x8864) itself. The socket is
 * a PPP channel; {@linkcode PppoeSession.channel} returns its index, to bridge it with another
 * channel (`ppp_bridge.ts`) or to hand it to a PPP unit. Closing the socket ends the kernel
 * session (no PADT is sent: that is discovery's job).
 *
 * The kernel finds a session's socket by session ID, peer MAC and interface: one socket per such
 * triple. The interface must exist in the caller's network namespace and be up.
 *
 * Kernel quirk (Linux 6.1): a connect that fails because the triple is taken (EALREADY) has
 * already stored the address in the new socket, and closing that socket then removes the
 * *existing* session's entry from the kernel's table, so the session that was there stops
 * receiving. {@linkcode openPppoeSession} therefore looks the triple up in `/proc/net/pppoe`
 * first and refuses a taken one without connecting (another process could still race it).
 *
 * @module
 */

import { formatMac, parseMac } from "../control/mac.ts";
import { errno, libc, OsError, strerror } from "./ffi/libc.ts";
import {
  AF_PPPOX,
  encodeSockaddrPppoe,
  HOST_LITTLE_ENDIAN,
  type PppoeAddress,
  PX_PROTO_OE,
} from "./ffi/sockaddr.ts";
import { pppChannelOf } from "./ppp_bridge.ts";
import { OwnedSocket, SOCK_CLOEXEC } from "./socket.ts";

export type { OsError, OwnedSocket, PppoeAddress };

/** `SOCK_STREAM`: the socket type of PPPoE sockets. */
export const SOCK_STREAM = 1;

const EAFNOSUPPORT = 97;
const EPROTONOSUPPORT = 93;
const ESOCKTNOSUPPORT = 94;
const ENODEV = 19;
const EALREADY = 114;
const EINVAL = 22;

/** The kernel's table of PPPoE sessions in this network namespace. */
const PROC_PPPOE = "/proc/net/pppoe";

/**
 * Whether the kernel already has a PPPoE session with this ID and peer on this interface, from
 * `/proc/net/pppoe` ("Id Address Device" lines; the ID is the network-order `sid` printed as a
 * host integer). False when the table cannot be read.
 */
function sessionTaken(sessionId: number, peerMac: string, ifname: string): boolean {
  let text: string;
  try {
    // Never prompt for the permission: without it, the kernel's own check is all there is.
    if (Deno.permissions.querySync({ name: "read", path: PROC_PPPOE }).state !== "granted") {
      return false;
    }
    text = Deno.readTextFileSync(PROC_PPPOE);
  } catch {
    return false; // no /proc or no read permission: the kernel's own check remains
  }
  for (const line of text.split("\n").slice(1)) {
    const [id, mac, dev] = line.trim().split(/\s+/);
    if (id === undefined || mac === undefined || dev !== ifname) continue;
    const raw = parseInt(id, 16);
    const sid = HOST_LITTLE_ENDIAN ? ((raw & 0xff) << 8) | ((raw >> 8) & 0xff) : raw;
    if (sid === sessionId && mac.toLowerCase() === peerMac) return true;
  }
  return false;
}

/** Options of {@linkcode openPppoeSession}: the session discovery agreed on. */
export interface PppoeSessionOptions extends PppoeAddress {
  /** The session ID, 1..65534 (0 is "no session"; RFC 2516 reserves 0xffff). */
  sessionId: number;
  /** The peer's MAC address, "aa:bb:cc:dd:ee:ff". */
  peerMac: string;
  /** Our Ethernet interface, which must be up. */
  ifname: string;
}

/**
 * A connected PPPoE session socket that owns its fd.
 *
 * @example Usage
 * Not run as a doc test: it needs root, the kernel's pppoe module and an interface eth1.
 * ```ts ignore
 * import { openPppoeSession } from "./pppoe_session.ts";
 * using s = openPppoeSession({ sessionId: 0x1234, peerMac: "02:00:00:00:00:01", ifname: "eth1" });
 * console.log(s.sessionId, s.peerMac, s.channel());
 * ```
 */
export class PppoeSession extends OwnedSocket {
  /** The session ID. */
  readonly sessionId: number;
  /** The peer's MAC address (lowercase). */
  readonly peerMac: string;
  /** Our interface. */
  readonly ifname: string;

  /**
   * Take ownership of a connected PPPoE socket fd (use {@linkcode openPppoeSession}).
   *
   * @param fd The socket.
   * @param address The session it is connected to.
   */
  constructor(fd: number, address: PppoeAddress) {
    super(fd, "PPPoE socket");
    this.sessionId = address.sessionId;
    this.peerMac = formatMac(parseMac(address.peerMac));
    this.ifname = address.ifname;
  }

  /**
   * The socket's PPP channel index (`PPPIOCGCHAN`). From the first call on, the kernel passes
   * the session's PPP frames to the channel instead of queueing them on the socket: bridge the
   * channel (or attach it to a unit) right away.
   *
   * @returns The channel index.
   * @throws {OsError} "Cannot get the PPP channel of PPPoE socket ...: ...".
   */
  channel(): number {
    return pppChannelOf(this.fd, `PPPoE socket (session ${this.sessionId} on ${this.ifname})`);
  }
}

/**
 * Open a PPPoE session socket: `socket(AF_PPPOX, SOCK_STREAM | SOCK_CLOEXEC, PX_PROTO_OE)`,
 * connected with `sockaddr_pppox` (session ID in network order, peer MAC, interface name). On
 * failure the fd is closed before the error is thrown.
 *
 * @param opts Session ID, peer MAC and interface.
 * @returns The connected socket.
 * @throws {RangeError} For a session ID outside 1..65534, a bad MAC or interface name.
 * @throws {OsError} "Cannot create PPPoE socket: ...: the pppoe kernel module is missing (load
 *   it with "modprobe pppoe")", "Cannot connect PPPoE socket to session N with PEER on IF: ..."
 *   (ENODEV: no such interface here, or it is down; EALREADY: another socket has that session,
 *   found in `/proc/net/pppoe` before connecting; see the module notes).
 *
 * @example Usage
 * Not run as a doc test: it needs root, the kernel's pppoe module and an interface eth1.
 * ```ts ignore
 * import { openPppoeSession } from "./pppoe_session.ts";
 * const s = openPppoeSession({ sessionId: 7, peerMac: "02:00:00:00:00:01", ifname: "eth1" });
 * const channel = s.channel();
 * s.close(); // ends the kernel session
 * ```
 */
export function openPppoeSession(opts: PppoeSessionOptions): PppoeSession {
  if (!Number.isInteger(opts.sessionId) || opts.sessionId < 1 || opts.sessionId > 0xfffe) {
    throw new RangeError(
      `Cannot open PPPoE session ${opts.sessionId}: the session ID must be in 1..65534`,
    );
  }
  const sa = encodeSockaddrPppoe(opts);
  const lib = libc();
  const fd = lib.socket(AF_PPPOX, SOCK_STREAM | SOCK_CLOEXEC, PX_PROTO_OE);
  if (fd < 0) {
    const code = errno();
    const err = new OsError("create PPPoE socket", code, strerror(code));
    if (code === EAFNOSUPPORT || code === EPROTONOSUPPORT || code === ESOCKTNOSUPPORT) {
      err.message += `: the pppoe kernel module is missing (load it with "modprobe pppoe")`;
    }
    throw err;
  }
  const sock = new PppoeSession(fd, opts);
  const what =
    `connect PPPoE socket to session ${opts.sessionId} with ${sock.peerMac} on ${opts.ifname}`;
  // Checked after socket(), which loads the pppoe module and so creates /proc/net/pppoe.
  if (sessionTaken(opts.sessionId, sock.peerMac, opts.ifname)) {
    sock.close(); // not connected: closing it touches no session
    const err = new OsError(what, EALREADY, strerror(EALREADY));
    err.message += ": another PPPoE socket already has this session (close it first)";
    throw err;
  }
  if (lib.connect(fd, sa, sa.length) < 0) {
    const code = errno();
    sock.close();
    const err = new OsError(what, code, strerror(code));
    if (code === ENODEV) {
      err.message += `: there is no interface ${opts.ifname} in this network namespace, ` +
        `or it is down (ip link set ${opts.ifname} up)`;
    } else if (code === EALREADY) {
      err.message += ": another PPPoE socket already has this session (close it first)";
    } else if (code === EINVAL) {
      err.message += ": the kernel refused the address (is this a PPPoE-capable kernel?)";
    }
    throw err;
  }
  return sock;
}
