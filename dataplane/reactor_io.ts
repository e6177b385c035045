/**
 * Datagram I/O of one socket served by the reactor (`reactor.ts`): {@linkcode SocketState}
 * holds its receive queue, waiters, counters and caches, and makes its nonblocking `recvmmsg`,
 * `sendmsg` and `sendmmsg` calls through the reactor's shared batch buffers
 * (`reactor_buffers.ts`). errno is read right after each call; soft errors (ICMP feedback,
 * routes) are counted, not thrown.
 *
 * @example Usage
 * ```ts
 * import { ReceiveBuffers, SendBuffers } from "./reactor_buffers.ts";
 * import { SocketState } from "./reactor_io.ts";
 * import { openTunnelSocket } from "./socket.ts";
 * const st = new SocketState(1, openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } }));
 * st.send(new SendBuffers(8), new Uint8Array([9]), st.sock.local);
 * await new Promise((r) => setTimeout(r, 10));
 * console.log(st.fill(new ReceiveBuffers(8, 2048)), st.take()?.data); // 1 Uint8Array(1) [ 9 ]
 * st.sock.close();
 * ```
 *
 * @module
 */

import { errno, libc, OsError, strerror } from "./ffi/libc.ts";
import { decodeSockaddr, encodeL2tpipSockaddr, encodeSockaddr } from "./ffi/sockaddr.ts";
import {
  NAME_SIZE,
  type ReceiveBuffers,
  type SendBuffers,
  TX_DATA_SIZE,
} from "./reactor_buffers.ts";
import {
  type Datagram,
  type Endpoint,
  Errno,
  MSG_DONTWAIT,
  type TunnelSocket,
  ZONE_RESOLVER,
} from "./socket.ts";

/** errno values after which a socket stays usable (ICMP feedback, routes): counted, not thrown. */
const SOFT_ERRORS: ReadonlySet<number> = new Set([
  Errno.ECONNREFUSED,
  113, // EHOSTUNREACH
  101, // ENETUNREACH
  112, // EHOSTDOWN
  100, // ENETDOWN
  90, // EMSGSIZE (path MTU)
  1, // EPERM (netfilter)
  105, // ENOBUFS
]);

/** A datagram to send: payload and, for an unconnected socket, its destination. */
export interface OutgoingDatagram {
  /** Payload. */
  data: Uint8Array;
  /** Destination; leave out on a connected socket. */
  to?: Endpoint;
}

/** Counters of one `ReactorSocket`. */
export interface ReactorSocketStats {
  /** Datagrams received. */
  received: number;
  /** `recvmmsg` calls that returned datagrams. */
  receiveBatches: number;
  /** Datagrams sent. */
  sent: number;
  /** Datagrams dropped on receive for being longer than `maxDatagram`. */
  truncated: number;
  /** Soft errors (ICMP unreachable and the like) reported by send or receive. */
  errors: number;
}

/**
 * Per-socket state shared between the `ReactorSocket` facade and the reactor core, with the
 * socket's receive and send calls.
 *
 * @example Usage
 * ```ts
 * import { SocketState } from "./reactor_io.ts";
 * import { openTunnelSocket } from "./socket.ts";
 * const st = new SocketState(1, openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } }));
 * console.log(st.take(), st.stats.received); // undefined 0
 * st.sock.close();
 * ```
 */
export class SocketState {
  /** epoll token. */
  readonly token: number;
  /** The tunnel socket served. */
  readonly sock: TunnelSocket;
  /** Its fd. */
  readonly fd: number;
  /** False once closed or detached. */
  open = true;
  /** Whether armed in the epoll set. */
  armed = false;
  /** Received datagrams not yet taken, from index `head` on. */
  queue: Datagram[] = [];
  /** Index of the next datagram of `queue` to take. */
  head = 0;
  /** Pending receives, in call order. */
  waiters: { resolve: (d: Datagram | null) => void; reject: (e: unknown) => void }[] = [];
  /** The last soft error seen by send or receive. */
  lastError: OsError | undefined;
  /** Counters since registration. */
  stats: ReactorSocketStats = { received: 0, receiveBatches: 0, sent: 0, truncated: 0, errors: 0 };
  #lastRaw = new Uint8Array(NAME_SIZE);
  #lastRawLen = 0;
  #lastFrom: Endpoint | undefined;
  #addrCache = new Map<string, Uint8Array>();

