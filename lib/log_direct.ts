/**
 * The daemon's loggers (what `getLog` in lib/log.ts returns): while `setupLogging` is in force,
 * a record goes straight to its sink (level check, template, properties, the formatter), which
 * costs a fifth of a trip through logtape's dispatch, and a burst of sessions writes a line
 * each. Without `setupLogging` (a program that configures logtape itself), every call goes to
 * logtape's logger of the same category and properties, so logtape's configuration decides.
 *
 * @example Usage
 * ```ts
 * import { DirectLog, setDirectSink } from "./log_direct.ts";
 * const lines: string[] = [];
 * setDirectSink((r) => lines.push(`${r.level} ${r.message.join("")}`), "info");
 * const log = new DirectLog(["l2tpd", "demo"], { tunnel: "t1" });
 * log.debug("not written");
 * log.info("tunnel {tunnel} up, id {id}", { id: 5 });
 * setDirectSink(undefined, "info");
 * console.log(lines); // [ "info tunnel t1 up, id 5" ]
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";

/**
 * Severity names (as lib/log.ts's `LogLevelName`).
 *
 * @example Usage
 * ```ts
 * import type { Level } from "./log_direct.ts";
 * const level: Level = "warning";
 * console.log(level); // warning
 * ```
 */
export type Level = "trace" | "debug" | "info" | "warning" | "error" | "fatal";

const RANK: Readonly<Record<Level, number>> = {
  trace: 0,
  debug: 1,
  info: 2,
  warning: 3,
  error: 4,
  fatal: 5,
};

/**
 * A record as the sink receives it: the shape of lib/log.ts's `LogLine` (and of a logtape
 * `LogRecord`).
 *
 * @example Usage
 * ```ts
 * import type { DirectRecord } from "./log_direct.ts";
 * const r: DirectRecord = {
 *   category: ["l2tpd"], level: "info", message: ["up"], rawMessage: "up", timestamp: 0,
 *   properties: {},
 * };
 * console.log(r.level); // info
 * ```
 */
export interface DirectRecord {
  /** Category path. */
  readonly category: readonly string[];
  /** Severity. */
  readonly level: Level;
  /** Text parts at even indexes, the values of the placeholders at odd ones. */
  readonly message: readonly unknown[];
  /** The template. */
  readonly rawMessage: string;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  /** The logger's properties and the call's (the call's win). */
  readonly properties: Record<string, unknown>;
}

let sink: ((record: DirectRecord) => void) | undefined;
let lowest = RANK.info;

/**
 * Where records go, and from which level on (lib/log.ts's `setupLogging` sets it, and
 * `resetLogging` clears it: `undefined` sends every call to logtape again).
 *
 * @param to The sink, or `undefined`.
 * @param level The lowest level written.
 *
 * @example Usage
 * ```ts
 * import { setDirectSink } from "./log_direct.ts";
 * setDirectSink(() => {}, "warning");
 * setDirectSink(undefined, "info");
 * ```
 */
export function setDirectSink(
  to: ((record: DirectRecord) => void) | undefined,
  level: Level,
): void {
  sink = to;
  lowest = RANK[level];
}

/** A template split at its placeholders: text, name, text, name, …, text. */
type Template = readonly string[];

const templates = new Map<string, Template>();

/** `{name}` placeholders, as logtape reads simple ones. */
const PLACEHOLDER = /\{([^{}\s]+)\}/g;

function parseTemplate(template: string): Template {
  let parts = templates.get(template);
  if (parts === undefined) {
    const out: string[] = [];
    let last = 0;
    for (const m of template.matchAll(PLACEHOLDER)) {
      out.push(template.slice(last, m.index), m[1] as string);
      last = (m.index as number) + m[0].length;
    }
    out.push(template.slice(last));
    parts = out;
    // Templates are the program's own strings, so few; a bound all the same.
    if (templates.size >= 4096) templates.clear();
    templates.set(template, parts);
  }
  return parts;
}

