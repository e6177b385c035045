/**
 * l2tpd as a library: L2TPv2 (RFC 2661) and L2TPv3 (RFC 3931) tunnels and sessions on Linux,
 * with go-l2tp's shape — load a configuration, make a context on a data plane, create tunnels
 * and sessions with it, and watch its events.
 *
 * - {@linkcode loadConfig} / {@linkcode parseConfig}: go-l2tp's TOML format, validated; the
 *   tunnels come back in file order, each with its sessions.
 * - {@linkcode Context}: `newStaticTunnel`, `newQuiescentTunnel`, `newDynamicTunnel`;
 *   `tunnel.newSession`; `close()` on any of them; `events()`; `status()`.
 * - Data planes: {@linkcode KernelDataPlane} (the Linux kernel over generic netlink; needs root,
 *   `--allow-ffi` and the l2tp modules) and {@linkcode NullDataPlane} (records what would be
 *   programmed; runs anywhere).
 *
 * @example A static L2TPv3 tunnel from a configuration
 * ```ts
 * import { Context, NullDataPlane, parseConfig } from "./mod.ts";
 *
 * const config = parseConfig(`
 * [tunnel.t1]
 * local = "192.0.2.1"
 * peer = "192.0.2.2"
 * encap = "ip"
 * tid = 1
 * ptid = 2
 * [tunnel.t1.session.s1]
 * sid = 10
 * psid = 20
 * pseudowire = "eth"
 * `);
 * await using ctx = new Context({ dataplane: new NullDataPlane() });
 * for (const t of config.tunnels) {
 *   const tunnel = await ctx.newStaticTunnel(t.name, t.config);
 *   for (const s of t.sessions) await tunnel.newSession(s.name, s.config);
 * }
 * console.log(JSON.stringify(ctx.status().tunnels.map((t) => t.state))); // ["up"]
 * ```
 *
 * @module
 */

export { Context, type ContextOptions } from "./context.ts";
export type {
  ConnectionStatus,
  ContextStatus,
  ControlCounters,
  KernelCounters,
  Session,
  SessionStatus,
  Tunnel,
  TunnelStatus,
} from "./tunnel.ts";
export {
  type EventBase,
  EventStream,
  type EventType,
  type L2tpEvent,
  type SessionDownEvent,
  type SessionUpEvent,
  type SubscribeOptions,
  type TunnelDownEvent,
  type TunnelUpEvent,
} from "./events.ts";
export {
  type CallType,
  type Config,
  ConfigError,
  type ConfigIssue,
  type ConfigOptions,
  type DefaultMode,
  formatConfig,
  type FramingCap,
  loadConfig,
  type MessageDigest,
  type NamedSession,
  type NamedTunnel,
  parseConfig,
  type Pseudowire,
  type SessionConfig,
  type TunnelConfig,
  type TunnelMode,
  type TunnelRole,
} from "./config.ts";
export { Daemon, type DaemonOptions, type ReloadResult, runDaemon } from "./daemon.ts";
export { type ConfigDiff, diffConfigs, type SessionDiff } from "./reload.ts";
export { eventFields, logEvents } from "./event_log.ts";
export {
  getLog,
  type Log,
  type LogContext,
  type LogFormat,
  type LoggingOptions,
  type LogLevelName,
  type LogProperties,
  setupLogging,
} from "./log.ts";
export type { ControlChannel, TunnelSocketHandle, TunnelSocketOpener } from "./runtime.ts";
export type {
  DataPlane,
  L2SpecType,
  PseudowireType,
  SessionChanges,
  SessionInfo,
  SessionSpec,
  Stats,
  TunnelChanges,
  TunnelInfo,
  TunnelSpec,
} from "../dataplane/dataplane.ts";
export { type DataPlaneCall, type DataPlaneOp, NullDataPlane } from "../dataplane/null.ts";
export { KernelDataPlane, type KernelDataPlaneOptions } from "../dataplane/kernel.ts";
export type { Clock, Timer } from "../control/clock.ts";
export type { QuiescentSocket } from "../control/quiescent.ts";
export type { Connection, DumpOptions, NetlinkRequest } from "../dataplane/netlink/conn.ts";
export type { Datagram, Encap, Endpoint, L2tpVersion } from "../control/types.ts";
