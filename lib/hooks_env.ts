/**
 * What a hook is told about its event: the `L2TPD_*` variables of its environment
 * ({@linkcode HOOK_VARIABLES}, {@linkcode hookEnvironment}), the whole environment its command
 * gets ({@linkcode commandEnvironment}), and how the event's tunnel or session is named in log
 * lines ({@linkcode eventLogContext}, {@linkcode describeEventTarget}). Re-exported (the first
 * two) by `hooks.ts`.
 *
 * @example Usage
 * ```ts
 * import { hookEnvironment } from "./hooks_env.ts";
 * console.log(hookEnvironment({
 *   type: "tunnel-up", time: "", tunnel: "t1", version: 3, encap: "udp", localTunnelId: 1,
 *   peerTunnelId: 2, peer: { address: "192.0.2.2", port: 1701 },
 * }).L2TPD_PEER_PORT); // "1701"
 * ```
 *
 * @module
 */

import type { L2tpEvent } from "./events.ts";
import type { Endpoint } from "../control/types.ts";

/**
 * The variables a hook gets on top of the daemon's environment, each set only when it has a
 * value for the event.
 *
 * @example Usage
 * ```ts
 * import { HOOK_VARIABLES } from "./hooks_env.ts";
 * console.log(HOOK_VARIABLES.includes("L2TPD_INTERFACE")); // true
 * ```
 */
export const HOOK_VARIABLES: readonly string[] = Object.freeze([
  "L2TPD_EVENT",
  "L2TPD_TUNNEL",
  "L2TPD_SESSION",
  "L2TPD_LOCAL_TUNNEL_ID",
  "L2TPD_PEER_TUNNEL_ID",
  "L2TPD_LOCAL_SESSION_ID",
  "L2TPD_PEER_SESSION_ID",
  "L2TPD_INTERFACE",
  "L2TPD_PEER_ADDRESS",
  "L2TPD_PEER_PORT",
  "L2TPD_PSEUDOWIRE",
  "L2TPD_REASON",
  "L2TPD_RESULT_CODE",
]);

/** Every field an event may carry that a hook's environment shows. */
interface EventFields {
  session?: string;
  localTunnelId?: number;
  peerTunnelId?: number;
  localSessionId?: number;
  peerSessionId?: number;
  interface?: string;
  peer?: Endpoint;
  pseudowire?: string;
  reason?: string;
  resultCode?: number;
}

/**
 * The `L2TPD_*` variables of a hook run for `event`; for a down event, what it lacks (the
 * interface, the pseudowire, the peer's tunnel ID, ...) is taken from the matching up event when
 * given. A variable without a value (an ID of 0, the port over IP encapsulation) is left out.
 *
 * - `L2TPD_EVENT`: `tunnel-up`, `tunnel-down`, `session-up` or `session-down`
 * - `L2TPD_TUNNEL`, `L2TPD_SESSION`: the names of the tunnel and session
 * - `L2TPD_LOCAL_TUNNEL_ID`, `L2TPD_PEER_TUNNEL_ID`: tunnel IDs
 * - `L2TPD_LOCAL_SESSION_ID`, `L2TPD_PEER_SESSION_ID`: session IDs
 * - `L2TPD_INTERFACE`: the session's network interface (`l2tpeth0`, `ppp0`)
 * - `L2TPD_PEER_ADDRESS`, `L2TPD_PEER_PORT`: the peer
 * - `L2TPD_PSEUDOWIRE`: the session's pseudowire (`eth`, `ppp`, ...)
 * - `L2TPD_REASON`, `L2TPD_RESULT_CODE`: why it went down (down events)
 *
 * @param event The event.
 * @param up For a down event, the up event of the same tunnel or session.
 * @returns The variables.
 *
 * @example Usage
 * ```ts
 * import { hookEnvironment } from "./hooks_env.ts";
 * console.log(hookEnvironment({
 *   type: "session-down", time: "", tunnel: "t1", session: "s1", localTunnelId: 1,
 *   localSessionId: 10, reason: "closed",
 * }, {
 *   type: "session-up", time: "", tunnel: "t1", session: "s1", localTunnelId: 1,
 *   peerTunnelId: 2, localSessionId: 10, peerSessionId: 20, pseudowire: "eth",
 *   peer: { address: "192.0.2.2", port: 0 }, interface: "l2tpeth0",
 * }));
 * // { L2TPD_EVENT: "session-down", L2TPD_TUNNEL: "t1", L2TPD_SESSION: "s1", ...,
 * //   L2TPD_INTERFACE: "l2tpeth0", L2TPD_PEER_ADDRESS: "192.0.2.2", L2TPD_REASON: "closed" }
 * ```
 */
