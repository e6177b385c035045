/**
 * The real {@linkcode Connection}: a generic netlink socket managed by libnl-genl-3.
 *
 * libnl allocates, connects and binds the socket and resolves families; we encode and decode
 * every message ourselves and move bytes with `sendto(2)` / `recvfrom(2)` on libnl's socket, into
 * one receive buffer per connection (libnl's `nl_recv` peeks first and mallocs a buffer for every
 * datagram: two system calls and an allocation where one call does). The socket is non-blocking:
 * the kernel answers generic netlink requests while `sendto` runs, so a reply is normally waiting
 * and the request logic takes it synchronously ({@linkcode LibnlConnection.sendNow},
 * {@linkcode LibnlConnection.pollShared}); when it is not, {@linkcode LibnlConnection.receive}
 * polls with short timers (never blocking the event loop) until its timeout.
 *
 * Extended acks (NETLINK_EXT_ACK) and capped acks (NETLINK_CAP_ACK) are enabled when the kernel
 * supports them.
 *
 * @module
 */

import { errno, libc, OsError, strerror } from "../ffi/libc.ts";
import type { Connection } from "./conn.ts";
import { familyResolveError, libnl, LibnlError, libnlGenl, NLE, nlErrorText } from "./libnl.ts";

const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;
const MSG_TRUNC = 0x20;
const EAGAIN = 11;
const EINTR = 4;
/**
 * Receive buffer size. The kernel sizes dump datagrams to the reader's buffer but never beyond
 * 32 KiB, so no datagram it sends us is larger.
 */
const RECEIVE_BUFFER_BYTES = 65536;
const BUFFER_SIZE = BigInt(RECEIVE_BUFFER_BYTES);

/**
 * Options for {@linkcode LibnlConnection.open}.
 *
 * @example Usage
 * ```ts
 * import type { LibnlConnectionOptions } from "./libnl_connection.ts";
 * const o: LibnlConnectionOptions = { receiveTimeoutMs: 2000 };
 * console.log(o);
 * ```
 */
export interface LibnlConnectionOptions {
  /** How long {@linkcode LibnlConnection.receive} waits for a datagram (default 5000 ms). */
  receiveTimeoutMs?: number;
  /** Socket receive buffer size in bytes (default: the kernel's). */
  receiveBufferBytes?: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function setIntOption(fd: number, level: number, name: number, value: number): boolean {
  const v = new Int32Array([value]);
  return libc().setsockopt(fd, level, name, new Uint8Array(v.buffer), 4) === 0;
}

/**
 * A generic netlink socket over libnl.
 *
 * @example Usage
 * Needs libnl-genl-3 (Debian package `libnl-genl-3-200`); the controller family answers
 * without root:
 * ```ts
 * import { LibnlConnection } from "./libnl_connection.ts";
 * using conn = LibnlConnection.open();
 * console.log(await conn.resolveFamily("nlctrl")); // 16
 * ```
 */
export class LibnlConnection implements Connection {
  readonly #sk: Deno.PointerObject;
  readonly #timeoutMs: number;
  readonly #buffer = new Uint8Array(RECEIVE_BUFFER_BYTES);
  #sequence: number;
  #closed = false;
  /** Our netlink port id. */
  readonly portId: number;
  /** The socket's file descriptor (owned by libnl; do not close it). */
  readonly fd: number;

  private constructor(sk: Deno.PointerObject, timeoutMs: number) {
    this.#sk = sk;
    this.#timeoutMs = timeoutMs;
    this.portId = libnl().nl_socket_get_local_port(sk);
    this.fd = libnl().nl_socket_get_fd(sk);
    this.#sequence = 1 + Math.floor(Math.random() * 0x7fffffff);
  }

