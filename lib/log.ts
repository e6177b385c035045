/**
 * Logging: logtape configured for the daemon.
 *
 * Every logger lives under the root category `"l2tpd"` (for example `["l2tpd", "tunnel"]`).
 * Two output formats, both one record per line on stderr:
 *
 * - `text`, for people: `2024-05-01T12:00:00.000Z INFO    [l2tpd.tunnel] tunnel up tunnel=t1 tid=5`
 * - `json`, for machines: `{"timestamp":"...","level":"info","category":"l2tpd.tunnel",
 *   "message":"tunnel up","tunnel":"t1","tid":5}` (structured properties at the top level).
 *
 * Logging never blocks the protocol: lines for stderr go into a bounded in-memory queue
 * ({@linkcode LogQueue}) that is written asynchronously, many lines per write. When the queue is
 * full the oldest lines are dropped and one line `log: dropped N lines` takes their place.
 * Before the process exits, {@linkcode flushLogs} (or {@linkcode flushLogsSync} where nothing can
 * be awaited) writes what is queued; `Deno.exit()` and the end of the program do it too (the
 * queue is flushed on `unload`). Peer-triggered warnings are rate-limited by lib/log_limit.ts.
 *
 * @example Usage
 * ```ts
 * import { getLog, resetLogging, setupLogging } from "./log.ts";
 * const lines: string[] = [];
 * setupLogging({ level: "info", format: "json", write: (line) => lines.push(line) });
 * getLog("tunnel", { tunnel: "t1" }).info("tunnel up");
 * resetLogging();
 * console.log(JSON.parse(lines[0]).tunnel); // "t1"
 * ```
 *
 * @module
 */

import { configureSync, type LogRecord, resetSync, type Sink } from "@logtape/logtape";
import { isoTime } from "./iso_time.ts";
import { DirectLog, type DirectRecord, setDirectSink } from "./log_direct.ts";

/**
 * The root logging category of the daemon.
 *
 * @example Usage
 * ```ts
 * import { ROOT_CATEGORY } from "./log.ts";
 * console.log(ROOT_CATEGORY); // "l2tpd"
 * ```
 */
export const ROOT_CATEGORY = "l2tpd";

/**
 * Severity levels, lowest first.
 *
 * @example Usage
 * ```ts
 * import type { LogLevelName } from "./log.ts";
 * const verbose: LogLevelName = "debug";
 * ```
 */
export type LogLevelName = "trace" | "debug" | "info" | "warning" | "error" | "fatal";

/**
 * All level names, lowest first.
 *
 * @example Usage
 * ```ts
 * import { LOG_LEVELS } from "./log.ts";
 * console.log(LOG_LEVELS.includes("warning")); // true
 * ```
 */
export const LOG_LEVELS: readonly LogLevelName[] = Object.freeze([
  "trace",
  "debug",
  "info",
  "warning",
  "error",
  "fatal",
]);

/**
 * Output format: `text` for people, `json` (JSON Lines) for machines.
 *
 * @example Usage
 * ```ts
 * import type { LogFormat } from "./log.ts";
 * const format: LogFormat = "json";
 * ```
 */
export type LogFormat = "text" | "json";

/**
 * How to set logging up.
 *
 * @example Usage
 * ```ts
 * import type { LoggingOptions } from "./log.ts";
 * const opts: LoggingOptions = { level: "info", format: "text" };
 * ```
 */
export interface LoggingOptions {
  /** Lowest level written. */
  level: LogLevelName;
  /** Output format. */
  format: LogFormat;
  /**
   * Where each formatted line (ending in a newline) goes, synchronously. Without it, lines go to
   * stderr through a {@linkcode LogQueue}, written asynchronously. Tests pass a function that
   * collects lines.
   */
  write?: (line: string) => void;
  /** Lines the stderr queue holds before it drops the oldest (default 10,000). */
  queueLines?: number;
}

