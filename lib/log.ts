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

import { configureSync, getLogger, type LogRecord, resetSync } from "@logtape/logtape";

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
   * Where each formatted line (ending in a newline) goes; defaults to writing stderr
   * synchronously. Tests pass a function that collects lines.
   */
  write?: (line: string) => void;
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
  const write = options.write ?? writeStderr;
  const format = options.format === "json" ? formatJsonRecord : formatTextRecord;
  configureSync({
    reset: true,
    sinks: { out: (record: LogRecord): void => write(format(record)) },
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
  resetSync();
}

/**
 * A logger under the `"l2tpd"` root whose records carry `context` as properties.
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
  const logger = getLogger([ROOT_CATEGORY, ...sub]);
  const props = Object.fromEntries(Object.entries(context).filter(([, v]) => v !== undefined));
  return Object.keys(props).length > 0 ? logger.with(props) : logger;
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
  const parts = [
    new Date(record.timestamp).toISOString(),
    record.level.toUpperCase().padEnd(7),
    `[${record.category.join(".")}]`,
    renderMessage(record.message),
  ];
  const shown = typeof record.rawMessage === "string"
    ? new Set([...record.rawMessage.matchAll(/\{([^{}\s]+)\}/g)].map((m) => m[1]))
    : new Set<string>();
  for (const [key, value] of Object.entries(record.properties)) {
    if (value === undefined || shown.has(key)) continue;
    parts.push(`${key}=${textValue(value)}`);
  }
  return parts.join(" ") + "\n";
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
    timestamp: new Date(record.timestamp).toISOString(),
    level: record.level,
    category: record.category.join("."),
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

function renderMessage(message: readonly unknown[]): string {
  return message.map((part, i) => i % 2 === 0 ? String(part) : inlineValue(part)).join("");
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

function writeStderr(line: string): void {
  const data = encoder.encode(line);
  let off = 0;
  while (off < data.length) off += Deno.stderr.writeSync(data.subarray(off));
}
