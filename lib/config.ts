/**
 * Configuration: a TOML file describing tunnels and sessions, turned into a typed, validated
 * {@linkcode Config}.
 *
 * The file format is go-l2tp's: tunnels are named tables `[tunnel.NAME]`, sessions are named
 * tables inside them `[tunnel.NAME.session.NAME]`. Every go-l2tp key is understood with
 * go-l2tp's meaning and units (timeouts in milliseconds, IDs as integers, cookies as arrays of
 * bytes); this daemon adds a few keys of its own in the same snake_case style (`mode`,
 * `managed`, `role`, `udp_checksum`, `mtu`, `on_up`, ...) and a `[daemon]` table for the
 * daemon's own settings. `config.example.toml` documents every key.
 *
 * Validation is strict and complete: unknown keys are rejected with the nearest known key as a
 * suggestion, every type, range and combination is checked, and all problems are reported at
 * once in a single {@linkcode ConfigError}.
 *
 * This module is the entry point; the work is done in `config/`, one concern per file:
 *
 * | file                                | concern                                            |
 * | ----------------------------------- | -------------------------------------------------- |
 * | `types.ts`, `entries.ts`            | shapes: named tunnels and sessions; flat entries   |
 * | `schema.ts`                         | schema machinery: type, default, scope, doc, print |
 * | `tunnel_keys.ts`, `session_keys.ts` | the schema tables, one entry per key               |
 * | `daemon_keys.ts`                    | the schema of the `[daemon]` table                 |
 * | `values.ts`, `address.ts`           | value types; endpoints (on `control/endpoint.ts`)  |
 * | `reader.ts`, `parse.ts`             | reading a table by its schema; parsing a file      |
 * | `checks.ts`                         | combinations of keys; duplicates across tunnels    |
 * | `format.ts`                         | the effective configuration as TOML                |
 * | `permissions.ts`                    | a secret in a file others may read                 |
 * | `issues.ts`, `text.ts`              | problems and warnings; text helpers                |
 *
 * @example Usage
 * ```ts
 * import { formatConfig, parseConfig } from "./config.ts";
 * const config = parseConfig(
 *   `[tunnel.t1]
 *    local = "192.0.2.1:5000"
 *    peer = "192.0.2.2:5001"
 *    version = "l2tpv3"
 *    tid = 1
 *    ptid = 2
 *    [tunnel.t1.session.s1]
 *    sid = 10
 *    psid = 20
 *    pseudowire = "eth"`,
 *   "example.toml",
 * );
 * console.log(config.tunnels[0].config.mode); // "static"
 * console.log(formatConfig(config));
 * ```
 *
 * @module
 */

export type { Endpoint } from "../control/types.ts";
export { formatEndpoint } from "../control/endpoint.ts";
export type {
  CallType,
  Config,
  DaemonConfig,
  DefaultMode,
  FramingCap,
  Hook,
  MessageDigest,
  NamedSession,
  NamedTunnel,
  Pseudowire,
  SessionConfig,
  TunnelConfig,
  TunnelMode,
  TunnelRole,
} from "./config/types.ts";
export { namedTunnel, type SessionEntry, type TunnelEntry, tunnelEntry } from "./config/entries.ts";
export { ConfigError, type ConfigIssue, formatIssue } from "./config/issues.ts";
export { CONFIG_DEFAULTS, type FormatOptions } from "./config/schema.ts";
export { type ConfigOptions, loadConfig, parseConfig, splitPppdArgs } from "./config/parse.ts";
export { formatConfig } from "./config/format.ts";
export { secretFileWarnings } from "./config/permissions.ts";
export { type AddressKind, addressKind, parseEndpoint } from "./config/address.ts";
