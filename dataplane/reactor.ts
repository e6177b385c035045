/**
 * The socket reactor: nonblocking tunnel sockets (UDP, L2TP/IP; IPv4 and IPv6) registered with
 * one epoll fd, read as async iterables of datagrams.
 *
 * Design:
 * - Reads and writes are synchronous FFI calls with `MSG_DONTWAIT` (`recvmmsg` / `sendmsg` /
 *   `sendmmsg`), and errno is read right after each of them on the calling thread.
 * - Exactly one `nonblocking: true` `epoll_wait` is in flight, and only while some consumer waits
 *   for a datagram that has not arrived. Sockets are armed `EPOLLIN | EPOLLONESHOT` per wait, so
 *   an unread socket never spins the loop. An eventfd in the epoll set wakes the wait on close.
 *   With no consumer waiting nothing is pending, so an idle program exits on its own.
 * - A waiting receive first tries one synchronous `recvmmsg`; a small per-round budget then sends
 *   it through `epoll_wait`, so a flooded socket cannot starve timers and other sockets.
 * - Each `recvmmsg` batch is copied into one fresh buffer sized to the bytes received; datagrams
 *   are views into it. Source endpoints are decoded once per distinct sender and reused.
 * - Other nonblocking fds (packet sockets, for instance) join the same epoll set through
 *   {@linkcode Reactor.watch}: the reactor only reports readiness ({@linkcode FdWatch.readable})
 *   and the fd's owner reads it; the same one-shot arming applies.
 *
 * @example Usage
 * An L2TP port echo server (not run as a doc test: it never ends):
 * ```ts ignore
 * import { Reactor } from "./reactor.ts";
 * await using reactor = new Reactor();
 * const sock = reactor.udp({ local: { address: "0.0.0.0", port: 1701 } });
 * for await (const { data, from } of sock) {
 *   sock.send(data, from); // echo
 * }
 * ```
 *
 * @module
 */

import { errno, libc, OsError, strerror } from "./ffi/libc.ts";
import {
  decodeSockaddr,
  encodeL2tpipSockaddr,
  encodeSockaddr,
  HOST_LITTLE_ENDIAN,
} from "./ffi/sockaddr.ts";
import {
  type Datagram,
  type Encap,
  type Endpoint,
  Errno,
  type IpFamily,
  MSG_DONTWAIT,
  openTunnelSocket,
  type TunnelSocket,
  type TunnelSocketOptions,
  ZONE_RESOLVER,
} from "./socket.ts";

export type { Datagram, Encap, Endpoint, IpFamily, OsError, TunnelSocket, TunnelSocketOptions };

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EPOLLIN = 0x1;
const EPOLLONESHOT = 1 << 30;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
const MSG_TRUNC = 0x20;
/** `struct epoll_event` is packed on x86_64 only. */
const EPOLL_EVENT_SIZE = Deno.build.arch === "x86_64" ? 12 : 16;
const EPOLL_DATA_OFFSET = Deno.build.arch === "x86_64" ? 4 : 8;
const MAX_EVENTS = 64;
/** LP64 `struct mmsghdr` / `struct msghdr` / `struct iovec`. */
const MMSGHDR_SIZE = 64;
const IOVEC_SIZE = 16;
const NAME_SIZE = 64;
const MSG_NAME = 0;
const MSG_NAMELEN = 8;
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const MSG_FLAGS = 48;
const MSG_LEN = 56;
/** Synchronous `recvmmsg` calls allowed between two trips through `epoll_wait`. */
const SYNC_BUDGET = 8;
const TX_DATA_SIZE = 256 * 1024;
const EVENTFD_TOKEN = 0;

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

/** Options of {@linkcode Reactor}. */
export interface ReactorOptions {
  /** Datagrams per `recvmmsg`/`sendmmsg` call (default 32). */
  batch?: number;
  /** Largest datagram received whole (default 65535); longer ones are dropped and counted. */
  maxDatagram?: number;
}

/** A datagram to send: payload and, for an unconnected socket, its destination. */
export interface OutgoingDatagram {
  /** Payload. */
  data: Uint8Array;
  /** Destination; leave out on a connected socket. */
  to?: Endpoint;
}

/** Counters of one {@linkcode ReactorSocket}. */
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

interface Waiter {
  resolve: (d: Datagram | null) => void;
  reject: (e: unknown) => void;
}

/** What the epoll arming needs of a registered fd. */
interface Armable {
  readonly token: number;
  readonly fd: number;
  armed: boolean;
}

