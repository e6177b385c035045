/**
 * Tunnel sockets through FFI: UDP and L2TP/IP (IPPROTO_L2TP), IPv4 and IPv6, plus PPPoL2TP
 * sockets for pppd.
 *
 * {@linkcode openTunnelSocket} creates a nonblocking, close-on-exec socket, binds it (and connects
 * it when a peer is given) and returns a {@linkcode TunnelSocket} that owns the fd. Its
 * `send`/`recv` helpers are synchronous `sendto`/`recvfrom` with `MSG_DONTWAIT` and read errno
 * right after the call; "would block" comes back as `null` rather than an error. They are meant
 * for tests and one-off exchanges; the control engines use `lib/reactor.ts`.
 *
 * Failures are {@linkcode OsError}s whose message names what was attempted, e.g.
 * "Cannot bind UDP socket to 1.2.3.4:1701: Address already in use (errno 98)".
 *
 * @module
 */

import type { Datagram, Encap, Endpoint, L2tpVersion } from "../control/types.ts";
import { errno, libc, OsError, strerror } from "./ffi/libc.ts";
import {
  AF_INET,
  AF_INET6,
  AF_PPPOX,
  type DecodedSockaddr,
  decodeSockaddr,
  encodeL2tpipSockaddr,
  encodeSockaddr,
  encodeSockaddrPppol2tp,
  formatEndpoint,
  type IpFamily,
  ipFamily,
  IPPROTO_L2TP,
  PX_PROTO_OL2TP,
  SOCKADDR_STORAGE_SIZE,
} from "./ffi/sockaddr.ts";

export type { Encap, Endpoint, IpFamily, L2tpVersion };

/** `SOCK_DGRAM`. */
export const SOCK_DGRAM = 2;
/** `SOCK_NONBLOCK` (socket type flag). */
export const SOCK_NONBLOCK = 0o4000;
/** `SOCK_CLOEXEC` (socket type flag). */
export const SOCK_CLOEXEC = 0o2000000;
/** `MSG_DONTWAIT`. */
export const MSG_DONTWAIT = 0x40;
/** `SOL_SOCKET`. */
export const SOL_SOCKET = 1;
/** `SO_REUSEADDR`. */
export const SO_REUSEADDR = 2;
/** `SO_RCVBUF`. */
export const SO_RCVBUF = 8;
/** `SO_RCVBUFFORCE` (CAP_NET_ADMIN: past net.core.rmem_max). */
export const SO_RCVBUFFORCE = 33;
/** `IPPROTO_IPV6` (socket option level). */
export const IPPROTO_IPV6 = 41;
/** `IPV6_V6ONLY`. */
export const IPV6_V6ONLY = 26;
/** `F_GETFD`. */
export const F_GETFD = 1;
/** `F_SETFD`. */
export const F_SETFD = 2;
/** `FD_CLOEXEC`. */
export const FD_CLOEXEC = 1;

/** errno values the socket layer tells apart. */
export const Errno = {
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  ENOTCONN: 107,
  EPROTONOSUPPORT: 93,
  ESOCKTNOSUPPORT: 94,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  ECONNREFUSED: 111,
} as const;

export type { Datagram };

/** Options of {@linkcode openTunnelSocket}. */
export interface TunnelSocketOptions {
  /** "udp" (L2TPv2/v3 over UDP) or "ip" (L2TPv3 over IP protocol 115). */
  encap: Encap;
  /** Local address to bind; port 0 lets the kernel pick (UDP), ignored for IP. */
  local: Endpoint;
  /** Peer to connect to; leave out for a listener or to connect later. */
  peer?: Endpoint;
  /** L2TP/IP: our control connection id to bind (0, the default, makes a listener). */
  connId?: number;
  /** L2TP/IP: the peer's control connection id used with `peer` (default 0). */
  peerConnId?: number;
  /** Set SO_REUSEADDR (default true). */
  reuseAddress?: boolean;
  /**
   * Receive buffer size in bytes (SO_RCVBUFFORCE where permitted, else SO_RCVBUF, which the
   * kernel caps at net.core.rmem_max); a socket that cannot have it keeps the default.
   */
  receiveBuffer?: number;
}

