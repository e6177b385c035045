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
  encodeGenlMessage,
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
  /**
   * Send one datagram (one or more encoded messages) to the kernel. The caller may reuse the
   * bytes once the promise settles: copy them to keep them.
   */
  send(datagram: Uint8Array): Promise<void>;
  /** Receive one datagram from the kernel; rejects on timeout or socket failure. */
  receive(): Promise<Uint8Array>;
  /**
   * Optional fast path: send at once, throwing on failure (instead of a promise). The caller may
   * reuse the bytes when it returns.
   */
  sendNow?(datagram: Uint8Array): void;
  /**
   * Optional fast path: the next datagram if one is already waiting, else `undefined` (then the
   * request logic falls back to {@linkcode Connection.receive}). The bytes are in a buffer the
   * connection reuses: valid only until its next receive (the request logic copies what it
   * keeps). Throws on a socket failure.
   */
  pollShared?(): Uint8Array | undefined;
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

/** Who holds a connection, and who waits for it in turn. */
interface Lock {
  busy: boolean;
  waiters: (() => void)[];
}

const locks = new WeakMap<Connection, Lock>();

/** A value now, or later. */
type Maybe<T> = T | Promise<T>;

function andThen<T, U>(v: Maybe<T>, f: (t: T) => Maybe<U>): Maybe<U> {
  return v instanceof Promise ? v.then(f) : f(v);
}

function release(lock: Lock): void {
  // Hand the lock straight to the next waiter (it stays busy), or free it.
  const next = lock.waiters.shift();
  if (next !== undefined) next();
  else lock.busy = false;
}

function runHeld<T>(lock: Lock, fn: () => Maybe<T>): Promise<T> {
  let r: Maybe<T>;
  try {
    r = fn();
  } catch (e) {
    release(lock);
    return Promise.reject(e);
  }
  if (!(r instanceof Promise)) {
    release(lock);
    return Promise.resolve(r);
  }
  return r.then((v) => {
    release(lock);
    return v;
  }, (e) => {
    release(lock);
    throw e;
  });
}

/** Run `fn` holding `conn`'s lock; `fn` may finish synchronously. */
function locked<T>(conn: Connection, fn: () => Maybe<T>): Promise<T> {
  let lock = locks.get(conn);
  if (lock === undefined) {
    lock = { busy: false, waiters: [] };
    locks.set(conn, lock);
  }
  if (!lock.busy) {
    lock.busy = true;
    return runHeld(lock, fn);
  }
  const l = lock;
  return new Promise<void>((resolve) => l.waiters.push(resolve)).then(() => runHeld(l, fn));
}

/**
 * Run `fn` with exclusive use of `conn` (requests on one socket must not interleave).
 *
 * Waiters are served in call order.
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
export function withConnection<T>(conn: Connection, fn: () => Promise<T>): Promise<T> {
  return locked(conn, fn);
}

interface Exchange {
  replies: Message[];
  interrupted: boolean;
  /** The kernel answered ENOENT / ENODEV and the caller asked for that as a result. */
  notFound: boolean;
}

/** Builds the datagram of a request for a sequence number and our port id. */
type Encode = (sequence: number, pid: number) => Uint8Array;

function plainEncoder(req: NetlinkRequest, flags: number): Encode {
  return (sequence, pid) =>
    encodeMessage({
      type: req.type,
      flags: (req.flags ?? 0) | flags,
      sequence,
      pid,
      data: req.data,
    });
}

/** One reusable send buffer per connection, used under its lock (never two requests at once). */
const sendBuffers = new WeakMap<Connection, Uint8Array>();
const SEND_BUFFER_BYTES = 4096;

function genlEncoder(conn: Connection, family: number, g: GenlMessage, flags: number): Encode {
  return (sequence, pid) => {
    let buffer = sendBuffers.get(conn);
    if (buffer === undefined) {
      buffer = new Uint8Array(SEND_BUFFER_BYTES);
      sendBuffers.set(conn, buffer);
    }
    return encodeGenlMessage({ type: family, flags, sequence, pid }, g, buffer);
  };
}

/** The answers to one request, gathered datagram by datagram. */
class Collector {
  readonly #sequence: number;
  readonly #portId: number;
  readonly #op: string;
  readonly #notFoundOk: boolean;
  readonly #result: Exchange = { replies: [], interrupted: false, notFound: false };

  constructor(sequence: number, portId: number, op: string, notFoundOk: boolean) {
    this.#sequence = sequence;
    this.#portId = portId;
    this.#op = op;
    this.#notFoundOk = notFoundOk;
  }