/** Options of {@linkcode Reactor.watch}. */
export interface WatchOptions {
  /** What the fd is, for error messages ("packet socket"); default "fd N". */
  what?: string;
  /**
   * Called once if the reactor closes while the watch is registered, after the watch is gone:
   * the place to close the fd, as the reactor closes its own sockets. Exceptions are ignored.
   */
  onReactorClose?: () => void;
}

/** Per-watch state shared between the facade and the reactor core. */
class WatchState implements Armable {
  readonly token: number;
  readonly fd: number;
  readonly what: string;
  readonly onReactorClose: (() => void) | undefined;
  open = true;
  armed = false;
  waiters: { resolve: (ready: boolean) => void; reject: (e: unknown) => void }[] = [];

  constructor(token: number, fd: number, options: WatchOptions) {
    this.token = token;
    this.fd = fd;
    this.what = options.what ?? `fd ${fd}`;
    this.onReactorClose = options.onReactorClose;
  }
}

function osError(call: string, code: number): OsError {
  return new OsError(call, code, strerror(code));
}

/** Write a pointer-sized value (an address below 2^53) as two u32 halves. */
function putPtr(u32: Uint32Array, byteOffset: number, value: number): void {
  const hi = Math.floor(value / 0x100000000);
  const lo = value - hi * 0x100000000;
  const i = byteOffset >> 2;
  if (HOST_LITTLE_ENDIAN) {
    u32[i] = lo;
    u32[i + 1] = hi;
  } else {
    u32[i] = hi;
    u32[i + 1] = lo;
  }
}

function addressOf(buf: ArrayBuffer): number {
  const p = Deno.UnsafePointer.of(buf);
  const v = Number(Deno.UnsafePointer.value(p));
  if (!Number.isSafeInteger(v) || v === 0) {
    throw new RangeError("Cannot set up reactor buffers: unusable buffer address");
  }
  return v;
}

/** Per-socket state shared between the facade and the reactor core. */
class SocketState {
  readonly token: number;
  readonly sock: TunnelSocket;
  readonly fd: number;
  open = true;
  armed = false;
  queue: Datagram[] = [];
  head = 0;
  waiters: Waiter[] = [];
  lastRaw = new Uint8Array(NAME_SIZE);
  lastRawLen = 0;
  lastFrom: Endpoint | undefined;
  addrCache = new Map<string, Uint8Array>();
  lastError: OsError | undefined;
  stats: ReactorSocketStats = { received: 0, receiveBatches: 0, sent: 0, truncated: 0, errors: 0 };

  constructor(token: number, sock: TunnelSocket) {
    this.token = token;
    this.sock = sock;
    this.fd = sock.fd;
  }

  take(): Datagram | undefined {
    if (this.head >= this.queue.length) return undefined;
    const d = this.queue[this.head++];
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
    return d;
  }

  /** The encoded destination sockaddr for `to`, cached by text. */
  destination(to: Endpoint): Uint8Array {
    const key = `${to.address}|${to.port}`;
    let sa = this.addrCache.get(key);
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
      if (this.addrCache.size >= 1024) this.addrCache.clear();
      this.addrCache.set(key, sa);
    }
    return sa;
  }
}

/** epoll fd, eventfd, batch buffers and the wait loop. */
class Core {
  readonly batch: number;
  readonly slot: number;
  open = true;
  closing = false;
  polling = false;
  armedCount = 0;
  syncBudget = SYNC_BUDGET;
  readonly epfd: number;
  readonly evfd: number;
  readonly sockets = new Map<number, SocketState>();
  readonly watches = new Map<number, WatchState>();
  nextToken = 1;
  readonly events = new Uint8Array(MAX_EVENTS * EPOLL_EVENT_SIZE);
  readonly eventsView = new DataView(this.events.buffer);
  readonly ctlEvent = new Uint8Array(16);
  readonly ctlView = new DataView(this.ctlEvent.buffer);
  readonly counter = new BigUint64Array(1);
  // Receive buffers: mmsghdrs | iovecs | names | data slots.
  readonly rx: Uint8Array;
  readonly rxView: DataView;
  readonly rxNames: number;
  readonly rxData: number;
  // Send buffers: mmsghdrs | iovecs | names | packed data.
  readonly tx: Uint8Array;
  readonly tx32: Uint32Array;
  readonly txNames: number;
  readonly txData: number;
  readonly txAddr: number;
  readonly closedPromise: Promise<void>;
  resolveClosed!: () => void;

