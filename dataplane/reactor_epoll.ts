/**
 * The epoll instance of the socket reactor (`reactor.ts`): the epoll fd, the eventfd that wakes
 * a pending wait, the event array and the `epoll_ctl` calls. Registrations are identified by a
 * token (the `epoll_data` u64, low half) and armed one-shot for `EPOLLIN`.
 *
 * @example Usage
 * ```ts
 * import { Epoll, WAKE_TOKEN } from "./reactor_epoll.ts";
 * const ep = new Epoll();
 * ep.wake();
 * const n = ep.poll();
 * console.log(n, ep.token(0) === WAKE_TOKEN); // 1 true
 * ep.drain();
 * ep.close();
 * ```
 *
 * @module
 */

import { errno, libc, OsError, strerror } from "./ffi/libc.ts";
import { HOST_LITTLE_ENDIAN } from "./ffi/sockaddr.ts";
import { Errno } from "./socket.ts";

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EPOLLIN = 0x1;
const EPOLLONESHOT = 1 << 30;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
/** `struct epoll_event` is packed on x86_64 only. */
const EPOLL_EVENT_SIZE = Deno.build.arch === "x86_64" ? 12 : 16;
const EPOLL_DATA_OFFSET = Deno.build.arch === "x86_64" ? 4 : 8;
const MAX_EVENTS = 64;

/** The token of the wake-up eventfd; registrations use other tokens. */
export const WAKE_TOKEN = 0;

/**
 * One epoll fd with a nonblocking eventfd registered under {@linkcode WAKE_TOKEN}.
 *
 * @example Usage
 * ```ts
 * import { Epoll } from "./reactor_epoll.ts";
 * const ep = new Epoll();
 * console.log(ep.poll()); // 0
 * ep.close();
 * ```
 */
export class Epoll {
  readonly #epfd: number;
  readonly #evfd: number;
  readonly #events = new Uint8Array(MAX_EVENTS * EPOLL_EVENT_SIZE);
  readonly #eventsView = new DataView(this.#events.buffer);
  readonly #ctlEvent = new Uint8Array(16);
  readonly #ctlView = new DataView(this.#ctlEvent.buffer);
  readonly #counter = new BigUint64Array(1);

  /**
   * Create the epoll fd and the eventfd, and watch the eventfd.
   *
   * @throws {OsError} "Cannot create epoll instance: ...", "Cannot create eventfd: ..." or
   *   "Cannot watch eventfd (fd N): ...".
   */
  constructor() {
    const lib = libc();
    const epfd = lib.epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
      const code = errno();
      throw new OsError("create epoll instance", code, strerror(code));
    }
    const evfd = lib.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (evfd < 0) {
      const code = errno();
      lib.close(epfd);
      throw new OsError("create eventfd", code, strerror(code));
    }
    this.#epfd = epfd;
    this.#evfd = evfd;
    try {
      this.#ctl(EPOLL_CTL_ADD, evfd, EPOLLIN, WAKE_TOKEN, "watch eventfd");
    } catch (e) {
      lib.close(evfd);
      lib.close(epfd);
      throw e;
    }
  }

  #ctl(op: number, fd: number, events: number, token: number, what: string): void {
    this.#ctlView.setUint32(0, events, HOST_LITTLE_ENDIAN);
    this.#ctlView.setUint32(EPOLL_DATA_OFFSET, token, HOST_LITTLE_ENDIAN);
    this.#ctlView.setUint32(EPOLL_DATA_OFFSET + 4, 0, HOST_LITTLE_ENDIAN);
    if (libc().epoll_ctl(this.#epfd, op, fd, this.#ctlEvent) < 0) {
      const code = errno();
      throw new OsError(`${what} (fd ${fd})`, code, strerror(code));
    }
  }

  /**
   * Register `fd` with no events (`EPOLL_CTL_ADD`); {@linkcode Epoll.arm} it to wait for it.
   *
   * @param fd An open fd.
   * @param token Its token (not {@linkcode WAKE_TOKEN}).
   * @param what The call, for the error message ("register socket with epoll").
   * @throws {OsError} "Cannot WHAT (fd N): ...".
   */
  add(fd: number, token: number, what: string): void {
    this.#ctl(EPOLL_CTL_ADD, fd, 0, token, what);
  }

  /**
   * Arm a registered fd for one `EPOLLIN` event (`EPOLLONESHOT`).
   *
   * @param fd The registered fd.
   * @param token Its token.
   * @throws {OsError} "Cannot watch socket (fd N): ...".
   */
  arm(fd: number, token: number): void {
    this.#ctl(EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLONESHOT, token, "watch socket");
  }

  /**
   * Unregister `fd` (`EPOLL_CTL_DEL`).
   *
   * @param fd The registered fd.
   * @param token Its token.
   * @param what The call, for the error message ("unregister socket from epoll").
   * @throws {OsError} "Cannot WHAT (fd N): ...".
   */
  remove(fd: number, token: number, what: string): void {
    this.#ctl(EPOLL_CTL_DEL, fd, 0, token, what);
  }

  /**
   * Wait for events on a worker thread (`epoll_wait`, no timeout).
   *
   * @returns How many events are ready (see {@linkcode Epoll.token}); negative when the wait
   *   failed, whose errno is lost with the worker thread: {@linkcode Epoll.poll} to learn it.
   */
  wait(): Promise<number> {
    return libc().epoll_wait_nb(this.#epfd, this.#events, MAX_EVENTS, -1);
  }

  /**
   * The same wait without blocking, on the calling thread.
   *
   * @returns How many events are ready; 0 when interrupted (EINTR).
   * @throws {OsError} "Cannot wait for socket events: ...".
   */
  poll(): number {
    const n = libc().epoll_wait(this.#epfd, this.#events, MAX_EVENTS, 0);
    if (n >= 0) return n;
    const code = errno();
    if (code === Errno.EINTR) return 0;
    throw new OsError("wait for socket events", code, strerror(code));
  }

  /**
   * The token of ready event `k` of the last wait.
   *
   * @param k Event index, below what the wait returned.
   */
  token(k: number): number {
    return this.#eventsView.getUint32(k * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET, HOST_LITTLE_ENDIAN);
  }

  /** Make a pending (or the next) wait return with a {@linkcode WAKE_TOKEN} event. */
  wake(): void {
    this.#counter[0] = 1n;
    // An eventfd write only fails (EAGAIN) when the counter is about to overflow: already awake.
    libc().write(this.#evfd, this.#counter, 8n);
  }

  /** Reset the eventfd after a {@linkcode WAKE_TOKEN} event. */
  drain(): void {
    libc().read(this.#evfd, this.#counter, 8n);
  }

  /** Close the eventfd and the epoll fd; no wait may be pending. */
  close(): void {
    const lib = libc();
    lib.close(this.#evfd);
    lib.close(this.#epfd);
  }
}
