/**
 * libnl-3 and libnl-genl-3 through `Deno.dlopen`: the symbol tables, loaded once, and libnl's
 * error codes.
 *
 * Library paths can be overridden with `L2TPD_LIBNL` (default `libnl-3.so.200`) and
 * `L2TPD_LIBNL_GENL` (default `libnl-genl-3.so.200`); Debian packages `libnl-3-200` and
 * `libnl-genl-3-200`.
 *
 * libnl functions return a negative libnl error code (`-NLE_*`, not an errno) on failure;
 * {@linkcode nlErrorText} turns one into text.
 *
 * @module
 */

import { openLibrary } from "../ffi/libc.ts";

/** The libnl-3 symbols we use, with their C signatures. */
export const LIBNL_SYMBOLS = {
  /** struct nl_sock *nl_socket_alloc(void) */
  nl_socket_alloc: { parameters: [], result: "pointer" },
  /** void nl_socket_free(struct nl_sock *sk) */
  nl_socket_free: { parameters: ["pointer"], result: "void" },
  /** uint32_t nl_socket_get_local_port(const struct nl_sock *sk) */
  nl_socket_get_local_port: { parameters: ["pointer"], result: "u32" },
  /** int nl_socket_get_fd(const struct nl_sock *sk) */
  nl_socket_get_fd: { parameters: ["pointer"], result: "i32" },
  /** int nl_socket_set_nonblocking(const struct nl_sock *sk) */
  nl_socket_set_nonblocking: { parameters: ["pointer"], result: "i32" },
  /** int nl_socket_set_buffer_size(struct nl_sock *sk, int rxbuf, int txbuf) */
  nl_socket_set_buffer_size: { parameters: ["pointer", "i32", "i32"], result: "i32" },
  /** const char *nl_geterror(int error) */
  nl_geterror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The libnl-genl-3 symbols we use, with their C signatures. */
export const LIBNL_GENL_SYMBOLS = {
  /** int genl_connect(struct nl_sock *sk) */
  genl_connect: { parameters: ["pointer"], result: "i32" },
  /** int genl_ctrl_resolve(struct nl_sock *sk, const char *name) — family id or -NLE_* */
  genl_ctrl_resolve: { parameters: ["pointer", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded libnl-3 symbols. */
export type Libnl = Deno.DynamicLibrary<typeof LIBNL_SYMBOLS>["symbols"];
/** The loaded libnl-genl-3 symbols. */
export type LibnlGenl = Deno.DynamicLibrary<typeof LIBNL_GENL_SYMBOLS>["symbols"];

/** libnl error codes (include/netlink/errno.h) this module refers to. */
export const NLE = {
  /** Interrupted system call. */
  INTR: 2,
  /** Bad socket. */
  BAD_SOCK: 3,
  /** Try again (nothing to read on a non-blocking socket). */
  AGAIN: 4,
  /** Out of memory. */
  NOMEM: 5,
  /** Object not found (e.g. an unknown generic netlink family). */
  OBJ_NOTFOUND: 12,
} as const;

let nl: Deno.DynamicLibrary<typeof LIBNL_SYMBOLS> | undefined;
let genl: Deno.DynamicLibrary<typeof LIBNL_GENL_SYMBOLS> | undefined;

/**
 * The libnl-3 symbol table, opened on first use (`L2TPD_LIBNL` overrides the path).
 *
 * @example Usage
 * Needs libnl-3 (Debian package `libnl-3-200`):
 * ```ts
 * import { libnl } from "./libnl.ts";
 * const sk = libnl().nl_socket_alloc();
 * console.log(sk !== null); // true
 * libnl().nl_socket_free(sk);
 * ```
 */
export function libnl(): Libnl {
  nl ??= openLibrary("libnl-3", "L2TPD_LIBNL", "libnl-3.so.200", "libnl-3-200", LIBNL_SYMBOLS);
  return nl.symbols;
}

/**
 * The libnl-genl-3 symbol table, opened on first use (`L2TPD_LIBNL_GENL` overrides the path).
 *
 * @example Usage
 * Needs libnl-genl-3 (Debian package `libnl-genl-3-200`):
 * ```ts
 * import { libnlGenl } from "./libnl.ts";
 * console.log(typeof libnlGenl().genl_connect); // "function"
 * ```
 */
export function libnlGenl(): LibnlGenl {
  if (!genl) {
    libnl(); // libnl-genl-3 needs libnl-3; load it first so an error names the right library
    genl = openLibrary(
      "libnl-genl-3",
      "L2TPD_LIBNL_GENL",
      "libnl-genl-3.so.200",
      "libnl-genl-3-200",
      LIBNL_GENL_SYMBOLS,
    );
  }
  return genl.symbols;
}

/**
 * libnl's text for one of its error codes (sign ignored), e.g. "Object not found".
 *
 * @example Usage
 * Needs libnl-3 (Debian package `libnl-3-200`):
 * ```ts
 * import { nlErrorText } from "./libnl.ts";
 * console.log(nlErrorText(-12)); // "Object not found"
 * ```
 */
export function nlErrorText(code: number): string {
  const p = libnl().nl_geterror(Math.abs(code));
  return p === null ? `libnl error ${Math.abs(code)}` : Deno.UnsafePointerView.getCString(p);
}

/**
 * A libnl call failure carrying libnl's error code (`NLE_*`, positive).
 *
 * @example Usage
 * ```ts
 * import { LibnlError } from "./libnl.ts";
 * const e = new LibnlError("connect generic netlink socket", 3, "Bad socket");
 * console.log(e.message); // "Cannot connect generic netlink socket: Bad socket (libnl error 3)"
 * ```
 */
export class LibnlError extends Error {
  /** The positive libnl error code (NLE_*). */
  readonly code: number;

  /**
   * Make an error for a failed libnl call.
   *
   * @param op What was attempted.
   * @param code libnl error code (sign ignored).
   * @param text libnl's text for it.
   * @param hint Extra advice appended after "; ".
   */
  constructor(op: string, code: number, text: string, hint?: string) {
    super(`Cannot ${op}: ${text} (libnl error ${Math.abs(code)})${hint ? `; ${hint}` : ""}`);
    this.name = "LibnlError";
    this.code = Math.abs(code);
  }
}

const FAMILY_MODULES: Readonly<Record<string, string>> = { l2tp: "l2tp_netlink" };

/**
 * The error for a generic netlink family that cannot be resolved, naming the kernel module that
 * provides it.
 *
 * @example Usage
 * ```ts
 * import { familyResolveError } from "./libnl.ts";
 * console.log(familyResolveError("l2tp", 12, "Object not found").message);
 * // "Cannot resolve generic netlink family l2tp: Object not found (libnl error 12); is the
 * //  l2tp_netlink module loaded?"
 * ```
 */
export function familyResolveError(name: string, code: number, text: string): LibnlError {
  const module = FAMILY_MODULES[name];
  return new LibnlError(
    `resolve generic netlink family ${name}`,
    code,
    text,
    module === undefined
      ? `is the kernel module providing it loaded?`
      : `is the ${module} module loaded?`,
  );
}
