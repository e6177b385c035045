/**
 * Small helpers shared by the parts of a control connection (control/connection.ts,
 * control/tunnel.ts, control/call_table.ts, control/call.ts): result codes in words, error
 * texts for log lines, and the log that writes nothing.
 *
 * @example Usage
 * ```ts
 * import { describeResult, errorText, NOOP_LOG } from "./connection_util.ts";
 * NOOP_LOG.info("never shown");
 * console.log(describeResult({ resultCode: 3 }, "cdn")); // result 3 (administrative)
 * console.log(errorText(new Error("boom"))); // boom
 * ```
 *
 * @module
 */

import type { ResultCodeValue } from "./avp.ts";
import type { ControlLog } from "./connection_types.ts";

const noop = (): void => {};

/**
 * A log that writes nothing (the connection's default).
 *
 * @example Usage
 * ```ts
 * import { NOOP_LOG } from "./connection_util.ts";
 * NOOP_LOG.warn("{tunnel}: ignored", { tunnel: "t1" });
 * console.log(typeof NOOP_LOG.debug); // function
 * ```
 */
export const NOOP_LOG: ControlLog = { debug: noop, info: noop, warn: noop, error: noop };

/** StopCCN Result Codes in words (RFC 2661 §4.4.2, RFC 3931 §5.4.2). */
const STOPCCN_RESULTS: Readonly<Record<number, string>> = {
  1: "general request",
  2: "general error",
  3: "already exists",
  4: "not authorized",
  5: "unsupported protocol version",
  6: "shutting down",
  7: "state machine error",
};

/** CDN Result Codes in words (RFC 2661 §4.4.2, RFC 3931 §5.4.2). */
const CDN_RESULTS: Readonly<Record<number, string>> = {
  1: "lost carrier",
  2: "general error",
  3: "administrative",
  4: "temporarily unavailable",
  5: "permanently unavailable",
  6: "invalid destination",
  10: "timeout",
  13: "lost tie breaker",
  14: "unsupported pseudowire type",
  15: "sequencing without L2-Specific Sublayer",
  16: "state machine error or timeout",
};

/**
 * A result code in words, for logs ("result 4 (not authorized)", with error code and message).
 *
 * @param r The Result Code AVP value.
 * @param message Whether it came in a StopCCN (`"stopccn"`) or a CDN (`"cdn"`).
 * @returns The text.
 *
 * @example Usage
 * ```ts
 * import { describeResult } from "./connection_util.ts";
 * console.log(describeResult({ resultCode: 4 }, "stopccn")); // result 4 (not authorized)
 * ```
 */
export function describeResult(r: ResultCodeValue, message: "stopccn" | "cdn"): string {
  const name = (message === "stopccn" ? STOPCCN_RESULTS : CDN_RESULTS)[r.resultCode];
  let text = `result ${r.resultCode}${name ? ` (${name})` : ""}`;
  if (r.errorCode) text += `, error ${r.errorCode}`;
  if (r.errorMessage) text += `: ${r.errorMessage}`;
  return text;
}

/**
 * The message of an error (or the text of anything else thrown), for log lines.
 *
 * @param e What was thrown.
 * @returns Its message.
 *
 * @example Usage
 * ```ts
 * import { errorText } from "./connection_util.ts";
 * console.log(errorText(new RangeError("out of range")), errorText(42)); // out of range 42
 * ```
 */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