  constructor(batch: number, slot: number) {
    this.batch = batch;
    this.slot = slot;
    this.closedPromise = new Promise((r) => (this.resolveClosed = r));
    const lib = libc();

    const rxIov = batch * MMSGHDR_SIZE;
    this.rxNames = rxIov + batch * IOVEC_SIZE;
    this.rxData = this.rxNames + batch * NAME_SIZE;
    const rxBuf = new ArrayBuffer(this.rxData + batch * slot);
    this.rx = new Uint8Array(rxBuf);
    this.rxView = new DataView(rxBuf);
    const rxAddr = addressOf(rxBuf);
    const rx32 = new Uint32Array(rxBuf, 0, this.rxData / 4);
    for (let i = 0; i < batch; i++) {
      const h = i * MMSGHDR_SIZE;
      putPtr(rx32, h + MSG_NAME, rxAddr + this.rxNames + i * NAME_SIZE);
      putPtr(rx32, h + MSG_IOV, rxAddr + rxIov + i * IOVEC_SIZE);
      putPtr(rx32, h + MSG_IOVLEN, 1);
      putPtr(rx32, rxIov + i * IOVEC_SIZE, rxAddr + this.rxData + i * slot);
      putPtr(rx32, rxIov + i * IOVEC_SIZE + 8, slot);
    }

    const txIov = batch * MMSGHDR_SIZE;
    this.txNames = txIov + batch * IOVEC_SIZE;
    this.txData = this.txNames + batch * NAME_SIZE;
    const txBuf = new ArrayBuffer(this.txData + TX_DATA_SIZE);
    this.tx = new Uint8Array(txBuf);
    this.tx32 = new Uint32Array(txBuf, 0, this.txData / 4);
    this.txAddr = addressOf(txBuf);
    for (let i = 0; i < batch; i++) {
      const h = i * MMSGHDR_SIZE;
      putPtr(this.tx32, h + MSG_IOV, this.txAddr + txIov + i * IOVEC_SIZE);
      putPtr(this.tx32, h + MSG_IOVLEN, 1);
    }

    const epfd = lib.epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
      const code = errno();
      throw osError("create epoll instance", code);
    }
    const evfd = lib.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (evfd < 0) {
      const code = errno();
      lib.close(epfd);
      throw osError("create eventfd", code);
    }
    this.epfd = epfd;
    this.evfd = evfd;
    try {
      this.ctl(EPOLL_CTL_ADD, evfd, EPOLLIN, EVENTFD_TOKEN, "watch eventfd");
    } catch (e) {
      lib.close(evfd);
      lib.close(epfd);
      throw e;
    }
  }

  ctl(op: number, fd: number, events: number, token: number, what: string): void {
    this.ctlView.setUint32(0, events, HOST_LITTLE_ENDIAN);
    this.ctlView.setUint32(EPOLL_DATA_OFFSET, token, HOST_LITTLE_ENDIAN);
    this.ctlView.setUint32(EPOLL_DATA_OFFSET + 4, 0, HOST_LITTLE_ENDIAN);
    if (libc().epoll_ctl(this.epfd, op, fd, this.ctlEvent) < 0) {
      const code = errno();
      throw osError(`${what} (fd ${fd})`, code);
    }
  }

  add(sock: TunnelSocket): SocketState {
    if (!this.open) throw new Error("Cannot register socket: the reactor is closed");
    const st = new SocketState(this.nextToken++, sock);
    // Registered with no events; armed one-shot per wait.
    this.ctl(EPOLL_CTL_ADD, st.fd, 0, st.token, "register socket with epoll");
    this.sockets.set(st.token, st);
    return st;
  }

  addWatch(fd: number, options: WatchOptions): WatchState {
    if (!this.open || this.closing) throw new Error("Cannot watch fd: the reactor is closed");
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`Cannot watch fd ${fd}: not an fd`);
    const w = new WatchState(this.nextToken++, fd, options);
    this.ctl(EPOLL_CTL_ADD, fd, 0, w.token, `register ${w.what} with epoll`);
    this.watches.set(w.token, w);
    return w;
  }

  /** Resolves true once `w`'s fd is readable, false once the watch or the reactor is closed. */
  readable(w: WatchState): Promise<boolean> {
    if (!w.open) return Promise.resolve(false);
    return new Promise((resolve, reject) => {
      w.waiters.push({ resolve, reject });
      try {
        this.arm(w);
      } catch (e) {
        w.waiters.pop();
        reject(e);
      }
    });
  }

  removeWatch(w: WatchState): void {
    if (!w.open) return;
    w.open = false;
    this.disarm(w);
    this.watches.delete(w.token);
    if (this.open) {
      try {
        this.ctl(EPOLL_CTL_DEL, w.fd, 0, w.token, `unregister ${w.what} from epoll`);
      } catch {
        // The fd is going away either way.
      }
    }
    const ws = w.waiters;
    w.waiters = [];
    for (const x of ws) x.resolve(false);
  }

  wake(): void {
    this.counter[0] = 1n;
    // An eventfd write only fails (EAGAIN) when the counter is about to overflow: already awake.
    libc().write(this.evfd, this.counter, 8n);
  }

  arm(st: Armable): void {
    if (st.armed) return;
    this.ctl(EPOLL_CTL_MOD, st.fd, EPOLLIN | EPOLLONESHOT, st.token, "watch socket");
    st.armed = true;
    this.armedCount++;
    if (!this.polling) {
      this.polling = true;
      this.loop().catch((e) => this.failAll(e));
    }
  }

  disarm(st: Armable): void {
    if (!st.armed) return;
    st.armed = false;
    this.armedCount--;
    if (this.armedCount === 0 && this.polling) this.wake();
  }

  async loop(): Promise<void> {
    const lib = libc();
    try {
      while (this.open && this.armedCount > 0) {
        let n = await lib.epoll_wait_nb(this.epfd, this.events, MAX_EVENTS, -1);
        if (!this.open) break;
        this.syncBudget = SYNC_BUDGET;
        if (n < 0) {
          // errno of the worker thread is lost: repeat the wait without blocking to learn it.
          n = lib.epoll_wait(this.epfd, this.events, MAX_EVENTS, 0);
          if (n < 0) {
            const code = errno();
            if (code === Errno.EINTR) continue;
            throw osError("wait for socket events", code);
          }
        }
        for (let k = 0; k < n; k++) {
          const token = this.eventsView.getUint32(
            k * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET,
            HOST_LITTLE_ENDIAN,
          );
          if (token === EVENTFD_TOKEN) {
            lib.read(this.evfd, this.counter, 8n);
            continue;
          }
          const st = this.sockets.get(token);
          if (st === undefined) {
            const w = this.watches.get(token);
            if (w === undefined || !w.armed) continue;
            w.armed = false; // one-shot: the kernel disarmed it
            this.armedCount--;
            const ws = w.waiters;
            w.waiters = [];
            for (const x of ws) x.resolve(true);
            continue;
          }
          if (!st.armed) continue;
          st.armed = false; // one-shot: the kernel disarmed it
          this.armedCount--;
          this.service(st);
        }
      }
    } finally {
      this.polling = false;
      if (!this.open) this.closeFds();
    }
  }

  /** Read one batch, hand it to waiters, re-arm if some still wait. */
  service(st: SocketState): void {
    try {
      this.fill(st);
    } catch (e) {
      const ws = st.waiters;
      st.waiters = [];
      for (const w of ws) w.reject(e);
      return;
    }
    this.deliver(st);
    if (st.open && st.waiters.length > 0) this.arm(st);
  }

  deliver(st: SocketState): void {
    while (st.waiters.length > 0) {
      const d = st.take();
      if (d === undefined) return;
      st.waiters.shift()?.resolve(d);
    }
  }

  /** One `recvmmsg` (retried once after a soft error); returns datagrams queued. */
  fill(st: SocketState): number {
    const lib = libc();
    const v = this.rxView;
    for (let attempt = 0; attempt < 2; attempt++) {
      for (let i = 0; i < this.batch; i++) {
        v.setUint32(i * MMSGHDR_SIZE + MSG_NAMELEN, NAME_SIZE, HOST_LITTLE_ENDIAN);
      }
      const n = lib.recvmmsg(st.fd, this.rx, this.batch, MSG_DONTWAIT, null);
      if (n < 0) {
        const code = errno();
        if (code === Errno.EAGAIN) return 0;
        const err = osError(
          `receive on ${st.sock.encap === "udp" ? "UDP" : "L2TP/IP"} socket`,
          code,
        );
        if (!SOFT_ERRORS.has(code)) throw err;
        st.lastError = err;
        st.stats.errors++;
        continue;
      }
      let total = 0;
      for (let i = 0; i < n; i++) {
        const h = i * MMSGHDR_SIZE;
        if ((v.getInt32(h + MSG_FLAGS, HOST_LITTLE_ENDIAN) & MSG_TRUNC) === 0) {
          total += v.getUint32(h + MSG_LEN, HOST_LITTLE_ENDIAN);
        }
      }
      const store = new Uint8Array(total);
      let off = 0;
      let queued = 0;
      for (let i = 0; i < n; i++) {
        const h = i * MMSGHDR_SIZE;
        if ((v.getInt32(h + MSG_FLAGS, HOST_LITTLE_ENDIAN) & MSG_TRUNC) !== 0) {
          st.stats.truncated++;
          continue;
        }
        const len = v.getUint32(h + MSG_LEN, HOST_LITTLE_ENDIAN);
        const start = this.rxData + i * this.slot;
        store.set(this.rx.subarray(start, start + len), off);
        const nameLen = Math.min(v.getUint32(h + MSG_NAMELEN, HOST_LITTLE_ENDIAN), NAME_SIZE);
        st.queue.push({ data: store.subarray(off, off + len), from: this.source(st, i, nameLen) });
        off += len;
        queued++;
      }
      if (n > 0) st.stats.receiveBatches++;
      st.stats.received += queued;
      return queued;
    }
    return 0;
  }

  /** The sender of datagram `i`, reusing the previous Endpoint when the bytes repeat. */
  source(st: SocketState, i: number, nameLen: number): Endpoint {
    const base = this.rxNames + i * NAME_SIZE;
    const raw = this.rx;
    if (st.lastFrom !== undefined && st.lastRawLen === nameLen) {
      let same = true;
      for (let k = 0; k < nameLen; k++) {
        if (raw[base + k] !== st.lastRaw[k]) {
          same = false;
          break;
        }
      }
      if (same) return st.lastFrom;
    }
    const sa = decodeSockaddr(raw.subarray(base, base + nameLen), nameLen);
    const from: Endpoint = Object.freeze({ address: sa.address, port: sa.port });
    st.lastRaw.set(raw.subarray(base, base + nameLen));
    st.lastRawLen = nameLen;
    st.lastFrom = from;
    return from;
  }

  receive(st: SocketState): Promise<Datagram | null> {
    const ready = st.take();
    if (ready !== undefined) return Promise.resolve(ready);
    if (!st.open) return Promise.resolve(null);
    if (st.waiters.length === 0 && this.syncBudget > 0) {
      this.syncBudget--;
      try {
        this.fill(st);
      } catch (e) {
        return Promise.reject(e);
      }
      const d = st.take();
      if (d !== undefined) return Promise.resolve(d);
    }
    return new Promise((resolve, reject) => {
      st.waiters.push({ resolve, reject });
      try {
        this.arm(st);
      } catch (e) {
        st.waiters.pop();
        reject(e);
      }
    });
  }

  /** Place message `i` of a send batch; returns the next free data offset. */
  place(
    st: SocketState,
    i: number,
    data: Uint8Array,
    to: Endpoint | undefined,
    off: number,
  ): number {
    const h = i * MMSGHDR_SIZE;
    const t32 = this.tx32;
    if (to === undefined) {
      putPtr(t32, h + MSG_NAME, 0);
      t32[(h + MSG_NAMELEN) >> 2] = 0;
    } else {
      const sa = st.destination(to);
      const at = this.txNames + i * NAME_SIZE;
      this.tx.set(sa, at);
      putPtr(t32, h + MSG_NAME, this.txAddr + at);
      t32[(h + MSG_NAMELEN) >> 2] = sa.length;
    }
    this.tx.set(data, this.txData + off);
    const iov = this.batch * MMSGHDR_SIZE + i * IOVEC_SIZE;
    putPtr(t32, iov, this.txAddr + this.txData + off);
    putPtr(t32, iov + 8, data.length);
    return off + data.length;
  }

  send(st: SocketState, data: Uint8Array, to: Endpoint | undefined): boolean {
    if (!st.open) throw new Error("Cannot send: the socket is closed");
    if (data.length > TX_DATA_SIZE) {
      throw new RangeError(`Cannot send ${data.length} bytes: larger than ${TX_DATA_SIZE}`);
    }
    this.place(st, 0, data, to, 0);
    const r = libc().sendmsg(st.fd, this.tx, MSG_DONTWAIT);
    if (r >= 0) {
      st.stats.sent++;
      return true;
    }
    const code = errno();
    return this.sendFailed(st, code);
  }

  /** EAGAIN and soft errors: false (datagram dropped); others throw. */
  sendFailed(st: SocketState, code: number): false {
    if (code === Errno.EAGAIN) return false;
    const err = osError(`send on ${st.sock.encap === "udp" ? "UDP" : "L2TP/IP"} socket`, code);
    if (!SOFT_ERRORS.has(code)) throw err;
    st.lastError = err;
    st.stats.errors++;
    return false;
  }

  sendBatch(st: SocketState, packets: readonly (Uint8Array | OutgoingDatagram)[]): number {
    if (!st.open) throw new Error("Cannot send: the socket is closed");
    const lib = libc();
    let sent = 0;
    let i = 0;
    while (i < packets.length) {
      let n = 0;
      let off = 0;
      while (i + n < packets.length && n < this.batch) {
        const p = packets[i + n];
        const data = p instanceof Uint8Array ? p : p.data;
        const to = p instanceof Uint8Array ? undefined : p.to;
        if (off + data.length > TX_DATA_SIZE) {
          if (n === 0) {
            throw new RangeError(`Cannot send ${data.length} bytes: larger than ${TX_DATA_SIZE}`);
          }
          break;
        }
        off = this.place(st, n, data, to, off);
        n++;
      }
      const r = lib.sendmmsg(st.fd, this.tx, n, MSG_DONTWAIT);
      if (r < 0) {
        const code = errno();
        this.sendFailed(st, code);
        if (code === Errno.EAGAIN) break;
        i++; // soft error: the first datagram of the chunk is dropped
        continue;
      }
      sent += r;
      st.stats.sent += r;
      i += r;
    }
    return sent;
  }

  remove(st: SocketState): void {
    if (!st.open) return;
    st.open = false;
    this.disarm(st);
    this.sockets.delete(st.token);
    if (this.open) {
      try {
        this.ctl(EPOLL_CTL_DEL, st.fd, 0, st.token, "unregister socket from epoll");
      } catch {
        // The fd is going away or being handed over either way.
      }
    }
    st.queue.length = 0;
    st.head = 0;
    const ws = st.waiters;
    st.waiters = [];
    for (const w of ws) w.resolve(null);
  }

  failAll(e: unknown): void {
    for (const st of this.sockets.values()) {
      const ws = st.waiters;
      st.waiters = [];
      if (st.armed) {
        st.armed = false;
        this.armedCount--;
      }
      for (const w of ws) w.reject(e);
    }
    for (const w of this.watches.values()) {
      const ws = w.waiters;
      w.waiters = [];
      if (w.armed) {
        w.armed = false;
        this.armedCount--;
      }
      for (const x of ws) x.reject(e);
    }
  }

  close(): void {
    // `closing` also guards against a close hook (onReactorClose) closing the reactor again.
    if (!this.open || this.closing) return;
    this.closing = true;
    for (const st of [...this.sockets.values()]) {
      this.remove(st);
      st.sock.close();
    }
    for (const w of [...this.watches.values()]) {
      this.removeWatch(w);
      try {
        w.onReactorClose?.();
      } catch {
        // The owner's cleanup must not keep the reactor from closing.
      }
    }
    this.open = false;
    if (this.polling) this.wake();
    else this.closeFds();
  }

  closeFds(): void {
    const lib = libc();
    lib.close(this.evfd);
    lib.close(this.epfd);
    this.resolveClosed();
  }
}

