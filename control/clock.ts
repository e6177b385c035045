/**
 * Time for the control protocol: a {@linkcode Clock} gives the current time in milliseconds and
 * cancellable one-shot timers, kept in a {@linkcode TimerHeap}. {@linkcode systemClock} uses
 * `performance.now()` and one `setTimeout` for the earliest timer; {@linkcode FakeClock} only moves when told to, so tests of retransmission, delayed
 * acknowledgements and keepalives run deterministically and instantly.
 *
 * @module
 */

import { type Timer, TimerHeap } from "./timer_heap.ts";

export type { Timer } from "./timer_heap.ts";

/**
 * A source of time and timers.
 *
 * @example Usage
 * ```ts
 * import type { Clock } from "./clock.ts";
 * function after(clock: Clock, ms: number): Promise<number> {
 *   return new Promise((resolve) => clock.setTimer(ms, () => resolve(clock.now())));
 * }
 * console.log(typeof after); // function
 * ```
 */
export interface Clock {
  /** Milliseconds since an arbitrary origin; never decreases. */
  now(): number;
  /**
   * Run `callback` once, `delayMs` milliseconds from now.
   *
   * @param delayMs Delay in milliseconds (negative counts as 0).
   * @param callback What to run.
   * @returns The timer, for cancelling.
   */
  setTimer(delayMs: number, callback: () => void): Timer;
}

/** The system clock: every timer in one heap, and one `setTimeout` for the earliest. */
class SystemClock implements Clock {
  readonly #heap = new TimerHeap(() => this.#disarm());
  #armed: ReturnType<typeof setTimeout> | undefined;
  /** When the armed `setTimeout` fires (Infinity: none is armed). */
  #armedAt = Infinity;

  now(): number {
    return performance.now();
  }

  setTimer(delayMs: number, callback: () => void): Timer {
    const due = performance.now() + Math.max(0, delayMs);
    const t = this.#heap.add(due, callback);
    if (due < this.#armedAt) this.#arm(due);
    return t;
  }

  #arm(due: number): void {
    if (this.#armed !== undefined) clearTimeout(this.#armed);
    this.#armedAt = due;
    this.#armed = setTimeout(this.#fire, Math.max(0, Math.ceil(due - performance.now())));
  }

  #disarm(): void {
    if (this.#armed !== undefined) clearTimeout(this.#armed);
    this.#armed = undefined;
    this.#armedAt = Infinity;
  }

  #fire = (): void => {
    this.#armed = undefined;
    this.#armedAt = Infinity;
    try {
      // A timer set by one of these callbacks waits for a later turn, as with setTimeout.
      this.#heap.runDue(performance.now(), undefined, true);
    } finally {
      const next = this.#heap.nextDue;
      // A callback may have armed for a later timer of its own: the earliest one counts.
      if (next !== undefined && next < this.#armedAt) this.#arm(next);
    }
  };
}

/**
 * The real clock: `performance.now()`, and timers kept in one heap behind a single
 * `setTimeout` for the earliest (thousands of sessions' timers cost one platform timer). A
 * pending timer keeps the program alive, as a `setTimeout` does; a cancelled one does not.
 * Timers due together run in the order they were set.
 *
 * @example Usage
 * ```ts
 * import { systemClock } from "./clock.ts";
 * const start = systemClock.now();
 * systemClock.setTimer(10, () => console.log(systemClock.now() - start >= 10)); // true
 * ```
 */
export const systemClock: Clock = new SystemClock();

/**
 * A clock for tests: time stands still until {@linkcode FakeClock.advance} moves it, running the
 * timers that fall due in order of due time (then of creation).
 *
 * @example Usage
 * ```ts
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock();
 * const fired: number[] = [];
 * clock.setTimer(1000, () => fired.push(clock.now()));
 * clock.advance(999);
 * console.log(fired.length); // 0
 * clock.advance(1);
 * console.log(fired); // [ 1000 ]
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  readonly #heap = new TimerHeap();

  /**
   * A clock reading `start`.
   *
   * @param start The initial time in milliseconds (default 0).
   */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The current (fake) time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /**
   * Schedule `callback` at `now() + delayMs`.
   *
   * @param delayMs Delay in milliseconds (negative counts as 0).
   * @param callback What to run.
   * @returns The timer.
   */
  setTimer(delayMs: number, callback: () => void): Timer {
    return this.#heap.add(this.#now + Math.max(0, delayMs), callback);
  }

  /** How many timers are pending. */
  get pending(): number {
    return this.#heap.size;
  }

  /** When the next pending timer falls due, or `undefined` if none is pending. */
  get nextDue(): number | undefined {
    return this.#heap.nextDue;
  }

  /**
   * Move time forward by `ms`, running every timer due on the way (including timers that those
   * callbacks schedule within the interval), each with `now()` reading its due time. A callback
   * that throws does not stop the others; the first error is thrown at the end, with the clock
   * at its target.
   *
   * @param ms Milliseconds to move (≥ 0).
   * @returns The number of timers that ran.
   * @throws {RangeError} If `ms` is negative or not finite.
   */
  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`Cannot advance fake clock: ${ms} is not a finite duration ≥ 0`);
    }
    const target = this.#now + ms;
    try {
      return this.#heap.runDue(target, (due) => this.#now = Math.max(this.#now, due));
    } finally {
      this.#now = target;
    }
  }
}