/**
 * Resolves an IPv6 zone ("%eth0") to its interface index.
 *
 * @example Usage
 * ```ts
 * import { ZONE_RESOLVER } from "./socket.ts";
 * console.log(ZONE_RESOLVER("lo")); // 1
 * ```
 */
export const ZONE_RESOLVER = (name: string): number =>
  libc().if_nametoindex(new TextEncoder().encode(name + "\0"));

function osError(call: string, code: number): OsError {
  return new OsError(call, code, strerror(code));
}

function describe(encap: Encap): string {
  return encap === "udp" ? "UDP" : "L2TP/IP";
}

function whereL2tpip(address: string, connId: number): string {
  return `${address} (connection ID ${connId})`;
}

/**
 * Mark an fd close-on-exec or inheritable by child processes (`fcntl(F_SETFD)`).
 *
 * @example Usage
 * ```ts
 * import { openTunnelSocket, setInheritable } from "./socket.ts";
 * using s = openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } });
 * setInheritable(s.fd, true); // a child spawned now inherits it (pppd must see its PPPoL2TP fd)
 * setInheritable(s.fd, false); // and none spawned later does
 * ```
 */
export function setInheritable(fd: number, inheritable: boolean): void {
  const flags = libc().fcntl(fd, F_GETFD, 0);
  if (flags < 0) {
    const code = errno();
    throw osError(`read flags of fd ${fd}`, code);
  }
  const next = inheritable ? flags & ~FD_CLOEXEC : flags | FD_CLOEXEC;
  if (libc().fcntl(fd, F_SETFD, next) < 0) {
    const code = errno();
    throw osError(`set flags of fd ${fd}`, code);
  }
}

function setIntOption(fd: number, level: number, name: number, value: number, what: string): void {
  const v = new Int32Array([value]);
  if (libc().setsockopt(fd, level, name, v, 4) < 0) {
    const code = errno();
    throw osError(`set ${what}`, code);
  }
}

function readName(fd: number, peer: boolean): DecodedSockaddr | null {
  const buf = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  const len = new Uint32Array([buf.length]);
  const r = peer ? libc().getpeername(fd, buf, len) : libc().getsockname(fd, buf, len);
  if (r < 0) {
    const code = errno();
    if (peer && code === Errno.ENOTCONN) return null;
    throw osError(peer ? `read peer address of fd ${fd}` : `read local address of fd ${fd}`, code);
  }
  return decodeSockaddr(buf, Math.min(len[0], buf.length));
}

function createSocket(family: IpFamily, protocol: number, what: string, encap: Encap): number {
  const af = family === 6 ? AF_INET6 : AF_INET;
  const fd = libc().socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd >= 0) return fd;
  const code = errno();
  const err = osError(`create ${what} socket (IPv${family})`, code);
  const unsupported = code === Errno.EPROTONOSUPPORT || code === Errno.EAFNOSUPPORT ||
    code === Errno.ESOCKTNOSUPPORT;
  if (unsupported && encap === "ip") {
    const mod = family === 6 ? "l2tp_ip6" : "l2tp_ip";
    err.message += `: the ${mod} kernel module is missing (load it with "modprobe ${mod}")`;
  } else if (unsupported && family === 6) {
    err.message += ": IPv6 is not available on this host";
  }
  throw err;
}

/**
 * An owned socket fd: closed once (`close()`, `using`), or handed on with `release()`.
 *
 * @example Usage
 * ```ts
 * import { libc } from "./ffi/libc.ts";
 * import { OwnedSocket } from "./socket.ts";
 * using s = new OwnedSocket(libc().socket(2, 2, 0), "UDP socket"); // AF_INET, SOCK_DGRAM
 * console.log(s.fd >= 0); // true; closed at the end of the scope
 * ```
 */
export class OwnedSocket implements Disposable {
  readonly #fd: number;
  readonly #what: string;
  #open = true;

  /**
   * Take ownership of a socket fd.
   *
   * @param fd The socket.
   * @param what What it is, for error messages ("tunnel socket").
   */
  constructor(fd: number, what: string) {
    this.#fd = fd;
    this.#what = what;
  }

