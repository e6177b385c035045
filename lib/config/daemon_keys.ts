/**
 * The schema of the `[daemon]` table: the daemon's own settings (its control socket, metrics and
 * the timeout of `on_up` / `on_down` commands), with each key's value type, default, doc line and
 * how the effective configuration prints it (see `schema.ts` for what each field means).
 *
 * @example Usage
 * ```ts
 * import { DAEMON_KEYS } from "./daemon_keys.ts";
 * console.log(Object.keys(DAEMON_KEYS).join(", ")); // socket, socket_group, metrics, hook_timeout
 * ```
 *
 * @module
 */

import { formatEndpoint } from "../../control/endpoint.ts";
import { CONFIG_DEFAULTS, type Schema } from "./schema.ts";
import { tomlString, tomlText } from "./text.ts";
import type { DaemonConfig, Endpoint } from "./types.ts";
import { groupName, integer, listenAddress, socketPath } from "./values.ts";

/** The longest timer JavaScript can arm (2^31 - 1 ms, about 24.8 days). */
const TIMER_MAX = 0x7fffffff;

/**
 * The value type of every `[daemon]` key (as read, before defaults).
 *
 * @example Usage
 * ```ts
 * import type { DaemonValues } from "./daemon_keys.ts";
 * const v: Partial<DaemonValues> = { socket: "/run/l2tpd.sock", hook_timeout: 5000 };
 * console.log(v.socket);
 * ```
 */
export interface DaemonValues {
  /** `socket`. */ socket: string;
  /** `socket_group`. */ socket_group: string;
  /** `metrics`. */ metrics: Endpoint;
  /** `hook_timeout`. */ hook_timeout: number;
}

/**
 * The keys of the `[daemon]` table, in the order the effective configuration prints them.
 *
 * @example Usage
 * ```ts
 * import { DAEMON_KEYS } from "./daemon_keys.ts";
 * console.log(DAEMON_KEYS.hook_timeout.default); // 10000
 * ```
 */
export const DAEMON_KEYS: Schema<DaemonValues, DaemonConfig> = {
  socket: {
    origin: "ours",
    type: socketPath(),
    default: "/run/l2tpd/l2tpd.sock (--socket overrides it)",
    doc: "Path of the control socket (absolute)",
    print: (d) => tomlText(d.socket),
  },
  socket_group: {
    origin: "ours",
    type: groupName(),
    default: "none: only the daemon's user",
    doc: "The group allowed to use the control socket (a name or a numeric ID)",
    print: (d) => tomlText(d.socketGroup),
  },
  metrics: {
    origin: "ours",
    type: listenAddress(),
    default: "no metrics",
    doc: 'Serve Prometheus metrics over HTTP on this "ADDR:PORT" ("127.0.0.1:9100", "[::1]:9100")',
    print: (d) => d.metrics === undefined ? undefined : tomlString(formatEndpoint(d.metrics)),
  },
  hook_timeout: {
    origin: "ours",
    type: integer(1, TIMER_MAX, "milliseconds"),
    fallback: CONFIG_DEFAULTS.hookTimeoutMs,
    default: String(CONFIG_DEFAULTS.hookTimeoutMs),
    doc: "How long an on_up or on_down command may run before it is killed",
    print: (d) => tomlText(d.hookTimeoutMs),
  },
};
