/**
 * Where a control connection's events go: to a listener given up front, or else to an async
 * iterator, which keeps a bounded backlog while nobody reads it and finishes once the stream is
 * ended.
 *
 * @example Usage
 * ```ts
 * import { EventStream } from "./event_stream.ts";
 * const events = new EventStream<string>({});
 * events.emit("tunnel-up");
 * events.end();
 * for await (const e of events) console.log(e); // tunnel-up
 * ```
 *
 * @module
 */

/**
 * Options of {@linkcode EventStream}.
 *
 * @example Usage
 * ```ts
 * import type { EventStreamOptions } from "./event_stream.ts";
 * const o: EventStreamOptions<number> = { onEvent: (n) => console.log(n), backlog: 8 };
 * console.log(o.backlog); // 8
 * ```
 */
export interface EventStreamOptions<E> {
  /** Events go here instead of the iterator (which then stays empty). */
  onEvent?: (event: E) => void;
  /** Told when `onEvent` throws (the event is then dropped). */
  onListenerError?: (error: unknown) => void;
  /** Events kept while nobody reads the iterator; the oldest go first (default 1024). */
  backlog?: number;
}

/** Events kept for the async iterator while nobody reads it. */
const DEFAULT_BACKLOG = 1024;

/**
 * A stream of events (see the module documentation).
 *
 * @example Usage
 * ```ts
 * import { EventStream } from "./event_stream.ts";
 * const seen: number[] = [];
 * const events = new EventStream<number>({ onEvent: (n) => seen.push(n) });
 * events.emit(1);
 * events.emit(2);
 * console.log(seen); // [ 1, 2 ]
 * ```
 */
export class EventStream<E> implements AsyncIterable<E> {
  readonly #onEvent: ((event: E) => void) | undefined;
  readonly #onListenerError: (error: unknown) => void;
  readonly #backlog: number;
  #events: E[] = [];
  #waiters: ((r: IteratorResult<E>) => void)[] = [];
  #ended = false;

  /**
   * A stream with no events yet.
   *
   * @param options The listener, its error report and the backlog size.
   */
  constructor(options: EventStreamOptions<E>) {
    this.#onEvent = options.onEvent;
    this.#onListenerError = options.onListenerError ?? ((): void => {});
    this.#backlog = options.backlog ?? DEFAULT_BACKLOG;
  }

  /** Whether {@linkcode EventStream.end} was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Report one event: to the listener, else to a waiting reader, else into the backlog.
   *
   * @param event The event.
   */
  emit(event: E): void {
    if (this.#onEvent) {
      try {
        this.#onEvent(event);
      } catch (err) {
        this.#onListenerError(err);
      }
      return;
    }
    const w = this.#waiters.shift();
    if (w) {
      w({ done: false, value: event });
      return;
    }
    // Nobody reading: keep the newest events only, so an unread iterator cannot grow forever.
    if (this.#events.length >= this.#backlog) this.#events.shift();
    this.#events.push(event);
  }

  /** No more events: waiting readers finish, later ones get the backlog and then finish. */
  end(): void {
    this.#ended = true;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w({ done: true, value: undefined });
  }

  /**
   * The events, until the stream is ended (empty when a listener was given).
   *
   * @returns The iterator.
   */
  [Symbol.asyncIterator](): AsyncIterator<E> {
    return {
      next: (): Promise<IteratorResult<E>> => {
        const e = this.#events.shift();
        if (e !== undefined) return Promise.resolve({ done: false, value: e });
        if (this.#ended) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: (): Promise<IteratorResult<E>> => Promise.resolve({ done: true, value: undefined }),
    };
  }
}