let makeSocket: (core: Core, st: SocketState) => ReactorSocket;

/**
 * A tunnel socket served by a {@linkcode Reactor}: an async iterable of received datagrams with
 * synchronous, nonblocking sends.
 *
 * @example Usage
 * ```ts
 * import { Reactor } from "./reactor.ts";
 * using reactor = new Reactor();
 * using sock = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
 * sock.send(new Uint8Array([1, 2, 3]), sock.local);
 * const d = await sock.receive();
 * console.log(d?.data); // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export class ReactorSocket implements AsyncIterable<Datagram>, Disposable {
  #core: Core;
  #st: SocketState;

  static {
    makeSocket = (core, st): ReactorSocket => new ReactorSocket(core, st);
  }

  private constructor(core: Core, st: SocketState) {
    this.#core = core;
    this.#st = st;
  }

  /** Encapsulation of the underlying socket. */
  get encap(): Encap {
    return this.#st.sock.encap;
  }

  /** IP version of the underlying socket. */
  get family(): IpFamily {
    return this.#st.sock.family;
  }

  /** The file descriptor (still owned by the reactor socket). */
  get fd(): number {
    if (!this.#st.open) throw new Error("Cannot use reactor socket: it is closed or detached");
    return this.#st.fd;
  }

  /** Whether the socket was closed or detached. */
  get closed(): boolean {
    return !this.#st.open;
  }

  /** The local address (`getsockname`). */
  get local(): Endpoint {
    return this.#st.sock.local;
  }

  /** The connected peer (`getpeername`), if any. */
  get peer(): Endpoint | undefined {
    return this.#st.sock.peer;
  }

  /** Counters since registration. */
  get stats(): Readonly<ReactorSocketStats> {
    return this.#st.stats;
  }

  /** The last soft error (ICMP unreachable and the like) seen by send or receive. */
  get lastError(): OsError | undefined {
    return this.#st.lastError;
  }

  /**
   * Connect the socket (see {@linkcode TunnelSocket.connect}).
   *
   * @param peer Peer address.
   * @param peerConnId L2TP/IP only: the peer's control connection id.
   */
  connect(peer: Endpoint, peerConnId = 0): void {
    this.#st.sock.connect(peer, peerConnId);
  }

  /**
   * The next datagram, or null once the socket or reactor is closed or the socket detached.
   * Concurrent calls are served in call order. A datagram's `data` is a view into a buffer
   * shared with the rest of its receive batch; copy it to keep it beyond its processing.
   */
  receive(): Promise<Datagram | null> {
    return this.#core.receive(this.#st);
  }

  /**
   * Send one datagram now (`sendmsg` with `MSG_DONTWAIT`).
   *
   * @param data Payload (copied before the call returns).
   * @param to Destination; leave out on a connected socket.
   * @returns true when sent; false when dropped because the socket buffer was full or a soft
   * network error (see {@linkcode ReactorSocket.lastError}) was reported.
   */
  send(data: Uint8Array, to?: Endpoint): boolean {
    return this.#core.send(this.#st, data, to);
  }

  /**
   * Send datagrams in `sendmmsg` batches.
   *
   * @param packets Payloads (for a connected socket) or payloads with destinations.
   * @returns How many were sent; fewer than given when the socket buffer filled up or soft
   * errors dropped some.
   */
  sendBatch(packets: readonly (Uint8Array | OutgoingDatagram)[]): number {
    return this.#core.sendBatch(this.#st, packets);
  }

  /**
   * Iterate received datagrams until the socket is closed or detached. Ending the loop early
   * (`break`) leaves the socket open.
   */
  [Symbol.asyncIterator](): AsyncIterator<Datagram> {
    return {
      next: async (): Promise<IteratorResult<Datagram>> => {
        const d = await this.receive();
        return d === null ? { done: true, value: undefined } : { done: false, value: d };
      },
      return: (): Promise<IteratorResult<Datagram>> =>
        Promise.resolve({ done: true, value: undefined }),
    };
  }

  /**
   * Stop serving the socket and hand its fd over, open (for instance to the kernel). Pending
   * receives resolve to null; queued datagrams are dropped.
   *
   * @returns The fd, now owned by the caller.
   */
  detach(): number {
    if (!this.#st.open) throw new Error("Cannot detach reactor socket: it is closed or detached");
    this.#core.remove(this.#st);
    return this.#st.sock.release();
  }

  /** Close the socket; pending receives resolve to null. Calling it again does nothing. */
  close(): void {
    if (!this.#st.open) return;
    this.#core.remove(this.#st);
    this.#st.sock.close();
  }

  /** Same as {@linkcode ReactorSocket.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

let makeWatch: (core: Core, w: WatchState) => FdWatch;

/**
 * A foreign nonblocking fd in a {@linkcode Reactor}'s epoll set (see {@linkcode Reactor.watch}):
 * the reactor reports when it is readable, its owner reads it. The watch does not own the fd:
 * close the watch before the fd.
 *
 * @example Usage
 * ```ts
 * import { Reactor } from "./reactor.ts";
 * import { openTunnelSocket } from "./socket.ts";
 * await using reactor = new Reactor();
 * using sock = openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } });
 * using watch = reactor.watch(sock.fd, { what: "UDP socket" });
 * sock.send(new Uint8Array([7]), sock.local);
 * console.log(await watch.readable(), sock.recv()?.data); // true Uint8Array(1) [ 7 ]
 * ```
 */
export class FdWatch implements Disposable {
  #core: Core;
  #w: WatchState;

  static {
    makeWatch = (core, w): FdWatch => new FdWatch(core, w);
  }

  private constructor(core: Core, w: WatchState) {
    this.#core = core;
    this.#w = w;
  }

  /** The watched fd. */
  get fd(): number {
    return this.#w.fd;
  }

  /** Whether the watch was closed (by `close()` or by the reactor closing). */
  get closed(): boolean {
    return !this.#w.open;
  }

  /**
   * Wait until the fd is readable (`EPOLLIN`, one-shot: call again after reading). Concurrent
   * calls all resolve on the same readiness. Read until EAGAIN before waiting again, or the
   * wait may report data that is already gone (harmless with nonblocking reads).
   *
   * @returns true when readable; false once the watch or the reactor is closed.
   */
  readable(): Promise<boolean> {
    return this.#core.readable(this.#w);
  }

  /** Take the fd out of the epoll set (it stays open); pending waits resolve false. */
  close(): void {
    this.#core.removeWatch(this.#w);
  }

  /** Same as {@linkcode FdWatch.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * One epoll instance serving any number of tunnel sockets.
 *
 * @example Usage
 * ```ts
 * import { Reactor } from "./reactor.ts";
 * await using reactor = new Reactor();
 * const a = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
 * const b = reactor.udp({ local: { address: "127.0.0.1", port: 0 }, peer: a.local });
 * b.send(new TextEncoder().encode("hello"));
 * for await (const d of a) {
 *   console.log(new TextDecoder().decode(d.data), d.from);
 *   break;
 * }
 * ```
 */
export class Reactor implements Disposable, AsyncDisposable {
  #core: Core;

  /**
   * Create the epoll fd and the wake-up eventfd.
   *
   * @param options Batch size and largest datagram.
   */
  constructor(options: ReactorOptions = {}) {
    const batch = options.batch ?? 32;
    const max = options.maxDatagram ?? 65535;
    if (!Number.isInteger(batch) || batch < 1 || batch > 1024) {
      throw new RangeError(`Cannot create reactor: batch ${batch} is not in 1..1024`);
    }
    if (!Number.isInteger(max) || max < 1 || max > 65535) {
      throw new RangeError(`Cannot create reactor: maxDatagram ${max} is not in 1..65535`);
    }
    // Keep slots 8-byte aligned so all header fields stay aligned.
    this.#core = new Core(batch, Math.ceil(max / 8) * 8);
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return !this.#core.open;
  }

  /** Whether an `epoll_wait` is in flight (only while some receive is waiting). */
  get polling(): boolean {
    return this.#core.polling;
  }

  /**
   * Serve an existing tunnel socket; the reactor socket takes ownership of it.
   *
   * @param sock An open tunnel socket (nonblocking).
   */
  register(sock: TunnelSocket): ReactorSocket {
    return makeSocket(this.#core, this.#core.add(sock));
  }

  /**
   * Add a foreign nonblocking fd (a packet socket, say) to the epoll set, to be told when it is
   * readable; the caller keeps reading and owning it. Closing the reactor ends the watch (its
   * pending waits resolve false) and then calls `options.onReactorClose`.
   *
   * @param fd An open, nonblocking fd; not already in this reactor.
   * @param options A name for error messages and a close hook.
   * @returns The watch.
   * @throws {OsError} "Cannot register NAME with epoll (fd N): ..." (EEXIST, EBADF, EPERM for
   *   regular files).
   */
  watch(fd: number, options: WatchOptions = {}): FdWatch {
    return makeWatch(this.#core, this.#core.addWatch(fd, options));
  }

  /**
   * Open a UDP tunnel socket (see `openTunnelSocket`) and serve it.
   *
   * @param options Local and optional peer endpoint.
   */
  udp(options: Omit<TunnelSocketOptions, "encap">): ReactorSocket {
    return this.#adopt(openTunnelSocket({ ...options, encap: "udp" }));
  }

  /**
   * Open an L2TP/IP tunnel socket (see `openTunnelSocket`) and serve it.
   *
   * @param options Local address, connection ids and optional peer.
   */
  l2tpip(options: Omit<TunnelSocketOptions, "encap">): ReactorSocket {
    return this.#adopt(openTunnelSocket({ ...options, encap: "ip" }));
  }

  /**
   * Close every socket, wake the pending wait and release the epoll fd and eventfd (once the
   * wait has returned). Calling it again does nothing.
   */
  close(): void {
    this.#core.close();
  }

  /** Resolves once the epoll fd and eventfd are closed (after `close()`). */
  whenClosed(): Promise<void> {
    return this.#core.closedPromise;
  }

  /** Same as {@linkcode Reactor.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Close and wait until the in-flight `epoll_wait` (if any) has returned and fds are closed. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return this.whenClosed();
  }

  #adopt(sock: TunnelSocket): ReactorSocket {
    try {
      return this.register(sock);
    } catch (e) {
      sock.close();
      throw e;
    }
  }
}