  /**
   * Take one datagram (`shared`: in a buffer that will be reused, so kept messages are copied).
   * Returns the exchange once its ack, error or NLMSG_DONE arrived, else undefined.
   */
  feed(datagram: Uint8Array, shared: boolean): Exchange | undefined {
    const r = this.#result;
    for (const m of decodeMessages(datagram)) {
      if (m.header.sequence !== this.#sequence) continue; // stale answer to an abandoned request
      if (m.header.pid !== 0 && m.header.pid !== this.#portId) continue;
      if ((m.header.flags & NLM_F_DUMP_INTR) !== 0) r.interrupted = true;
      switch (m.header.type) {
        case NLMSG_NOOP:
          continue;
        case NLMSG_OVERRUN:
          throw new NetlinkError(this.#op, Errno.ENOBUFS, {
            message: "netlink overrun, data lost",
          });
        case NLMSG_ERROR: {
          const p = decodeErrorPayload(m);
          if (p.errno === 0) return r;
          if (this.#notFoundOk && (p.errno === Errno.ENOENT || p.errno === Errno.ENODEV)) {
            r.notFound = true;
            return r;
          }
          throw new NetlinkError(this.#op, p.errno, p.extAck);
        }
        case NLMSG_DONE: {
          const d = decodeDone(m);
          if (d.errno !== 0) throw new NetlinkError(this.#op, d.errno, d.extAck);
          return r;
        }
        default:
          r.replies.push(shared ? { header: m.header, data: m.data.slice() } : m);
      }
    }
    return undefined;
  }
}

/**
 * Send one request and read until its ack, error or NLMSG_DONE. Caller holds the lock.
 * With `notFoundOk`, an ENOENT / ENODEV answer ends the exchange as `notFound` instead of
 * throwing (building an error with a stack is the costly part of a miss).
 *
 * Over a connection with the fast paths ({@linkcode Connection.sendNow},
 * {@linkcode Connection.pollShared}) a request the kernel answers while it is sent (generic
 * netlink does) completes synchronously: no promise, no copy of the datagram.
 */
function exchange(
  conn: Connection,
  encode: Encode,
  op: string,
  notFoundOk = false,
): Maybe<Exchange> {
  const sequence = conn.nextSequence();
  const datagram = encode(sequence, conn.portId);
  const c = new Collector(sequence, conn.portId, op, notFoundOk);
  if (conn.sendNow !== undefined) {
    conn.sendNow(datagram);
    return drain(conn, c);
  }
  return conn.send(datagram).then(() => drain(conn, c));
}

function drain(conn: Connection, c: Collector): Maybe<Exchange> {
  if (conn.pollShared !== undefined) {
    for (let d = conn.pollShared(); d !== undefined; d = conn.pollShared()) {
      const done = c.feed(d, true);
      if (done !== undefined) return done;
    }
  }
  return drainLater(conn, c);
}

async function drainLater(conn: Connection, c: Collector): Promise<Exchange> {
  for (;;) {
    const done = c.feed(await conn.receive(), false);
    if (done !== undefined) return done;
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
  const encode = plainEncoder(req, NLM_F_REQUEST | NLM_F_ACK);
  return locked(conn, () => andThen(exchange(conn, encode, op), (x) => x.replies));
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
  return dumpWith(conn, plainEncoder(req, NLM_F_REQUEST | NLM_F_DUMP), op, options);
}

function dumpWith(
  conn: Connection,
  encode: Encode,
  op: string,
  options: DumpOptions,
): Promise<Message[]> {
  const retries = options.retries ?? 3;
  const attempt = (n: number): Maybe<Message[]> =>
    andThen(exchange(conn, encode, op), ({ replies, interrupted }) => {
      if (!interrupted) return replies;
      if (n >= retries) {
        throw new NetlinkError(op, Errno.EINTR, {
          message: `dump was interrupted by concurrent changes ${n + 1} times`,
        });
      }
      return attempt(n + 1);
    });
  return locked(conn, () => attempt(0));
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

function decodeFamily(replies: Message[], family: number): GenlMessage[] {
  const out: GenlMessage[] = [];
  for (const m of replies) if (m.header.type === family) out.push(decodeGenl(m.data));
  return out;
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
export function genlRequest(
  conn: Connection,
  family: number,
  g: GenlMessage,
  op: string,
): Promise<GenlMessage[]> {
  const encode = genlEncoder(conn, family, g, NLM_F_REQUEST | NLM_F_ACK);
  return locked(
    conn,
    () => andThen(exchange(conn, encode, op), (x) => decodeFamily(x.replies, family)),
  );
}

/**
 * {@linkcode genlRequest} for a GET of one object: a "no such object" answer (ENOENT, or ENODEV
 * as the l2tp family says it) resolves to `undefined` instead of rejecting. Cheaper than catching
 * the {@linkcode NetlinkError}: no error is built.
 *
 * @param conn The connection.
 * @param family The family id.
 * @param g The request.
 * @param op What is being done, for errors ("get tunnel 42").
 * @returns The replies, or `undefined` when the object does not exist.
 * @throws {NetlinkError} for any other error answer.
 * @example Usage
 * ```ts
 * import { FakeConnection, nack } from "./fake.ts";
 * import { genlGet } from "./conn.ts";
 * using conn = new FakeConnection({ handler: (req) => [nack(req, 19)] });
 * const g = { header: { command: 4, version: 1 }, attributes: new Uint8Array(0) };
 * console.log(await genlGet(conn, 0x1c, g, "get tunnel 1")); // undefined
 * ```
 */
export function genlGet(
  conn: Connection,
  family: number,
  g: GenlMessage,
  op: string,
): Promise<GenlMessage[] | undefined> {
  const encode = genlEncoder(conn, family, g, NLM_F_REQUEST | NLM_F_ACK);
  return locked(
    conn,
    () =>
      andThen(
        exchange(conn, encode, op, true),
        (x) => x.notFound ? undefined : decodeFamily(x.replies, family),
      ),
  );
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
  const encode = genlEncoder(conn, family, g, NLM_F_REQUEST | NLM_F_DUMP);
  return decodeFamily(await dumpWith(conn, encode, op, options), family);
}
