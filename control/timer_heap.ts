/**
 * {@linkcode TimerHeap}: pending one-shot timers in a binary min-heap ordered by due time, then by
 * creation (timers due together run in the order they were set). Adding and cancelling cost
 * O(log n); the earliest is found in O(1). Both clocks of `clock.ts` keep their timers in one:
 * the system clock arms a single `setTimeout` for the earliest timer instead of one per timer,
 * the fake clock runs them as it is advanced.
 *
 * @example Usage
 * ```ts
 * import { TimerHeap } from "./timer_heap.ts";
 * const heap = new TimerHeap();
 * const order: string[] = [];
 * heap.add(20, () => order.push("b"));
 * heap.add(10, () => order.push("a"));
 * heap.add(20, () => order.push("c"));
 * heap.runDue(20);
 * console.log(order); // [ "a", "b", "c" ]
 * ```
 *
 * @module
 */

/**
 * A pending one-shot timer.
 *
 * @example Usage
 * ```ts
 * import { TimerHeap } from "./timer_heap.ts";
 * const t = new TimerHeap().add(1000, () => console.log("never"));
 * t.cancel();
 * ```
 */
export interface Timer {
  /** Stop the timer; its callback will not run. Calling it again, or after it ran, does nothing. */
  cancel(): void;
}

/** Cancels a pending timer of a heap (set by {@linkcode TimerHeap}'s static block). */
let cancelTimer: (heap: TimerHeap, t: HeapTimer) => void;

/** One pending timer: its place in the heap, or -1 once it ran or was cancelled. */
class HeapTimer implements Timer {
  readonly due: number;
  readonly seq: number;
  readonly callback: () => void;
  index = -1;
  readonly #heap: TimerHeap;

  constructor(heap: TimerHeap, due: number, seq: number, callback: () => void) {
    this.#heap = heap;
    this.due = due;
    this.seq = seq;
    this.callback = callback;
  }

  cancel(): void {
    if (this.index >= 0) cancelTimer(this.#heap, this);
  }
}

/** Whether `a` runs before `b`. */
function before(a: HeapTimer, b: HeapTimer): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/**
 * Pending timers, earliest first (see the module documentation). Time is whatever the owner
 * says it is: due times are absolute, in the owner's milliseconds.
 *
 * @example Usage
 * ```ts
 * import { TimerHeap } from "./timer_heap.ts";
 * const heap = new TimerHeap();
 * const t = heap.add(5, () => console.log("never"));
 * console.log(heap.size, heap.nextDue); // 1 5
 * t.cancel();
 * console.log(heap.size, heap.nextDue); // 0 undefined
 * ```
 */
export class TimerHeap {
  #items: HeapTimer[] = [];
  #seq = 0;
  readonly #onEmpty: (() => void) | undefined;

  static {
    cancelTimer = (heap, t): void => heap.#cancel(t);
  }

  /**
   * An empty heap.
   *
   * @param onEmpty Called when cancelling a timer leaves the heap empty (a system clock then
   *   clears its `setTimeout`, so that a cancelled timer does not keep the program alive).
   */
  constructor(onEmpty?: () => void) {
    this.#onEmpty = onEmpty;
  }

  /** How many timers are pending. */
  get size(): number {
    return this.#items.length;
  }

  /** When the earliest pending timer is due, or `undefined` if none is pending. */
  get nextDue(): number | undefined {
    return this.#items[0]?.due;
  }

  /**
   * Add a timer.
   *
   * @param due When it is due (absolute time).
   * @param callback What to run then.
   * @returns The timer, for cancelling.
   */
  add(due: number, callback: () => void): Timer {
    const t = new HeapTimer(this, due, this.#seq++, callback);
    t.index = this.#items.length;
    this.#items.push(t);
    this.#up(t.index);
    return t;
  }

  /**
   * Run, earliest first, every timer due at `now` or before, including those that callbacks add
   * for then (unless `onlyOlder`). A callback that throws does not keep the others from running:
   * the first error is thrown once they all ran.
   *
   * @param now The time.
   * @param onRun Called before each callback with the timer's due time (a fake clock sets its
   *   time from it).
   * @param onlyOlder Stop at a timer added by a callback of this run (as `setTimeout` leaves a
   *   timer set from a timer callback for a later turn of the event loop).
   * @returns How many timers ran.
   */
  runDue(now: number, onRun?: (due: number) => void, onlyOlder = false): number {
    const limit = onlyOlder ? this.#seq : Infinity;
    let ran = 0;
    let failed = false;
    let error: unknown;
    for (;;) {
      const t = this.#items[0];
      if (t === undefined || t.due > now || t.seq >= limit) break;
      this.#remove(t);
      ran++;
      onRun?.(t.due);
      try {
        t.callback();
      } catch (e) {
        if (!failed) error = e;
        failed = true;
      }
    }
    if (failed) throw error;
    return ran;
  }

  #cancel(t: HeapTimer): void {
    this.#remove(t);
    if (this.#items.length === 0) this.#onEmpty?.();
  }

  /** Take a pending timer out of the heap. */
  #remove(t: HeapTimer): void {
    const items = this.#items;
    const i = t.index;
    t.index = -1;
    const last = items.pop() as HeapTimer;
    if (last === t) return;
    items[i] = last;
    last.index = i;
    if (i > 0 && before(last, items[(i - 1) >> 1] as HeapTimer)) this.#up(i);
    else this.#down(i);
  }

  #up(i: number): void {
    const items = this.#items;
    const t = items[i] as HeapTimer;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p] as HeapTimer;
      if (!before(t, parent)) break;
      items[i] = parent;
      parent.index = i;
      i = p;
    }
    items[i] = t;
    t.index = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const t = items[i] as HeapTimer;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && before(items[r] as HeapTimer, items[c] as HeapTimer)) c = r;
      const child = items[c] as HeapTimer;
      if (!before(child, t)) break;
      items[i] = child;
      child.index = i;
      i = c;
    }
    items[i] = t;
    t.index = i;
  }
}
