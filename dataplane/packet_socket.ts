/**
 * Link-layer sockets for PPPoE: `AF_PACKET` / `SOCK_DGRAM` sockets bound to one EtherType on one
 * interface, served by the program's {@linkcode Reactor}, plus interface facts (index, MAC).
 *
 * {@linkcode openDiscoverySocket} opens one for PPPoE discovery (EtherType 0x8863: PADI, PADO,
 * PADR, PADS, PADT); {@linkcode openPacketSocket} takes any EtherType (0x8864 reads PPPoE
 * session frames, which tests use to play a subscriber). With `SOCK_DGRAM` the kernel strips the
 * Ethernet header on receive and builds it on send: a frame's `payload` starts at the PPPoE
 * header, its source MAC and how it was addressed come from `sockaddr_ll`, and
 * {@linkcode PacketSocket.send} takes a payload and a destination MAC.
 *
 * I/O model: the socket is nonblocking and close-on-exec, and its fd joins the epoll set of the
 * {@linkcode Reactor} given in the options ({@linkcode Reactor.watch}), so one `epoll_wait`
 * serves tunnel and packet sockets alike; without one, the socket gets a small private reactor.
 * Reads are synchronous `recvfrom(MSG_DONTWAIT | MSG_TRUNC)` calls with errno read right after;
 * {@linkcode PacketSocket.receive} (and `for await`) waits for readiness through the reactor and
 * goes through `epoll_wait` at least every few frames, so a flood does not starve timers. Frames
 * that are short, truncated, oddly addressed or our own outgoing ones are dropped and counted;
 * nothing a peer sends makes the iterator throw. Closing the reactor closes the socket.
 *
 * Needs `CAP_NET_RAW` (root). Everything happens in the caller's network namespace.
 *
 * @module
 */

import { ETH_ALEN, formatMac, parseMac } from "../control/mac.ts";
import { errno, libc, OsError, strerror } from "./ffi/libc.ts";
import {
  AF_INET,
  AF_PACKET,
  decodeSockaddrLl,
  encodeSockaddrLl,
  HOST_LITTLE_ENDIAN,
  IFNAMSIZ,
  SOCKADDR_LL_SIZE,
} from "./ffi/sockaddr.ts";
import { type FdWatch, Reactor } from "./reactor.ts";
import { Errno, MSG_DONTWAIT, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK } from "./socket.ts";

export type { OsError };

/** `ETH_P_PPP_DISC`: PPPoE discovery frames. */
export const ETH_P_PPP_DISC = 0x8863;
/** `ETH_P_PPP_SES`: PPPoE session frames. */
export const ETH_P_PPP_SES = 0x8864;
/** The Ethernet broadcast address. */
export const BROADCAST_MAC = "ff:ff:ff:ff:ff:ff";
/** `ARPHRD_ETHER`: the hardware type of Ethernet interfaces. */
export const ARPHRD_ETHER = 1;
/** The PPPoE header: ver/type, code, session ID, length. */
export const PPPOE_HEADER_SIZE = 6;

const SIOCGIFHWADDR = 0x8927n;
const SIOCGIFINDEX = 0x8933n;
/** sizeof(struct ifreq) on 64-bit Linux; the union starts at IFNAMSIZ. */
const IFREQ_SIZE = 40;
const MSG_TRUNC = 0x20;
const ENODEV = 19;
const EPERM = 1;
const EACCES = 13;
/** Synchronous reads allowed between two trips through `epoll_wait`. */
const SYNC_BUDGET = 8;
/** errno values after which a packet socket stays usable: counted, not thrown. */
const SOFT_ERRORS: ReadonlySet<number> = new Set([
  100, // ENETDOWN: the interface went down (reported once; frames resume when it is up)
  6, // ENXIO: the interface is gone (sendto)
  ENODEV,
  105, // ENOBUFS
  90, // EMSGSIZE: payload longer than the interface MTU
  Errno.EINTR,
]);

/** How a received frame was addressed (`sll_pkttype`). */
export type PacketType = "host" | "broadcast" | "multicast" | "otherhost" | "outgoing";

const PACKET_TYPES: readonly PacketType[] = [
  "host",
  "broadcast",
  "multicast",
  "otherhost",
  "outgoing",
];