/**
 * Structured context attached to every record of a logger: the tunnel and session names, and
 * anything else worth carrying.
 *
 * @example Usage
 * ```ts
 * import type { LogContext } from "./log.ts";
 * const ctx: LogContext = { tunnel: "t1", session: "s1" };
 * ```
 */
export interface LogContext {
  /** Tunnel name. */
  tunnel?: string;
  /** Session name. */
  session?: string;
  /** Other properties. */
  [key: string]: unknown;
}

/**
 * Structured properties of a log record.
 *
 * @example Usage
 * ```ts
 * import type { LogProperties } from "./log.ts";
 * const props: LogProperties = { tid: 5, peer: "192.0.2.2:1701" };
 * ```
 */
export type LogProperties = Record<string, unknown>;

/**
 * The logging surface the daemon's modules use. A logtape `Logger` satisfies it, so code that
 * takes a `Log` also accepts `getLogger(...)` from `@logtape/logtape`.
 *
 * Messages are templates: `{name}` is replaced by the property `name`, and every property is
 * also written as structured data.
 *
 * @example Usage
 * ```ts
 * import { getLog, type Log } from "./log.ts";
 * function tunnelUp(log: Log, tid: number): void {
 *   log.info("tunnel up: tid {tid}", { tid });
 * }
 * tunnelUp(getLog("tunnel", { tunnel: "t1" }), 5);
 * ```
 */
export interface Log {
  /** The logger's category, starting with `"l2tpd"`. */
  readonly category: readonly string[];
  /** Log at trace level. */
  trace(message: string, properties?: LogProperties): void;
  /** Log at debug level. */
  debug(message: string, properties?: LogProperties): void;
  /** Log at info level. */
  info(message: string, properties?: LogProperties): void;
  /** Log at warning level. */
  warn(message: string, properties?: LogProperties): void;
  /** Log at error level. */
  error(message: string, properties?: LogProperties): void;
  /** Log at fatal level. */
  fatal(message: string, properties?: LogProperties): void;
  /** A logger with the same category whose records also carry `properties`. */
  with(properties: LogProperties): Log;
}

/**
 * A log record as the formatters read it (a logtape `LogRecord` is one).
 *
 * @example Usage
 * ```ts
 * import type { LogLine } from "./log.ts";
 * const line: LogLine = {
 *   category: ["l2tpd"], level: "info", message: ["hello"], timestamp: Date.now(), properties: {},
 * };
 * ```
 */
export interface LogLine {
  /** Category path, e.g. `["l2tpd", "tunnel"]`. */
  readonly category: readonly string[];
  /** Severity. */
  readonly level: LogLevelName;
  /** The message: text parts at even indexes, interpolated values at odd indexes. */
  readonly message: readonly unknown[];
  /** The message template; properties named by its `{placeholders}` are not repeated in text. */
  readonly rawMessage?: string | readonly string[];
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  /** Structured properties. */
  readonly properties: LogProperties;
}

/**
 * Configure logtape for the daemon: the `"l2tpd"` category (and logtape's own warnings) go to
 * one sink in the chosen format. Replaces any previous configuration.
 *
 * @example Usage
 * ```ts
 * import { getLog, resetLogging, setupLogging } from "./log.ts";
 * setupLogging({ level: "debug", format: "text" });
 * getLog().debug("starting");
 * resetLogging();
 * ```
 */
