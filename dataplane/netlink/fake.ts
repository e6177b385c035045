/**
 * An in-memory {@linkcode Connection} for tests: records what is sent and answers through a
 * handler, so the request logic and the data plane run without root or kernel modules.
 *
 * @module
 */

import type { Connection } from "./conn.ts";
import type { ExtAck } from "./errors.ts";
import { familyResolveError, NLE } from "./libnl.ts";
import {
  decodeMessages,
  encodeDone,
  encodeError,
  encodeGenl,
  encodeMessage,
  type GenlMessage,
  type Message,
  NLM_F_MULTI,
} from "./message.ts";

/**
 * Answers one request: returns the datagrams the "kernel" sends back (or nothing).
 *
 * @example Usage
 * ```ts
 * import { ack, type FakeHandler } from "./fake.ts";
 * const handler: FakeHandler = (req) => [ack(req)];
 * console.log(handler);
 * ```
 */
export type FakeHandler = (request: Message, conn: FakeConnection) => Uint8Array[] | void;

/**
 * Options for {@linkcode FakeConnection}.
 *
 * @example Usage
 * ```ts
 * import type { FakeConnectionOptions } from "./fake.ts";
 * const o: FakeConnectionOptions = { families: { l2tp: 0x1c } };
 * console.log(o);
 * ```
 */
export interface FakeConnectionOptions {
  /** Port id to report (default 4242). */
  portId?: number;
  /** First sequence number (default 1). */
  firstSequence?: number;
  /** Known families, name to id (default none). */
  families?: Record<string, number>;
  /** Answers requests (default: answer nothing). */
  handler?: FakeHandler;
}

/**
 * A fake netlink connection.
 *
 * @example Usage
 * ```ts
 * import { ack, FakeConnection } from "./fake.ts";
 * import { request } from "./conn.ts";
 * using conn = new FakeConnection({ handler: (req) => [ack(req)] });
 * await request(conn, { type: 0x1c, data: new Uint8Array([2, 1, 0, 0]) }, "delete tunnel 1");
 * console.log(conn.sent.length); // 1
 * ```
 */
export class FakeConnection implements Connection {
  /** Our port id. */
  readonly portId: number;
  /** Every message sent, decoded, in order. */
  readonly sent: Message[] = [];
  /** Every datagram sent, as bytes. */
  readonly sentBytes: Uint8Array[] = [];
  /** Families `resolveFamily` knows. */
  readonly families: Map<string, number>;
  /** The current handler; replace it between steps of a test. */
  handler: FakeHandler;
  #queue: Uint8Array[] = [];
  #sequence: number;
  #closed = false;

  /**
   * Make a fake connection.
   *
   * @param options Port id, families and handler.
   */
  constructor(options: FakeConnectionOptions = {}) {
    this.portId = options.portId ?? 4242;
    this.#sequence = options.firstSequence ?? 1;
    this.families = new Map(Object.entries(options.families ?? {}));
    this.handler = options.handler ?? ((): void => {});
  }

  /** Whether {@linkcode FakeConnection.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Datagrams queued and not yet received. */
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * A fresh sequence number.
   *
   * @returns The next sequence number.
   */
  nextSequence(): number {
    return this.#sequence++;
  }

  /**
   * Queue a datagram for {@linkcode FakeConnection.receive}, as if the kernel sent it.
   *
   * @param datagram Encoded messages.
   */
  push(datagram: Uint8Array): void {
    this.#queue.push(datagram);
  }

