/**
 * Events of a {@linkcode Context}: tunnels and sessions coming up and going down, delivered to
 * any number of independent consumers.
 *
 * Every consumer gets its own bounded buffer. The protocol never waits for a consumer: when a
 * consumer's buffer is full, its oldest event is dropped and counted in
 * {@linkcode EventStream.dropped}; a consumer that sees the count grow can take a fresh
 * `ctx.status()` snapshot to resynchronise.
 *
 * @example Usage
 * ```ts
 * import { EventHub } from "./events.ts";
 * const hub = new EventHub();
 * const stream = hub.subscribe();
 * hub.publish({
 *   type: "tunnel-down", time: new Date(0).toISOString(), tunnel: "t1", localTunnelId: 1,
 *   reason: "closed",
 * });
 * hub.close();
 * for await (const e of stream) console.log(e.type, e.tunnel); // tunnel-down t1
 * ```
 *
 * @module
 */

import type { Endpoint } from "../control/types.ts";

/** Every event type. More may be added; consumers should ignore types they do not know. */
export type EventType = "tunnel-up" | "tunnel-down" | "session-up" | "session-down";

/**
 * Fields every event has.
 *
 * @example Usage
 * ```ts
 * import type { EventBase } from "./events.ts";
 * const e: EventBase = { type: "tunnel-up", time: "2026-01-01T00:00:00.000Z", tunnel: "t1" };
 * console.log(e.tunnel); // t1
 * ```
 */
export interface EventBase {
  /** What happened. */
  type: EventType;
  /** When, as an ISO 8601 timestamp. */
  time: string;
  /** The tunnel's name. */
  tunnel: string;
}

/**
 * A tunnel is up: its kernel context exists (static), or its control connection is established.
 *
 * @example Usage
 * ```ts
 * import type { TunnelUpEvent } from "./events.ts";
 * const e: TunnelUpEvent = {
 *   type: "tunnel-up", time: "2026-01-01T00:00:00.000Z", tunnel: "t1", version: 3,
 *   encap: "ip", localTunnelId: 1, peerTunnelId: 2, peer: { address: "192.0.2.2", port: 0 },
 * };
 * console.log(e.peerTunnelId); // 2
 * ```
 */
export interface TunnelUpEvent extends EventBase {
  /** Discriminant. */
  type: "tunnel-up";
  /** L2TP version. */
  version: 2 | 3;
  /** Encapsulation. */
  encap: "udp" | "ip";
  /** Our tunnel ID. */
  localTunnelId: number;
  /** The peer's tunnel ID. */
  peerTunnelId: number;
  /** The peer's address (port 0 over IP). */
  peer: Endpoint;
  /** Our address, when known. */
  local?: Endpoint;
  /** The peer's Host Name AVP (dynamic tunnels). */
  peerHostName?: string;
}

/**
 * A tunnel went down (or, for a tunnel that never came up, gave up).
 *
 * @example Usage
 * ```ts
 * import type { TunnelDownEvent } from "./events.ts";
 * const e: TunnelDownEvent = {
 *   type: "tunnel-down", time: "2026-01-01T00:00:00.000Z", tunnel: "t1", localTunnelId: 1,
 *   reason: "StopCCN from peer: result 6 (shutting down)", resultCode: 6,
 * };
 * console.log(e.resultCode); // 6
 * ```
 */
export interface TunnelDownEvent extends EventBase {
  /** Discriminant. */
  type: "tunnel-down";
  /** Our tunnel ID (0 if none was assigned). */
  localTunnelId: number;
  /** The peer's tunnel ID, when known. */
  peerTunnelId?: number;
  /** The peer's address, when known. */
  peer?: Endpoint;
  /** Why, in words. */
  reason: string;
  /** The StopCCN Result Code (sent or received), when there was one. */
  resultCode?: number;
  /** Whether the tunnel had come up before it went down. */
  wasUp?: boolean;
}

