/**
 * {@linkcode FdWatch}: a foreign nonblocking fd (a packet socket, say) in the reactor's epoll
 * set (`reactor.ts`, `Reactor.watch`). The reactor only reports readiness; the fd's owner reads
 * it. {@linkcode WatchState} is what the reactor core keeps of the watch, and
 * {@linkcode WatchHost} what the facade needs of the core.
 *
 * @example Usage
 * ```ts
 * import { Reactor } from "./reactor.ts";
 * import { openTunnelSocket } from "./socket.ts";
 * await using reactor = new Reactor();
 * using sock = openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } });
 * using watch = reactor.watch(sock.fd);
 * watch.close();
 * console.log(await watch.readable()); // false
 * ```
 *
 * @module
 */

/** Options of `Reactor.watch`. */
export interface WatchOptions {
  /** What the fd is, for error messages ("packet socket"); default "fd N". */
  what?: string;
  /**
   * Called once if the reactor closes while the watch is registered, after the watch is gone:
   * the place to close the fd, as the reactor closes its own sockets. Exceptions are ignored.
   */
  onReactorClose?: () => void;
}

/**
 * Per-watch state shared between the facade and the reactor core.
 *
 * @example Usage
 * ```ts
 * import { WatchState } from "./reactor_watch.ts";
 * const w = new WatchState(1, 0, {});
 * const ready = new Promise<boolean>((resolve, reject) => w.waiters.push({ resolve, reject }));
 * w.settle(true);
 * console.log(w.what, await ready); // "fd 0" true
 * ```
 */
export class WatchState {
  /** epoll token. */
  readonly token: number;
  /** The watched fd. */
  readonly fd: number;
  /** What the fd is, for error messages. */
  readonly what: string;
  /** See {@linkcode WatchOptions.onReactorClose}. */
  readonly onReactorClose: (() => void) | undefined;
  /** False once the watch is closed. */
  open = true;
  /** Whether armed in the epoll set. */
  armed = false;
  /** Pending `readable()` calls. */
  waiters: { resolve: (ready: boolean) => void; reject: (e: unknown) => void }[] = [];

  /**
   * State for a watch just registered.
   *
   * @param token epoll token.
   * @param fd The watched fd.
   * @param options Name and close hook.
   */
  constructor(token: number, fd: number, options: WatchOptions) {
    this.token = token;
    this.fd = fd;
    this.what = options.what ?? `fd ${fd}`;
    this.onReactorClose = options.onReactorClose;
  }

  /**
   * Resolve every pending wait.
   *
   * @param ready true when the fd became readable, false when the watch ended.
   */
  settle(ready: boolean): void {
    for (const w of this.waiters.splice(0)) w.resolve(ready);
  }

  /**
   * Reject every pending wait.
   *
   * @param e The reason.
   */
  fail(e: unknown): void {
    for (const w of this.waiters.splice(0)) w.reject(e);
  }
}

/** What an {@linkcode FdWatch} needs of the reactor core. */
export interface WatchHost {
  /** Resolves true once `w`'s fd is readable, false once the watch or the reactor is closed. */
  readable(w: WatchState): Promise<boolean>;
  /** Take `w` out of the epoll set; pending waits resolve false. */
  removeWatch(w: WatchState): void;
}

let makeWatch: (host: WatchHost, w: WatchState) => FdWatch;

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
  #core: WatchHost;
  #w: WatchState;

  static {
    makeWatch = (host, w): FdWatch => new FdWatch(host, w);
  }

  private constructor(core: WatchHost, w: WatchState) {
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
 * The facade of a registered watch (what `Reactor.watch` returns; the constructor of
 * {@linkcode FdWatch} is private).
 *
 * @param host The reactor core serving `w`.
 * @param w The watch's state, registered with `host`.
 * @returns The facade.
 *
 * @example Usage
 * ```ts
 * import { fdWatch, type WatchHost, WatchState } from "./reactor_watch.ts";
 * const host: WatchHost = {
 *   readable: () => Promise.resolve(true),
 *   removeWatch: (w) => {
 *     w.open = false;
 *   },
 * };
 * using watch = fdWatch(host, new WatchState(1, 0, {}));
 * console.log(watch.fd, await watch.readable()); // 0 true
 * ```
 */
export function fdWatch(host: WatchHost, w: WatchState): FdWatch {
  return makeWatch(host, w);
}
