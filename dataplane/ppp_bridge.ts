/**
 * PPP channel bridging in the kernel (`ppp_generic`, Linux 5.13 and later): two PPP channels,
 * for instance a PPPoL2TP session and a PPPoE session, joined so that every PPP frame arriving on
 * one is sent on the other, with no PPP unit and no pppd. This is how an access concentrator
 * relays a PPPoE subscriber into an L2TP tunnel (go-l2tp's "pppac" pseudowire).
 *
 * {@linkcode bridgeChannels} opens `/dev/ppp`, attaches it to the first channel
 * (`PPPIOCATTCHAN`) and bridges that channel with the second (`PPPIOCBRIDGECHAN`; the kernel sets
 * up both directions). The returned {@linkcode PppBridge} undoes it (`PPPIOCUNBRIDGECHAN`, then
 * closes the fd). A channel that goes away (its socket closed) is unbridged by the kernel too.
 * Channels are looked up in the caller's network namespace.
 *
 * The ioctl request numbers are computed with {@linkcode _IO}, {@linkcode _IOR} and
 * {@linkcode _IOW}, the generic Linux encoding, and match `linux/ppp-ioctl.h`:
 *
 * | request            | macro                  | value      |
 * | ------------------ | ---------------------- | ---------- |
 * | PPPIOCGCHAN        | `_IOR('t', 55, int)`   | 0x80047437 |
 * | PPPIOCATTCHAN      | `_IOW('t', 56, int)`   | 0x40047438 |
 * | PPPIOCBRIDGECHAN   | `_IOW('t', 53, int)`   | 0x40047435 |
 * | PPPIOCUNBRIDGECHAN | `_IO('t', 52)`         | 0x00007434 |
 *
 * (PPPIOCUNBRIDGECHAN was `_IO('t', 54)` in the patch as first posted; the merged header, in
 * Linux 5.13, has 52.)
 *
 * @module
 */

import { errno, libc, OsError, strerror } from "./ffi/libc.ts";

export type { OsError };

/** `_IOC_NONE`: the ioctl passes no data. */
export const IOC_NONE = 0;
/** `_IOC_WRITE`: the ioctl reads data from userspace. */
export const IOC_WRITE = 1;
/** `_IOC_READ`: the ioctl writes data to userspace. */
export const IOC_READ = 2;
/** `sizeof(int)` on Linux. */
export const SIZEOF_INT = 4;

/** An ioctl "type" (magic): a one-character string such as "t", or its code 0..255. */
export type IoctlType = string | number;

function typeCode(type: IoctlType): number {
  const code = typeof type === "string" && type.length === 1 ? type.charCodeAt(0) : type;
  if (typeof code !== "number" || !Number.isInteger(code) || code < 0 || code > 0xff) {
    throw new RangeError(`Cannot encode ioctl: type ${String(type)} is not one byte`);
  }
  return code;
}

/**
 * `_IOC(dir, type, nr, size)`: the generic Linux ioctl request encoding, used by x86_64, arm64
 * and most other architectures (not alpha, mips, powerpc or sparc): `dir << 30 | size << 16 |
 * type << 8 | nr`, with 2 direction bits, 14 size bits and 8 bits each for type and number.
 *
 * @param dir {@linkcode IOC_NONE}, {@linkcode IOC_WRITE}, {@linkcode IOC_READ} or both OR'ed.
 * @param type The driver's magic, e.g. "t" for PPP.
 * @param nr The command number, 0..255.
 * @param size `sizeof` the argument, 0..16383.
 * @returns The request number (unsigned 32-bit), as libc's `ioctl` symbol takes it.
 * @throws {RangeError} When a field does not fit.
 *
 * @example Usage
 * ```ts
 * import { ioctlNumber, IOC_READ } from "./ppp_bridge.ts";
 * console.log(ioctlNumber(IOC_READ, "t", 55, 4).toString(16)); // "80047437" (PPPIOCGCHAN)
 * ```
 */
export function ioctlNumber(dir: number, type: IoctlType, nr: number, size: number): bigint {
  if (!Number.isInteger(dir) || dir < 0 || dir > 3) {
    throw new RangeError(`Cannot encode ioctl: direction ${dir} is not in 0..3`);
  }
  if (!Number.isInteger(nr) || nr < 0 || nr > 0xff) {
    throw new RangeError(`Cannot encode ioctl: number ${nr} is not in 0..255`);
  }
  if (!Number.isInteger(size) || size < 0 || size > 0x3fff) {
    throw new RangeError(`Cannot encode ioctl: size ${size} is not in 0..16383`);
  }
  return (BigInt(dir) << 30n) | (BigInt(size) << 16n) | (BigInt(typeCode(type)) << 8n) | BigInt(nr);
}

/**
 * `_IO(type, nr)`: an ioctl without an argument.
 *
 * @param type The driver's magic.
 * @param nr The command number.
 * @returns The request number.
 *
 * @example Usage
 * ```ts
 * import { _IO } from "./ppp_bridge.ts";
 * console.log(_IO("t", 52).toString(16)); // "7434" (PPPIOCUNBRIDGECHAN)
 * ```
 */