/**
 * A session is up: its kernel session (and pppd, for PPP) exists.
 *
 * @example Usage
 * ```ts
 * import type { SessionUpEvent } from "./events.ts";
 * const e: SessionUpEvent = {
 *   type: "session-up", time: "2026-01-01T00:00:00.000Z", tunnel: "t1", session: "s1",
 *   localTunnelId: 1, peerTunnelId: 2, localSessionId: 10, peerSessionId: 20,
 *   peer: { address: "192.0.2.2", port: 1701 }, pseudowire: "eth", interface: "l2tpeth0",
 * };
 * console.log(e.interface); // l2tpeth0
 * ```
 */
export interface SessionUpEvent extends EventBase {
  /** Discriminant. */
  type: "session-up";
  /** The session's name. */
  session: string;
  /** Our tunnel ID. */
  localTunnelId: number;
  /** The peer's tunnel ID. */
  peerTunnelId: number;
  /** Our session ID. */
  localSessionId: number;
  /** The peer's session ID. */
  peerSessionId: number;
  /** The peer's address. */
  peer: Endpoint;
  /** The pseudowire. */
  pseudowire: string;
  /** The network interface, when there is one (Ethernet pseudowires, PPP once pppd named it). */
  interface?: string;
  /** For a pppac session: the PPPoE session it relays (RFC 2516 SESSION_ID). */
  pppoeSessionId?: number;
  /** For a pppac session: the PPPoE subscriber's MAC address ("aa:bb:cc:dd:ee:ff"). */
  pppoePeerMac?: string;
}

/**
 * A session went down.
 *
 * @example Usage
 * ```ts
 * import type { SessionDownEvent } from "./events.ts";
 * const e: SessionDownEvent = {
 *   type: "session-down", time: "2026-01-01T00:00:00.000Z", tunnel: "t1", session: "s1",
 *   localTunnelId: 1, localSessionId: 10, reason: "closed", resultCode: 3,
 * };
 * console.log(e.reason); // closed
 * ```
 */
export interface SessionDownEvent extends EventBase {
  /** Discriminant. */
  type: "session-down";
  /** The session's name. */
  session: string;
  /** Our tunnel ID. */
  localTunnelId: number;
  /** Our session ID (0 if none was assigned). */
  localSessionId: number;
  /** The peer's session ID, when known. */
  peerSessionId?: number;
  /** The peer's address, when known. */
  peer?: Endpoint;
  /** Why, in words. */
  reason: string;
  /** The CDN Result Code (sent or received), when there was one. */
  resultCode?: number;
  /** For a pppac session: the PPPoE session it relays (RFC 2516 SESSION_ID). */
  pppoeSessionId?: number;
  /** For a pppac session: the PPPoE subscriber's MAC address ("aa:bb:cc:dd:ee:ff"). */
  pppoePeerMac?: string;
}

/**
 * Any event.
 *
 * @example Usage
 * ```ts
 * import type { L2tpEvent } from "./events.ts";
 * function describe(e: L2tpEvent): string {
 *   return e.type === "session-up" || e.type === "session-down"
 *     ? `${e.type} ${e.tunnel}/${e.session}`
 *     : `${e.type} ${e.tunnel}`;
 * }
 * console.log(describe({
 *   type: "tunnel-down", time: "", tunnel: "t1", localTunnelId: 0, reason: "closed",
 * })); // tunnel-down t1
 * ```
 */
export type L2tpEvent = TunnelUpEvent | TunnelDownEvent | SessionUpEvent | SessionDownEvent;

/**
 * Options of {@linkcode EventHub.subscribe}.
 *
 * @example Usage
 * ```ts
 * import type { SubscribeOptions } from "./events.ts";
 * const opts: SubscribeOptions = { bufferSize: 64 };
 * console.log(opts.bufferSize); // 64
 * ```
 */
export interface SubscribeOptions {
  /** Most events held for this consumer (default 1024); beyond it the oldest is dropped. */
  bufferSize?: number;
  /** Ends the stream when aborted. */
  signal?: AbortSignal;
}

/** Default per-consumer buffer. */
const DEFAULT_BUFFER = 1024;

