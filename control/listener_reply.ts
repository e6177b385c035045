/**
 * What the listener (control/listener.ts) says to peers it keeps no state for, and about them:
 * stateless StopCCNs and the warnings a peer's datagrams cause.
 *
 * A stateless StopCCN (RFC 2661 §4.4.2 Result Code, §5.7; RFC 3931 §5.4.2) refuses one message
 * (an SCCRQ from a peer that matches no tunnel, one over a limit, an SCCCN to an expired
 * cookie): it acknowledges that message, goes out from the listening socket and is never
 * retransmitted, so each message a peer sends gets at most one reply, never more bytes than the
 * SCCRP it would have got, and nothing is kept. A peer that does not get it retransmits, or
 * gives up.
 *
 * The warnings about what peers send (refusals, drops) are rate-limited: at most 10 per 10 s,
 * then one line with the count of the rest, so that no flood of datagrams floods the log.
 *
 * @example Usage
 * ```ts
 * import { StatelessReplies } from "./listener_reply.ts";
 * import { FakeClock } from "./clock.ts";
 * import { StopCcnResult } from "./constants.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const net = new MemoryNetwork();
 * const local = { address: "192.0.2.2", port: 1701 };
 * const peer = { address: "192.0.2.1", port: 1701 };
 * const sent: number[] = [];
 * net.filter = (d) => (sent.push(d.data.length), d.data);
 * const replies = new StatelessReplies({ socket: net.socket(local), local, wire: "udp",
 *   clock: new FakeClock() });
 * replies.reject({ data: new Uint8Array(0), from: peer }, 2, 9, { ns: 0, nr: 1 },
 *   { resultCode: StopCcnResult.NotAuthorized }, "not a configured peer");
 * console.log(sent.length); // 1
 * ```
 *
 * @module
 */

import type { ResultCodeValue } from "./avp.ts";
import { buildStopccn } from "./builders.ts";
import type { Clock } from "./clock.ts";
import type { ControlLog, ControlSocket } from "./connection_types.ts";
import { NOOP_LOG } from "./connection_util.ts";
import { AvpType } from "./constants.ts";
import { formatEndpoint } from "./endpoint.ts";
import type { ControlPeek, L2tpVersion } from "./header.ts";
import { encodeControl, type EncodeOptions } from "./message.ts";
import type { Datagram, Endpoint } from "./types.ts";

/**
 * How a stateless reply is numbered and signed, and what it answers (for the log).
 *
 * @example Usage
 * ```ts
 * import type { Reply } from "./listener_reply.ts";
 * // The reply to an SCCCN (Ns 1) to the cookie 77: after our SCCRP (Ns 0), acknowledging it.
 * const r: Reply = { ns: 1, nr: 2, localTunnelId: 77, what: "SCCCN" };
 * console.log(r.nr); // 2
 * ```
 */
export interface Reply {
  /** Its Ns. */
  ns: number;
  /** Its Nr (acknowledging the message answered). */
  nr: number;
  /** Our tunnel ID in it (default 0: none assigned). */
  localTunnelId?: number;
  /** Codec options (L2TPv3 Message Digest with the nonces of the exchange). */
  encode?: Omit<EncodeOptions, "transport">;
  /** The message answered (default "SCCRQ"). */
  what?: string;
}

/**
 * Options of {@linkcode StatelessReplies}.
 *
 * @example Usage
 * ```ts
 * import type { StatelessRepliesOptions } from "./listener_reply.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const local = { address: "192.0.2.2", port: 1701 };
 * const o: StatelessRepliesOptions = { socket: new MemoryNetwork().socket(local), local,
 *   wire: "udp" };
 * console.log(o.wire); // udp
 * ```
 */
export interface StatelessRepliesOptions {
  /** The listening socket the replies go out from. */
  socket: ControlSocket;
  /** Its local endpoint (for the log). */
  local: Endpoint;
  /** How control messages are framed on it (L2TP/IP with the zero Session ID: "ip"). */
  wire: "ip" | "udp";
  /** Time of the warning windows (default `performance.now()`). */
  clock?: Pick<Clock, "now">;
  /** Log. */
  log?: ControlLog;
}

/** Warnings written per window before the rest are only counted. */
const WARNINGS_PER_WINDOW = 10;
/** Length of a warning window in milliseconds. */
const WARNING_WINDOW_MS = 10_000;

/**
 * The listener's stateless replies and rate-limited warnings (see the module documentation).
 *
 * @example Usage
 * ```ts
 * import { StatelessReplies } from "./listener_reply.ts";
 * import { FakeClock } from "./clock.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const local = { address: "192.0.2.2", port: 1701 };
 * const lines: string[] = [];
 * const log = { debug: (): void => {}, info: (): void => {}, error: (): void => {},
 *   warn: (m: string): void => void lines.push(m) };
 * const replies = new StatelessReplies({ socket: new MemoryNetwork().socket(local), local,
 *   wire: "udp", clock: new FakeClock(), log });
 * for (let i = 0; i < 100; i++) replies.drop("SCCRQ from {from} dropped", local);
 * console.log(replies.dropped, lines.length); // 100 10
 * ```
 */
