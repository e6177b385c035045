/**
 * The batch buffers of the socket reactor (`reactor.ts`): one `ArrayBuffer` per direction laid
 * out as LP64 `struct mmsghdr[batch] | struct iovec[batch] | sockaddr slots | data`, with every
 * pointer filled in once, so that a `recvmmsg` / `sendmsg` / `sendmmsg` call takes the buffer as
 * is.
 *
 * - {@linkcode ReceiveBuffers}: one data slot per message; read back lengths, flags and names.
 * - {@linkcode SendBuffers}: payloads packed one after another into {@linkcode TX_DATA_SIZE}
 *   bytes; {@linkcode SendBuffers.place} points message `i` at its payload and destination.
 *
 * @example Usage
 * ```ts
 * import { ReceiveBuffers, SendBuffers } from "./reactor_buffers.ts";
 * const rx = new ReceiveBuffers(4, 2048);
 * const tx = new SendBuffers(4);
 * console.log(rx.msgvec.length > 4 * 2048, tx.place(0, new Uint8Array(3), undefined, 0)); // true 3
 * ```
 *
 * @module
 */

import { HOST_LITTLE_ENDIAN } from "./ffi/sockaddr.ts";

/** LP64 `struct mmsghdr` / `struct msghdr` / `struct iovec`. */
const MMSGHDR_SIZE = 64;
const IOVEC_SIZE = 16;
const MSG_NAME = 0;
const MSG_NAMELEN = 8;
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const MSG_FLAGS = 48;
const MSG_LEN = 56;
const MSG_TRUNC = 0x20;

/** Bytes of each message's sockaddr slot (room for a `sockaddr_in6` or `sockaddr_l2tpip6`). */
export const NAME_SIZE = 64;

/** Bytes of packed payload one {@linkcode SendBuffers} holds: the largest send batch. */
export const TX_DATA_SIZE = 256 * 1024;

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

/**
 * The `recvmmsg` vector: `batch` messages, each with one `slot`-byte data buffer and a
 * {@linkcode NAME_SIZE}-byte source address. Call {@linkcode ReceiveBuffers.reset} before each
 * `recvmmsg`, then read message `i`'s fields.
 *
 * @example Usage
 * ```ts
 * import { ReceiveBuffers } from "./reactor_buffers.ts";
 * const rx = new ReceiveBuffers(2, 1024);
 * rx.reset();
 * console.log(rx.batch, rx.nameLength(0), rx.truncated(0)); // 2 64 false
 * ```
 */
export class ReceiveBuffers {
  /** Messages per `recvmmsg`. */
  readonly batch: number;
  /** Bytes of each message's data slot. */
  readonly slot: number;
  /** The whole buffer; its start is the `struct mmsghdr` array to pass to `recvmmsg`. */
  readonly msgvec: Uint8Array;
  readonly #view: DataView;
  readonly #names: number;
  readonly #data: number;

