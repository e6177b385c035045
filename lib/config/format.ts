/**
 * The effective configuration as TOML: the `[daemon]` table and every tunnel and session with
 * every default written out, key by key in schema order, each printed by its schema entry.
 * Shared secrets print as `"<hidden>"` unless asked for.
 *
 * @example Usage
 * ```ts
 * import { formatConfig, parseConfig } from "../config.ts";
 * console.log(formatConfig(parseConfig('[tunnel.t1]\npeer = "192.0.2.2"', "t.toml")));
 * ```
 *
 * @module
 */

import { DAEMON_KEYS } from "./daemon_keys.ts";
import { tunnelEntry } from "./entries.ts";
import type { FormatOptions, Schema } from "./schema.ts";
import { SESSION_KEYS } from "./session_keys.ts";
import { tableKey } from "./text.ts";
import { TUNNEL_KEYS } from "./tunnel_keys.ts";
import type { Config } from "./types.ts";

/**
 * Render a configuration as TOML with every default written out (the effective configuration).
 * With `showSecrets`, the text parses back to an equal {@linkcode Config} (warnings aside;
 * `pppdArgsList` is filled again by `loadConfig`); without it (the default, what `check-config`
 * prints), every `secret` is written `secret = "<hidden>" # set, but not shown`, which is still
 * valid TOML.
 *
 * @param config The configuration.
 * @param options Whether to show secrets.
 *
 * @example Usage
 * ```ts
 * import { formatConfig, parseConfig } from "../config.ts";
 * const config = parseConfig(
 *   '[tunnel.t1]\nlocal = "10.0.0.1"\npeer = "10.0.0.2"\ntid = 1\nptid = 2\nencap = "ip"',
 *   "t.toml",
 * );
 * console.log(formatConfig(config));
 * ```
 */
export function formatConfig(config: Config, options: FormatOptions = {}): string {
  const out: string[] = [`# Effective configuration of ${config.file.replaceAll("\n", " ")}`];
  for (const w of config.warnings ?? []) out.push(`# warning: ${w.replaceAll("\n", " ")}`);
  if (config.daemon !== undefined) {
    out.push("", "[daemon]", ...lines(DAEMON_KEYS, config.daemon, options));
  }
  for (const t of config.tunnels.map(tunnelEntry)) {
    out.push("", `[tunnel.${tableKey(t.name)}]`, ...lines(TUNNEL_KEYS, t, options));
    for (const s of t.sessions) {
      out.push("", `[tunnel.${tableKey(t.name)}.session.${tableKey(s.name)}]`);
      out.push(...lines(SESSION_KEYS, s, options));
    }
  }
  return out.join("\n") + "\n";
}

/** `key = value` for every key of the schema that prints something for `entry`. */
function lines<V, E>(schema: Schema<V, E>, entry: E, options: FormatOptions): string[] {
  const out: string[] = [];
  for (const [key, spec] of Object.entries<Schema<V, E>[keyof V]>(schema)) {
    const value = spec.print?.(entry, options);
    if (value !== undefined) out.push(`${key} = ${value}`);
  }
  return out;
}