export function setupLogging(options: LoggingOptions): void {
  const format = options.format === "json" ? formatJsonRecord : formatTextRecord;
  let sink: Sink;
  if (options.write !== undefined) {
    const write = options.write;
    sink = (record: LogRecord): void => write(format(record));
  } else {
    const queue = new LogQueue({
      ...(options.queueLines !== undefined ? { maxLines: options.queueLines } : {}),
      droppedLine: (n) =>
        format({
          category: [ROOT_CATEGORY, "log"],
          level: "warning",
          message: ["log: dropped ", n, " lines"],
          rawMessage: "log: dropped {dropped} lines",
          timestamp: Date.now(),
          properties: { dropped: n },
        }),
    });
    activeQueue = queue;
    // logtape disposes the sink on reset and on `unload` (the end of the program, Deno.exit()).
    sink = Object.assign((record: LogRecord): void => queue.push(format(record)), {
      [Symbol.dispose]: (): void => {
        queue.flushSync();
        if (activeQueue === queue) activeQueue = undefined;
      },
    });
  }
  // The daemon's loggers (getLog) hand records to the sink themselves; logtape serves loggers
  // made with its own getLogger, and its meta warnings.
  const out: (record: DirectRecord) => void = sink as (record: LogLine) => void;
  setDirectSink(out, options.level);
  configureSync({
    reset: true,
    sinks: { out: sink },
    loggers: [
      { category: [ROOT_CATEGORY], lowestLevel: options.level, sinks: ["out"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["out"] },
    ],
  });
}

/**
 * Undo {@linkcode setupLogging}: loggers go quiet again.
 *
 * @example Usage
 * ```ts
 * import { resetLogging, setupLogging } from "./log.ts";
 * setupLogging({ level: "info", format: "json", write: () => {} });
 * resetLogging();
 * ```
 */
export function resetLogging(): void {
  setDirectSink(undefined, "info");
  resetSync();
}

let activeQueue: LogQueue | undefined;

/**
 * Write every line queued for stderr so far; resolves once they are written. Call it before the
 * process exits (`await flushLogs(); Deno.exit(code)`). Resolves at once when logging is not
 * set up or writes elsewhere.
 *
 * @returns Resolves when the queue is empty and no write is in progress.
 *
 * @example Usage
 * ```ts
 * import { flushLogs, getLog, resetLogging, setupLogging } from "./log.ts";
 * setupLogging({ level: "info", format: "text" });
 * getLog().info("stopping");
 * await flushLogs();
 * resetLogging();
 * ```
 */
export function flushLogs(): Promise<void> {
  return activeQueue?.flush() ?? Promise.resolve();
}

/**
 * Write every line queued for stderr now, synchronously: for exit paths that cannot await (an
 * uncaught error handler, a signal handler that calls `Deno.exit`). A write already in progress
 * is not waited for, so its lines may come out after these.
 *
 * @example Usage
 * ```ts
 * import { flushLogsSync, getLog, resetLogging, setupLogging } from "./log.ts";
 * setupLogging({ level: "info", format: "json" });
 * getLog().error("fatal: giving up");
 * flushLogsSync();
 * resetLogging();
 * ```
 */
export function flushLogsSync(): void {
  activeQueue?.flushSync();
}

/**
 * Options of {@linkcode LogQueue}.
 *
 * @example Usage
 * ```ts
 * import type { LogQueueOptions } from "./log.ts";
 * const opts: LogQueueOptions = { maxLines: 100, droppedLine: (n) => `dropped ${n}\n` };
 * console.log(opts.maxLines); // 100
 * ```
 */
export interface LogQueueOptions {
  /** Write some bytes, resolving with how many were written (default `Deno.stderr.write`). */
  write?: (data: Uint8Array) => Promise<number>;
  /** Write some bytes synchronously, returning how many (default `Deno.stderr.writeSync`). */
  writeSync?: (data: Uint8Array) => number;
  /** Lines held before the oldest are dropped (default 10,000). */
  maxLines?: number;
  /** The line written where `n` lines were dropped (default `log: dropped N lines`). */
  droppedLine?: (n: number) => string;
  /**
   * Milliseconds between the first line queued and the write that takes it and every line
   * queued meanwhile (default {@linkcode LOG_WRITE_DELAY_MS}; 0: the next turn of the event
   * loop).
   */
  delayMs?: number;
}

/**
 * How long a log line waits for others before the queue writes them together, in milliseconds:
 * during a burst (a thousand sessions coming up) one write carries a few hundred lines instead
 * of each write carrying two or three (every write is a round trip to a worker thread).
 *
 * @example Usage
 * ```ts
 * import { LOG_WRITE_DELAY_MS } from "./log.ts";
 * console.log(LOG_WRITE_DELAY_MS); // 20
 * ```
 */
export const LOG_WRITE_DELAY_MS = 20;

/** Bytes (roughly: UTF-16 code units) written at most in one write. */
const CHUNK_CHARS = 64 * 1024;

/**
 * A bounded queue of log lines written asynchronously, so that logging never waits for a slow
 * stderr: `push` only queues the line; a timer ({@linkcode LOG_WRITE_DELAY_MS}) then starts a
 * write of everything queued (up to 64 KiB per write, many lines each), and lines queued
 * meanwhile go in the next one. When `maxLines` are waiting, the oldest is dropped; the next write then starts with one
 * line saying how many were dropped. A failed write (stderr closed) loses its lines, never
 * throws.
 *
 * @example Usage
 * ```ts
 * import { LogQueue } from "./log.ts";
 * const out: string[] = [];
 * const decoder = new TextDecoder();
 * const q = new LogQueue({
 *   maxLines: 2,
 *   write: (data) => (out.push(decoder.decode(data)), Promise.resolve(data.length)),
 * });
 * q.push("a\n");
 * q.push("b\n");
 * q.push("c\n"); // "a" is dropped
 * await q.flush();
 * console.log(out.join("")); // "log: dropped 1 lines\nb\nc\n"
 * ```
 */
export class LogQueue implements Disposable {
  readonly #write: (data: Uint8Array) => Promise<number>;
  readonly #writeSync: (data: Uint8Array) => number;
  readonly #max: number;
  readonly #droppedLine: (n: number) => string;
  readonly #delay: number;
  #lines: string[] = [];
  #head = 0;
  #droppedSince = 0;
  #droppedTotal = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> | undefined;

  /**
   * An empty queue.
   *
   * @param options Writers, bound, the dropped-lines notice.
   * @throws {RangeError} If `maxLines` is not a positive integer.
   */
  constructor(options: LogQueueOptions = {}) {
    this.#write = options.write ?? ((data) => Deno.stderr.write(data));
    this.#writeSync = options.writeSync ?? ((data) => Deno.stderr.writeSync(data));
    this.#max = options.maxLines ?? 10_000;
    if (!Number.isInteger(this.#max) || this.#max < 1) {
      throw new RangeError(`Cannot create log queue: maxLines ${this.#max} is not an integer ≥ 1`);
    }
    this.#droppedLine = options.droppedLine ?? ((n) => `log: dropped ${n} lines\n`);
    this.#delay = options.delayMs ?? LOG_WRITE_DELAY_MS;
  }

  /** Lines waiting (not counting a write in progress). */
  get size(): number {
    return this.#lines.length - this.#head;
  }

  /** Lines dropped so far because the queue was full. */
  get dropped(): number {
    return this.#droppedTotal;
  }

  /**
   * Queue a line (ending in a newline). Never blocks, never throws.
   *
   * @param line The formatted line.
   */
  push(line: string): void {
    if (this.size >= this.#max) {
      this.#lines[this.#head++] = "";
      this.#droppedSince++;
      this.#droppedTotal++;
      if (this.#head > 1024 && this.#head * 2 > this.#lines.length) {
        this.#lines = this.#lines.slice(this.#head);
        this.#head = 0;
      }
    }
    this.#lines.push(line);
    this.#schedule();
  }

  /**
   * Write everything queued; resolves once it is written and no write is in progress.
   *
   * @returns Resolves when the queue is empty.
   */
  async flush(): Promise<void> {
    for (;;) {
      if (this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#writing ??= this.#drain();
      }
      if (this.#writing === undefined) {
        if (this.size === 0 && this.#droppedSince === 0) return;
        this.#writing = this.#drain();
      }
      await this.#writing;
    }
  }

  /**
   * Write everything queued now, synchronously (a write in progress is not waited for).
   */
  flushSync(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    for (let chunk = this.#take(); chunk !== undefined; chunk = this.#take()) {
      try {
        let off = 0;
        while (off < chunk.length) off += this.#writeSync(chunk.subarray(off));
      } catch {
        // stderr is gone: the lines are lost.
      }
    }
  }

  /** {@linkcode LogQueue.flushSync}. */
  [Symbol.dispose](): void {
    this.flushSync();
  }

  #schedule(): void {
    if (this.#writing !== undefined || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#writing ??= this.#drain();
    }, this.#delay);
  }

  async #drain(): Promise<void> {
    try {
      // Awaited even when there is nothing to write, so that `#writing` is set before it clears.
      await this.#writeAll();
    } finally {
      this.#writing = undefined;
    }
  }

  async #writeAll(): Promise<void> {
    for (let chunk = this.#take(); chunk !== undefined; chunk = this.#take()) {
      try {
        let off = 0;
        while (off < chunk.length) off += await this.#write(chunk.subarray(off));
      } catch {
        // stderr is gone: the lines are lost.
      }
    }
  }

  /** The next chunk to write (the dropped-lines notice first), or undefined if none. */
  #take(): Uint8Array | undefined {
    if (this.size === 0 && this.#droppedSince === 0) return undefined;
    let text = "";
    if (this.#droppedSince > 0) {
      text = this.#droppedLine(this.#droppedSince);
      this.#droppedSince = 0;
    }
    while (this.#head < this.#lines.length && text.length < CHUNK_CHARS) {
      text += this.#lines[this.#head++];
    }
    if (this.#head === this.#lines.length) {
      this.#lines = [];
      this.#head = 0;
    }
    return encoder.encode(text);
  }
}