/**
 * One consumer's view of the events: an async iterator over a bounded buffer.
 *
 * @example Usage
 * ```ts
 * import { EventHub } from "./events.ts";
 * const hub = new EventHub();
 * const stream = hub.subscribe({ bufferSize: 1 });
 * for (const localTunnelId of [1, 2]) {
 *   hub.publish({ type: "tunnel-down", time: "", tunnel: "t", localTunnelId, reason: "x" });
 * }
 * console.log(stream.dropped); // 1
 * stream.close();
 * ```
 */
export class EventStream implements AsyncIterableIterator<L2tpEvent> {
  readonly #buffer: L2tpEvent[] = [];
  readonly #size: number;
  readonly #onClose: (s: EventStream) => void;
  #dropped = 0;
  #closed = false;
  #wake?: () => void;

  /**
   * A stream; {@linkcode EventHub.subscribe} makes them.
   *
   * @param size Most events buffered.
   * @param onClose Called once when the stream ends.
   */
  constructor(size: number, onClose: (s: EventStream) => void) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`Cannot subscribe: bufferSize ${size} is not a positive integer`);
    }
    this.#size = size;
    this.#onClose = onClose;
  }

  /** Events dropped because this consumer's buffer was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Whether the stream has ended (no more events will be added). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Add an event (the hub calls this); drops the oldest when full. Never blocks.
   *
   * @param event The event.
   */
  push(event: L2tpEvent): void {
    if (this.#closed) return;
    if (this.#buffer.length >= this.#size) {
      this.#buffer.shift();
      this.#dropped++;
    }
    this.#buffer.push(event);
    this.#wakeUp();
  }

  /** End the stream: buffered events are still delivered, then iteration ends. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose(this);
    this.#wakeUp();
  }

  /** The next event; `done` once the stream is closed and drained. */
  async next(): Promise<IteratorResult<L2tpEvent, undefined>> {
    while (this.#buffer.length === 0) {
      if (this.#closed) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    return { done: false, value: this.#buffer.shift() as L2tpEvent };
  }

  /** Stop consuming (a `break` out of `for await`): the stream closes, buffered events go. */
  return(): Promise<IteratorResult<L2tpEvent, undefined>> {
    this.#buffer.length = 0;
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  /** The stream itself. */
  [Symbol.asyncIterator](): EventStream {
    return this;
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/**
 * Fans events out to every subscribed {@linkcode EventStream}.
 *
 * @example Usage
 * ```ts
 * import { EventHub } from "./events.ts";
 * const hub = new EventHub();
 * const a = hub.subscribe();
 * const b = hub.subscribe();
 * hub.publish({ type: "tunnel-down", time: "", tunnel: "t", localTunnelId: 1, reason: "x" });
 * hub.close();
 * console.log((await a.next()).value?.tunnel, (await b.next()).value?.tunnel); // t t
 * ```
 */
export class EventHub {
  readonly #streams = new Set<EventStream>();
  readonly #listeners = new Set<(e: L2tpEvent) => void>();
  #closed = false;

  /**
   * A new consumer: it sees every event published from now on.
   *
   * @param options Buffer size and an abort signal.
   * @returns The consumer's stream (already ended if the hub is closed).
   */
  subscribe(options: SubscribeOptions = {}): EventStream {
    const stream = new EventStream(
      options.bufferSize ?? DEFAULT_BUFFER,
      (s) => this.#streams.delete(s),
    );
    if (this.#closed) {
      stream.close();
      return stream;
    }
    this.#streams.add(stream);
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) stream.close();
      else signal.addEventListener("abort", () => stream.close(), { once: true });
    }
    return stream;
  }

  /**
   * A synchronous listener, called in order for every event (the daemon's log is one). It must
   * not throw or block; an exception is swallowed.
   *
   * @param listener The function.
   * @returns A function that removes the listener.
   */
  listen(listener: (e: L2tpEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Deliver an event to every consumer; never blocks.
   *
   * @param event The event.
   */
  publish(event: L2tpEvent): void {
    if (this.#closed) return;
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch {
        // A listener's failure must not stop the protocol or the other consumers.
      }
    }
    for (const s of this.#streams) s.push(event);
  }

  /** End every stream (they still deliver what they hold); later publishes are ignored. */
  close(): void {
    this.#closed = true;
    for (const s of [...this.#streams]) s.close();
    this.#listeners.clear();
  }
}