  /**
   * Allocate the buffer and point every header at its iovec, name slot and data slot.
   *
   * @param batch Messages per call.
   * @param slot Bytes of each data slot (a multiple of 8 keeps the headers aligned).
   * @throws {RangeError} When the buffer's address cannot be used.
   */
  constructor(batch: number, slot: number) {
    this.batch = batch;
    this.slot = slot;
    const iov = batch * MMSGHDR_SIZE;
    this.#names = iov + batch * IOVEC_SIZE;
    this.#data = this.#names + batch * NAME_SIZE;
    const buf = new ArrayBuffer(this.#data + batch * slot);
    this.msgvec = new Uint8Array(buf);
    this.#view = new DataView(buf);
    const addr = addressOf(buf);
    const u32 = new Uint32Array(buf, 0, this.#data / 4);
    for (let i = 0; i < batch; i++) {
      const h = i * MMSGHDR_SIZE;
      putPtr(u32, h + MSG_NAME, addr + this.#names + i * NAME_SIZE);
      putPtr(u32, h + MSG_IOV, addr + iov + i * IOVEC_SIZE);
      putPtr(u32, h + MSG_IOVLEN, 1);
      putPtr(u32, iov + i * IOVEC_SIZE, addr + this.#data + i * slot);
      putPtr(u32, iov + i * IOVEC_SIZE + 8, slot);
    }
  }

  /** Give every message its full name slot again (`recvmmsg` shrinks `msg_namelen`). */
  reset(): void {
    const v = this.#view;
    for (let i = 0; i < this.batch; i++) {
      v.setUint32(i * MMSGHDR_SIZE + MSG_NAMELEN, NAME_SIZE, HOST_LITTLE_ENDIAN);
    }
  }

  /**
   * Whether message `i` was longer than its slot (`MSG_TRUNC`).
   *
   * @param i Message index.
   */
  truncated(i: number): boolean {
    return (this.#view.getInt32(i * MMSGHDR_SIZE + MSG_FLAGS, HOST_LITTLE_ENDIAN) & MSG_TRUNC) !==
      0;
  }

  /**
   * Bytes received into message `i` (`msg_len`).
   *
   * @param i Message index.
   */
  length(i: number): number {
    return this.#view.getUint32(i * MMSGHDR_SIZE + MSG_LEN, HOST_LITTLE_ENDIAN);
  }

  /**
   * The first `len` bytes of message `i`'s data slot (a view, overwritten by the next call).
   *
   * @param i Message index.
   * @param len Bytes, at most {@linkcode ReceiveBuffers.length}.
   */
  payload(i: number, len: number): Uint8Array {
    const start = this.#data + i * this.slot;
    return this.msgvec.subarray(start, start + len);
  }

  /**
   * Where message `i`'s source address starts in {@linkcode ReceiveBuffers.msgvec}.
   *
   * @param i Message index.
   */
  nameOffset(i: number): number {
    return this.#names + i * NAME_SIZE;
  }

  /**
   * Bytes of message `i`'s source address (`msg_namelen`, at most {@linkcode NAME_SIZE}).
   *
   * @param i Message index.
   */
  nameLength(i: number): number {
    return Math.min(
      this.#view.getUint32(i * MMSGHDR_SIZE + MSG_NAMELEN, HOST_LITTLE_ENDIAN),
      NAME_SIZE,
    );
  }
}

/**
 * The `sendmsg` / `sendmmsg` vector: `batch` messages whose payloads are packed into
 * {@linkcode TX_DATA_SIZE} bytes. Message 0 alone is a `struct msghdr` for `sendmsg`.
 *
 * @example Usage
 * ```ts
 * import { SendBuffers } from "./reactor_buffers.ts";
 * const tx = new SendBuffers(2);
 * let off = tx.place(0, new Uint8Array([1, 2]), undefined, 0);
 * off = tx.place(1, new Uint8Array([3]), undefined, off);
 * console.log(off); // 3
 * ```
 */
export class SendBuffers {
  /** Messages per `sendmmsg`. */
  readonly batch: number;
  /** The whole buffer; its start is the `struct mmsghdr` array to pass to `sendmmsg`. */
  readonly msgvec: Uint8Array;
  readonly #u32: Uint32Array;
  readonly #addr: number;
  readonly #names: number;
  readonly #data: number;

  /**
   * Allocate the buffer and point every header at its iovec.
   *
   * @param batch Messages per call.
   * @throws {RangeError} When the buffer's address cannot be used.
   */
  constructor(batch: number) {
    this.batch = batch;
    const iov = batch * MMSGHDR_SIZE;
    this.#names = iov + batch * IOVEC_SIZE;
    this.#data = this.#names + batch * NAME_SIZE;
    const buf = new ArrayBuffer(this.#data + TX_DATA_SIZE);
    this.msgvec = new Uint8Array(buf);
    this.#u32 = new Uint32Array(buf, 0, this.#data / 4);
    this.#addr = addressOf(buf);
    for (let i = 0; i < batch; i++) {
      const h = i * MMSGHDR_SIZE;
      putPtr(this.#u32, h + MSG_IOV, this.#addr + iov + i * IOVEC_SIZE);
      putPtr(this.#u32, h + MSG_IOVLEN, 1);
    }
  }

  /**
   * Place message `i` of a send batch: copy its payload to data offset `off` and its
   * destination into its name slot.
   *
   * @param i Message index, below {@linkcode SendBuffers.batch}.
   * @param data Payload; `off + data.length` must not exceed {@linkcode TX_DATA_SIZE}.
   * @param name Encoded destination sockaddr (at most {@linkcode NAME_SIZE} bytes), or
   *   undefined for a connected socket.
   * @param off Data offset: 0 for the first message, then what the previous call returned.
   * @returns The next free data offset.
   */
  place(i: number, data: Uint8Array, name: Uint8Array | undefined, off: number): number {
    const h = i * MMSGHDR_SIZE;
    const t32 = this.#u32;
    if (name === undefined) {
      putPtr(t32, h + MSG_NAME, 0);
      t32[(h + MSG_NAMELEN) >> 2] = 0;
    } else {
      const at = this.#names + i * NAME_SIZE;
      this.msgvec.set(name, at);
      putPtr(t32, h + MSG_NAME, this.#addr + at);
      t32[(h + MSG_NAMELEN) >> 2] = name.length;
    }
    this.msgvec.set(data, this.#data + off);
    const iov = this.batch * MMSGHDR_SIZE + i * IOVEC_SIZE;
    putPtr(t32, iov, this.#addr + this.#data + off);
    putPtr(t32, iov + 8, data.length);
    return off + data.length;
  }
}