/**
 * A logger under the `"l2tpd"` root whose records carry `context` as properties. While
 * {@linkcode setupLogging} is in force it writes to that sink directly; otherwise it is logtape's
 * logger of the same category (lib/log_direct.ts).
 *
 * @param category Sub-category (or path of sub-categories) below `"l2tpd"`.
 * @param context Properties added to every record, such as `tunnel` and `session`.
 *
 * @example Usage
 * ```ts
 * import { getLog } from "./log.ts";
 * const log = getLog("session", { tunnel: "t1", session: "s1" });
 * log.info("session up: {ifname}", { ifname: "l2tpeth0" });
 * ```
 */
export function getLog(
  category: string | readonly string[] = [],
  context: LogContext = {},
): Log {
  const sub = typeof category === "string" ? [category] : category;
  return new DirectLog([ROOT_CATEGORY, ...sub], context);
}

/**
 * Format a record as one human-readable line: timestamp, level, category, message, then the
 * properties not already shown in the message as `key=value` (strings with spaces or quotes are
 * JSON-quoted).
 *
 * @example Usage
 * ```ts
 * import { formatTextRecord } from "./log.ts";
 * console.log(formatTextRecord({
 *   category: ["l2tpd"], level: "info", message: ["hello"], timestamp: 0,
 *   properties: { tunnel: "t1" },
 * }));
 * // 1970-01-01T00:00:00.000Z INFO    [l2tpd] hello tunnel=t1
 * ```
 */
