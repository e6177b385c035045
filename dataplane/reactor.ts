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
 * This module is the entry: {@linkcode Reactor} and what it hands out. The parts, each importing
 * only those below it:
 * - `reactor_core.ts`: the registry of sockets and watches, one-shot arming and the wait loop;
 * - `reactor_socket.ts`: {@linkcode ReactorSocket}, the facade of a served socket;
 * - `reactor_watch.ts`: {@linkcode FdWatch}, the facade of a watched fd, and its state;
 * - `reactor_io.ts`: one socket's queue, counters and `recvmmsg` / `sendmsg` / `sendmmsg` calls;
 * - `reactor_epoll.ts`: the epoll fd, the wake-up eventfd and `epoll_ctl` / `epoll_wait`;
 * - `reactor_buffers.ts`: the `mmsghdr` / `iovec` / sockaddr batch buffers.
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

import type { OsError } from "./ffi/libc.ts";
import { ReactorCore } from "./reactor_core.ts";
import type { OutgoingDatagram, ReactorSocketStats } from "./reactor_io.ts";
import { ReactorSocket, reactorSocket } from "./reactor_socket.ts";
import { FdWatch, fdWatch, type WatchOptions } from "./reactor_watch.ts";
import {
  type Datagram,
  type Encap,
  type Endpoint,
  type IpFamily,
  openTunnelSocket,
  type TunnelSocket,
  type TunnelSocketOptions,
} from "./socket.ts";

export type { Datagram, Encap, Endpoint, IpFamily, OsError, TunnelSocket, TunnelSocketOptions };
export type { OutgoingDatagram, ReactorSocketStats, WatchOptions };
export { FdWatch, ReactorSocket };

/** Options of {@linkcode Reactor}. */
export interface ReactorOptions {
  /** Datagrams per `recvmmsg`/`sendmmsg` call (default 32). */
  batch?: number;
  /** Largest datagram received whole (default 65535); longer ones are dropped and counted. */
  maxDatagram?: number;
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
  #core: ReactorCore;

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
    this.#core = new ReactorCore(batch, Math.ceil(max / 8) * 8);
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
    return reactorSocket(this.#core, this.#core.add(sock));
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
    return fdWatch(this.#core, this.#core.addWatch(fd, options));
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
    return this.#core.whenClosed;
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