  /**
   * State for a socket just registered.
   *
   * @param token epoll token.
   * @param sock An open tunnel socket.
   */
  constructor(token: number, sock: TunnelSocket) {
    this.token = token;
    this.sock = sock;
    this.fd = sock.fd;
  }

  /** The next queued datagram, if any. */
  take(): Datagram | undefined {
    if (this.head >= this.queue.length) return undefined;
    const d = this.queue[this.head++];
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
    return d;
  }

  /** Hand queued datagrams to waiters, in order, while both last. */
  deliver(): void {
    while (this.waiters.length > 0) {
      const d = this.take();
      if (d === undefined) return;
      this.waiters.shift()?.resolve(d);
    }
  }

  /** Drop queued datagrams and resolve every pending receive to null (the socket ended). */
  end(): void {
    this.queue.length = 0;
    this.head = 0;
    for (const w of this.waiters.splice(0)) w.resolve(null);
  }

  /**
   * Reject every pending receive.
   *
   * @param e The reason.
   */
  fail(e: unknown): void {
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  /**
   * One `recvmmsg` (retried once after a soft error) into `rx`, queueing what it returns.
   *
   * @param rx The reactor's receive buffers.
   * @returns Datagrams queued.
   * @throws {OsError} On a hard receive error.
   */
  fill(rx: ReceiveBuffers): number {
    const lib = libc();
    for (let attempt = 0; attempt < 2; attempt++) {
      rx.reset();
      const n = lib.recvmmsg(this.fd, rx.msgvec, rx.batch, MSG_DONTWAIT, null);
      if (n < 0) {
        const code = errno();
        if (code === Errno.EAGAIN) return 0;
        this.#softError("receive", code);
        continue;
      }
      let total = 0;
      for (let i = 0; i < n; i++) {
        if (!rx.truncated(i)) total += rx.length(i);
      }
      const store = new Uint8Array(total);
      let off = 0;
      let queued = 0;
      for (let i = 0; i < n; i++) {
        if (rx.truncated(i)) {
          this.stats.truncated++;
          continue;
        }
        const len = rx.length(i);
        store.set(rx.payload(i, len), off);
        this.queue.push({ data: store.subarray(off, off + len), from: this.#source(rx, i) });
        off += len;
        queued++;
      }
      if (n > 0) this.stats.receiveBatches++;
      this.stats.received += queued;
      return queued;
    }
    return 0;
  }

  /** The sender of message `i`, reusing the previous Endpoint when the bytes repeat. */
  #source(rx: ReceiveBuffers, i: number): Endpoint {
    const base = rx.nameOffset(i);
    const nameLen = rx.nameLength(i);
    const raw = rx.msgvec;
    if (this.#lastFrom !== undefined && this.#lastRawLen === nameLen) {
      let same = true;
      for (let k = 0; k < nameLen; k++) {
        if (raw[base + k] !== this.#lastRaw[k]) {
          same = false;
          break;
        }
      }
      if (same) return this.#lastFrom;
    }
    const sa = decodeSockaddr(raw.subarray(base, base + nameLen), nameLen);
    const from: Endpoint = Object.freeze({ address: sa.address, port: sa.port });
    this.#lastRaw.set(raw.subarray(base, base + nameLen));
    this.#lastRawLen = nameLen;
    this.#lastFrom = from;
    return from;
  }

  /** The encoded destination sockaddr for `to`, cached by text. */
  #destination(to: Endpoint): Uint8Array {
    const key = `${to.address}|${to.port}`;
    let sa = this.#addrCache.get(key);
    if (sa === undefined) {
      const family = to.address.includes(":") ? 6 : 4;
      if (family !== this.sock.family) {
        throw new TypeError(
          `Cannot send from an IPv${this.sock.family} socket to ${to.address}: ` +
            `address family differs`,
        );
      }
      sa = this.sock.encap === "udp"
        ? encodeSockaddr(to, ZONE_RESOLVER)
        : encodeL2tpipSockaddr(to.address, 0, ZONE_RESOLVER);
      if (this.#addrCache.size >= 1024) this.#addrCache.clear();
      this.#addrCache.set(key, sa);
    }
    return sa;
  }

  #place(
    tx: SendBuffers,
    i: number,
    data: Uint8Array,
    to: Endpoint | undefined,
    off: number,
  ): number {
    return tx.place(i, data, to === undefined ? undefined : this.#destination(to), off);
  }

  /** Count and keep a soft error; throw any other. */
  #softError(op: "receive" | "send", code: number): void {
    const err = new OsError(
      `${op} on ${this.sock.encap === "udp" ? "UDP" : "L2TP/IP"} socket`,
      code,
      strerror(code),
    );
    if (!SOFT_ERRORS.has(code)) throw err;
    this.lastError = err;
    this.stats.errors++;
  }

  /**
   * Send one datagram now (`sendmsg` with `MSG_DONTWAIT`) through `tx`.
   *
   * @param tx The reactor's send buffers.
   * @param data Payload (copied).
   * @param to Destination; undefined on a connected socket.
   * @returns true when sent; false when dropped (EAGAIN or a soft error).
   * @throws {Error} When closed; {@linkcode OsError} on a hard send error.
   */
  send(tx: SendBuffers, data: Uint8Array, to: Endpoint | undefined): boolean {
    if (!this.open) throw new Error("Cannot send: the socket is closed");
    if (data.length > TX_DATA_SIZE) {
      throw new RangeError(`Cannot send ${data.length} bytes: larger than ${TX_DATA_SIZE}`);
    }
    this.#place(tx, 0, data, to, 0);
    const r = libc().sendmsg(this.fd, tx.msgvec, MSG_DONTWAIT);
    if (r >= 0) {
      this.stats.sent++;
      return true;
    }
    const code = errno();
    if (code !== Errno.EAGAIN) this.#softError("send", code);
    return false;
  }

  /**
   * Send datagrams in `sendmmsg` batches through `tx`.
   *
   * @param tx The reactor's send buffers.
   * @param packets Payloads (for a connected socket) or payloads with destinations.
   * @returns How many were sent.
   * @throws {Error} When closed; {@linkcode OsError} on a hard send error.
   */
  sendBatch(tx: SendBuffers, packets: readonly (Uint8Array | OutgoingDatagram)[]): number {
    if (!this.open) throw new Error("Cannot send: the socket is closed");
    const lib = libc();
    let sent = 0;
    let i = 0;
    while (i < packets.length) {
      let n = 0;
      let off = 0;
      while (i + n < packets.length && n < tx.batch) {
        const p = packets[i + n];
        const data = p instanceof Uint8Array ? p : p.data;
        const to = p instanceof Uint8Array ? undefined : p.to;
        if (off + data.length > TX_DATA_SIZE) {
          if (n === 0) {
            throw new RangeError(`Cannot send ${data.length} bytes: larger than ${TX_DATA_SIZE}`);
          }
          break;
        }
        off = this.#place(tx, n, data, to, off);
        n++;
      }
      const r = lib.sendmmsg(this.fd, tx.msgvec, n, MSG_DONTWAIT);
      if (r < 0) {
        const code = errno();
        if (code === Errno.EAGAIN) break;
        this.#softError("send", code);
        i++; // soft error: the first datagram of the chunk is dropped
        continue;
      }
      sent += r;
      this.stats.sent += r;
      i += r;
    }
    return sent;
  }
}