/** An interface's index and hardware address. */
export interface InterfaceInfo {
  /** The interface name. */
  name: string;
  /** Its index (`SIOCGIFINDEX`). */
  index: number;
  /** Its hardware type (`ARPHRD_*`; 1 is Ethernet). */
  hardwareType: number;
  /** Its MAC address, lowercase "aa:bb:cc:dd:ee:ff" (`SIOCGIFHWADDR`). */
  mac: string;
}

function osError(call: string, code: number): OsError {
  return new OsError(call, code, strerror(code));
}

/**
 * An interface's index, hardware type and MAC address, through `SIOCGIFINDEX` and
 * `SIOCGIFHWADDR` on a throw-away `AF_INET` datagram socket (no privileges needed).
 *
 * @param ifname The interface, in the caller's network namespace.
 * @returns Its facts.
 * @throws {RangeError} For a name that is not 1 to 15 bytes.
 * @throws {OsError} "Cannot read index of interface NAME: No such device (errno 19)" and the
 *   like.
 *
 * @example Usage
 * ```ts
 * import { interfaceInfo } from "./packet_socket.ts";
 * const lo = interfaceInfo("lo");
 * console.log(lo.index, lo.mac); // 1 "00:00:00:00:00:00"
 * ```
 */
export function interfaceInfo(ifname: string): InterfaceInfo {
  const name = new TextEncoder().encode(ifname);
  if (name.length < 1 || name.length >= IFNAMSIZ || name.includes(0)) {
    throw new RangeError(`Cannot use interface name "${ifname}": it must be 1 to 15 bytes`);
  }
  const lib = libc();
  const fd = lib.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const code = errno();
    throw osError(`read facts of interface ${ifname}`, code);
  }
  try {
    const req = new Uint8Array(IFREQ_SIZE);
    const dv = new DataView(req.buffer);
    req.set(name);
    if (lib.ioctl(fd, SIOCGIFINDEX, req) < 0) {
      const code = errno();
      throw osError(`read index of interface ${ifname}`, code);
    }
    const index = dv.getInt32(IFNAMSIZ, HOST_LITTLE_ENDIAN);
    req.fill(0, IFNAMSIZ);
    if (lib.ioctl(fd, SIOCGIFHWADDR, req) < 0) {
      const code = errno();
      throw osError(`read MAC address of interface ${ifname}`, code);
    }
    // ifr_hwaddr is a struct sockaddr: sa_family (the ARPHRD_ type), then sa_data.
    const hardwareType = dv.getUint16(IFNAMSIZ, HOST_LITTLE_ENDIAN);
    const mac = formatMac(req.subarray(IFNAMSIZ + 2, IFNAMSIZ + 2 + ETH_ALEN));
    return { name: ifname, index, hardwareType, mac };
  } finally {
    lib.close(fd);
  }
}

/** A frame received on a {@linkcode PacketSocket}. */
export interface EthernetFrame {
  /** The sender's MAC address, lowercase "aa:bb:cc:dd:ee:ff". */
  source: string;
  /** How it was addressed: "host" (to our MAC), "broadcast", "multicast", ... */
  packetType: PacketType;
  /** Its EtherType (host value), e.g. 0x8863. */
  etherType: number;
  /** Everything after the Ethernet header (a PPPoE header onwards); the frame's own copy. */
  payload: Uint8Array;
}

/** Counters of a {@linkcode PacketSocket}. */
export interface PacketSocketStats {
  /** Frames delivered to the consumer. */
  received: number;
  /** Frames sent. */
  sent: number;
  /** Frames dropped on receive: shorter than the minimum, truncated, or with a bad address. */
  dropped: number;
  /** Soft errors (interface down or gone, no buffer space) seen by send or receive. */
  errors: number;
}

/** Options of {@linkcode openPacketSocket}. */
export interface PacketSocketOptions {
  /** The reactor whose epoll set serves the socket (default: a private one). */
  reactor?: Reactor;
  /** EtherType to bind to (default {@linkcode ETH_P_PPP_DISC}). */
  etherType?: number;
  /** Payloads shorter than this are dropped (default 0; discovery sockets use 6). */
  minPayload?: number;
  /** Largest payload received whole (default 65535); longer frames are dropped and counted. */
  maxPayload?: number;
  /** Also deliver frames this host sends on the interface (pkttype "outgoing"; default false). */
  includeOutgoing?: boolean;
}

