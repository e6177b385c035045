/**
 * The netlink request/response logic, written once over a minimal {@linkcode Connection}:
 * sequence matching, acknowledgements, errors with extended ack, multipart dumps, and
 * NLM_F_DUMP_INTR retries.
 *
 * Requests on one connection are serialized (a reply can only be matched while no other
 * request is reading the socket).
 *
 * @module
 */

import { Errno, NetlinkError } from "./errors.ts";
import {
  decodeDone,
  decodeErrorPayload,
  decodeGenl,
  decodeMessages,
  encodeGenl,
  encodeMessage,
  type GenlMessage,
  type Message,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
} from "./message.ts";

/**
 * A netlink socket, reduced to what the request logic needs. Implemented over libnl
 * (`LibnlConnection`) and in memory (`FakeConnection`).
 *
 * @example Usage
 * With the in-memory connection (`LibnlConnection.open()` is the kernel's):
 * ```ts
 * import { ack, FakeConnection } from "./fake.ts";
 * import { encodeMessage, NLM_F_ACK, NLM_F_REQUEST } from "./message.ts";
 * import type { Connection } from "./conn.ts";
 * const conn: Connection = new FakeConnection({ handler: (req) => [ack(req)] });
 * await conn.send(encodeMessage({
 *   type: 0x1c, flags: NLM_F_REQUEST | NLM_F_ACK, sequence: conn.nextSequence(), pid: conn.portId,
 *   data: new Uint8Array(4),
 * }));
 * const datagram = await conn.receive();
 * console.log(datagram.length); // 36: the NLMSG_ERROR ack with the request's header
 * conn.close();
 * ```
 */
export interface Connection extends Disposable {
  /** Our netlink port id (nl_pid), which the kernel puts in its replies. */
  readonly portId: number;
  /** A fresh sequence number for the next request. */
  nextSequence(): number;
  /** Send one datagram (one or more encoded messages) to the kernel. */
  send(datagram: Uint8Array): Promise<void>;
  /** Receive one datagram from the kernel; rejects on timeout or socket failure. */
  receive(): Promise<Uint8Array>;
  /** Resolve a generic netlink family name to its id; rejects with a clear error if absent. */
  resolveFamily(name: string): Promise<number>;
  /** Release the socket. Idempotent. */
  close(): void;
}

/**
 * A request to send: message type (family id), extra flags and payload.
 *
 * @example Usage
 * ```ts
 * import type { NetlinkRequest } from "./conn.ts";
 * const r: NetlinkRequest = { type: 0x1c, data: new Uint8Array([4, 1, 0, 0]) };
 * console.log(r);
 * ```
 */
export interface NetlinkRequest {
  /** Message type (for generic netlink: the family id). */
  type: number;
  /** Flags besides NLM_F_REQUEST (and NLM_F_ACK / NLM_F_DUMP, which are added). */
  flags?: number;
  /** Payload (for generic netlink: genlmsghdr + attributes). */
  data: Uint8Array;
}

/**
 * Options for {@linkcode dump}.
 *
 * @example Usage
 * ```ts
 * import type { DumpOptions } from "./conn.ts";
 * const o: DumpOptions = { retries: 5 };
 * console.log(o);
 * ```
 */
export interface DumpOptions {
  /** How many times to restart a dump the kernel marked NLM_F_DUMP_INTR (default 3). */
  retries?: number;
}

const locks = new WeakMap<Connection, Promise<void>>();

/**
 * Run `fn` with exclusive use of `conn` (requests on one socket must not interleave).
 *
 * @example Usage
 * ```ts
 * import { FakeConnection } from "./fake.ts";
 * import { withConnection } from "./conn.ts";
 * using conn = new FakeConnection({ families: { l2tp: 0x1c } });
 * const id = await withConnection(conn, () => conn.resolveFamily("l2tp"));
 * console.log(id); // 28
 * ```
 */
export async function withConnection<T>(conn: Connection, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(conn) ?? Promise.resolve();
  let release = (): void => {};
  const mine = new Promise<void>((resolve) => {
    release = resolve;
  });
  const tail = previous.then(() => mine);
  locks.set(conn, tail);
  await previous;
  try {
    return await fn();
  } finally {
    release();
    if (locks.get(conn) === tail) locks.delete(conn);
  }
}

interface Exchange {
  replies: Message[];
  interrupted: boolean;
}

/** Send one request and read until its ack, error or NLMSG_DONE. Caller holds the lock. */
async function exchange(
  conn: Connection,
  req: NetlinkRequest,
  flags: number,
  op: string,
): Promise<Exchange> {
  const sequence = conn.nextSequence();
  await conn.send(encodeMessage({
    type: req.type,
    flags: (req.flags ?? 0) | flags,
    sequence,
    pid: conn.portId,
    data: req.data,
  }));
  const replies: Message[] = [];
  let interrupted = false;
  for (;;) {
    const datagram = await conn.receive();
    for (const m of decodeMessages(datagram)) {
      if (m.header.sequence !== sequence) continue; // stale answer to an abandoned request
      if (m.header.pid !== 0 && m.header.pid !== conn.portId) continue;
      if ((m.header.flags & NLM_F_DUMP_INTR) !== 0) interrupted = true;
      switch (m.header.type) {
        case NLMSG_NOOP:
          continue;
        case NLMSG_OVERRUN:
          throw new NetlinkError(op, Errno.ENOBUFS, { message: "netlink overrun, data lost" });
        case NLMSG_ERROR: {
          const p = decodeErrorPayload(m);
          if (p.errno !== 0) throw new NetlinkError(op, p.errno, p.extAck);
          return { replies, interrupted };
        }
        case NLMSG_DONE: {
          const d = decodeDone(m);
          if (d.errno !== 0) throw new NetlinkError(op, d.errno, d.extAck);
          return { replies, interrupted };
        }
        default:
          replies.push(m);
      }
    }
  }
}

