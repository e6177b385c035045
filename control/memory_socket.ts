/**
 * An in-memory datagram network for tests and benchmarks of the control plane: sockets bound to
 * endpoints, `sendto`, connect (which then filters what is received, as a connected UDP socket
 * does), delivery in a later microtask, and a hook to drop, alter or watch datagrams on the way.
 *
 * Routing: a datagram to `address:port` goes to the socket bound there that is connected to the
 * sender, else to an unconnected one (several sockets may share an endpoint, as UDP sockets with
 * SO_REUSEADDR do). Nothing reaches a closed socket.
 *
 * @example Usage
 * ```ts
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const net = new MemoryNetwork();
 * const a = net.socket({ address: "10.0.0.1", port: 1701 });
 * const b = net.socket({ address: "10.0.0.2", port: 1701 });
 * a.send(new Uint8Array([1, 2, 3]), b.local);
 * const d = await b.receive();
 * console.log(d?.data, d?.from); // Uint8Array(3) [ 1, 2, 3 ] { address: "10.0.0.1", port: 1701 }
 * a.close();
 * b.close();
 * ```
 *
 * @module
 */

import type { Endpoint } from "./types.ts";
import type { Datagram } from "./types.ts";
import type { ControlSocket } from "./connection.ts";

/**
 * A datagram on its way, as the network's `filter` sees it.
 *
 * @example Usage
 * ```ts
 * import type { InFlight } from "./memory_socket.ts";
 * const drop = (d: InFlight): boolean => d.to.port === 1701;
 * console.log(typeof drop); // function
 * ```
 */
export interface InFlight {
  /** Sender's endpoint. */
  from: Endpoint;
  /** Destination. */
  to: Endpoint;
  /** Payload (a copy). */
  data: Uint8Array;
}

function same(a: Endpoint, b: Endpoint): boolean {
  return a.address === b.address && a.port === b.port;
}

/**
 * The network: makes sockets and carries datagrams between them.
 *
 * @example Usage
 * ```ts
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const net = new MemoryNetwork();
 * net.filter = (d) => d.data.length > 0 ? d.data : null; // drop empty datagrams
 * ```
 */
export class MemoryNetwork {
  readonly #sockets: MemorySocket[] = [];
  #delivered = 0;
  #dropped = 0;

  /**
   * Called for every datagram sent: return the bytes to deliver (possibly altered), or `null`
   * to drop it. Default: deliver as is.
   */
  filter: ((d: InFlight) => Uint8Array | null) | undefined;

  /** Datagrams delivered so far. */
  get delivered(): number {
    return this.#delivered;
  }

  /** Datagrams dropped (by the filter, or with no socket to take them). */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * A socket bound to `local`.
   *
   * @param local The endpoint.
   * @returns The socket.
   */
  socket(local: Endpoint): MemorySocket {
    const s = new MemorySocket(this, { ...local });
    this.#sockets.push(s);
    return s;
  }

  /** Carry a datagram (called by {@linkcode MemorySocket.send}). */
  carry(from: MemorySocket, data: Uint8Array, to: Endpoint): void {
    let bytes: Uint8Array | null = data.slice();
    if (this.filter) bytes = this.filter({ from: { ...from.local }, to: { ...to }, data: bytes });
    if (bytes === null) {
      this.#dropped++;
      return;
    }
    const payload = bytes;
    const src = { ...from.local };
    queueMicrotask(() => {
      const open = this.#sockets.filter((s) => !s.closed && same(s.local, to));
      const target = open.find((s) => s.peer !== undefined && same(s.peer, src)) ??
        open.find((s) => s.peer === undefined);
      if (target === undefined) {
        this.#dropped++;
        return;
      }
      this.#delivered++;
      target.deliver({ data: payload, from: src });
    });
  }

  /** Forget a closed socket. */
  forget(s: MemorySocket): void {
    const i = this.#sockets.indexOf(s);
    if (i >= 0) this.#sockets.splice(i, 1);
  }
}

/**
 * One socket of a {@linkcode MemoryNetwork}; a {@linkcode ControlSocket}.
 *
 * @example Usage
 * ```ts
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const net = new MemoryNetwork();
 * using s = net.socket({ address: "10.0.0.1", port: 1701 });
 * s.connect({ address: "10.0.0.2", port: 1701 });
 * console.log(s.connects.length); // 1
 * ```
 */
export class MemorySocket implements ControlSocket, Disposable {
  readonly #net: MemoryNetwork;
  readonly #queue: Datagram[] = [];
  readonly #waiters: ((d: Datagram | null) => void)[] = [];
  #closed = false;
  #peer: Endpoint | undefined;

  /** The bound endpoint. */
  readonly local: Endpoint;
  /** Every `connect` call, in order (peer and L2TP/IP connection ID). */
  readonly connects: { peer: Endpoint; peerConnId: number }[] = [];
  /** Datagrams sent. */
  sent = 0;

  /**
   * Made by {@linkcode MemoryNetwork.socket}.
   *
   * @param net The network.
   * @param local The bound endpoint.
   */
  constructor(net: MemoryNetwork, local: Endpoint) {
    this.#net = net;
    this.local = local;
  }

  /** The connected peer, if any. */
  get peer(): Endpoint | undefined {
    return this.#peer;
  }

  /** Whether the socket is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Send a datagram to `to`, or to the connected peer.
   *
   * @param data Payload (copied).
   * @param to Destination.
   * @returns Whether it was handed to the network.
   * @throws {Error} If there is neither a destination nor a connected peer.
   */
  send(data: Uint8Array, to?: Endpoint): boolean {
    if (this.#closed) return false;
    const dest = to ?? this.#peer;
    if (dest === undefined) throw new Error("Cannot send on memory socket: not connected");
    this.sent++;
    this.#net.carry(this, data, dest);
    return true;
  }

  /**
   * Connect: only the peer's datagrams are received from now on, and `send` may omit `to`.
   *
   * @param peer The peer.
   * @param peerConnId L2TP/IP: the peer's control connection ID (recorded only).
   */
  connect(peer: Endpoint, peerConnId = 0): void {
    this.#peer = { ...peer };
    this.connects.push({ peer: { ...peer }, peerConnId });
    // Datagrams already queued from others are dropped, as the kernel would not have queued them.
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      if (!same(this.#queue[i].from, peer)) this.#queue.splice(i, 1);
    }
  }

  /** Queue a datagram (called by the network). */
  deliver(d: Datagram): void {
    if (this.#closed) return;
    const w = this.#waiters.shift();
    if (w) w(d);
    else this.#queue.push(d);
  }

  /**
   * The next datagram, or `null` once closed.
   *
   * @returns The datagram.
   */
  receive(): Promise<Datagram | null> {
    const d = this.#queue.shift();
    if (d !== undefined) return Promise.resolve(d);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Datagrams until closed.
   *
   * @returns The iterator.
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

  /** Close: pending receives get `null`. Calling it again does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    for (const w of this.#waiters.splice(0)) w(null);
    this.#net.forget(this);
  }

  /** Same as {@linkcode MemorySocket.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
