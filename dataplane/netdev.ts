/**
 * Network interface MTU through ioctl (SIOCGIFMTU / SIOCSIFMTU on an AF_INET datagram socket).
 *
 * Recent kernels ignore L2TP_ATTR_MTU when creating an Ethernet pseudowire, so the data plane
 * sets the interface MTU itself afterwards. Setting needs CAP_NET_ADMIN; reading does not.
 *
 * @module
 */

import { errno, libc, OsError, strerror } from "./ffi/libc.ts";

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SIOCGIFMTU = 0x8921n;
const SIOCSIFMTU = 0x8922n;
/** IFNAMSIZ: the name field of struct ifreq, NUL included. */
const IFNAMSIZ = 16;
/** sizeof(struct ifreq) on 64-bit Linux. */
const IFREQ_SIZE = 40;

function ifreq(op: string, name: string): Uint8Array {
  const encoded = new TextEncoder().encode(name);
  if (encoded.length < 1 || encoded.length >= IFNAMSIZ || encoded.includes(0)) {
    throw new RangeError(`Cannot ${op}: interface name "${name}" must be 1 to 15 bytes`);
  }
  const req = new Uint8Array(IFREQ_SIZE);
  req.set(encoded);
  return req;
}

function withInetSocket<T>(op: string, fn: (fd: number) => T): T {
  const c = libc();
  const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const code = errno();
    throw new OsError(op, code, strerror(code));
  }
  try {
    return fn(fd);
  } finally {
    c.close(fd);
  }
}

function ioctlIfreq(op: string, fd: number, request: bigint, req: Uint8Array): void {
  if (libc().ioctl(fd, request, req) < 0) {
    const code = errno();
    throw new OsError(op, code, strerror(code));
  }
}

/**
 * Read an interface's MTU.
 *
 * @throws {OsError} "Cannot get MTU of NAME: No such device (errno 19)" and the like.
 * @example Usage
 * ```ts
 * import { getInterfaceMtu } from "./netdev.ts";
 * console.log(getInterfaceMtu("lo")); // 65536
 * ```
 */
export function getInterfaceMtu(name: string): number {
  const op = `get MTU of ${name}`;
  const req = ifreq(op, name);
  return withInetSocket(op, (fd) => {
    ioctlIfreq(op, fd, SIOCGIFMTU, req);
    return new DataView(req.buffer).getInt32(IFNAMSIZ, true);
  });
}

/**
 * Set an interface's MTU (needs CAP_NET_ADMIN).
 *
 * @throws {RangeError} for a bad name or MTU; {@linkcode OsError} when the kernel refuses.
 * @example Usage
 * Not run as a doc test: it needs root and an L2TP interface.
 * ```ts ignore
 * import { setInterfaceMtu } from "./netdev.ts";
 * setInterfaceMtu("l2tpeth0", 1446);
 * ```
 */
export function setInterfaceMtu(name: string, mtu: number): void {
  const op = `set MTU of ${name}`;
  if (!Number.isInteger(mtu) || mtu < 1 || mtu > 0x7fffffff) {
    throw new RangeError(`Cannot ${op}: MTU ${mtu} is not a positive integer`);
  }
  const req = ifreq(op, name);
  new DataView(req.buffer).setInt32(IFNAMSIZ, mtu, true);
  withInetSocket(op, (fd) => ioctlIfreq(op, fd, SIOCSIFMTU, req));
}