/**
 * Send a request with NLM_F_REQUEST | NLM_F_ACK and collect the replies sent before the ack.
 *
 * @param conn The connection.
 * @param req What to send.
 * @param op What is being done, for errors ("create tunnel 42").
 * @returns The reply messages (empty for commands that only acknowledge).
 * @throws {NetlinkError} when the kernel answers with an error.
 * @example Usage
 * ```ts
 * import { nack, FakeConnection } from "./fake.ts";
 * import { request } from "./conn.ts";
 * using conn = new FakeConnection({ handler: (req) => [nack(req, 2)] });
 * try {
 *   await request(conn, { type: 0x1c, data: new Uint8Array([4, 1, 0, 0]) }, "get tunnel 1");
 * } catch (e) {
 *   console.log(String(e)); // "NetlinkError: Cannot get tunnel 1: No such file or directory (errno 2)"
 * }
 * ```
 */
export function request(conn: Connection, req: NetlinkRequest, op: string): Promise<Message[]> {
  return withConnection(conn, async () => {
    const { replies } = await exchange(conn, req, NLM_F_REQUEST | NLM_F_ACK, op);
    return replies;
  });
}

/**
 * Send a dump request (NLM_F_REQUEST | NLM_F_DUMP) and collect every part until NLMSG_DONE.
 * A dump the kernel marks NLM_F_DUMP_INTR is restarted up to `retries` times, then fails with
 * errno EINTR.
 *
 * @param conn The connection.
 * @param req What to send.
 * @param op What is being done, for errors ("list tunnels").
 * @param options Retry policy.
 * @returns All messages of the dump.
 * @throws {NetlinkError} when the kernel answers with an error or the dump stays inconsistent.
 * @example Usage
 * ```ts
 * import { concat, done, FakeConnection, genlReply } from "./fake.ts";
 * import { dump } from "./conn.ts";
 * const part = { header: { command: 4, version: 1 }, attributes: new Uint8Array(0) };
 * using conn = new FakeConnection({
 *   handler: (req) => [concat(genlReply(req, part, true), genlReply(req, part, true)), done(req)],
 * });
 * const all = await dump(conn, { type: 0x1c, data: new Uint8Array([4, 1, 0, 0]) }, "list tunnels");
 * console.log(all.length); // 2
 * ```
 */
export function dump(
  conn: Connection,
  req: NetlinkRequest,
  op: string,
  options: DumpOptions = {},
): Promise<Message[]> {
  const retries = options.retries ?? 3;
  return withConnection(conn, async () => {
    for (let attempt = 0;; attempt++) {
      const { replies, interrupted } = await exchange(conn, req, NLM_F_REQUEST | NLM_F_DUMP, op);
      if (!interrupted) return replies;
      if (attempt >= retries) {
        throw new NetlinkError(op, Errno.EINTR, {
          message: `dump was interrupted by concurrent changes ${attempt + 1} times`,
        });
      }
    }
  });
}

/**
 * Resolve a generic netlink family under the connection lock.
 *
 * @example Usage
 * ```ts
 * import { FakeConnection } from "./fake.ts";
 * import { resolveFamily } from "./conn.ts";
 * using conn = new FakeConnection({ families: { l2tp: 0x1c } });
 * console.log(await resolveFamily(conn, "l2tp")); // 28
 * ```
 */
export function resolveFamily(conn: Connection, name: string): Promise<number> {
  return withConnection(conn, () => conn.resolveFamily(name));
}

function wrapGenl(family: number, g: GenlMessage): NetlinkRequest {
  return { type: family, data: encodeGenl(g) };
}

/**
 * {@linkcode request} for generic netlink: wraps `g` for `family`, decodes the replies.
 *
 * @example Usage
 * ```ts
 * import { ack, FakeConnection } from "./fake.ts";
 * import { genlRequest } from "./conn.ts";
 * using conn = new FakeConnection({ handler: (req) => [ack(req)] });
 * const g = { header: { command: 2, version: 1 }, attributes: new Uint8Array(0) };
 * console.log(await genlRequest(conn, 0x1c, g, "delete tunnel 1")); // []
 * ```
 */
export async function genlRequest(
  conn: Connection,
  family: number,
  g: GenlMessage,
  op: string,
): Promise<GenlMessage[]> {
  const replies = await request(conn, wrapGenl(family, g), op);
  return replies.filter((m) => m.header.type === family).map((m) => decodeGenl(m.data));
}

/**
 * {@linkcode dump} for generic netlink: wraps `g` for `family`, decodes every part.
 *
 * @example Usage
 * ```ts
 * import { done, FakeConnection, genlReply } from "./fake.ts";
 * import { genlDump } from "./conn.ts";
 * const g = { header: { command: 4, version: 1 }, attributes: new Uint8Array(0) };
 * using conn = new FakeConnection({ handler: (req) => [genlReply(req, g, true), done(req)] });
 * const parts = await genlDump(conn, 0x1c, g, "list tunnels");
 * console.log(parts[0].header.command); // 4
 * ```
 */
export async function genlDump(
  conn: Connection,
  family: number,
  g: GenlMessage,
  op: string,
  options: DumpOptions = {},
): Promise<GenlMessage[]> {
  const replies = await dump(conn, wrapGenl(family, g), op, options);
  return replies.filter((m) => m.header.type === family).map((m) => decodeGenl(m.data));
}
