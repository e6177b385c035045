/**
 * The core of the socket reactor (`reactor.ts`): the registry of served sockets and watched fds,
 * their one-shot arming, and the wait loop.
 *
 * - Exactly one `nonblocking: true` `epoll_wait` is in flight, and only while something is
 *   armed, that is while some consumer waits for a datagram (or readiness) that has not come.
 *   With nothing armed the loop ends, so an idle program exits on its own.
 * - A waiting receive first tries one synchronous `recvmmsg`; a per-round budget then sends it
 *   through `epoll_wait`, so a flooded socket cannot starve timers and other sockets.
 * - Closing removes everything, wakes the pending wait (eventfd) and closes the epoll fds once
 *   it has returned.
 *
 * @example Usage
 * ```ts
 * import { ReactorCore } from "./reactor_core.ts";
 * import { openTunnelSocket } from "./socket.ts";
 * const core = new ReactorCore(8, 2048);
 * const st = core.add(openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } }));
 * core.send(st, new Uint8Array([5]), st.sock.local);
 * console.log((await core.receive(st))?.data); // Uint8Array(1) [ 5 ]
 * core.close();
 * await core.whenClosed;
 * ```
 *
 * @module
 */

import { Epoll, WAKE_TOKEN } from "./reactor_epoll.ts";
import { ReceiveBuffers, SendBuffers } from "./reactor_buffers.ts";
import { type OutgoingDatagram, SocketState } from "./reactor_io.ts";
import type { SocketHost } from "./reactor_socket.ts";
import { type WatchHost, type WatchOptions, WatchState } from "./reactor_watch.ts";
import type { Datagram, Endpoint, TunnelSocket } from "./socket.ts";

/** Synchronous `recvmmsg` calls allowed between two trips through `epoll_wait`. */
const SYNC_BUDGET = 8;

/** What the epoll arming needs of a registered fd (a socket's or a watch's state). */
interface Armable {
  readonly token: number;
  readonly fd: number;
  open: boolean;
  armed: boolean;
  fail(e: unknown): void;
}

/** An {@linkcode Armable} whose consumers wait for a `T`. */
interface Waitable<T> extends Armable {
  waiters: { resolve: (value: T) => void; reject: (e: unknown) => void }[];
}

/**
 * epoll instance, batch buffers, registry and the wait loop of one reactor.
 *
 * @example Usage
 * ```ts
 * import { ReactorCore } from "./reactor_core.ts";
 * const core = new ReactorCore(32, 65536);
 * console.log(core.open, core.polling); // true false
 * core.close();
 * await core.whenClosed;
 * console.log(core.open); // false
 * ```
 */
export class ReactorCore implements SocketHost, WatchHost {
  /** Resolves once the epoll fd and eventfd are closed (after `close()`). */
  readonly whenClosed: Promise<void>;
  #resolveClosed!: () => void;
  #open = true;
  #closing = false;
  #polling = false;
  #armedCount = 0;
  #syncBudget = SYNC_BUDGET;
  #nextToken = WAKE_TOKEN + 1;
  readonly #sockets = new Map<number, SocketState>();
  readonly #watches = new Map<number, WatchState>();
  readonly #rx: ReceiveBuffers;
  readonly #tx: SendBuffers;
  readonly #epoll: Epoll;

