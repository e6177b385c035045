/**
 * {@linkcode ReactorSocket}: the facade of a tunnel socket served by the reactor (`reactor.ts`),
 * an async iterable of received datagrams with synchronous, nonblocking sends. It holds the
 * socket's {@linkcode SocketState} and forwards to the reactor core through
 * {@linkcode SocketHost}.
 *
 * @example Usage
 * ```ts
 * import { Reactor } from "./reactor.ts";
 * using reactor = new Reactor();
 * using sock = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
 * sock.send(new Uint8Array([4]), sock.local);
 * console.log((await sock.receive())?.data); // Uint8Array(1) [ 4 ]
 * ```
 *
 * @module
 */

import type { OsError } from "./ffi/libc.ts";
import type { OutgoingDatagram, ReactorSocketStats, SocketState } from "./reactor_io.ts";
import type { Datagram, Encap, Endpoint, IpFamily } from "./socket.ts";

/** What a {@linkcode ReactorSocket} needs of the reactor core. */
export interface SocketHost {
  /** The next datagram of `st`, or null once it is closed. */
  receive(st: SocketState): Promise<Datagram | null>;
  /** Send one datagram on `st`; false when dropped. */
  send(st: SocketState, data: Uint8Array, to: Endpoint | undefined): boolean;
  /** Send datagrams on `st` in batches; how many were sent. */
  sendBatch(st: SocketState, packets: readonly (Uint8Array | OutgoingDatagram)[]): number;
  /** Stop serving `st` (the socket stays open); pending receives resolve to null. */
  remove(st: SocketState): void;
}

let makeSocket: (host: SocketHost, st: SocketState) => ReactorSocket;

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
  #core: SocketHost;
  #st: SocketState;

  static {
    makeSocket = (host, st): ReactorSocket => new ReactorSocket(host, st);
  }

  private constructor(core: SocketHost, st: SocketState) {
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

/**
 * The facade of a registered socket (what `Reactor.register` returns; the constructor of
 * {@linkcode ReactorSocket} is private).
 *
 * @param host The reactor core serving `st`.
 * @param st The socket's state, registered with `host`.
 * @returns The facade.
 *
 * @example Usage
 * ```ts
 * import { SocketState } from "./reactor_io.ts";
 * import { reactorSocket, type SocketHost } from "./reactor_socket.ts";
 * import { openTunnelSocket } from "./socket.ts";
 * const host: SocketHost = {
 *   receive: () => Promise.resolve(null),
 *   send: () => false,
 *   sendBatch: () => 0,
 *   remove: (st) => {
 *     st.open = false;
 *   },
 * };
 * const tunnel = openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } });
 * using sock = reactorSocket(host, new SocketState(1, tunnel));
 * console.log(await sock.receive(), sock.closed); // null false
 * ```
 */
export function reactorSocket(host: SocketHost, st: SocketState): ReactorSocket {
  return makeSocket(host, st);
}
