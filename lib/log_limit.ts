/**
 * Rate limiting of log lines a peer can cause: {@linkcode rateLimitedLog} wraps a
 * {@linkcode Log} so that warnings, errors and fatal records are limited per cause, the cause
 * being the message template (`"{tunnel}: refusing the peer's {type} ..."`, not the text it
 * becomes). In each window (10 s by default) the first `perCauseBurst` records of a cause (5) are
 * written; the rest are counted, and when the window ends one line says how many there were:
 * the template of the last one with its properties, followed by
 * `(suppressed N similar messages in the last 10 s)`. Trace, debug and info records pass
 * unchanged.
 *
 * So whatever a peer sends, each cause writes at most `perCauseBurst + 1` lines per window, and
 * the causes are the templates in the code: a flood of malformed messages, of calls past the
 * session limit or of SCCRQs while file descriptors run out makes a few lines a second, not one
 * line per message.
 *
 * @example Usage
 * ```ts
 * import { rateLimitedLog } from "./log_limit.ts";
 * import { getLog, resetLogging, setupLogging } from "./log.ts";
 * import { FakeClock } from "../control/clock.ts";
 * const lines: string[] = [];
 * setupLogging({ level: "info", format: "text", write: (l) => lines.push(l) });
 * const clock = new FakeClock();
 * const log = rateLimitedLog(getLog("context"), { perCauseBurst: 2, windowMs: 10_000, clock });
 * for (let id = 1; id <= 100; id++) log.warn("refusing call {id}", { id });
 * clock.advance(10_000);
 * resetLogging();
 * console.log(lines.length); // 3
 * console.log(lines[2].includes("refusing call 100 (suppressed 98 similar messages in the last 10 s)")); // true
 * ```
 *
 * @module
 */

import type { Clock, Timer } from "../control/clock.ts";
import type { Log, LogProperties } from "./log.ts";

/**
 * Options of {@linkcode rateLimitedLog}.
 *
 * @example Usage
 * ```ts
 * import type { RateLimitOptions } from "./log_limit.ts";
 * const opts: RateLimitOptions = { perCauseBurst: 5, windowMs: 10_000 };
 * console.log(opts.windowMs); // 10000
 * ```
 */
export interface RateLimitOptions {
  /** Records of one cause written per window (default 5). */
  perCauseBurst?: number;
  /** Length of a window in milliseconds (default 10,000). */
  windowMs?: number;
  /**
   * Time and timers (default: the real clock, with timers that do not keep the program alive).
   * Tests pass a `FakeClock`.
   */
  clock?: Clock;
  /** Causes tracked at once; beyond it the oldest are forgotten (default 1,000). */
  maxCauses?: number;
}

/**
 * A {@linkcode Log} whose warnings, errors and fatal records are rate-limited per cause (see the
 * module documentation). Loggers made with `with()` share the limits.
 *
 * @example Usage
 * ```ts
 * import { rateLimitedLog, type RateLimitedLog } from "./log_limit.ts";
 * import { getLog } from "./log.ts";
 * const log: RateLimitedLog = rateLimitedLog(getLog("context"));
 * log.with({ tunnel: "t1" }).warn("ignored");
 * console.log(log.suppressed); // 0
 * log.flush();
 * ```
 */
export interface RateLimitedLog extends Log, Disposable {
  /** A logger with the same limits whose records also carry `properties`. */
  with(properties: LogProperties): RateLimitedLog;
  /** Records suppressed so far (all causes, all windows). */
  readonly suppressed: number;
  /**
   * Write the summary line of every cause with suppressed records now and start afresh
   * (cancels the pending timer). Call it when the program stops.
   */
  flush(): void;
}

type Limited = "warning" | "error" | "fatal";

const RANK: Readonly<Record<Limited, number>> = { warning: 0, error: 1, fatal: 2 };

interface Cause {
  /** When the window started. */
  start: number;
  /** Records in the window. */
  count: number;
  /** Records suppressed in the window. */
  suppressed: number;
  /** Highest level suppressed. */
  level: Limited;
  /** The logger and properties of the last suppressed record. */
  log: Log;
  properties: LogProperties | undefined;
}

/** The real clock with timers that never hold the program open. */
const UNREF_CLOCK: Clock = {
  now: (): number => performance.now(),
  setTimer(delayMs: number, callback: () => void): Timer {
    const id = setTimeout(callback, Math.max(0, delayMs));
    Deno.unrefTimer(id);
    return { cancel: (): void => clearTimeout(id) };
  },
};

/** The per-cause state shared by a rate-limited log and the loggers made from it. */
class Limiter {
  readonly #burst: number;
  readonly #window: number;
  readonly #clock: Clock;
  readonly #maxCauses: number;
  readonly #causes = new Map<string, Cause>();
  #timer: Timer | undefined;
  #timerAt = 0;
  suppressed = 0;

