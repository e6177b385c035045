/**
 * ISO 8601 UTC timestamps (`2024-05-01T12:00:00.000Z`) for log lines and events, made cheaply:
 * `Date.prototype.toISOString` formats through the engine's C++ runtime, which dominated the cost
 * of a log line, so the part up to the seconds is kept for the current second and only the
 * milliseconds are added.
 *
 * @example Usage
 * ```ts
 * import { isoTime } from "./iso_time.ts";
 * console.log(isoTime(0)); // 1970-01-01T00:00:00.000Z
 * console.log(isoTime(1_714_564_800_123)); // 2024-05-01T12:00:00.123Z
 * ```
 *
 * @module
 */

/** The second `#prefix` was made for, in ms since the epoch (a multiple of 1000). */
let cachedSecond = Number.NaN;
/** `YYYY-MM-DDTHH:MM:SS.` of that second. */
let cachedPrefix = "";

const MS = ["00", "0", ""] as const;

/**
 * The ISO 8601 UTC form of a time, exactly as `new Date(ms).toISOString()` gives it.
 *
 * @param ms Milliseconds since the epoch (default: now).
 * @returns The timestamp.
 * @throws {RangeError} If `ms` is not a valid time (as `toISOString` does).
 *
 * @example Usage
 * ```ts
 * import { isoTime } from "./iso_time.ts";
 * console.log(isoTime(Date.UTC(2030, 0, 2, 3, 4, 5, 67))); // 2030-01-02T03:04:05.067Z
 * ```
 */
export function isoTime(ms: number = Date.now()): string {
  const t = Math.trunc(ms);
  const second = t - (((t % 1000) + 1000) % 1000);
  if (second !== cachedSecond) {
    const full = new Date(t).toISOString();
    // Years past 9999 or before 0 have a sign and six digits: do not cache those.
    if (full.length !== 24) return full;
    cachedSecond = second;
    cachedPrefix = full.slice(0, 20);
  }
  const rest = t - second;
  return cachedPrefix + MS[rest < 10 ? 0 : rest < 100 ? 1 : 2] + rest + "Z";
}