export function formatTextRecord(record: LogLine): string {
  let line = isoTime(record.timestamp) + " " + (LEVEL_COLUMN[record.level] ?? levelColumn(record)) +
    " [" + categoryText(record.category) + "] " + renderMessage(record.message);
  const shown = typeof record.rawMessage === "string"
    ? placeholders(record.rawMessage)
    : NO_PLACEHOLDERS;
  const properties = record.properties;
  for (const key in properties) {
    const value = properties[key];
    if (value === undefined || shown.has(key) || !Object.hasOwn(properties, key)) continue;
    line += " " + key + "=" + textValue(value);
  }
  return line + "\n";
}

/** The level as the text format's fixed-width column (`INFO   `). */
const LEVEL_COLUMN: Readonly<Record<string, string>> = Object.fromEntries(
  LOG_LEVELS.map((l) => [l, l.toUpperCase().padEnd(7)]),
);

function levelColumn(record: LogLine): string {
  return String(record.level).toUpperCase().padEnd(7);
}

/** Category paths joined with dots, kept per path array (a logger's array is reused). */
const categoryTexts = new WeakMap<readonly string[], string>();

function categoryText(category: readonly string[]): string {
  let text = categoryTexts.get(category);
  if (text === undefined) {
    text = category.join(".");
    categoryTexts.set(category, text);
  }
  return text;
}

