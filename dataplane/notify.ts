/**
 * The systemd readiness protocol (sd_notify(3)) without libsystemd: one datagram of
 * `VARIABLE=value` lines sent to the AF_UNIX socket named by `$NOTIFY_SOCKET`, through libc.
 *
 * A service of `Type=notify` started by systemd has `NOTIFY_SOCKET` set; elsewhere it is unset
 * and every function here does nothing and returns false. The socket is a path (`/run/...`) or,
 * when it starts with `@`, a name in the abstract namespace (the `@` stands for the leading NUL
 * byte). Other forms (such as systemd's `vsock:` addresses) are refused.
 *
 * Each call opens a datagram socket, sends, and closes it, as `sd_notify` does. systemd reads
 * the sender's credentials from the kernel: with `NotifyAccess=main` only the daemon's own
 * process may send (its pppd and hook children cannot), which this module, running in the
 * daemon, does. A send waits at most one second for room in a full receive queue
 * (`SO_SNDTIMEO`), so a stuck manager cannot stall the event loop for longer.
 *
 * @example Usage
 * ```ts
 * import { notifyReady, notifyStatus } from "./notify.ts";
 * // Under systemd (Type=notify) this ends "activating"; elsewhere it does nothing.
 * const sent = notifyReady();
 * notifyStatus("2 tunnels, 3 sessions up");
 * console.log(sent); // false when not started by systemd
 * ```
 *
 * @module
 */

import { check, errno, libc, OsError, strerror } from "./ffi/libc.ts";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_SNDTIMEO = 21;
const MSG_NOSIGNAL = 0x4000;
const CLOCK_MONOTONIC = 1;
/** `sizeof(struct sockaddr_un)`: a 2-byte family and 108 bytes of `sun_path`. */
const SOCKADDR_UN_SIZE = 110;
const SUN_PATH_OFFSET = 2;
const SUN_PATH_SIZE = SOCKADDR_UN_SIZE - SUN_PATH_OFFSET;
/** How long a send may wait for room in the manager's receive queue. */
const SEND_TIMEOUT_S = 1;

const encoder = new TextEncoder();

/**
 * The `sockaddr_un` for a `$NOTIFY_SOCKET` value: a path, or `@name` in the abstract namespace.
 *
 * @param socket The value of `NOTIFY_SOCKET`.
 * @returns The address bytes, exactly as long as the address (the length `sendto` is given).
 * @throws {Error} "Cannot notify systemd: ..." for a value that is neither a path nor `@name`,
 *   contains a NUL byte, or does not fit in `sun_path`.
 *
 * @example Usage
 * ```ts
 * import { notifySocketAddress } from "./notify.ts";
 * const sa = notifySocketAddress("@l2tpd-test");
 * console.log(sa.length, sa[2]); // 13 0 (family, then the abstract name's leading NUL)
 * ```
 */
export function notifySocketAddress(socket: string): Uint8Array<ArrayBuffer> {
  const abstract = socket.startsWith("@");
  if (!abstract && !socket.startsWith("/")) {
    throw new Error(
      `Cannot notify systemd: NOTIFY_SOCKET must be an absolute path or @name, got ` +
        JSON.stringify(socket),
    );
  }
  const name = encoder.encode(abstract ? socket.slice(1) : socket);
  if (name.includes(0)) {
    throw new Error(`Cannot notify systemd: NOTIFY_SOCKET contains a NUL byte`);
  }
  // A path needs its terminating NUL; an abstract name its leading one. Either way one byte.
  const length = SUN_PATH_OFFSET + 1 + name.length;
  if (length > SOCKADDR_UN_SIZE) {
    throw new Error(
      `Cannot notify systemd: NOTIFY_SOCKET needs ${name.length + 1} bytes of sun_path, which ` +
        `has ${SUN_PATH_SIZE}`,
    );
  }
  const sa = new Uint8Array(length);
  new DataView(sa.buffer).setUint16(0, AF_UNIX, true);
  sa.set(name, SUN_PATH_OFFSET + (abstract ? 1 : 0));
  return sa;
}

/**
 * Send `state` (newline-separated `VARIABLE=value` assignments, see sd_notify(3)) to the service
 * manager.
 *
 * @param state For example `"READY=1"` or `"STATUS=reloading\nRELOADING=1"`.
 * @returns True when sent; false, doing nothing, when `NOTIFY_SOCKET` is unset or empty (not
 *   started by systemd, or started without a notify socket) or cannot be read (no
 *   `--allow-env`).
 * @throws {Error} "Cannot notify systemd: ..." when `state` is empty or `NOTIFY_SOCKET` is not
 *   a usable address; an {@linkcode OsError} when the socket cannot be created or the datagram
 *   cannot be sent (no such socket, nobody listening, queue full for a second).
 *
 * @example Usage
 * ```ts
 * import { notify } from "./notify.ts";
 * console.log(notify("STATUS=starting")); // false outside systemd
 * ```
 */
