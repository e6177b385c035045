/**
 * The queues of a {@linkcode ControlTransport}: messages to send waiting for the window to open
 * (a {@linkcode Fifo}), messages received ahead of the next expected Ns waiting for the gap to
 * fill (a {@linkcode ReorderQueue}, RFC 2661 §5.8: up to our receive window), and delivered
 * messages, in order and exactly once, for the `onMessage` callback or the transport's async
 * iterator (a {@linkcode MessageInbox}), which ends (or throws the failure) once the transport
 * has ended and every delivered message was taken. Used by control/transport.ts.
 *
 * @example Usage
 * ```ts
 * import { MessageInbox } from "./transport_queues.ts";
 * import { MessageType } from "./constants.ts";
 * import { decodeControl, encodeControl } from "./message.ts";
 * const hello = decodeControl(encodeControl({ version: 2, tunnelId: 1, ns: 0, nr: 0, type: MessageType.HELLO }));
 * const inbox = new MessageInbox();
 * inbox.deliver(hello);
 * console.log((await inbox.next(undefined)).value?.type); // 6
 * console.log((await inbox.next({ reason: "closed" })).done); // true
 * ```
 *
 * @module
 */

import type { ControlMessage } from "./message.ts";
import type { TransportEnd } from "./transport_types.ts";

/**
 * A first-in first-out queue that takes from the front in constant time: taken slots are
 * cleared at once and the array is compacted now and then.
 *
 * @typeParam T The items.
 *
 * @example Usage
 * ```ts
 * import { Fifo } from "./transport_queues.ts";
 * const q = new Fifo<string>();
 * q.push("a");
 * q.push("b");
 * console.log(q.shift(), q.length, q.drain()); // a 1 [ "b" ]
 * ```
 */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** How many items are queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /**
   * Add an item at the back.
   *
   * @param item The item.
   */
  push(item: T): void {
    this.#items.push(item);
  }

  /**
   * Take the front item.
   *
   * @returns It, or `undefined` if the queue is empty.
   */
  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    return item;
  }

  /**
   * Take every item, leaving the queue empty.
   *
   * @returns The items, front first.
   */
  drain(): T[] {
    const items = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return items;
  }
}

/**
 * Messages received ahead of the one expected next, each in the slot of its distance from it,
 * in a ring of our receive window's size.
 *
 * @example Usage
 * ```ts
 * import { ReorderQueue } from "./transport_queues.ts";
 * const q = new ReorderQueue(4);
 * console.log(q.hold(1, new Uint8Array([1])), q.hold(1, new Uint8Array([1]))); // true false
 * q.advance(); // the expected message arrived
 * console.log(q.take()); // Uint8Array(1) [ 1 ]
 * ```
 */
export class ReorderQueue {
  readonly #slots: (Uint8Array | undefined)[];
  #head = 0;

  /**
   * An empty queue.
   *
   * @param size Our receive window (1..32767).
   */
  constructor(size: number) {
    this.#slots = new Array(size).fill(undefined);
  }

  /**
   * Keep a message that arrived `distance` ahead of the expected one.
   *
   * @param distance 1 up to the window size less 1.
   * @param packet The datagram.
   * @returns `false` if one is held there already (a duplicate).
   */
  hold(distance: number, packet: Uint8Array): boolean {
    const slot = (this.#head + distance) % this.#slots.length;
    if (this.#slots[slot] !== undefined) return false;
    this.#slots[slot] = packet;
    return true;
  }

  /** The expected message was taken: the next one is expected now. */
  advance(): void {
    this.#head = (this.#head + 1) % this.#slots.length;
  }

  /**
   * Take the expected message if it is held.
   *
   * @returns The datagram, or `undefined`.
   */
  take(): Uint8Array | undefined {
    const packet = this.#slots[this.#head];
    this.#slots[this.#head] = undefined;
    return packet;
  }

  /** Drop every message held. */
  clear(): void {
    this.#slots.fill(undefined);
  }
}

interface Waiter {
  resolve: (r: IteratorResult<ControlMessage>) => void;
  reject: (e: unknown) => void;
}

/**
 * The delivered messages of a transport, for its callback or its iterator.
 *
 * @example Usage
 * ```ts
 * import { MessageInbox } from "./transport_queues.ts";
 * import { MessageType } from "./constants.ts";
 * import { decodeControl, encodeControl } from "./message.ts";
 * const hello = decodeControl(encodeControl({ version: 2, tunnelId: 1, ns: 0, nr: 0, type: MessageType.HELLO }));
 * const inbox = new MessageInbox((msg) => console.log("got", msg.type));
 * inbox.deliver(hello); // got 6
 * ```
 */
export class MessageInbox {
  readonly #onMessage: ((msg: ControlMessage) => void) | undefined;
  readonly #queue = new Fifo<ControlMessage>();
  #waiters: Waiter[] = [];

  /**
   * An empty inbox.
   *
   * @param onMessage Each message is passed here, synchronously, instead of being queued.
   */
  constructor(onMessage?: (msg: ControlMessage) => void) {
    this.#onMessage = onMessage;
  }

  /**
   * Deliver a message: to the callback, to a waiting reader, or to the queue.
   *
   * @param msg The message.
   */
  deliver(msg: ControlMessage): void {
    if (this.#onMessage !== undefined) {
      try {
        this.#onMessage(msg);
      } catch (e) {
        // A bug in the consumer: surface it as an unhandled rejection (the daemon logs it and
        // shuts down cleanly) rather than an uncaught exception that ends the process at once.
        Promise.reject(e);
      }
      return;
    }
    const w = this.#waiters.shift();
    if (w !== undefined) w.resolve({ done: false, value: msg });
    else this.#queue.push(msg);
  }

  /**
   * The next message: queued, or the next delivered; `done` (or the failure) once the transport
   * has ended and the queue is empty.
   *
   * @param end How the transport ended, if it has.
   * @returns The iterator result.
   */
  next(end: TransportEnd | undefined): Promise<IteratorResult<ControlMessage>> {
    if (this.#queue.length > 0) {
      return Promise.resolve({ done: false, value: this.#queue.shift() as ControlMessage });
    }
    if (end !== undefined) {
      return end.reason === "failed"
        ? Promise.reject(end.error)
        : Promise.resolve({ done: true, value: undefined });
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * The transport ended: readers waiting for a message get `done`, or the failure.
   *
   * @param end How it ended.
   */
  end(end: TransportEnd): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (end.reason === "failed") w.reject(end.error);
      else w.resolve({ done: true, value: undefined });
    }
  }
}