  /**
   * Allocate and connect a generic netlink socket.
   *
   * @param options Receive timeout and buffer size.
   * @returns The open connection.
   * @throws {LibnlError} if the socket cannot be created or connected; {@linkcode Error} if
   *   libnl cannot be loaded.
   */
  static open(options: LibnlConnectionOptions = {}): LibnlConnection {
    const nl = libnl();
    const genl = libnlGenl();
    const sk = nl.nl_socket_alloc();
    if (sk === null) {
      throw new LibnlError("allocate netlink socket", NLE.NOMEM, nlErrorText(NLE.NOMEM));
    }
    try {
      const r = genl.genl_connect(sk);
      if (r < 0) throw new LibnlError("connect generic netlink socket", r, nlErrorText(r));
      if (options.receiveBufferBytes !== undefined) {
        const b = nl.nl_socket_set_buffer_size(sk, options.receiveBufferBytes, 0);
        if (b < 0) throw new LibnlError("set netlink receive buffer size", b, nlErrorText(b));
      }
      const n = nl.nl_socket_set_nonblocking(sk);
      if (n < 0) throw new LibnlError("make netlink socket non-blocking", n, nlErrorText(n));
      const fd = nl.nl_socket_get_fd(sk);
      // Best effort: kernels before 4.12 lack these options and simply send plain errors.
      setIntOption(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
      setIntOption(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
    } catch (e) {
      nl.nl_socket_free(sk);
      throw e;
    }
    return new LibnlConnection(sk, options.receiveTimeoutMs ?? 5000);
  }

  #check(op: string): void {
    if (this.#closed) throw new Error(`Cannot ${op}: the netlink connection is closed`);
  }

  /**
   * A fresh sequence number.
   *
   * @returns The next sequence number (never 0).
   */
  nextSequence(): number {
    const s = this.#sequence;
    this.#sequence = s >= 0xffffffff ? 1 : s + 1;
    return s;
  }

  /**
   * Send one datagram to the kernel.
   *
   * @param datagram Encoded messages.
   */
  send(datagram: Uint8Array): Promise<void> {
    try {
      this.sendNow(datagram);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * {@linkcode LibnlConnection.send}, synchronously: the socket never blocks on sending.
   *
   * @param datagram Encoded messages.
   * @throws {OsError} when `sendto` fails.
   */
  sendNow(datagram: Uint8Array): void {
    this.#check("send netlink request");
    for (;;) {
      const r = Number(libc().sendto(this.fd, datagram, BigInt(datagram.length), 0, null, 0));
      if (r === datagram.length) return;
      if (r >= 0) {
        throw new Error(`Cannot send netlink request: sent ${r} of ${datagram.length} bytes`);
      }
      const e = errno();
      if (e !== EINTR) throw new OsError("send netlink request", e, strerror(e));
    }
  }

  /**
   * The next datagram if one is waiting, without waiting: a view of the connection's receive
   * buffer, valid until the next receive.
   *
   * @returns The datagram, or `undefined` when none is waiting.
   * @throws {OsError} when `recvfrom` fails.
   */
  pollShared(): Uint8Array | undefined {
    this.#check("receive netlink reply");
    for (;;) {
      const b = this.#buffer;
      const r = Number(libc().recvfrom(this.fd, b, BUFFER_SIZE, MSG_TRUNC, null, null));
      if (r > b.length) {
        throw new Error(
          `Cannot receive netlink reply: a datagram of ${r} bytes exceeds the ${b.length}-byte buffer`,
        );
      }
      if (r > 0) return b.subarray(0, r);
      if (r === 0) throw new Error("Cannot receive netlink reply: the socket reported end of file");
      const e = errno();
      if (e === EAGAIN) return undefined;
      if (e !== EINTR) throw new OsError("receive netlink reply", e, strerror(e));
    }
  }

  /**
   * Receive one datagram, waiting up to the receive timeout.
   *
   * @returns A copy of the datagram.
   */
  async receive(): Promise<Uint8Array> {
    const deadline = Date.now() + this.#timeoutMs;
    let wait = 1;
    for (;;) {
      const d = this.pollShared();
      if (d !== undefined) return d.slice();
      if (Date.now() >= deadline) {
        throw new Error(
          `Cannot receive netlink reply: no answer from the kernel within ${this.#timeoutMs} ms`,
        );
      }
      await sleep(wait);
      wait = Math.min(wait * 2, 50);
    }
  }

  /**
   * Resolve a generic netlink family name with `genl_ctrl_resolve`.
   *
   * @param name Family name, e.g. "l2tp".
   * @returns The family id.
   * @throws {LibnlError} naming the kernel module to load when the family is absent.
   */
  resolveFamily(name: string): Promise<number> {
    try {
      this.#check(`resolve generic netlink family ${name}`);
      const c = libc();
      // genl_ctrl_resolve does its own blocking request/ack exchange.
      const flags = c.fcntl(this.fd, F_GETFL, 0);
      if (flags >= 0) c.fcntl(this.fd, F_SETFL, flags & ~O_NONBLOCK);
      let r: number;
      try {
        r = libnlGenl().genl_ctrl_resolve(this.#sk, new TextEncoder().encode(`${name}\0`));
      } finally {
        if (flags >= 0) c.fcntl(this.fd, F_SETFL, flags);
      }
      if (r < 0) throw familyResolveError(name, r, nlErrorText(r));
      return Promise.resolve(r);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Free the socket. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    libnl().nl_socket_free(this.#sk);
  }

  /** Same as {@linkcode LibnlConnection.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
