/**
 * The daemon's event log: one subscriber of a context's events that writes one line per event,
 * always with the same field names.
 *
 * | field | events | value |
 * | --- | --- | --- |
 * | `event` | all | `tunnel-up`, `tunnel-down`, `session-up`, `session-down` |
 * | `tunnel` | all | the tunnel's name |
 * | `session` | session events | the session's name |
 * | `localTunnelId`, `peerTunnelId` | all (peer's when known) | integers |
 * | `localSessionId`, `peerSessionId` | session events | integers |
 * | `peer` | all (when known) | `address:port` (`[v6]:port`) |
 * | `peerHostName` | `tunnel-up` of dynamic tunnels | the peer's Host Name AVP |
 * | `pseudowire`, `interface` | `session-up` | e.g. `eth`, `l2tpeth0` (interface when there is one) |
 * | `reason`, `resultCode` | down events | words; the StopCCN/CDN Result Code when there was one |
 *
 * A field without a value is left out, never written as an empty or decorated string.
 *
 * @example Usage
 * ```ts
 * import { eventFields } from "./event_log.ts";
 * console.log(eventFields({
 *   type: "tunnel-down", time: "", tunnel: "t1", localTunnelId: 5, reason: "closed",
 * }));
 * // { event: "tunnel-down", tunnel: "t1", localTunnelId: 5, reason: "closed" }
 * ```
 *
 * @module
 */

import { formatEndpoint } from "../control/endpoint.ts";
import type { L2tpEvent } from "./events.ts";
import type { Log, LogProperties } from "./log.ts";

/**
 * The log fields of an event (see the table in the module documentation).
 *
 * @param e The event.
 * @returns The fields, without the ones that have no value.
 *
 * @example Usage
 * ```ts
 * import { eventFields } from "./event_log.ts";
 * const f = eventFields({
 *   type: "session-up", time: "", tunnel: "t", session: "s", localTunnelId: 1, peerTunnelId: 2,
 *   localSessionId: 3, peerSessionId: 4, peer: { address: "::1", port: 1701 }, pseudowire: "eth",
 * });
 * console.log(f.peer); // [::1]:1701
 * ```
 */
export function eventFields(e: L2tpEvent): LogProperties {
  const fields: LogProperties = { event: e.type };
  const source = e as unknown as Record<string, unknown>;
  for (const k in source) {
    const v = source[k];
    if (v === undefined || k === "type" || k === "time" || k === "peer") continue;
    if (Object.hasOwn(source, k)) fields[k] = v;
  }
  if (e.peer !== undefined) fields.peer = formatEndpoint(e.peer);
  return fields;
}

/**
 * Log every event of `source` as one info line whose message is the event type.
 *
 * @param source Something with `onEvent` (a `Context`).
 * @param log Where the lines go.
 * @returns A function that stops logging.
 *
 * @example Usage
 * ```ts
 * import { logEvents } from "./event_log.ts";
 * import { Context } from "./context.ts";
 * import { getLog } from "./log.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * const ctx = new Context({ dataplane: new NullDataPlane() });
 * const stop = logEvents(ctx, getLog("daemon"));
 * stop();
 * await ctx.close();
 * ```
 */
export function logEvents(
  source: { onEvent(listener: (e: L2tpEvent) => void): () => void },
  log: Log,
): () => void {
  return source.onEvent((e) => log.info("{event}", eventFields(e)));
}