export function hookEnvironment(event: L2tpEvent, up?: L2tpEvent): Record<string, string> {
  const now: EventFields = event;
  const before: EventFields = up ?? {};
  const get = <K extends keyof EventFields>(k: K): EventFields[K] => now[k] ?? before[k];
  const env: Record<string, string> = {};
  const set = (name: string, value: string | number | undefined): void => {
    if (value !== undefined && value !== "" && value !== 0) env[`L2TPD_${name}`] = String(value);
  };
  set("EVENT", event.type);
  set("TUNNEL", event.tunnel);
  set("SESSION", get("session"));
  set("LOCAL_TUNNEL_ID", get("localTunnelId"));
  set("PEER_TUNNEL_ID", get("peerTunnelId"));
  set("LOCAL_SESSION_ID", get("localSessionId"));
  set("PEER_SESSION_ID", get("peerSessionId"));
  set("INTERFACE", get("interface"));
  const peer = get("peer");
  set("PEER_ADDRESS", peer?.address);
  set("PEER_PORT", peer?.port);
  set("PSEUDOWIRE", get("pseudowire"));
  set("REASON", now.reason);
  set("RESULT_CODE", now.resultCode);
  return env;
}

/**
 * The log context of an event: its tunnel and, for a session's event, its session.
 *
 * @param e The event.
 * @returns `{ tunnel }` or `{ tunnel, session }`.
 *
 * @example Usage
 * ```ts
 * import { eventLogContext } from "./hooks_env.ts";
 * console.log(eventLogContext({
 *   type: "session-down", time: "", tunnel: "t1", session: "s1", localTunnelId: 1,
 *   localSessionId: 10, reason: "closed",
 * })); // { tunnel: "t1", session: "s1" }
 * ```
 */
export function eventLogContext(e: L2tpEvent): { tunnel: string; session?: string } {
  return "session" in e && e.session !== "" ? { tunnel: e.tunnel, session: e.session } : {
    tunnel: e.tunnel,
  };
}

/**
 * `tunnel "t1"` or `session "t1/s1"`: what an event is about, for messages.
 *
 * @param e The event.
 * @returns The description.
 *
 * @example Usage
 * ```ts
 * import { describeEventTarget } from "./hooks_env.ts";
 * console.log(describeEventTarget({
 *   type: "tunnel-up", time: "", tunnel: "t1", version: 3, encap: "ip", localTunnelId: 1,
 *   peerTunnelId: 2, peer: { address: "192.0.2.2", port: 0 },
 * })); // tunnel "t1"
 * ```
 */
export function describeEventTarget(e: L2tpEvent): string {
  return "session" in e
    ? `session ${JSON.stringify(`${e.tunnel}/${e.session}`)}`
    : `tunnel ${JSON.stringify(e.tunnel)}`;
}

/**
 * The environment of a command: the daemon's (without stale `L2TPD_*` event variables) plus the
 * event's; without permission to read the daemon's, the event's on top of what is inherited.
 * The result spreads into the options of a `Deno.Command`.
 *
 * @param vars The event's variables ({@linkcode hookEnvironment}).
 * @returns `env` and `clearEnv` for `Deno.Command`.
 *
 * @example Usage
 * ```ts
 * import { commandEnvironment } from "./hooks_env.ts";
 * const { env, clearEnv } = commandEnvironment({ L2TPD_EVENT: "tunnel-up" });
 * console.log(env.L2TPD_EVENT, clearEnv); // tunnel-up true (with --allow-env)
 * ```
 */
export function commandEnvironment(
  vars: Record<string, string>,
): { env: Record<string, string>; clearEnv: boolean } {
  let parent: Record<string, string>;
  try {
    parent = Deno.env.toObject();
  } catch {
    return { env: vars, clearEnv: false };
  }
  for (const name of HOOK_VARIABLES) delete parent[name];
  return { env: { ...parent, ...vars }, clearEnv: true };
}
