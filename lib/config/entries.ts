/**
 * The flat runtime forms of tunnels and sessions: a {@linkcode TunnelEntry} is a tunnel's
 * settings with its name and sessions in one object, a {@linkcode SessionEntry} a session's
 * settings with its name; {@linkcode tunnelEntry} and {@linkcode namedTunnel} convert between
 * them and the configuration's {@linkcode NamedTunnel}.
 *
 * @example Usage
 * ```ts
 * import { namedTunnel, parseConfig, tunnelEntry } from "../config.ts";
 * const [t] = parseConfig('[tunnel.t1]\npeer = "192.0.2.2"\n[tunnel.t1.session.s1]\n').tunnels;
 * const flat = tunnelEntry(t);
 * console.log(flat.name, flat.mode, flat.sessions[0].name); // t1 dynamic s1
 * console.log(namedTunnel(flat).sessions[0].config.pseudowire); // ppp
 * ```
 *
 * @module
 */

import type { NamedTunnel, SessionConfig, TunnelConfig } from "./types.ts";

/**
 * A session's settings together with its name: how the runtime carries a session.
 *
 * @example Usage
 * ```ts
 * import type { SessionEntry } from "../config.ts";
 * const s: SessionEntry = {
 *   name: "s1", pseudowire: "eth", sendSeqnum: false, recvSeqnum: false, l2specType: "none",
 * };
 * console.log(s.name); // s1
 * ```
 */
export interface SessionEntry extends SessionConfig {
  /** The session's name. */
  name: string;
}

/**
 * A tunnel's settings together with its name and sessions: how the runtime carries a tunnel.
 *
 * @example Usage
 * ```ts
 * import { tunnelEntry } from "../config.ts";
 * const t = tunnelEntry({
 *   name: "t1",
 *   config: { mode: "dynamic", version: 2, encap: "udp", managed: true, role: "lns" },
 *   sessions: [],
 * });
 * console.log(t.name, t.role); // t1 lns
 * ```
 */
export interface TunnelEntry extends TunnelConfig {
  /** The tunnel's name. */
  name: string;
  /** Its sessions, in order. */
  sessions: SessionEntry[];
}

/**
 * Flatten a {@linkcode NamedTunnel} into a {@linkcode TunnelEntry}.
 *
 * @example Usage
 * ```ts
 * import { parseConfig, tunnelEntry } from "../config.ts";
 * const [t] = parseConfig('[tunnel.t1]\npeer = "192.0.2.2"\n[tunnel.t1.session.s1]\n').tunnels;
 * console.log(tunnelEntry(t).sessions[0].name); // s1
 * ```
 */
export function tunnelEntry(t: NamedTunnel): TunnelEntry {
  return {
    ...t.config,
    name: t.name,
    sessions: t.sessions.map((s) => ({ ...s.config, name: s.name })),
  };
}

/**
 * The inverse of {@linkcode tunnelEntry}: a flat tunnel back into its name, settings and sessions.
 *
 * @example Usage
 * ```ts
 * import { namedTunnel } from "../config.ts";
 * const t = namedTunnel({
 *   name: "t1", mode: "dynamic", version: 2, encap: "udp", managed: true, role: "lns",
 *   sessions: [{ name: "s1", pseudowire: "ppp", sendSeqnum: false, recvSeqnum: false,
 *     l2specType: "none" }],
 * });
 * console.log(t.sessions[0].config.pseudowire); // ppp
 * ```
 */
export function namedTunnel(t: TunnelEntry): NamedTunnel {
  const { name, sessions, ...config } = t;
  return {
    name,
    config,
    sessions: sessions.map(({ name, ...config }) => ({ name, config })),
  };
}