/**
 * Format a record as one JSON object on one line: `timestamp`, `level`, `category`, `message`,
 * then every property at the top level (a property named like one of those four gets a leading
 * underscore). Bigints become decimal strings, byte arrays hex strings, errors
 * `{ name, message }`.
 *
 * @example Usage
 * ```ts
 * import { formatJsonRecord } from "./log.ts";
 * const line = formatJsonRecord({
 *   category: ["l2tpd", "tunnel"], level: "info", message: ["up"], timestamp: 0,
 *   properties: { tunnel: "t1", rx: 5n },
 * });
 * console.log(JSON.parse(line).rx); // "5"
 * ```
 */
export function formatJsonRecord(record: LogLine): string {
  const out: Record<string, unknown> = {
    timestamp: isoTime(record.timestamp),
    level: record.level,
    category: categoryText(record.category),
    message: renderMessage(record.message),
  };
  for (const [key, value] of Object.entries(record.properties)) {
    if (value === undefined) continue;
    let name = key;
    while (Object.hasOwn(out, name)) name = `_${name}`;
    out[name] = jsonSafe(value, 0);
  }
  return JSON.stringify(out) + "\n";
}

const NO_PLACEHOLDERS: ReadonlySet<string> = new Set();
const placeholderCache = new Map<string, ReadonlySet<string>>();

/** The `{names}` of a message template (cached: templates are few, records many). */
function placeholders(template: string): ReadonlySet<string> {
  let names = placeholderCache.get(template);
  if (names === undefined) {
    names = new Set([...template.matchAll(/\{([^{}\s]+)\}/g)].map((m) => m[1]));
    if (placeholderCache.size >= 1024) placeholderCache.clear();
    placeholderCache.set(template, names);
  }
  return names;
}

function renderMessage(message: readonly unknown[]): string {
  let text = "";
  for (let i = 0; i < message.length; i++) {
    const part = message[i];
    text += i % 2 === 0 ? String(part) : inlineValue(part);
  }
  return text;
}

/** A value inside a message: strings as they are, everything else as in the text format. */
function inlineValue(value: unknown): string {
  return typeof value === "string" ? value : textValue(value);
}

function textValue(value: unknown): string {
  if (typeof value === "string") {
    return value === "" || /[\s"=\\]/.test(value) ? JSON.stringify(value) : value;
  }
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return String(value);
  }
  if (value === null || value === undefined) return String(value);
  if (value instanceof Error) return JSON.stringify(value.message);
  if (value instanceof Uint8Array) return toHex(value);
  return JSON.stringify(jsonSafe(value, 0));
}

function jsonSafe(value: unknown, depth: number): unknown {
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "string" || typeof value === "boolean" || value === null) return value;
  if (value === undefined || typeof value === "function" || typeof value === "symbol") {
    return undefined;
  }
  if (value instanceof Uint8Array) return toHex(value);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Error) {
    const err: Record<string, unknown> = { name: value.name, message: value.message };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) err.code = jsonSafe(code, depth + 1);
    return err;
  }
  if (depth >= 8) return "[nested too deep]";
  if (Array.isArray(value)) return value.map((v) => jsonSafe(v, depth + 1) ?? null);
  if (value instanceof Map) {
    return Object.fromEntries([...value].map(([k, v]) => [String(k), jsonSafe(v, depth + 1)]));
  }
  if (value instanceof Set) return [...value].map((v) => jsonSafe(v, depth + 1) ?? null);
  if (typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const safe = jsonSafe(v, depth + 1);
      if (safe !== undefined) out[k] = safe;
    }
    return out;
  }
  return String(value);
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const encoder = new TextEncoder();
