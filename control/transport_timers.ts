/**
 * The timers of a {@linkcode ControlTransport}: the retransmission timer with its doubling
 * timeout (RFC 2661 §5.8, RFC 3931 §4.2: 1 s at first, doubling up to a cap of no less than 8 s),
 * the delayed acknowledgement (RFC 2661 §5.8 and Appendix A: a ZLB, or an L2TPv3 ACK, sent
 * shortly after a message arrives unless an outgoing message carries the new Nr first) and the
 * keepalive that sends a HELLO after a time without any message from the peer. All run on an
 * injected {@linkcode Clock}. Used by control/transport.ts.
 *
 * @example Usage
 * ```ts
 * import { RetransmitTimer } from "./transport_timers.ts";
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock();
 * const rtx = new RetransmitTimer(clock, 1000, 8000, () => console.log("retransmit"));
 * rtx.arm(1000);
 * clock.advance(1000); // retransmit
 * console.log(rtx.backoff(4)); // 8000
 * ```
 *
 * @module
 */

import type { Clock, Timer } from "./clock.ts";

/**
 * The retransmission timer of the oldest unacknowledged message. Its deadline may move later
 * without the timer being re-armed (every acknowledgement moves it): when the timer fires early,
 * {@linkcode RetransmitTimer.due} re-arms it for the deadline.
 *
 * @example Usage
 * ```ts
 * import { RetransmitTimer } from "./transport_timers.ts";
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock();
 * const rtx: RetransmitTimer = new RetransmitTimer(clock, 1000, 8000, () => {
 *   if (rtx.due(clock.now())) console.log("due at", clock.now());
 * });
 * rtx.arm(1000);
 * rtx.arm(1500); // later: the timer still fires at 1000, then waits for 1500
 * clock.advance(1000);
 * clock.advance(500); // due at 1500
 * ```
 */
export class RetransmitTimer {
  readonly #clock: Clock;
  readonly #initial: number;
  readonly #cap: number;
  readonly #onExpire: () => void;
  #timer: Timer | undefined;
  /** When the armed timer fires. */
  #at = 0;
  /** When the retransmission is due. */
  #deadline = 0;

  /**
   * A timer, not armed.
   *
   * @param clock Time source.
   * @param initial First retransmission timeout (ms).
   * @param cap Cap of the doubling timeout (ms).
   * @param onExpire Called when the armed timer fires (the deadline may have moved since:
   *   ask {@linkcode RetransmitTimer.due}).
   */
  constructor(clock: Clock, initial: number, cap: number, onExpire: () => void) {
    this.#clock = clock;
    this.#initial = initial;
    this.#cap = cap;
    this.#onExpire = onExpire;
  }

  /** The first retransmission timeout (ms). */
  get initial(): number {
    return this.#initial;
  }