  /** The file descriptor; throws once closed or released. */
  get fd(): number {
    if (!this.#open) throw new Error(`Cannot use ${this.#what}: it is closed`);
    return this.#fd;
  }

  /** Whether `close()` or `release()` has been called. */
  get closed(): boolean {
    return !this.#open;
  }

  /**
   * Give up ownership of the fd without closing it (for handing it to the kernel or to another
   * owner); the socket then counts as closed.
   *
   * @returns The fd.
   */
  release(): number {
    const fd = this.fd;
    this.#open = false;
    return fd;
  }

  /** Close the fd. Calling it again does nothing. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    if (libc().close(this.#fd) < 0) {
      const code = errno();
      throw osError(`close fd ${this.#fd}`, code);
    }
  }

  /** Same as {@linkcode OwnedSocket.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A bound UDP or L2TP/IP tunnel socket that owns its fd (nonblocking, close-on-exec).
 *
 * @example Usage
 * ```ts
 * import { openTunnelSocket } from "./socket.ts";
 * using s = openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } });
 * console.log(s.local.port); // kernel-assigned port
 * ```
 */
export class TunnelSocket extends OwnedSocket {
  /** Encapsulation. */
  readonly encap: Encap;
  /** IP version. */
  readonly family: IpFamily;

  /**
   * Take ownership of an already created tunnel socket fd.
   *
   * @param fd The socket.
   * @param encap Its encapsulation.
   * @param family Its IP version.
   */
  constructor(fd: number, encap: Encap, family: IpFamily) {
    super(fd, "tunnel socket");
    this.encap = encap;
    this.family = family;
  }

  /** The local address as the kernel reports it now (`getsockname`). */
  get local(): Endpoint {
    const sa = readName(this.fd, false);
    if (sa === null) throw new Error("Cannot read local address: socket has none");
    return { address: sa.address, port: sa.port };
  }

  /** The connected peer (`getpeername`), or undefined when not connected. */
  get peer(): Endpoint | undefined {
    const sa = readName(this.fd, true);
    return sa === null ? undefined : { address: sa.address, port: sa.port };
  }

  /** L2TP/IP: the bound control connection id (`getsockname`); undefined for UDP. */
  get localConnId(): number | undefined {
    return this.encap === "ip" ? readName(this.fd, false)?.connId : undefined;
  }

  /** L2TP/IP: the connected peer's control connection id; undefined for UDP or unconnected. */
  get peerConnId(): number | undefined {
    return this.encap === "ip" ? readName(this.fd, true)?.connId : undefined;
  }

  /**
   * Connect to a peer (UDP: filter and default destination; L2TP/IP: also the peer's
   * control connection id).
   *
   * @param peer Peer address; must be of the socket's IP version.
   * @param peerConnId L2TP/IP only: the peer's control connection id (default 0).
   */
  connect(peer: Endpoint, peerConnId = 0): void {
    const sa = this.#addressFor(peer, peerConnId, "connect");
    const where = this.encap === "udp"
      ? formatEndpoint(peer)
      : whereL2tpip(peer.address, peerConnId);
    if (libc().connect(this.fd, sa, sa.length) < 0) {
      const code = errno();
      throw osError(`connect ${describe(this.encap)} socket to ${where}`, code);
    }
  }

  /**
   * Send one datagram now (`sendto` with `MSG_DONTWAIT`).
   *
   * @param data Payload.
   * @param to Destination; leave out on a connected socket.
   * @param toConnId L2TP/IP only: connection id placed in the destination sockaddr.
   * @returns Bytes sent, or null when the socket buffer is full (EAGAIN).
   */
  send(data: Uint8Array, to?: Endpoint, toConnId = 0): number | null {
    const sa = to ? this.#addressFor(to, toConnId, "send") : null;
    const r = Number(
      libc().sendto(this.fd, data, BigInt(data.length), MSG_DONTWAIT, sa, sa?.length ?? 0),
    );
    if (r >= 0) return r;
    const code = errno();
    if (code === Errno.EAGAIN) return null;
    const where = to ? ` to ${formatEndpoint(to)}` : "";
    throw osError(`send on ${describe(this.encap)} socket${where}`, code);
  }

  /**
   * Receive one datagram now (`recvfrom` with `MSG_DONTWAIT`).
   *
   * @param buf Receive buffer (default: a fresh 64 KiB one); `data` is a view into it.
   * @returns The datagram, or null when none is queued (EAGAIN).
   */
  recv(buf: Uint8Array = new Uint8Array(65536)): Datagram | null {
    const sa = new Uint8Array(SOCKADDR_STORAGE_SIZE);
    const len = new Uint32Array([sa.length]);
    const r = Number(libc().recvfrom(this.fd, buf, BigInt(buf.length), MSG_DONTWAIT, sa, len));
    if (r < 0) {
      const code = errno();
      if (code === Errno.EAGAIN) return null;
      throw osError(`receive on ${describe(this.encap)} socket`, code);
    }
    const from = decodeSockaddr(sa, Math.min(len[0], sa.length));
    return { data: buf.subarray(0, r), from: { address: from.address, port: from.port } };
  }

  #addressFor(ep: Endpoint, connId: number, verb: string): Uint8Array {
    if (ipFamily(ep.address) !== this.family) {
      throw new TypeError(
        `Cannot ${verb} IPv${this.family} socket to ${formatEndpoint(ep)}: address family differs`,
      );
    }
    return this.encap === "udp"
      ? encodeSockaddr(ep, ZONE_RESOLVER)
      : encodeL2tpipSockaddr(ep.address, connId, ZONE_RESOLVER);
  }
}

/**
 * Create, bind and optionally connect a tunnel socket.
 *
 * UDP: `socket(AF_INET|AF_INET6, SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0)`, SO_REUSEADDR, bind
 * `local`, connect `peer`. L2TP/IP: `socket(..., IPPROTO_L2TP)`, bind `sockaddr_l2tpip(6)` with
 * `connId`, connect with `peerConnId`. IPv6 sockets are IPV6_V6ONLY. On any failure the fd is
 * closed before the error is thrown.
 *
 * @example Usage
 * Not run as a doc test: L2TP/IP sockets need root and the kernel's l2tp_ip module.
 * ```ts ignore
 * import { openTunnelSocket } from "./socket.ts";
 * const s = openTunnelSocket({
 *   encap: "ip", local: { address: "192.0.2.1", port: 0 }, connId: 42,
 *   peer: { address: "192.0.2.2", port: 0 }, peerConnId: 45,
 * });
 * s.close();
 * ```
 */
export function openTunnelSocket(opts: TunnelSocketOptions): TunnelSocket {
  const family = ipFamily(opts.local.address);
  if (opts.peer && ipFamily(opts.peer.address) !== family) {
    throw new TypeError(
      `Cannot open tunnel socket: local ${opts.local.address} and peer ${opts.peer.address} ` +
        `are of different address families`,
    );
  }
  if (opts.encap !== "udp" && opts.encap !== "ip") {
    throw new TypeError(`Cannot open tunnel socket: unknown encapsulation "${opts.encap}"`);
  }
  const what = describe(opts.encap);
  const fd = createSocket(family, opts.encap === "ip" ? IPPROTO_L2TP : 0, what, opts.encap);
  const sock = new TunnelSocket(fd, opts.encap, family);
  try {
    if (opts.reuseAddress ?? true) {
      setIntOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, `SO_REUSEADDR on ${what} socket`);
    }
    if (opts.receiveBuffer !== undefined) {
      try {
        setIntOption(fd, SOL_SOCKET, SO_RCVBUFFORCE, opts.receiveBuffer, "SO_RCVBUFFORCE");
      } catch {
        try {
          setIntOption(fd, SOL_SOCKET, SO_RCVBUF, opts.receiveBuffer, "SO_RCVBUF");
        } catch {
          // the default buffer, then
        }
      }
    }
    if (family === 6 && opts.encap === "udp") {
      // L2TP/IPv6 sockets refuse IPV6_V6ONLY (EINVAL); they never carry IPv4 anyway.
      setIntOption(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, `IPV6_V6ONLY on ${what} socket`);
    }
    const connId = opts.connId ?? 0;
    const sa = opts.encap === "udp"
      ? encodeSockaddr(opts.local, ZONE_RESOLVER)
      : encodeL2tpipSockaddr(opts.local.address, connId, ZONE_RESOLVER);
    if (libc().bind(fd, sa, sa.length) < 0) {
      const code = errno();
      const where = opts.encap === "udp"
        ? formatEndpoint(opts.local)
        : whereL2tpip(opts.local.address, connId);
      throw osError(`bind ${what} socket to ${where}`, code);
    }
    if (opts.peer) sock.connect(opts.peer, opts.peerConnId ?? 0);
  } catch (e) {
    sock.close();
    throw e;
  }
  return sock;
}