export function _IO(type: IoctlType, nr: number): bigint {
  return ioctlNumber(IOC_NONE, type, nr, 0);
}

/**
 * `_IOR(type, nr, size)`: an ioctl that writes `size` bytes to userspace.
 *
 * @param type The driver's magic.
 * @param nr The command number.
 * @param size `sizeof` the argument ({@linkcode SIZEOF_INT} for `int`).
 * @returns The request number.
 *
 * @example Usage
 * ```ts
 * import { _IOR, SIZEOF_INT } from "./ppp_bridge.ts";
 * console.log(_IOR("t", 55, SIZEOF_INT).toString(16)); // "80047437" (PPPIOCGCHAN)
 * ```
 */
export function _IOR(type: IoctlType, nr: number, size: number): bigint {
  return ioctlNumber(IOC_READ, type, nr, size);
}

/**
 * `_IOW(type, nr, size)`: an ioctl that reads `size` bytes from userspace.
 *
 * @param type The driver's magic.
 * @param nr The command number.
 * @param size `sizeof` the argument ({@linkcode SIZEOF_INT} for `int`).
 * @returns The request number.
 *
 * @example Usage
 * ```ts
 * import { _IOW, SIZEOF_INT } from "./ppp_bridge.ts";
 * console.log(_IOW("t", 53, SIZEOF_INT).toString(16)); // "40047435" (PPPIOCBRIDGECHAN)
 * ```
 */
export function _IOW(type: IoctlType, nr: number, size: number): bigint {
  return ioctlNumber(IOC_WRITE, type, nr, size);
}

/** `PPPIOCGCHAN`: the PPP channel index of a connected PPPoX socket. */
export const PPPIOCGCHAN: bigint = _IOR("t", 55, SIZEOF_INT);
/** `PPPIOCATTCHAN`: attach a `/dev/ppp` fd to a channel. */
export const PPPIOCATTCHAN: bigint = _IOW("t", 56, SIZEOF_INT);
/** `PPPIOCBRIDGECHAN`: bridge the attached channel with another (Linux 5.13+). */
export const PPPIOCBRIDGECHAN: bigint = _IOW("t", 53, SIZEOF_INT);
/** `PPPIOCUNBRIDGECHAN`: undo `PPPIOCBRIDGECHAN` (Linux 5.13+). */
export const PPPIOCUNBRIDGECHAN: bigint = _IO("t", 52);

/** `O_RDWR`. */
const O_RDWR = 2;
/** `O_CLOEXEC`. */
const O_CLOEXEC = 0o2000000;
const ENOENT = 2;
const ENXIO = 6;
const EINVAL = 22;
const ENOTTY = 25;
const ENODEV = 19;
const EALREADY = 114;
const ENOTCONN = 107;

/** The PPP character device. */
export const PPP_DEVICE = "/dev/ppp";

/**
 * The PPP channel index of a connected PPPoX socket (PPPoE or PPPoL2TP), via `PPPIOCGCHAN`.
 * From then on the kernel hands the socket's PPP frames to the channel (the socket is "bound"):
 * bridge or attach the channel right away.
 *
 * @param fd The socket.
 * @param what What it is, for the error message ("PPPoE socket").
 * @returns The channel index.
 * @throws {OsError} "Cannot get the PPP channel of WHAT: ..." (ENOTCONN when not connected).
 *
 * @example Usage
 * Not run as a doc test: it needs root, the kernel's pppoe module and an interface eth1.
 * ```ts ignore
 * import { pppChannelOf } from "./ppp_bridge.ts";
 * import { openPppoeSession } from "./pppoe_session.ts";
 * using s = openPppoeSession({ sessionId: 1, peerMac: "02:00:00:00:00:01", ifname: "eth1" });
 * console.log(pppChannelOf(s.fd, "PPPoE socket")); // e.g. 3
 * ```
 */
export function pppChannelOf(fd: number, what: string): number {
  const out = new Int32Array(1);
  if (libc().ioctl(fd, PPPIOCGCHAN, out) < 0) {
    const code = errno();
    const err = new OsError(`get the PPP channel of ${what}`, code, strerror(code));
    if (code === ENOTCONN) err.message += ": connect the socket first";
    throw err;
  }
  return out[0];
}

function bridgeError(a: number, b: number, step: string, code: number): OsError {
  const err = new OsError(`bridge PPP channels ${a} and ${b}${step}`, code, strerror(code));
  if (step === "" && (code === ENOTTY || code === EINVAL)) {
    err.message += ": the kernel may be older than 5.13 (no PPPIOCBRIDGECHAN)";
  } else if (code === ENXIO) {
    err.message += ": no such PPP channel in this network namespace (is its socket still open?)";
  } else if (code === EALREADY) {
    err.message += ": a channel is already bridged or attached to a PPP unit";
  } else if (step !== "" && (code === ENOENT || code === ENODEV)) {
    err.message += `: load the ppp_generic kernel module ("modprobe ppp_generic")`;
  }
  return err;
}

