/**
 * Netlink error types: the kernel's answer to a failed request ({@linkcode NetlinkError}, with
 * errno and the extended-ack text) and malformed bytes ({@linkcode NetlinkDecodeError}).
 *
 * @module
 */

import { strerror } from "../ffi/libc.ts";

/** errno values this layer refers to by name. */
export const Errno = {
  /** No such file or directory. */
  ENOENT: 2,
  /** Interrupted system call (used for an interrupted dump). */
  EINTR: 4,
  /** File exists. */
  EEXIST: 17,
  /** No such device (the l2tp family's "no such tunnel/session"). */
  ENODEV: 19,
  /** Invalid argument. */
  EINVAL: 22,
  /** Protocol not supported. */
  EPROTONOSUPPORT: 93,
  /** No buffer space available (netlink overrun). */
  ENOBUFS: 105,
} as const;

/**
 * The kernel's extended acknowledgement (NLMSGERR_ATTR_* of an NLMSG_ERROR or NLMSG_DONE).
 *
 * @example Usage
 * ```ts
 * import type { ExtAck } from "./errors.ts";
 * const ack: ExtAck = { message: "Invalid L2SPEC_TYPE", offset: 36 };
 * console.log(ack);
 * ```
 */
export interface ExtAck {
  /** NLMSGERR_ATTR_MSG: human-readable text. */
  message?: string;
  /** NLMSGERR_ATTR_OFFS: byte offset of the offending attribute in the request. */
  offset?: number;
  /** NLMSGERR_ATTR_MISS_TYPE: type of a missing required attribute. */
  missingType?: number;
  /** NLMSGERR_ATTR_MISS_NEST: offset of the nest the attribute was missing from. */
  missingNest?: number;
  /** NLMSGERR_ATTR_COOKIE: subsystem-specific cookie. */
  cookie?: Uint8Array;
}

function errnoText(code: number): string {
  try {
    return strerror(code);
  } catch {
    return `errno ${code}`;
  }
}

function extAckText(ext: ExtAck): string {
  if (ext.message !== undefined && ext.message !== "") return ext.message;
  if (ext.missingType !== undefined) return `missing attribute ${ext.missingType}`;
  return "";
}

/**
 * A netlink request the kernel refused.
 *
 * The message reads "Cannot <op>: <strerror> (errno N): <ext-ack text>" (the last part only when
 * the kernel sent one).
 *
 * @example Usage
 * ```ts
 * import { NetlinkError } from "./errors.ts";
 * const e = new NetlinkError("create session 1/2", 17, { message: "Session already exists" });
 * console.log(e.message);
 * // "Cannot create session 1/2: File exists (errno 17): Session already exists"
 * ```
 */
export class NetlinkError extends Error {
  /** The positive errno value. */
  readonly errno: number;
  /** What was attempted ("create tunnel 42"). */
  readonly op: string;
  /** The kernel's extended acknowledgement (empty object when none was sent). */
  readonly extAck: ExtAck;

  /**
   * Make an error for a refused request.
   *
   * @param op What was attempted, e.g. "create tunnel 42".
   * @param errno The positive errno value (the sign of the kernel's value is ignored).
   * @param extAck The kernel's extended acknowledgement, if any.
   */
  constructor(op: string, errno: number, extAck: ExtAck = {}) {
    const code = Math.abs(errno);
    const text = extAckText(extAck);
    super(`Cannot ${op}: ${errnoText(code)} (errno ${code})${text === "" ? "" : `: ${text}`}`);
    this.name = "NetlinkError";
    this.errno = code;
    this.op = op;
    this.extAck = extAck;
  }
}

/**
 * Bytes that are not a well-formed netlink message or attribute stream.
 *
 * @example Usage
 * ```ts
 * import { NetlinkDecodeError } from "./errors.ts";
 * const e = new NetlinkDecodeError("attribute", 8, "length 2 is shorter than its 4-byte header");
 * console.log(e.message);
 * // "Cannot decode netlink attribute at offset 8: length 2 is shorter than its 4-byte header"
 * ```
 */
export class NetlinkDecodeError extends Error {
  /** Byte offset of the problem in the decoded buffer. */
  readonly offset: number;

  /**
   * Make a decode error.
   *
   * @param what What was being decoded ("attribute", "message", ...).
   * @param offset Byte offset of the problem.
   * @param detail What is wrong.
   */
  constructor(what: string, offset: number, detail: string) {
    super(`Cannot decode netlink ${what} at offset ${offset}: ${detail}`);
    this.name = "NetlinkDecodeError";
    this.offset = offset;
  }
}

/**
 * Whether an error is the kernel saying "no such object" (ENODEV, as the l2tp family answers, or
 * ENOENT).
 *
 * @example Usage
 * ```ts
 * import { isNotFound, NetlinkError } from "./errors.ts";
 * console.log(isNotFound(new NetlinkError("get tunnel 1", 19))); // true
 * ```
 */
export function isNotFound(e: unknown): boolean {
  return e instanceof NetlinkError && (e.errno === Errno.ENODEV || e.errno === Errno.ENOENT);
}
