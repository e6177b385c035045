/**
 * Datagrams a control connection sends while it works through a batch of received ones, held
 * and sent together: the ICRPs answering the 16 ICRQs of one `recvmmsg` leave in one `sendmmsg`
 * instead of 16 `sendmsg` calls (each of which also wakes the peer). Sending starts when the
 * connection's jobs are done (`schedule`, the job queue's `whenIdle`), and at the latest after
 * {@linkcode HOLD_MAX_MS} (a timer), so that a job waiting for something slow (a hook, the
 * kernel) delays nothing by more than that. Order is kept. Used by control/tunnel_link.ts.
 *
 * @example Usage
 * ```ts
 * import { HeldSends } from "./held_sends.ts";
 * import { FakeClock } from "./clock.ts";
 * const idle: (() => void)[] = [];
 * const held = new HeldSends(
 *   (packets) => console.log("sent", packets.length),
 *   (flush) => idle.push(flush),
 *   new FakeClock(),
 * );
 * held.put(new Uint8Array(12));
 * held.put(new Uint8Array(12));
 * idle.forEach((flush) => flush()); // sent 2
 * ```
 *
 * @module
 */

import type { Clock, Timer } from "./clock.ts";

/**
 * The longest a datagram is held, in milliseconds, when the connection's jobs do not finish
 * sooner.
 *
 * @example Usage
 * ```ts
 * import { HOLD_MAX_MS } from "./held_sends.ts";
 * console.log(HOLD_MAX_MS); // 2
 * ```
 */
export const HOLD_MAX_MS = 2;

/**
 * Holds datagrams until the connection is idle (see the module documentation).
 *
 * @example Usage
 * ```ts
 * import { HeldSends } from "./held_sends.ts";
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock();
 * const held = new HeldSends((ps) => console.log("sent", ps.length), () => {}, clock);
 * held.put(new Uint8Array(12));
 * clock.advance(2); // sent 1 (the connection stayed busy: the time limit sent it)
 * ```
 */
export class HeldSends {
  readonly #send: (packets: Uint8Array[]) => void;
  readonly #schedule: (flush: () => void) => void;
  readonly #clock: Clock;
  readonly #onError: (e: unknown) => void;
  #held: Uint8Array[] = [];
  /** Whether a flush is scheduled with `schedule`. */
  #scheduled = false;
  /** The time limit's timer, while datagrams are held. */
  #limit: Timer | undefined;

  /**
   * Nothing held yet.
   *
   * @param send Sends datagrams, in order (one or several; it may throw: the datagrams are then
   *   lost, and the transport retransmits what needs it).
   * @param schedule Runs a callback once the connection's current jobs are done (at once when
   *   there are none).
   * @param clock For the time limit.
   * @param onError Told when `send` throws (default: nothing).
   */
  constructor(
    send: (packets: Uint8Array[]) => void,
    schedule: (flush: () => void) => void,
    clock: Clock,
    onError: (e: unknown) => void = () => {},
  ) {
    this.#send = send;
    this.#schedule = schedule;
    this.#clock = clock;
    this.#onError = onError;
  }

  /** How many datagrams are held. */
  get size(): number {
    return this.#held.length;
  }

  /**
   * Hold datagrams for the next flush (sent at once when the connection is idle).
   *
   * @param packets One datagram, or several in order.
   */
  put(packets: Uint8Array | readonly Uint8Array[]): void {
    if (packets instanceof Uint8Array) this.#held.push(packets);
    else this.#held.push(...packets);
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#schedule(this.#onIdle);
    }
    // Still held (the connection is busy): bound the wait.
    if (this.#held.length > 0 && this.#limit === undefined) {
      this.#limit = this.#clock.setTimer(HOLD_MAX_MS, this.#onLimit);
    }
  }

  /** Send what is held now. An error of `send` goes to `onError` (a loss, never thrown). */
  flush(): void {
    const held = this.#held;
    if (held.length === 0) return;
    this.#held = [];
    // Cancelled, not left to run out: a timer that fires for nothing still wakes the process.
    this.#limit?.cancel();
    this.#limit = undefined;
    try {
      this.#send(held);
    } catch (e) {
      // A lost batch: the transport's retransmission covers control messages.
      this.#onError(e);
    }
  }

  #onIdle = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  #onLimit = (): void => {
    this.#limit = undefined;
    this.flush();
  };
}