export function notify(state: string): boolean {
  let socket: string | undefined;
  try {
    socket = Deno.env.get("NOTIFY_SOCKET");
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      return false;
    }
    throw e;
  }
  if (socket === undefined || socket === "") return false;
  if (state === "") throw new Error("Cannot notify systemd: the state to send is empty");
  const sa = notifySocketAddress(socket);
  const message = encoder.encode(state);
  const c = libc();
  const fd = check(
    "create a socket to notify systemd",
    c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0),
  );
  try {
    const timeout = new Uint8Array(16); // struct timeval { tv_sec; tv_usec }
    new DataView(timeout.buffer).setBigInt64(0, BigInt(SEND_TIMEOUT_S), true);
    check(
      "set the send timeout of the systemd notify socket",
      c.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, timeout, timeout.length),
    );
    const sent = c.sendto(fd, message, BigInt(message.length), MSG_NOSIGNAL, sa, sa.length);
    if (sent < 0n) {
      const code = errno();
      throw new OsError(`notify systemd through ${socket}`, code, strerror(code));
    }
    if (sent !== BigInt(message.length)) {
      throw new Error(
        `Cannot notify systemd through ${socket}: sent ${sent} of ${message.length} bytes`,
      );
    }
    return true;
  } finally {
    c.close(fd);
  }
}

/**
 * The current `CLOCK_MONOTONIC` time in microseconds, the clock of sd_notify's `MONOTONIC_USEC`.
 *
 * @returns Microseconds since an arbitrary point (the boot, on Linux), not counting suspend.
 * @throws {OsError} if `clock_gettime` fails (it does not, for this clock).
 *
 * @example Usage
 * ```ts
 * import { monotonicUsec } from "./notify.ts";
 * const a = monotonicUsec();
 * console.log(monotonicUsec() >= a); // true
 * ```
 */
export function monotonicUsec(): bigint {
  const ts = new Uint8Array(16); // struct timespec { tv_sec; tv_nsec }
  check("read CLOCK_MONOTONIC", libc().clock_gettime(CLOCK_MONOTONIC, ts));
  const view = new DataView(ts.buffer);
  return view.getBigInt64(0, true) * 1_000_000n + view.getBigInt64(8, true) / 1000n;
}

/**
 * Tell systemd that start-up (or a reload) is complete: `READY=1`.
 *
 * @returns As {@linkcode notify}.
 *
 * @example Usage
 * ```ts
 * import { notifyReady } from "./notify.ts";
 * notifyReady();
 * ```
 */
export function notifyReady(): boolean {
  return notify("READY=1");
}

/**
 * Tell systemd that a reload has begun: `RELOADING=1` with `MONOTONIC_USEC` (which systemd 253
 * and later require with `Type=notify-reload`; `Type=notify` ignores it). Follow with
 * {@linkcode notifyReady} when the reload is done, whether it succeeded or not.
 *
 * @returns As {@linkcode notify}.
 *
 * @example Usage
 * ```ts
 * import { notifyReady, notifyReloading } from "./notify.ts";
 * notifyReloading();
 * // ... apply the new configuration ...
 * notifyReady();
 * ```
 */
export function notifyReloading(): boolean {
  return notify(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec()}`);
}

/**
 * Tell systemd that the daemon is shutting down: `STOPPING=1`.
 *
 * @returns As {@linkcode notify}.
 *
 * @example Usage
 * ```ts
 * import { notifyStopping } from "./notify.ts";
 * notifyStopping();
 * ```
 */
export function notifyStopping(): boolean {
  return notify("STOPPING=1");
}

/**
 * Set the one-line status `systemctl status` shows: `STATUS=text`. Line breaks in `text` become
 * spaces (each line of a notification is an assignment of its own).
 *
 * @param text What the daemon is doing, e.g. "3 tunnels, 12 sessions up".
 * @returns As {@linkcode notify}.
 *
 * @example Usage
 * ```ts
 * import { notifyStatus } from "./notify.ts";
 * notifyStatus("bringing up 3 tunnels");
 * ```
 */
export function notifyStatus(text: string): boolean {
  return notify(`STATUS=${text.replace(/\r?\n|\r/g, " ")}`);
}