/**
 * An `AF_PACKET` datagram socket bound to one EtherType on one interface. Iterate it (or call
 * {@linkcode PacketSocket.receive}) for frames; {@linkcode PacketSocket.send} sends one.
 *
 * @example Usage
 * Not run as a doc test: it needs root (CAP_NET_RAW) and an interface eth0.
 * ```ts ignore
 * import { BROADCAST_MAC, openDiscoverySocket } from "./packet_socket.ts";
 * using sock = openDiscoverySocket("eth0");
 * for await (const frame of sock) {
 *   console.log(frame.source, frame.packetType, frame.payload);
 * }
 * ```
 */
export class PacketSocket implements AsyncIterable<EthernetFrame>, Disposable, AsyncDisposable {
  /** The interface. */
  readonly ifname: string;
  /** Its index. */
  readonly ifindex: number;
  /** Its MAC address (the source of what we send). */
  readonly mac: string;
  /** The bound EtherType. */
  readonly etherType: number;
  readonly #fd: number;
  readonly #watch: FdWatch;
  readonly #ownReactor: Reactor | undefined;
  readonly #minPayload: number;
  readonly #includeOutgoing: boolean;
  readonly #buf: Uint8Array;
  readonly #sa = new Uint8Array(SOCKADDR_LL_SIZE + 12);
  readonly #saLen = new Uint32Array(1);
  readonly #destinations = new Map<string, Uint8Array>();
  readonly #stats: PacketSocketStats = { received: 0, sent: 0, dropped: 0, errors: 0 };
  #budget = SYNC_BUDGET;
  #tail: Promise<unknown> = Promise.resolve();
  #open = true;
  #lastError: OsError | undefined;

