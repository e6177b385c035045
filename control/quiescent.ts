/**
 * Quiescent tunnels: a static tunnel plus just enough of the control protocol to notice a dead
 * peer (go-l2tp's ql2tpd calls these "quiescent").
 *
 * Both ends are configured alike (tunnel IDs known, no SCCRQ exchange). Each end runs the reliable
 * transport (RFC 2661 §5.8, RFC 3931 §4.2) over the tunnel's own socket: it sends a HELLO after
 * `helloTimeoutMs` without hearing from the peer (RFC 2661 §6.5), acknowledges what it receives,
 * and retransmits what is not acknowledged. When the retransmissions run out the peer is declared
 * dead and {@linkcode QuiescentTunnel.ended} resolves with reason `"failed"`: the owner tears the
 * tunnel's sessions and kernel tunnel down.
 *
 * @module
 */

import type { Datagram } from "./types.ts";
import type { Clock } from "./clock.ts";
import type { ControlMessage } from "./message.ts";
import type { L2tpVersion, Transport } from "./header.ts";
import { ControlTransport, type TransportEnd, type TransportErrorEvent } from "./transport.ts";

/**
 * The socket a quiescent tunnel runs over: the managed tunnel socket, already connected.
 *
 * @example Usage
 * ```ts
 * import type { QuiescentSocket } from "./quiescent.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const sock: QuiescentSocket = new MemoryNetwork().socket({ address: "192.0.2.1", port: 1701 });
 * console.log(typeof sock.send); // function
 * ```
 */
export interface QuiescentSocket extends AsyncIterable<Datagram> {
  /** Send one datagram to the connected peer; false if it could not be queued. */
  send(data: Uint8Array): boolean;
}

/**
 * Options of {@linkcode QuiescentTunnel}.
 *
 * @example Usage
 * ```ts
 * import type { QuiescentOptions } from "./quiescent.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const socket = new MemoryNetwork().socket({ address: "192.0.2.1", port: 1701 });
 * const o: QuiescentOptions = { version: 3, encap: "udp", peerTunnelId: 45, socket,
 *   helloTimeoutMs: 5000 };
 * console.log(o.helloTimeoutMs); // 5000
 * ```
 */
export interface QuiescentOptions {
  /** Protocol version. */
  version: L2tpVersion;
  /** Encapsulation of the tunnel socket. */
  encap: Transport;
  /** The peer's tunnel ID (put in the header of what we send). */
  peerTunnelId: number;
  /** The socket (the same fd the kernel carries data on). */
  socket: QuiescentSocket;
  /** Send a HELLO after this long without hearing from the peer. */
  helloTimeoutMs: number;
  /** First retransmission timeout (default 1000 ms). */
  retryTimeoutMs?: number;
  /** Retransmissions before the peer is declared dead (transport default: 5 for v2, 10 for v3). */
  maxRetries?: number;
  /** Our receive window (default: the transport's). */
  windowSize?: number;
  /** Injected clock (tests). */
  clock?: Clock;
  /** Called for every in-order message the peer sends (HELLO and anything else). */
  onMessage?: (msg: ControlMessage) => void;
  /** Called for datagrams that could not be used (malformed, bad digest). */
  onError?: (event: TransportErrorEvent) => void;
}

/**
 * A running quiescent control connection.
 *
 * @example Usage
 * ```ts
 * import { QuiescentTunnel } from "./quiescent.ts";
 * import { FakeClock } from "./clock.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const clock = new FakeClock();
 * const socket = new MemoryNetwork().socket({ address: "192.0.2.1", port: 1701 });
 * socket.connect({ address: "192.0.2.2", port: 1701 }); // nobody there
 * const q = new QuiescentTunnel({ version: 3, encap: "udp", peerTunnelId: 45, socket,
 *   helloTimeoutMs: 5000, maxRetries: 2, clock });
 * for (let i = 0; i < 10; i++) clock.advance(5000);
 * const end = await q.ended; // when the peer stops answering
 * console.log(end.reason); // failed
 * q.close();
 * socket.close();
 * ```
 */
export class QuiescentTunnel implements Disposable {
  readonly #transport: ControlTransport;
  readonly #socket: QuiescentSocket;
  #closed = false;

  /** Start the control connection: reading the socket and the HELLO timer. */
  constructor(options: QuiescentOptions) {
    if (!(options.helloTimeoutMs > 0)) {
      throw new RangeError(
        `Cannot start quiescent tunnel: hello timeout must be positive, got ${options.helloTimeoutMs}`,
      );
    }
    this.#socket = options.socket;
    this.#transport = new ControlTransport({
      version: options.version,
      encap: options.encap,
      peerTunnelId: options.peerTunnelId,
      helloInterval: options.helloTimeoutMs,
      retransmitTimeout: options.retryTimeoutMs,
      maxRetransmits: options.maxRetries,
      receiveWindow: options.windowSize,
      clock: options.clock,
      // On an L2TP/IP socket the kernel adds and strips the zero session ID.
      ipPrefix: false,
      send: (bytes) => {
        if (!this.#socket.send(bytes)) {
          throw new Error("Cannot send control message: the socket's queue is full");
        }
      },
      onMessage: options.onMessage ?? (() => {}),
    });
    if (options.onError) this.#transport.on("error", options.onError);
    this.#pump();
  }

  /** Resolves when the control connection ends: `"failed"` means the peer stopped answering. */
  get ended(): Promise<TransportEnd> {
    return this.#transport.ended;
  }

  /** The transport (for counters and state). */
  get transport(): ControlTransport {
    return this.#transport;
  }

  /** Stop: cancel every timer and stop reading. The socket is the owner's to close. */
  close(): void {
    this.#closed = true;
    this.#transport.close();
  }

  /** Same as {@linkcode QuiescentTunnel.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  async #pump(): Promise<void> {
    try {
      for await (const d of this.#socket) {
        if (this.#closed) break;
        this.#transport.receive(d.data);
      }
    } catch {
      // The socket was closed under us: the owner is tearing down.
    }
  }
}
