/**
 * libc through `Deno.dlopen`: one symbol table, loaded once, plus errno helpers.
 *
 * Only the socket layer (`lib/`) and the data plane (`dataplane/`) import this module.
 * errno is per thread: read it with {@linkcode errno} immediately after a synchronous call.
 *
 * The library path can be overridden with `L2TPD_LIBC` (default `libc.so.6`).
 *
 * @module
 */

/** The libc symbols we use, with their C signatures. */
export const LIBC_SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  /** `open(path, flags)` without a mode (no O_CREAT): character devices such as /dev/ppp. */
  open: { parameters: ["buffer", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  sendto: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"],
    result: "isize",
  },
  recvfrom: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"],
    result: "isize",
  },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  /** Blocking wait, run on a worker thread so the event loop stays free. */
  epoll_wait_nb: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  /** Immediate poll (timeout 0) on the calling thread. */
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  /** Give the CPU to another runnable thread (the kernel's worker: see `dataplane/kernel.ts`). */
  sched_yield: { parameters: [], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  free: { parameters: ["pointer"], result: "void" },
  /** Name resolution through NSS (/etc/hosts, DNS, ...), on a worker thread. */
  getaddrinfo: {
    parameters: ["buffer", "pointer", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  freeaddrinfo: { parameters: ["pointer"], result: "void" },
  gai_strerror: { parameters: ["i32"], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  __errno_location: { parameters: [], result: "pointer" },
  /** `clock_gettime(clockid, struct timespec *)`: CLOCK_MONOTONIC for sd_notify's MONOTONIC_USEC. */
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded libc symbols. */
export type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

let loaded: Deno.DynamicLibrary<typeof LIBC_SYMBOLS> | undefined;

/**
 * Open a shared library: the path in the environment variable `envVar` if set, else
 * `defaultPath`. A failure names what was tried, the variable, and the Debian package that
 * provides the library.
 *
 * @example Usage
 * ```ts
 * import { LIBC_SYMBOLS, openLibrary } from "./libc.ts";
 * const lib = openLibrary("libc", "L2TPD_LIBC", "libc.so.6", "libc6", LIBC_SYMBOLS);
 * console.log(typeof lib.symbols.socket); // "function"
 * lib.close();
 * ```
 */
export function openLibrary<S extends Deno.ForeignLibraryInterface>(
  what: string,
  envVar: string,
  defaultPath: string,
  debianPackage: string,
  symbols: S,
): Deno.DynamicLibrary<S> {
  const path = Deno.env.get(envVar) || defaultPath;
  try {
    return Deno.dlopen(path, symbols);
  } catch (e) {
    throw new Error(
      `Cannot load ${what}: tried ${path} (${e instanceof Error ? e.message : String(e)}); ` +
        `install the Debian package ${debianPackage} or set ${envVar} to the library's path`,
    );
  }
}

/**
 * The libc symbol table, opened on first use (`L2TPD_LIBC` overrides the path).
 *
 * @example Usage
 * ```ts
 * import { libc } from "./libc.ts";
 * const fd = libc().socket(2, 2, 0); // AF_INET, SOCK_DGRAM
 * console.log(fd >= 0); // true
 * libc().close(fd);
 * ```
 */
export function libc(): Libc {
  loaded ??= openLibrary("libc", "L2TPD_LIBC", "libc.so.6", "libc6", LIBC_SYMBOLS);
  return loaded.symbols;
}

/**
 * The calling thread's errno. Read it right after the failing synchronous call.
 *
 * @example Usage
 * ```ts
 * import { errno, libc } from "./libc.ts";
 * if (libc().close(-1) < 0) console.log(errno()); // 9 (EBADF)
 * ```
 */
export function errno(): number {
  const p = libc().__errno_location();
  if (p === null) return 0;
  return new Deno.UnsafePointerView(p).getInt32(0);
}

/**
 * The C library's text for an errno value, e.g. "No such file or directory".
 *
 * @example Usage
 * ```ts
 * import { strerror } from "./libc.ts";
 * console.log(strerror(2)); // "No such file or directory"
 * ```
 */
export function strerror(code: number): string {
  const p = libc().strerror(code);
  return p === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(p);
}

/**
 * An OS call failure carrying its errno.
 *
 * @example Usage
 * ```ts
 * import { OsError } from "./libc.ts";
 * const e = new OsError("bind", 98, "Address already in use");
 * console.log(e.message); // "Cannot bind: Address already in use (errno 98)"
 * ```
 */
export class OsError extends Error {
  /** The errno value. */
  readonly errno: number;
  /** The call that failed. */
  readonly call: string;
  /**
   * Make an error for a failed call.
   *
   * @param call What was attempted ("bind", "connect tunnel socket", ...).
   * @param code errno.
   * @param text strerror text.
   */
  constructor(call: string, code: number, text: string) {
    super(`Cannot ${call}: ${text} (errno ${code})`);
    this.name = "OsError";
    this.errno = code;
    this.call = call;
  }
}

/**
 * Throw an {@linkcode OsError} built from the current errno if `result` is negative.
 *
 * @example Usage
 * ```ts
 * import { check, libc, OsError } from "./libc.ts";
 * const fd = check("create socket", libc().socket(2, 2, 0));
 * libc().close(fd);
 * try {
 *   check("close fd -1", libc().close(-1));
 * } catch (e) {
 *   console.log(e instanceof OsError && e.message); // "Cannot close fd -1: Bad file descriptor (errno 9)"
 * }
 * ```
 */
export function check<T extends number | bigint>(call: string, result: T): T {
  if (result < 0) {
    const code = errno();
    throw new OsError(call, code, strerror(code));
  }
  return result;
}