/** Options of {@linkcode openPppol2tpSocket}. */
export interface Pppol2tpSocketOptions {
  /** The tunnel's UDP or L2TP/IP socket fd. */
  tunnelFd: number;
  /** Our tunnel id. */
  tunnelId: number;
  /** Our session id; 0 (with `peerSessionId` 0) makes the L2TPv2 tunnel management socket. */
  sessionId: number;
  /** The peer's tunnel id. */
  peerTunnelId: number;
  /** The peer's session id. */
  peerSessionId: number;
  /** The peer's address (its family selects the `in6` sockaddr variant). */
  peer: Endpoint;
  /** L2TP version: selects 16-bit (v2) or 32-bit (v3) id sockaddrs. */
  version: L2tpVersion;
  /** Leave the fd without close-on-exec so a child (pppd) inherits it (default false). */
  inheritable?: boolean;
}

/**
 * A connected PPPoL2TP socket (`AF_PPPOX`, `PX_PROTO_OL2TP`) that owns its fd.
 *
 * @example Usage
 * Not run as a doc test: it needs root, the kernel's l2tp_ppp module and a tunnel on fd 5.
 * ```ts ignore
 * import { openPppol2tpSocket } from "./socket.ts";
 * using s = openPppol2tpSocket({
 *   tunnelFd: 5, tunnelId: 1, sessionId: 2, peerTunnelId: 3, peerSessionId: 4,
 *   peer: { address: "192.0.2.2", port: 1701 }, version: 2,
 * });
 * console.log(s.fd);
 * ```
 */