  /**
   * Allocate the batch buffers and create the epoll instance.
   *
   * @param batch Datagrams per `recvmmsg` / `sendmmsg`.
   * @param slot Bytes of each receive slot (a multiple of 8).
   * @throws {OsError} When the epoll fd or the eventfd cannot be created.
   */
  constructor(batch: number, slot: number) {
    this.whenClosed = new Promise((r) => (this.#resolveClosed = r));
    this.#rx = new ReceiveBuffers(batch, slot);
    this.#tx = new SendBuffers(batch);
    this.#epoll = new Epoll();
  }

  /** False once `close()` was called. */
  get open(): boolean {
    return this.#open;
  }

  /** Whether an `epoll_wait` is in flight. */
  get polling(): boolean {
    return this.#polling;
  }

  /**
   * Serve a tunnel socket.
   *
   * @param sock An open, nonblocking tunnel socket (still the caller's if this throws).
   * @returns Its state.
   */
  add(sock: TunnelSocket): SocketState {
    if (!this.#open) throw new Error("Cannot register socket: the reactor is closed");
    const st = new SocketState(this.#nextToken++, sock);
    // Registered with no events; armed one-shot per wait.
    this.#epoll.add(st.fd, st.token, "register socket with epoll");
    this.#sockets.set(st.token, st);
    return st;
  }

  /**
   * Watch a foreign fd.
   *
   * @param fd An open, nonblocking fd.
   * @param options Name and close hook.
   * @returns Its state.
   */
  addWatch(fd: number, options: WatchOptions): WatchState {
    if (!this.#open || this.#closing) throw new Error("Cannot watch fd: the reactor is closed");
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`Cannot watch fd ${fd}: not an fd`);
    const w = new WatchState(this.#nextToken++, fd, options);
    this.#epoll.add(fd, w.token, `register ${w.what} with epoll`);
    this.#watches.set(w.token, w);
    return w;
  }

  /**
   * Resolves true once `w`'s fd is readable, false once the watch or the reactor is closed.
   *
   * @param w A watch of this core.
   */
  readable(w: WatchState): Promise<boolean> {
    if (!w.open) return Promise.resolve(false);
    return this.#wait(w);
  }

  /**
   * Take `w` out of the epoll set; pending waits resolve false.
   *
   * @param w A watch of this core.
   */
  removeWatch(w: WatchState): void {
    if (!this.#unregister(w, this.#watches, `unregister ${w.what} from epoll`)) return;
    w.settle(false);
  }

  /** Queue a consumer of `x` and arm it; settled through `x.waiters`. */
  #wait<T>(x: Waitable<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      x.waiters.push({ resolve, reject });
      try {
        this.#arm(x);
      } catch (e) {
        x.waiters.pop();
        reject(e);
      }
    });
  }

  /**
   * Mark `x` closed, disarm it and take it out of `registry` and the epoll set (`what` names
   * that call in the error, which is ignored). False when it was closed already.
   */
  #unregister(x: Armable, registry: { delete(token: number): boolean }, what: string): boolean {
    if (!x.open) return false;
    x.open = false;
    this.#disarm(x);
    registry.delete(x.token);
    if (this.#open) {
      try {
        this.#epoll.remove(x.fd, x.token, what);
      } catch {
        // The fd is going away (or being handed over) either way.
      }
    }
    return true;
  }

  #arm(st: Armable): void {
    if (st.armed) return;
    this.#epoll.arm(st.fd, st.token);
    st.armed = true;
    this.#armedCount++;
    if (!this.#polling) {
      this.#polling = true;
      this.#loop().catch((e) => this.#failAll(e));
    }
  }

  #disarm(st: Armable): void {
    if (!st.armed) return;
    st.armed = false;
    this.#armedCount--;
    if (this.#armedCount === 0 && this.#polling) this.#epoll.wake();
  }

  async #loop(): Promise<void> {
    const ep = this.#epoll;
    try {
      while (this.#open && this.#armedCount > 0) {
        let n = await ep.wait();
        if (!this.#open) break;
        this.#syncBudget = SYNC_BUDGET;
        // errno of the worker thread is lost: repeat the wait without blocking to learn it.
        if (n < 0) n = ep.poll();
        for (let k = 0; k < n; k++) {
          const token = ep.token(k);
          if (token === WAKE_TOKEN) {
            ep.drain();
            continue;
          }
          const st = this.#sockets.get(token);
          if (st === undefined) {
            const w = this.#watches.get(token);
            if (w === undefined || !w.armed) continue;
            w.armed = false; // one-shot: the kernel disarmed it
            this.#armedCount--;
            w.settle(true);
            continue;
          }
          if (!st.armed) continue;
          st.armed = false; // one-shot: the kernel disarmed it
          this.#armedCount--;
          this.#service(st);
        }
      }
    } finally {
      this.#polling = false;
      if (!this.#open) this.#closeFds();
    }
  }

  /** Read one batch, hand it to waiters, re-arm if some still wait. */
  #service(st: SocketState): void {
    try {
      st.fill(this.#rx);
    } catch (e) {
      st.fail(e);
      return;
    }
    st.deliver();
    if (st.open && st.waiters.length > 0) this.#arm(st);
  }

  /**
   * The next datagram of `st`, or null once it is closed.
   *
   * @param st A socket of this core.
   */
  receive(st: SocketState): Promise<Datagram | null> {
    const ready = st.take();
    if (ready !== undefined) return Promise.resolve(ready);
    if (!st.open) return Promise.resolve(null);
    if (st.waiters.length === 0 && this.#syncBudget > 0) {
      this.#syncBudget--;
      try {
        st.fill(this.#rx);
      } catch (e) {
        return Promise.reject(e);
      }
      const d = st.take();
      if (d !== undefined) return Promise.resolve(d);
    }
    return this.#wait(st);
  }

  /**
   * Send one datagram on `st` now.
   *
   * @param st A socket of this core.
   * @param data Payload.
   * @param to Destination; undefined on a connected socket.
   * @returns false when dropped.
   */
  send(st: SocketState, data: Uint8Array, to: Endpoint | undefined): boolean {
    return st.send(this.#tx, data, to);
  }

  /**
   * Send datagrams on `st` in `sendmmsg` batches.
   *
   * @param st A socket of this core.
   * @param packets Payloads, or payloads with destinations.
   * @returns How many were sent.
   */
  sendBatch(st: SocketState, packets: readonly (Uint8Array | OutgoingDatagram)[]): number {
    return st.sendBatch(this.#tx, packets);
  }

  /**
   * Stop serving `st` (its socket stays open); pending receives resolve to null.
   *
   * @param st A socket of this core.
   */
  remove(st: SocketState): void {
    if (!this.#unregister(st, this.#sockets, "unregister socket from epoll")) return;
    st.end();
  }

  #failAll(e: unknown): void {
    const all: Armable[] = [...this.#sockets.values(), ...this.#watches.values()];
    for (const x of all) {
      if (x.armed) {
        x.armed = false;
        this.#armedCount--;
      }
      x.fail(e);
    }
  }

  /** Close every socket and watch, and the epoll fds once no wait is in flight. */
  close(): void {
    // `closing` also guards against a close hook (onReactorClose) closing the reactor again.
    if (!this.#open || this.#closing) return;
    this.#closing = true;
    for (const st of [...this.#sockets.values()]) {
      this.remove(st);
      st.sock.close();
    }
    for (const w of [...this.#watches.values()]) {
      this.removeWatch(w);
      try {
        w.onReactorClose?.();
      } catch {
        // The owner's cleanup must not keep the reactor from closing.
      }
    }
    this.#open = false;
    if (this.#polling) this.#epoll.wake();
    else this.#closeFds();
  }

  #closeFds(): void {
    this.#epoll.close();
    this.#resolveClosed();
  }
}
