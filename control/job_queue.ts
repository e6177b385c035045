/**
 * One-at-a-time processing for a control connection: everything that happens to it (a
 * datagram, a local request, a timer, a hook's outcome) is a job, and jobs run in the order they
 * were queued, each to its end (awaiting it when it is asynchronous) before the next starts.
 * Also the settle-once promise the connection hands out.
 *
 * @example Usage
 * ```ts
 * import { deferred, JobQueue } from "./job_queue.ts";
 * const order: string[] = [];
 * const queue = new JobQueue((e) => console.error(e));
 * const over = deferred<void>();
 * queue.enqueue(async () => {
 *   await Promise.resolve();
 *   order.push("first");
 * });
 * queue.enqueue(() => {
 *   order.push("second");
 *   over.resolve();
 * });
 * await over.promise;
 * console.log(order); // [ "first", "second" ]
 * ```
 *
 * @module
 */

/**
 * A unit of work: synchronous, or a promise the queue waits for.
 *
 * @example Usage
 * ```ts
 * import type { Job } from "./job_queue.ts";
 * const job: Job = () => console.log("ran");
 * job();
 * ```
 */
export type Job = () => void | Promise<void>;

/**
 * A promise with its resolver, settled at most once (later calls do nothing).
 *
 * @example Usage
 * ```ts
 * import { type Deferred, deferred } from "./job_queue.ts";
 * const d: Deferred<number> = deferred<number>();
 * d.resolve(1);
 * d.resolve(2);
 * console.log(await d.promise, d.done); // 1 true
 * ```
 */
export interface Deferred<T> {
  /** Settles with the first value given to `resolve`. */
  readonly promise: Promise<T>;
  /** Settle the promise (only the first call counts). A method: call it on the deferred. */
  resolve(v: T): void;
  /** Whether `resolve` was called. */
  readonly done: boolean;
}

/**
 * A new unsettled {@linkcode Deferred}.
 *
 * @returns The promise and its resolver.
 *
 * @example Usage
 * ```ts
 * import { deferred } from "./job_queue.ts";
 * const d = deferred<string>();
 * setTimeout(() => d.resolve("later"), 0);
 * console.log(await d.promise); // later
 * ```
 */
export function deferred<T>(): Deferred<T> {
  return new LazyDeferred<T>();
}

/**
 * A {@linkcode Deferred} that makes its promise only when someone asks for it: a session that
 * nobody awaits (most of a responder's) costs one small object, not a promise and two closures.
 */
class LazyDeferred<T> implements Deferred<T> {
  #done = false;
  #value: T | undefined;
  #promise: Promise<T> | undefined;
  #settle: ((v: T) => void) | undefined;

  get promise(): Promise<T> {
    if (this.#promise === undefined) {
      this.#promise = this.#done
        ? Promise.resolve(this.#value as T)
        : new Promise<T>((resolve) => this.#settle = resolve);
    }
    return this.#promise;
  }

  get done(): boolean {
    return this.#done;
  }

  resolve(v: T): void {
    if (this.#done) return;
    this.#done = true;
    this.#value = v;
    this.#settle?.(v);
    this.#settle = undefined;
  }
}

/**
 * Runs jobs one at a time, in order. A job that throws (or rejects) is reported to `onError`
 * and the next one runs; the queue itself never throws.
 *
 * @example Usage
 * ```ts
 * import { JobQueue } from "./job_queue.ts";
 * const errors: unknown[] = [];
 * const queue = new JobQueue((e) => errors.push(e));
 * queue.enqueue(() => {
 *   throw new Error("Cannot run: broken");
 * });
 * queue.enqueue(() => console.log("still runs"));
 * console.log(errors.length); // 1
 * ```
 */
export class JobQueue {
  readonly #onError: (e: unknown) => void;
  #jobs: Job[] = [];
  #draining = false;
  /** Callbacks waiting for the queue to run out of jobs. */
  #idle: (() => void)[] | undefined;

  /**
   * An empty queue.
   *
   * @param onError Told about each job that throws or rejects.
   */
  constructor(onError: (e: unknown) => void) {
    this.#onError = onError;
  }

  /**
   * Queue a job; it runs now if the queue is idle (synchronously up to its first `await`).
   *
   * @param job The job.
   */
  enqueue(job: Job): void {
    this.#jobs.push(job);
    if (!this.#draining) void this.#drain();
  }

  /**
   * Run `callback` once every queued job has finished: now if the queue is idle, else when it
   * next runs out of jobs. Callbacks run in the order given; one that throws is reported to
   * `onError` like a job.
   *
   * @example Usage
   * ```ts
   * import { JobQueue } from "./job_queue.ts";
   * const queue = new JobQueue(console.error);
   * const order: string[] = [];
   * queue.enqueue(async () => {
   *   await Promise.resolve();
   *   order.push("job");
   * });
   * queue.whenIdle(() => order.push("idle"));
   * order.push("queued");
   * await new Promise((resolve) => setTimeout(resolve, 0));
   * console.log(order); // [ "queued", "job", "idle" ]
   * ```
   *
   * @param callback What to run.
   */
  whenIdle(callback: () => void): void {
    if (!this.#draining) {
      this.#run(callback);
      return;
    }
    (this.#idle ??= []).push(callback);
  }

  #run(callback: () => void): void {
    try {
      callback();
    } catch (e) {
      this.#onError(e);
    }
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      for (let job = this.#jobs.shift(); job !== undefined; job = this.#jobs.shift()) {
        try {
          const r = job();
          if (r !== undefined) await r;
        } catch (e) {
          this.#onError(e);
        }
      }
    } finally {
      this.#draining = false;
    }
    const idle = this.#idle;
    this.#idle = undefined;
    if (idle !== undefined) { for (const callback of idle) this.#run(callback); }
  }
}
