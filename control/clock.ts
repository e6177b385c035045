/**
 * Time for the control protocol: a {@linkcode Clock} gives the current time in milliseconds and
 * cancellable one-shot timers. {@linkcode systemClock} uses `performance.now()` and
 * `setTimeout`; {@linkcode FakeClock} only moves when told to, so tests of retransmission, delayed
 * acknowledgements and keepalives run deterministically and instantly.
 *
 * @module
 */

/**
 * A pending one-shot timer.
 *
 * @example Usage
 * ```ts
 * import { systemClock } from "./clock.ts";
 * const t = systemClock.setTimer(1000, () => console.log("never"));
 * t.cancel();
 * ```
 */
export interface Timer {
  /** Stop the timer; its callback will not run. Calling it again, or after it ran, does nothing. */
  cancel(): void;
}

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

/**
 * The real clock: `performance.now()` and `setTimeout`/`clearTimeout`. A pending timer keeps the
 * program alive, as a `setTimeout` does.
 *
 * @example Usage
 * ```ts
 * import { systemClock } from "./clock.ts";
 * const start = systemClock.now();
 * systemClock.setTimer(10, () => console.log(systemClock.now() - start >= 10)); // true
 * ```
 */
export const systemClock: Clock = {
  now: (): number => performance.now(),
  setTimer(delayMs: number, callback: () => void): Timer {
    const id = setTimeout(callback, Math.max(0, delayMs));
    return { cancel: (): void => clearTimeout(id) };
  },
};

interface FakeTimer extends Timer {
  due: number;
  seq: number;
  callback: () => void;
  active: boolean;
}

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
  #seq = 0;
  #timers: FakeTimer[] = [];

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
    const t: FakeTimer = {
      due: this.#now + Math.max(0, delayMs),
      seq: this.#seq++,
      callback,
      active: true,
      cancel: (): void => {
        if (!t.active) return;
        t.active = false;
        const i = this.#timers.indexOf(t);
        if (i >= 0) this.#timers.splice(i, 1);
      },
    };
    this.#timers.push(t);
    return t;
  }

  /** How many timers are pending. */
  get pending(): number {
    return this.#timers.length;
  }

  /** When the next pending timer falls due, or `undefined` if none is pending. */
  get nextDue(): number | undefined {
    const t = this.#earliest();
    return t?.due;
  }

  /**
   * Move time forward by `ms`, running every timer due on the way (including timers that those
   * callbacks schedule within the interval), each with `now()` reading its due time.
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
    let ran = 0;
    for (;;) {
      const t = this.#earliest();
      if (t === undefined || t.due > target) break;
      t.cancel();
      this.#now = Math.max(this.#now, t.due);
      ran++;
      t.callback();
    }
    this.#now = target;
    return ran;
  }

  #earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers) {
      if (best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq)) {
        best = t;
      }
    }
    return best;
  }
}