export class Pppol2tpSocket extends OwnedSocket {
  /**
   * Take ownership of a PPPoL2TP socket fd.
   *
   * @param fd The socket.
   */
  constructor(fd: number) {
    super(fd, "PPPoL2TP socket");
  }
}

/**
 * Create a PPPoL2TP socket and connect it to a tunnel socket and session (the kernel's
 * `l2tp_ppp` module must be loaded). With session ids 0 it is the L2TPv2 tunnel management
 * socket.
 *
 * @example Usage
 * Not run as a doc test: it needs root, the kernel's l2tp_ppp module and a tunnel on fd 5.
 * ```ts ignore
 * import { openPppol2tpSocket } from "./socket.ts";
 * const s = openPppol2tpSocket({
 *   tunnelFd: 5, tunnelId: 42, sessionId: 128, peerTunnelId: 45, peerSessionId: 5196755,
 *   peer: { address: "192.0.2.2", port: 1701 }, version: 3, inheritable: true,
 * });
 * ```
 */
export function openPppol2tpSocket(opts: Pppol2tpSocketOptions): Pppol2tpSocket {
  const sa = encodeSockaddrPppol2tp({
    version: opts.version,
    fd: opts.tunnelFd,
    tunnelId: opts.tunnelId,
    sessionId: opts.sessionId,
    peerTunnelId: opts.peerTunnelId,
    peerSessionId: opts.peerSessionId,
    peer: opts.peer,
  }, ZONE_RESOLVER);
  const flags = SOCK_DGRAM | (opts.inheritable ? 0 : SOCK_CLOEXEC);
  const fd = libc().socket(AF_PPPOX, flags, PX_PROTO_OL2TP);
  if (fd < 0) {
    const code = errno();
    const err = osError("create PPPoL2TP socket", code);
    if (
      code === Errno.EAFNOSUPPORT || code === Errno.EPROTONOSUPPORT ||
      code === Errno.ESOCKTNOSUPPORT
    ) {
      err.message += `: the l2tp_ppp kernel module is missing (load it with "modprobe l2tp_ppp")`;
    }
    throw err;
  }
  const sock = new Pppol2tpSocket(fd);
  if (libc().connect(fd, sa, sa.length) < 0) {
    const code = errno();
    sock.close();
    throw osError(
      `connect PPPoL2TP socket to tunnel ${opts.tunnelId}/session ${opts.sessionId} ` +
        `(peer ${opts.peerTunnelId}/${opts.peerSessionId} at ${formatEndpoint(opts.peer)})`,
      code,
    );
  }
  return sock;
}