  constructor(options: RateLimitOptions) {
    this.#burst = options.perCauseBurst ?? 5;
    this.#window = options.windowMs ?? 10_000;
    this.#clock = options.clock ?? UNREF_CLOCK;
    this.#maxCauses = options.maxCauses ?? 1000;
    if (!Number.isInteger(this.#burst) || this.#burst < 0) {
      throw new RangeError(
        `Cannot rate-limit the log: perCauseBurst ${this.#burst} is not an integer ≥ 0`,
      );
    }
    if (!Number.isFinite(this.#window) || this.#window <= 0) {
      throw new RangeError(`Cannot rate-limit the log: windowMs ${this.#window} is not > 0`);
    }
    if (!Number.isInteger(this.#maxCauses) || this.#maxCauses < 1) {
      throw new RangeError(
        `Cannot rate-limit the log: maxCauses ${this.#maxCauses} is not an integer ≥ 1`,
      );
    }
  }

  /** Whether a record may be written; if not, it is counted for its cause's summary. */
  admit(log: Log, level: Limited, message: string, properties?: LogProperties): boolean {
    const now = this.#clock.now();
    let c = this.#causes.get(message);
    if (c !== undefined && now - c.start >= this.#window) {
      this.#close(message, c);
      c = undefined;
    }
    if (c === undefined) {
      c = { start: now, count: 0, suppressed: 0, level, log, properties };
      this.#causes.set(message, c);
      if (this.#causes.size > this.#maxCauses) this.#evict(now);
    }
    c.count++;
    if (c.count <= this.#burst) return true;
    c.suppressed++;
    if (RANK[level] > RANK[c.level] || c.suppressed === 1) c.level = level;
    c.log = log;
    c.properties = properties;
    this.suppressed++;
    this.#arm(c.start + this.#window);
    return false;
  }

  flush(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    const causes = [...this.#causes];
    this.#causes.clear();
    for (const [message, c] of causes) this.#summary(message, c);
  }

  /** End a cause's window: its summary line, if anything was suppressed. */
  #close(message: string, c: Cause): void {
    this.#causes.delete(message);
    this.#summary(message, c);
  }

  #summary(message: string, c: Cause): void {
    if (c.suppressed === 0) return;
    const text =
      `${message} (suppressed {suppressed} similar messages in the last {windowSeconds} s)`;
    const props = { ...c.properties, suppressed: c.suppressed, windowSeconds: this.#window / 1000 };
    if (c.level === "fatal") c.log.fatal(text, props);
    else if (c.level === "error") c.log.error(text, props);
    else c.log.warn(text, props);
  }

  /** Too many causes: forget those whose window is over, else the oldest. */
  #evict(now: number): void {
    for (const [message, c] of this.#causes) {
      if (now - c.start >= this.#window) this.#close(message, c);
    }
    while (this.#causes.size > this.#maxCauses) {
      const [message, c] = this.#causes.entries().next().value as [string, Cause];
      this.#close(message, c);
    }
  }

  /** Run the sweep when the earliest window with suppressed records ends. */
  #arm(at: number): void {
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    this.#timer?.cancel();
    this.#timerAt = at;
    this.#timer = this.#clock.setTimer(at - this.#clock.now(), this.#sweep);
  }

  #sweep = (): void => {
    this.#timer = undefined;
    const now = this.#clock.now();
    let next = Infinity;
    for (const [message, c] of [...this.#causes]) {
      const end = c.start + this.#window;
      if (now >= end) this.#close(message, c);
      else if (c.suppressed > 0) next = Math.min(next, end);
    }
    if (next !== Infinity) this.#arm(next);
  };
}

class LimitedLog implements RateLimitedLog {
  readonly #inner: Log;
  readonly #limiter: Limiter;

  constructor(inner: Log, limiter: Limiter) {
    this.#inner = inner;
    this.#limiter = limiter;
  }

  get category(): readonly string[] {
    return this.#inner.category;
  }

  get suppressed(): number {
    return this.#limiter.suppressed;
  }

  trace(message: string, properties?: LogProperties): void {
    this.#inner.trace(message, properties);
  }

  debug(message: string, properties?: LogProperties): void {
    this.#inner.debug(message, properties);
  }

  info(message: string, properties?: LogProperties): void {
    this.#inner.info(message, properties);
  }

  warn(message: string, properties?: LogProperties): void {
    if (this.#limiter.admit(this.#inner, "warning", message, properties)) {
      this.#inner.warn(message, properties);
    }
  }

  error(message: string, properties?: LogProperties): void {
    if (this.#limiter.admit(this.#inner, "error", message, properties)) {
      this.#inner.error(message, properties);
    }
  }

  fatal(message: string, properties?: LogProperties): void {
    if (this.#limiter.admit(this.#inner, "fatal", message, properties)) {
      this.#inner.fatal(message, properties);
    }
  }

  with(properties: LogProperties): RateLimitedLog {
    return new LimitedLog(this.#inner.with(properties), this.#limiter);
  }

  flush(): void {
    this.#limiter.flush();
  }

  [Symbol.dispose](): void {
    this.flush();
  }
}

/**
 * Wrap a log so that warnings, errors and fatal records are limited per cause (the message
 * template): at most `perCauseBurst` per `windowMs`, then one summary line when the window ends
 * (see the module documentation). Trace, debug and info pass unchanged. Loggers made with
 * `with()` share the limits, so wrapping a context's log limits everything its tunnels, sessions
 * and listeners log.
 *
 * @param log The log to write to.
 * @param options Burst, window, clock.
 * @returns The rate-limited log.
 * @throws {RangeError} If an option is out of range.
 *
 * @example Usage
 * ```ts
 * import { rateLimitedLog } from "./log_limit.ts";
 * import { getLog } from "./log.ts";
 * using log = rateLimitedLog(getLog("context"), { perCauseBurst: 5, windowMs: 10_000 });
 * log.info("not limited");
 * log.warn("limited per template: {peer}", { peer: "192.0.2.1:1701" });
 * ```
 */
export function rateLimitedLog(log: Log, options: RateLimitOptions = {}): RateLimitedLog {
  return new LimitedLog(log, new Limiter(options));
}