/**
 * Two PPP channels bridged in the kernel; {@linkcode PppBridge.close} unbridges them.
 *
 * @example Usage
 * Not run as a doc test: it needs root and two connected PPPoX channels.
 * ```ts ignore
 * import { bridgeChannels } from "./ppp_bridge.ts";
 * using bridge = bridgeChannels(3, 4);
 * console.log(bridge.channelA, bridge.channelB, bridge.fd);
 * ```
 */
export class PppBridge implements Disposable {
  /** The channel the `/dev/ppp` fd is attached to. */
  readonly channelA: number;
  /** The channel bridged with it. */
  readonly channelB: number;
  readonly #fd: number;
  #open = true;

  /**
   * Take ownership of a `/dev/ppp` fd attached to `channelA` and bridged with `channelB` (use
   * {@linkcode bridgeChannels}).
   *
   * @param fd The `/dev/ppp` fd.
   * @param channelA Its channel.
   * @param channelB The other channel.
   */
  constructor(fd: number, channelA: number, channelB: number) {
    this.#fd = fd;
    this.channelA = channelA;
    this.channelB = channelB;
  }

  /** The `/dev/ppp` fd; throws once closed. */
  get fd(): number {
    if (!this.#open) throw new Error("Cannot use PPP bridge: it is closed");
    return this.#fd;
  }

  /** Whether {@linkcode PppBridge.close} was called. */
  get closed(): boolean {
    return !this.#open;
  }

  /**
   * Unbridge (`PPPIOCUNBRIDGECHAN`) and close the `/dev/ppp` fd. A bridge the kernel already
   * undid (one channel's socket was closed) is no error. Calling it again does nothing.
   *
   * @throws {OsError} "Cannot unbridge PPP channels A and B: ..." for any other failure (the fd
   *   is closed all the same).
   */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    const lib = libc();
    let failure: OsError | undefined;
    if (lib.ioctl(this.#fd, PPPIOCUNBRIDGECHAN, null) < 0) {
      const code = errno();
      // EINVAL: not bridged any more (the kernel unbridges a channel that is unregistered).
      if (code !== EINVAL) {
        failure = new OsError(
          `unbridge PPP channels ${this.channelA} and ${this.channelB}`,
          code,
          strerror(code),
        );
      }
    }
    if (lib.close(this.#fd) < 0 && failure === undefined) {
      const code = errno();
      failure = new OsError(`close ${PPP_DEVICE} fd ${this.#fd}`, code, strerror(code));
    }
    if (failure !== undefined) throw failure;
  }

  /** Same as {@linkcode PppBridge.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Bridge two PPP channels: open `/dev/ppp` (`O_RDWR | O_CLOEXEC`), `PPPIOCATTCHAN` with
 * `chanA`, `PPPIOCBRIDGECHAN` with `chanB`. Frames then flow both ways in the kernel. On
 * failure the fd is closed before the error is thrown.
 *
 * @param chanA A channel index (from {@linkcode pppChannelOf}).
 * @param chanB The other channel index.
 * @returns The bridge; close it to unbridge.
 * @throws {RangeError} When a channel index is not a non-negative integer or both are the same.
 * @throws {OsError} "Cannot bridge PPP channels A and B: <strerror> (errno N)", with a hint:
 *   ENOTTY/EINVAL from the bridge ioctl means the kernel may be older than 5.13; ENXIO, no such
 *   channel; EALREADY, a channel is already bridged or in use. The steps before the bridge say
 *   which failed ("Cannot bridge PPP channels A and B (open /dev/ppp): ...").
 *
 * @example Usage
 * Not run as a doc test: it needs root and two connected PPPoX channels.
 * ```ts ignore
 * import { bridgeChannels } from "./ppp_bridge.ts";
 * const bridge = bridgeChannels(3, 4);
 * // ... PPP frames flow between the two channels ...
 * bridge.close();
 * ```
 */
export function bridgeChannels(chanA: number, chanB: number): PppBridge {
  for (const c of [chanA, chanB]) {
    if (!Number.isInteger(c) || c < 0 || c > 0x7fffffff) {
      throw new RangeError(`Cannot bridge PPP channel ${c}: not a channel index`);
    }
  }
  if (chanA === chanB) {
    throw new RangeError(`Cannot bridge PPP channel ${chanA} with itself`);
  }
  const lib = libc();
  const fd = lib.open(new TextEncoder().encode(PPP_DEVICE + "\0"), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    const code = errno();
    throw bridgeError(chanA, chanB, ` (open ${PPP_DEVICE})`, code);
  }
  const arg = new Int32Array([chanA]);
  if (lib.ioctl(fd, PPPIOCATTCHAN, arg) < 0) {
    const code = errno();
    lib.close(fd);
    throw bridgeError(chanA, chanB, ` (attach to channel ${chanA})`, code);
  }
  arg[0] = chanB;
  if (lib.ioctl(fd, PPPIOCBRIDGECHAN, arg) < 0) {
    const code = errno();
    lib.close(fd);
    throw bridgeError(chanA, chanB, "", code);
  }
  return new PppBridge(fd, chanA, chanB);
}