  /**
   * Serve a bound packet socket (use {@linkcode openPacketSocket}); it then owns the fd.
   *
   * @param fd The bound, nonblocking socket.
   * @param info The interface it is bound to.
   * @param etherType The bound EtherType.
   * @param options Reactor and receive options.
   */
  constructor(
    fd: number,
    info: InterfaceInfo,
    etherType: number,
    options: PacketSocketOptions = {},
  ) {
    this.#fd = fd;
    this.ifname = info.name;
    this.ifindex = info.index;
    this.mac = info.mac;
    this.etherType = etherType;
    this.#minPayload = options.minPayload ?? 0;
    this.#includeOutgoing = options.includeOutgoing ?? false;
    const max = options.maxPayload ?? 65535;
    if (!Number.isInteger(max) || max < 1 || max > 65535) {
      throw new RangeError(`Cannot open packet socket: maxPayload ${max} is not in 1..65535`);
    }
    this.#buf = new Uint8Array(max);
    let reactor = options.reactor;
    if (reactor === undefined) {
      // A private reactor only ever waits for this one fd: the smallest buffers do.
      reactor = new Reactor({ batch: 1, maxDatagram: 8 });
      this.#ownReactor = reactor;
    }
    try {
      this.#watch = reactor.watch(fd, {
        what: `packet socket on ${info.name}`,
        onReactorClose: () => this.close(),
      });
    } catch (e) {
      this.#ownReactor?.close();
      throw e;
    }
  }

  /** The file descriptor; throws once closed. */
  get fd(): number {
    if (!this.#open) throw new Error(`Cannot use packet socket on ${this.ifname}: it is closed`);
    return this.#fd;
  }

  /** Whether the socket is closed (by `close()` or by its reactor closing). */
  get closed(): boolean {
    return !this.#open;
  }

  /** Counters since the socket was opened. */
  get stats(): Readonly<PacketSocketStats> {
    return this.#stats;
  }

  /** The last soft error seen by send or receive. */
  get lastError(): OsError | undefined {
    return this.#lastError;
  }

  /**
   * The next frame, or null once the socket (or its reactor) is closed. Concurrent calls are
   * served in call order.
   *
   * @returns The frame.
   * @throws {OsError} Only for errors that leave the socket unusable (EBADF and the like).
   */
  receive(): Promise<EthernetFrame | null> {
    const next = this.#tail.then(() => this.#receiveOne());
    this.#tail = next.catch(() => {});
    return next;
  }

  async #receiveOne(): Promise<EthernetFrame | null> {
    while (this.#open) {
      if (this.#budget > 0) {
        this.#budget--;
        const r = this.#readOne();
        if (r === "again") this.#budget = 0;
        else if (r !== "dropped") return r;
        continue;
      }
      const ready = await this.#watch.readable();
      this.#budget = SYNC_BUDGET;
      if (!ready) break;
    }
    return null;
  }

  /** One nonblocking `recvfrom`: a frame, "dropped" (skipped; try again) or "again" (none). */
  #readOne(): EthernetFrame | "dropped" | "again" {
    const buf = this.#buf;
    this.#saLen[0] = this.#sa.length;
    const r = Number(
      libc().recvfrom(
        this.#fd,
        buf,
        BigInt(buf.length),
        MSG_DONTWAIT | MSG_TRUNC,
        this.#sa,
        this.#saLen,
      ),
    );
    if (r < 0) {
      const code = errno();
      if (code === Errno.EAGAIN) return "again";
      const err = osError(`receive on packet socket on ${this.ifname}`, code);
      if (!SOFT_ERRORS.has(code)) throw err;
      this.#lastError = err;
      this.#stats.errors++;
      return "dropped";
    }
    if (r > buf.length || r < this.#minPayload) {
      this.#stats.dropped++;
      return "dropped";
    }
    let packetType: PacketType;
    let source: string;
    let etherType: number;
    try {
      const sa = decodeSockaddrLl(this.#sa, Math.min(this.#saLen[0], this.#sa.length));
      packetType = PACKET_TYPES[sa.pkttype] ?? "otherhost";
      if (this.#sa[11] !== ETH_ALEN) throw new RangeError("not an Ethernet address");
      source = sa.address;
      etherType = sa.protocol;
    } catch {
      this.#stats.dropped++;
      return "dropped";
    }
    if (packetType === "outgoing" && !this.#includeOutgoing) return "dropped";
    this.#stats.received++;
    return { source, packetType, etherType, payload: buf.slice(0, r) };
  }

  /**
   * Send one payload to a MAC address now (`sendto` with `MSG_DONTWAIT` and a `sockaddr_ll`;
   * the kernel adds the Ethernet header with our MAC as the source).
   *
   * @param payload What follows the Ethernet header (a PPPoE header onwards).
   * @param to The destination MAC ({@linkcode BROADCAST_MAC} for a PADI).
   * @returns true when sent; false when dropped (socket buffer full, interface down or gone:
   *   see {@linkcode PacketSocket.lastError}).
   * @throws {RangeError} For a malformed MAC.
   * @throws {OsError} For other send failures.
   */
  send(payload: Uint8Array, to: string): boolean {
    const fd = this.fd;
    let sa = this.#destinations.get(to);
    if (sa === undefined) {
      sa = encodeSockaddrLl({ protocol: this.etherType, ifindex: this.ifindex, address: to });
      if (this.#destinations.size >= 1024) this.#destinations.clear();
      this.#destinations.set(to, sa);
    }
    const r = Number(
      libc().sendto(fd, payload, BigInt(payload.length), MSG_DONTWAIT, sa, sa.length),
    );
    if (r >= 0) {
      this.#stats.sent++;
      return true;
    }
    const code = errno();
    if (code === Errno.EAGAIN) return false;
    const err = osError(`send on packet socket on ${this.ifname} to ${to}`, code);
    if (!SOFT_ERRORS.has(code)) throw err;
    this.#lastError = err;
    this.#stats.errors++;
    return false;
  }

  /**
   * Iterate received frames until the socket is closed. Ending the loop early (`break`) leaves
   * the socket open.
   */
  [Symbol.asyncIterator](): AsyncIterator<EthernetFrame> {
    return {
      next: async (): Promise<IteratorResult<EthernetFrame>> => {
        const f = await this.receive();
        return f === null ? { done: true, value: undefined } : { done: false, value: f };
      },
      return: (): Promise<IteratorResult<EthernetFrame>> =>
        Promise.resolve({ done: true, value: undefined }),
    };
  }

  /** Leave the reactor and close the fd; pending receives resolve to null. Idempotent. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#watch.close();
    const failed = libc().close(this.#fd) < 0 ? errno() : 0;
    this.#ownReactor?.close();
    if (failed !== 0) throw osError(`close packet socket on ${this.ifname}`, failed);
  }

  /** Same as {@linkcode PacketSocket.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Close, then wait until a private reactor (one made because no `reactor` was given) has
   * released its epoll fd; with a shared reactor this is just `close()`.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#ownReactor?.whenClosed();
  }
}

/**
 * Open an `AF_PACKET` / `SOCK_DGRAM` socket (nonblocking, close-on-exec) bound to one EtherType
 * on one interface, and serve it on a reactor. The socket is created with protocol 0 (it
 * receives nothing) and then bound with the EtherType and interface index, so it never sees
 * frames of other interfaces. On failure the fd is closed before the error is thrown.
 *
 * @param ifname The interface (Ethernet), in the caller's network namespace.
 * @param options Reactor, EtherType (default 0x8863) and receive options.
 * @returns The socket.
 * @throws {OsError} "Cannot create packet socket: Operation not permitted (errno 1): ..." without
 *   CAP_NET_RAW; "Cannot read index of interface NAME: No such device (errno 19)"; "Cannot bind
 *   packet socket to NAME (EtherType 0x8863): ...".
 * @throws {Error} "Cannot open packet socket on NAME: it is not an Ethernet interface (...)".
 *
 * @example Usage
 * Not run as a doc test: it needs root (CAP_NET_RAW) and an interface eth0.
 * ```ts ignore
 * import { ETH_P_PPP_SES, openPacketSocket } from "./packet_socket.ts";
 * import { Reactor } from "./reactor.ts";
 * await using reactor = new Reactor();
 * using ses = openPacketSocket("eth0", { reactor, etherType: ETH_P_PPP_SES, minPayload: 6 });
 * const frame = await ses.receive();
 * ```
 */
export function openPacketSocket(ifname: string, options: PacketSocketOptions = {}): PacketSocket {
  const etherType = options.etherType ?? ETH_P_PPP_DISC;
  const info = interfaceInfo(ifname);
  if (info.hardwareType !== ARPHRD_ETHER) {
    throw new Error(
      `Cannot open packet socket on ${ifname}: it is not an Ethernet interface ` +
        `(hardware type ${info.hardwareType}); PPPoE runs over Ethernet`,
    );
  }
  const sa = encodeSockaddrLl({ protocol: etherType, ifindex: info.index });
  const lib = libc();
  const fd = lib.socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const code = errno();
    const err = osError("create packet socket", code);
    if (code === EPERM || code === EACCES) {
      err.message += ": raw packet sockets need CAP_NET_RAW (run as root)";
    }
    throw err;
  }
  try {
    if (lib.bind(fd, sa, sa.length) < 0) {
      const code = errno();
      throw osError(
        `bind packet socket to ${ifname} (EtherType 0x${etherType.toString(16)})`,
        code,
      );
    }
    return new PacketSocket(fd, info, etherType, options);
  } catch (e) {
    lib.close(fd);
    throw e;
  }
}

/**
 * Open a PPPoE discovery socket: {@linkcode openPacketSocket} with EtherType
 * {@linkcode ETH_P_PPP_DISC} (0x8863) and payloads shorter than a PPPoE header dropped.
 *
 * @param ifname The Ethernet interface the access concentrator serves.
 * @param options Reactor and receive options (the EtherType is fixed).
 * @returns The socket.
 * @throws {OsError} As {@linkcode openPacketSocket}.
 *
 * @example Usage
 * Not run as a doc test: it needs root (CAP_NET_RAW) and an interface eth0.
 * ```ts ignore
 * import { BROADCAST_MAC, openDiscoverySocket } from "./packet_socket.ts";
 * import { Reactor } from "./reactor.ts";
 * await using reactor = new Reactor();
 * using disc = openDiscoverySocket("eth0", { reactor });
 * const padi = new Uint8Array([0x11, 0x09, 0, 0, 0, 4, 0x01, 0x01, 0, 0]);
 * disc.send(padi, BROADCAST_MAC);
 * for await (const { source, packetType, payload } of disc) {
 *   console.log(source, packetType, payload[1] === 0x07 ? "PADO" : "other");
 * }
 * ```
 */
export function openDiscoverySocket(
  ifname: string,
  options: Omit<PacketSocketOptions, "etherType"> = {},
): PacketSocket {
  return openPacketSocket(ifname, {
    minPayload: PPPOE_HEADER_SIZE,
    ...options,
    etherType: ETH_P_PPP_DISC,
  });
}

/**
 * Parse and check a MAC address, returning it lowercase (a convenience for configuration).
 *
 * @param text "AA:BB:CC:DD:EE:FF" or "aa-bb-cc-dd-ee-ff".
 * @returns "aa:bb:cc:dd:ee:ff".
 * @throws {RangeError} When it is not a MAC address.
 *
 * @example Usage
 * ```ts
 * import { normalizeMac } from "./packet_socket.ts";
 * console.log(normalizeMac("02-00-5E-10-00-01")); // "02:00:5e:10:00:01"
 * ```
 */
export function normalizeMac(text: string): string {
  return formatMac(parseMac(text));
}