export class StatelessReplies {
  readonly #opts: StatelessRepliesOptions;
  readonly #clock: Pick<Clock, "now">;
  readonly #log: ControlLog;
  #warnWindow = -Infinity;
  #warnCount = 0;
  #warnSuppressed = 0;
  #dropped = 0;

  /**
   * Replies from `options.socket`.
   *
   * @param options Socket, framing, clock, log.
   */
  constructor(options: StatelessRepliesOptions) {
    this.#opts = options;
    this.#clock = options.clock ?? { now: (): number => performance.now() };
    this.#log = options.log ?? NOOP_LOG;
  }

  /** Datagrams dropped without an answer so far (see {@linkcode StatelessReplies.drop}). */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * A warning caused by what a peer sent: at most 10 per 10 s, then a count of the rest.
   *
   * @param message The log message template.
   * @param properties Its properties.
   */
  warn(message: string, properties: Record<string, unknown>): void {
    const now = this.#clock.now();
    if (now - this.#warnWindow >= WARNING_WINDOW_MS) {
      if (this.#warnSuppressed > 0) {
        this.#log.warn("listener on {local}: {n} more such warnings were suppressed", {
          local: formatEndpoint(this.#opts.local),
          n: this.#warnSuppressed,
        });
      }
      this.#warnWindow = now;
      this.#warnCount = 0;
      this.#warnSuppressed = 0;
    }
    if (this.#warnCount++ < WARNINGS_PER_WINDOW) this.#log.warn(message, properties);
    else this.#warnSuppressed++;
  }

  /**
   * A datagram dropped without an answer: counted, and a rate-limited warning.
   *
   * @param what What was dropped and why (a template after `listener on {local}: `).
   * @param from Its sender.
   * @param properties More properties of the template.
   */
  drop(what: string, from: Endpoint, properties: Record<string, unknown> = {}): void {
    this.#dropped++;
    this.warn(`listener on {local}: ${what}`, {
      local: formatEndpoint(this.#opts.local),
      from: formatEndpoint(from),
      ...properties,
    });
  }

  /**
   * A stateless StopCCN: one per message refused, acknowledging it, never retransmitted; and a
   * rate-limited warning.
   *
   * @param d The message refused.
   * @param version Protocol version.
   * @param peerTunnelId The peer's tunnel ID (the StopCCN's header is addressed to it).
   * @param seq How the StopCCN is numbered and signed.
   * @param result Its Result Code.
   * @param why Why, for the log.
   */
  reject(
    d: Datagram,
    version: L2tpVersion,
    peerTunnelId: number,
    seq: Reply,
    result: ResultCodeValue,
    why: string,
  ): void {
    this.warn("listener on {local}: {what} from {from} refused: {why}", {
      local: formatEndpoint(this.#opts.local),
      what: seq.what ?? "SCCRQ",
      from: formatEndpoint(d.from),
      why,
    });
    const stop = buildStopccn(version, seq.localTunnelId ?? 0, result);
    const bytes = encodeControl({
      version,
      tunnelId: peerTunnelId,
      ns: seq.ns,
      nr: seq.nr,
      type: stop.type,
      avps: stop.avps,
    }, { ...seq.encode, transport: this.#opts.wire });
    this.send(bytes, d.from);
  }

  /**
   * Send a datagram from the listening socket; a failure is ignored.
   *
   * @param bytes The datagram.
   * @param to Where to.
   */
  send(bytes: Uint8Array, to: Endpoint): void {
    try {
      this.#opts.socket.send(bytes, to);
    } catch {
      // A lost answer is like one lost on the way: the peer retransmits, or gives up.
    }
  }
}

/**
 * The Message Type of a control message (its first AVP, RFC 2661 §3.2), without decoding it.
 *
 * @param data The datagram.
 * @param peek Its header, from `peekHeader`.
 * @returns The type, or undefined when the first AVP is not a plain Message Type AVP.
 *
 * @example Usage
 * ```ts
 * import { messageTypeOf } from "./listener_reply.ts";
 * import { buildStopccn } from "./builders.ts";
 * import { peekHeader } from "./header.ts";
 * import { encodeControl } from "./message.ts";
 * const data = encodeControl({ version: 2, tunnelId: 9, ns: 1, nr: 2,
 *   ...buildStopccn(2, 5, { resultCode: 1 }) });
 * const peek = peekHeader(data, "udp");
 * if (peek.kind === "control") console.log(messageTypeOf(data, peek)); // 4
 * ```
 */
export function messageTypeOf(data: Uint8Array, peek: ControlPeek): number | undefined {
  const o = peek.offset + 12;
  if (data.length < o + 8) return undefined;
  const hidden = (data[o] & 0x40) !== 0;
  const length = ((data[o] & 0x03) << 8) | data[o + 1];
  const vendor = (data[o + 2] << 8) | data[o + 3];
  const type = (data[o + 4] << 8) | data[o + 5];
  if (hidden || length !== 8 || vendor !== 0 || type !== AvpType.MessageType) return undefined;
  return (data[o + 6] << 8) | data[o + 7];
}