  /**
   * Set the deadline. A timer armed to fire no later is kept (it re-arms when it fires);
   * otherwise the timer is armed for the deadline.
   *
   * @param deadline Clock time of the retransmission.
   */
  arm(deadline: number): void {
    this.#deadline = deadline;
    if (this.#timer !== undefined) {
      if (this.#at <= deadline) return; // fires first and re-arms
      this.#timer.cancel();
    }
    this.#at = deadline;
    this.#timer = this.#clock.setTimer(deadline - this.#clock.now(), this.#fire);
  }

  /** Cancel the timer (nothing is unacknowledged, or the transport ended). */
  cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /**
   * Whether the deadline has come; if not (it moved after the timer was armed), the timer is
   * armed again for it.
   *
   * @param now The clock's time.
   * @returns `true` if the message is due for retransmission.
   */
  due(now: number): boolean {
    if (now < this.#deadline) {
      this.arm(this.#deadline);
      return false;
    }
    return true;
  }

  /**
   * The timeout after a retransmission: the first one doubled for each retransmission, capped.
   *
   * @param retries Retransmissions made so far, this one included.
   * @returns Milliseconds until the next retransmission.
   */
  backoff(retries: number): number {
    return Math.min(this.#initial * 2 ** retries, this.#cap);
  }

  #fire = (): void => {
    this.#timer = undefined;
    this.#onExpire();
  };
}

/**
 * When to acknowledge received messages: once `every` in-order messages are unacknowledged, at
 * once or (with a `defer` function) when the receiver has done its work on them, else `delay` ms
 * after the first of them; unless an outgoing message carries the new Nr first
 * ({@linkcode DelayedAck.clear}). Deferring lets a reply the receiver sends straight away (an
 * ICRP to an ICRQ) carry the acknowledgement instead of a ZLB going out just before it.
 *
 * @example Usage
 * ```ts
 * import { DelayedAck } from "./transport_timers.ts";
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock();
 * const ack = new DelayedAck(clock, 100, 2, () => {
 *   console.log("ack at", clock.now());
 *   ack.clear();
 * });
 * ack.received();
 * ack.schedule();
 * clock.advance(100); // ack at 100
 * ack.received();
 * ack.received();
 * ack.schedule(); // ack at 100
 * ```
 */
export class DelayedAck {
  readonly #clock: Clock;
  readonly #delay: number;
  readonly #every: number;
  readonly #send: () => void;
  readonly #defer: ((callback: () => void) => void) | undefined;
  /** Whether a callback given to `defer` is still to run. */
  #deferred = false;
  #due = false;
  #unacked = 0;
  #timer: Timer | undefined;

  /**
   * Nothing to acknowledge yet.
   *
   * @param clock Time source.
   * @param delay Delay of a lone acknowledgement (ms).
   * @param every Acknowledge at once after this many unacknowledged messages (0: never).
   * @param send Sends the acknowledgement (and calls {@linkcode DelayedAck.clear}).
   * @param defer Runs its callback once the receiver has done its work on what it was given
   * (default: the acknowledgement due after `every` messages goes out at once).
   */
  constructor(
    clock: Clock,
    delay: number,
    every: number,
    send: () => void,
    defer?: (callback: () => void) => void,
  ) {
    this.#clock = clock;
    this.#delay = delay;
    this.#every = every;
    this.#send = send;
    this.#defer = defer;
  }

  /** Whether a received message awaits its acknowledgement. */
  get due(): boolean {
    return this.#due;
  }

  /** An in-order message was taken: it is to be acknowledged. */
  received(): void {
    this.#due = true;
    this.#unacked++;
  }

  /** An acknowledgement went out (alone or on a message): nothing is due any more. */
  clear(): void {
    if (this.#timer !== undefined) {
      this.#timer.cancel();
      this.#timer = undefined;
    }
    this.#due = false;
    this.#unacked = 0;
  }

  /** Acknowledge now, or after the delay: whichever the count of unacknowledged messages says. */
  schedule(): void {
    if (this.#every > 0 && this.#unacked >= this.#every) {
      if (this.#defer === undefined) {
        this.#send();
        return;
      }
      if (!this.#deferred) {
        this.#deferred = true;
        this.#defer(this.#fireDeferred);
      }
    }
    this.#timer ??= this.#clock.setTimer(this.#delay, this.#fire);
  }

  /** Cancel the timer (the transport ended). */
  cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #fire = (): void => {
    this.#timer = undefined;
    if (this.#due) this.#send();
  };

  /** The receiver is done: acknowledge if `every` messages are still unacknowledged. */
  #fireDeferred = (): void => {
    this.#deferred = false;
    if (this.#due && this.#unacked >= this.#every) this.#send();
  };
}

/**
 * The keepalive: fires `interval` ms after the last message heard from the peer, so that a HELLO
 * is sent on an idle control connection. Off when the interval is 0.
 *
 * @example Usage
 * ```ts
 * import { KeepaliveTimer } from "./transport_timers.ts";
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock();
 * const keepalive: KeepaliveTimer = new KeepaliveTimer(clock, 1000, () => {
 *   if (keepalive.idle()) console.log("HELLO at", clock.now());
 * });
 * clock.advance(600);
 * keepalive.heard();
 * clock.advance(400); // heard 400 ms ago: waits 600 more
 * clock.advance(600); // HELLO at 1600
 * keepalive.cancel();
 * ```
 */
export class KeepaliveTimer {
  readonly #clock: Clock;
  readonly #interval: number;
  readonly #onFire: () => void;
  #timer: Timer | undefined;
  #lastHeard: number;

  /**
   * A keepalive, armed when `interval` is above 0, counting from now.
   *
   * @param clock Time source.
   * @param interval Idle time before a HELLO (ms; 0: never).
   * @param onFire Called when the timer fires (ask {@linkcode KeepaliveTimer.idle}).
   */
  constructor(clock: Clock, interval: number, onFire: () => void) {
    this.#clock = clock;
    this.#interval = interval;
    this.#onFire = onFire;
    this.#lastHeard = clock.now();
    if (interval > 0) this.#timer = clock.setTimer(interval, this.#fire);
  }

  /** A message was heard from the peer. */
  heard(): void {
    this.#lastHeard = this.#clock.now();
  }

  /**
   * Whether the peer has been silent for the whole interval. Arms the timer again: for the rest
   * of the interval if not, for a whole one if so.
   *
   * @returns `true` if a HELLO is due.
   */
  idle(): boolean {
    const idle = this.#clock.now() - this.#lastHeard;
    if (idle < this.#interval) {
      this.#timer = this.#clock.setTimer(this.#interval - idle, this.#fire);
      return false;
    }
    this.#timer = this.#clock.setTimer(this.#interval, this.#fire);
    return true;
  }

  /** Stop the keepalive (StopCCN, or the transport ended). */
  cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #fire = (): void => {
    this.#timer = undefined;
    this.#onFire();
  };
}