  /**
   * Record a datagram and queue the handler's answers.
   *
   * @param datagram Encoded messages.
   */
  send(datagram: Uint8Array): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new Error("Cannot send netlink request: the netlink connection is closed"),
      );
    }
    this.sentBytes.push(datagram.slice());
    for (const m of decodeMessages(datagram.slice())) {
      this.sent.push(m);
      for (const reply of this.handler(m, this) ?? []) this.#queue.push(reply);
    }
    return Promise.resolve();
  }

  /**
   * The next queued datagram; rejects when none is queued (a real socket would time out).
   *
   * @returns The datagram.
   */
  receive(): Promise<Uint8Array> {
    if (this.#closed) {
      return Promise.reject(
        new Error("Cannot receive netlink reply: the netlink connection is closed"),
      );
    }
    const next = this.#queue.shift();
    if (next === undefined) {
      return Promise.reject(
        new Error("Cannot receive netlink reply: no answer queued in the fake"),
      );
    }
    return Promise.resolve(next);
  }

  /**
   * Look a family up in {@linkcode FakeConnection.families}.
   *
   * @param name Family name.
   * @returns The family id.
   */
  resolveFamily(name: string): Promise<number> {
    const id = this.families.get(name);
    if (id === undefined) {
      return Promise.reject(familyResolveError(name, NLE.OBJ_NOTFOUND, "Object not found"));
    }
    return Promise.resolve(id);
  }

  /** Mark the connection closed. Idempotent. */
  close(): void {
    this.#closed = true;
  }

  /** Same as {@linkcode FakeConnection.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * An acknowledgement (NLMSG_ERROR with error 0) for `request`.
 *
 * @example Usage
 * ```ts
 * import { ack, FakeConnection } from "./fake.ts";
 * import { request } from "./conn.ts";
 * using conn = new FakeConnection({ handler: (req) => [ack(req)] });
 * console.log(await request(conn, { type: 0x1c, data: new Uint8Array(4) }, "delete tunnel 1")); // []
 * ```
 */
export function ack(request: Message): Uint8Array {
  return encodeError(request.header, 0);
}

/**
 * An error answer for `request`: errno and optional extended ack (capped, as with
 * NETLINK_CAP_ACK).
 *
 * @example Usage
 * ```ts
 * import { FakeConnection, nack } from "./fake.ts";
 * import { request } from "./conn.ts";
 * using conn = new FakeConnection({ handler: (req) => [nack(req, 17, { message: "exists" })] });
 * await request(conn, { type: 0x1c, data: new Uint8Array(4) }, "create tunnel 1").catch((e) => {
 *   console.log(e.message); // "Cannot create tunnel 1: File exists (errno 17): exists"
 * });
 * ```
 */
export function nack(request: Message, errno: number, extAck?: ExtAck): Uint8Array {
  return encodeError(request.header, errno, extAck);
}

/**
 * A generic netlink reply to `request` (same family, sequence and port id).
 *
 * @param request The request being answered.
 * @param g The reply's genl header and attributes.
 * @param multi Mark it NLM_F_MULTI (a dump part).
 * @param extraFlags More flags (e.g. NLM_F_DUMP_INTR).
 * @example Usage
 * ```ts
 * import { done, FakeConnection, genlReply } from "./fake.ts";
 * import { genlDump } from "./conn.ts";
 * const g = { header: { command: 4, version: 1 }, attributes: new Uint8Array(0) };
 * using conn = new FakeConnection({ handler: (req) => [genlReply(req, g, true), done(req)] });
 * console.log((await genlDump(conn, 0x1c, g, "list tunnels")).length); // 1
 * ```
 */
export function genlReply(
  request: Message,
  g: GenlMessage,
  multi = false,
  extraFlags = 0,
): Uint8Array {
  return encodeMessage({
    type: request.header.type,
    flags: (multi ? NLM_F_MULTI : 0) | extraFlags,
    sequence: request.header.sequence,
    pid: request.header.pid,
    data: encodeGenl(g),
  });
}

/**
 * NLMSG_DONE ending a dump for `request`.
 *
 * @example Usage
 * ```ts
 * import { done, FakeConnection } from "./fake.ts";
 * import { dump } from "./conn.ts";
 * using conn = new FakeConnection({ handler: (req) => [done(req)] });
 * console.log(await dump(conn, { type: 0x1c, data: new Uint8Array(4) }, "list tunnels")); // []
 * ```
 */
export function done(request: Message, errno = 0, extAck?: ExtAck): Uint8Array {
  return encodeDone(request.header, errno, extAck);
}

/**
 * Concatenate datagrams' messages into one datagram (the kernel packs dump parts this way).
 *
 * @example Usage
 * ```ts
 * import { concat } from "./fake.ts";
 * const one = concat(new Uint8Array([1, 2]), new Uint8Array([3]));
 * console.log(one); // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export function concat(...datagrams: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(datagrams.reduce((n, d) => n + d.length, 0));
  let at = 0;
  for (const d of datagrams) {
    out.set(d, at);
    at += d.length;
  }
  return out;
}