/**
 * A logger of one category with fixed properties (see the module documentation). It has the
 * methods of lib/log.ts's `Log`.
 *
 * @example Usage
 * ```ts
 * import { DirectLog } from "./log_direct.ts";
 * const log = new DirectLog(["l2tpd", "tunnel"]).with({ tunnel: "t1" });
 * log.info("up"); // (quiet: neither setupLogging nor logtape is configured)
 * console.log(log.category.join(".")); // l2tpd.tunnel
 * ```
 */
export class DirectLog {
  /** The category path. */
  readonly category: readonly string[];
  readonly #properties: Readonly<Record<string, unknown>>;
  #logtape: ReturnType<typeof getLogger> | undefined;

  /**
   * A logger.
   *
   * @param category The category path (starting with `"l2tpd"`).
   * @param properties Carried by every record (`undefined` values are left out).
   */
  constructor(category: readonly string[], properties: Readonly<Record<string, unknown>> = {}) {
    this.category = Object.freeze([...category]);
    const own: Record<string, unknown> = {};
    for (const k of Object.keys(properties)) {
      if (properties[k] !== undefined) own[k] = properties[k];
    }
    this.#properties = own;
  }

  /**
   * Log at trace level.
   *
   * @param message The template.
   * @param properties Its values and more.
   */
  trace(message: string, properties?: Record<string, unknown>): void {
    this.#log("trace", message, properties);
  }

  /**
   * Log at debug level.
   *
   * @param message The template.
   * @param properties Its values and more.
   */
  debug(message: string, properties?: Record<string, unknown>): void {
    this.#log("debug", message, properties);
  }

  /**
   * Log at info level.
   *
   * @param message The template.
   * @param properties Its values and more.
   */
  info(message: string, properties?: Record<string, unknown>): void {
    this.#log("info", message, properties);
  }

  /**
   * Log at warning level.
   *
   * @param message The template.
   * @param properties Its values and more.
   */
  warn(message: string, properties?: Record<string, unknown>): void {
    this.#log("warning", message, properties);
  }

  /**
   * Log at error level.
   *
   * @param message The template.
   * @param properties Its values and more.
   */
  error(message: string, properties?: Record<string, unknown>): void {
    this.#log("error", message, properties);
  }

  /**
   * Log at fatal level.
   *
   * @param message The template.
   * @param properties Its values and more.
   */
  fatal(message: string, properties?: Record<string, unknown>): void {
    this.#log("fatal", message, properties);
  }

  /**
   * A logger of the same category whose records also carry `properties`.
   *
   * @param properties More properties (they win over this logger's).
   * @returns The logger.
   */
  with(properties: Record<string, unknown>): DirectLog {
    return new DirectLog(this.category, { ...this.#properties, ...properties });
  }

  #log(level: Level, message: string, properties: Record<string, unknown> | undefined): void {
    const to = sink;
    if (to === undefined) {
      this.#toLogtape(level, message, properties);
      return;
    }
    if (RANK[level] < lowest) return;
    const props = properties === undefined
      ? this.#properties
      : { ...this.#properties, ...properties };
    const template = parseTemplate(message);
    const parts: unknown[] = new Array(template.length);
    for (let i = 0; i < template.length; i++) {
      parts[i] = i % 2 === 0 ? template[i] : props[template[i] as string];
    }
    to({
      category: this.category,
      level,
      message: parts,
      rawMessage: message,
      timestamp: Date.now(),
      properties: props,
    });
  }

  #toLogtape(level: Level, message: string, properties: Record<string, unknown> | undefined): void {
    if (this.#logtape === undefined) {
      const base = getLogger(this.category);
      this.#logtape = Object.keys(this.#properties).length > 0 ? base.with(this.#properties) : base;
    }
    // logtape names the warning level's method `warn`.
    this.#logtape[level === "warning" ? "warn" : level](message, properties);
  }
}
