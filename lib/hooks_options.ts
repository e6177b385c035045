/**
 * What {@linkcode attachHooks} is given and reports: the hooks of a tunnel or session
 * ({@linkcode EventHooks}, looked up in a configuration by {@linkcode hooksInConfig}), where
 * events come from ({@linkcode HookSource}), the limits of the runs ({@linkcode HookOptions},
 * {@linkcode HOOK_DEFAULTS}) and the runner's counters ({@linkcode HookStats}). Re-exported by
 * `hooks.ts`.
 *
 * @example Usage
 * ```ts
 * import { HOOK_DEFAULTS, hooksInConfig } from "./hooks_options.ts";
 * import { parseConfig } from "./config.ts";
 * const config = parseConfig('[tunnel.t1]\npeer = "192.0.2.2"\non_down = "logger down"\n');
 * console.log(hooksInConfig(config, "t1"), HOOK_DEFAULTS.maxQueued);
 * // { onDown: { shell: "logger down" } } 1000
 * ```
 *
 * @module
 */

import type { Config, Hook } from "./config.ts";
import type { L2tpEvent } from "./events.ts";
import type { Log } from "./log.ts";

/**
 * The hooks of one tunnel or session: what runs when it comes up and when it goes down.
 *
 * @example Usage
 * ```ts
 * import type { EventHooks } from "./hooks_options.ts";
 * const hooks: EventHooks = {
 *   onUp: { argv: ["ip", "link", "set", "dev", "l2tpeth0", "master", "br0"] },
 *   onDown: { shell: "logger -t l2tpd session down" },
 * };
 * console.log(Object.keys(hooks)); // ["onUp", "onDown"]
 * ```
 */
export interface EventHooks {
  /** Run on `tunnel-up` / `session-up`. */
  onUp?: Hook;
  /** Run on `tunnel-down` / `session-down`, after an up. */
  onDown?: Hook;
}

/**
 * Where events come from: a {@linkcode Context} is one.
 *
 * @example Usage
 * ```ts
 * import type { HookSource } from "./hooks_options.ts";
 * import { EventHub } from "./events.ts";
 * const hub = new EventHub();
 * const source: HookSource = { onEvent: (listener) => hub.listen(listener) };
 * console.log(typeof source.onEvent); // function
 * ```
 */
export interface HookSource {
  /**
   * Call `listener` synchronously for every event; returns a function that stops it.
   *
   * @param listener The function.
   */
  onEvent(listener: (event: L2tpEvent) => void): () => void;
}

/**
 * Options of {@linkcode attachHooks}: where hooks are configured, and the limits of their runs.
 *
 * @example Usage
 * ```ts
 * import { type HookOptions, hooksInConfig } from "./hooks_options.ts";
 * import { parseConfig } from "./config.ts";
 * const config = parseConfig('[daemon]\nhook_timeout = 5000\n[tunnel.t1]\npeer = "192.0.2.2"');
 * const options: HookOptions = {
 *   hooksFor: (tunnel, session) => hooksInConfig(config, tunnel, session),
 *   timeoutMs: config.daemon?.hookTimeoutMs,
 * };
 * console.log(options.timeoutMs); // 5000
 * ```
 */
export interface HookOptions {
  /**
   * The hooks of a tunnel (`session` absent) or of a session, looked up when it comes up (for
   * example from the daemon's current configuration, with {@linkcode hooksInConfig}). Called
   * from the event listener: it must be quick and must not block.
   */
  hooksFor(tunnel: string, session?: string): EventHooks | undefined;
  /** How long a command may run before it is killed, in milliseconds (default 10000). */
  timeoutMs?: number;
  /** After the SIGTERM of a timeout, how long until SIGKILL, in milliseconds (default 2000). */
  killGraceMs?: number;
  /** Most commands running at once (default 8). */
  maxRunning?: number;
  /** Most runs waiting to start (default 1000); more are dropped, with a warning. */
  maxQueued?: number;
  /** Bytes of stdout and of stderr kept for the debug log, per run (default 4096). */
  outputLimit?: number;
  /**
   * How long {@linkcode HookRunner.close} waits for queued and running hooks before it kills
   * what runs and skips the rest, in milliseconds (default `timeoutMs + killGraceMs + 1000`).
   */
  closeTimeoutMs?: number;
  /** Logger (default: the `l2tpd.hooks` category). */
  logger?: Log;
}

/**
 * Counters of a {@linkcode HookRunner}.
 *
 * @example Usage
 * ```ts
 * import type { HookStats } from "./hooks_options.ts";
 * const s: HookStats = { running: 0, queued: 0, started: 2, failed: 1, dropped: 0 };
 * console.log(s.started - s.failed); // 1
 * ```
 */
export interface HookStats {
  /** Commands running now. */
  running: number;
  /** Runs waiting: for a free slot, or for an earlier hook of the same session or tunnel. */
  queued: number;
  /** Runs started so far (commands spawned, or that failed to spawn). */
  started: number;
  /** Runs that failed: not started, exit status not 0, or killed. */
  failed: number;
  /** Runs dropped because the queue was full. */
  dropped: number;
}

/**
 * Defaults of {@linkcode HookOptions}.
 *
 * @example Usage
 * ```ts
 * import { HOOK_DEFAULTS } from "./hooks_options.ts";
 * console.log(HOOK_DEFAULTS.timeoutMs, HOOK_DEFAULTS.maxRunning); // 10000 8
 * ```
 */
export const HOOK_DEFAULTS: {
  readonly timeoutMs: number;
  readonly killGraceMs: number;
  readonly maxRunning: number;
  readonly maxQueued: number;
  readonly outputLimit: number;
  readonly dropWarningIntervalMs: number;
} = Object.freeze({
  timeoutMs: 10_000,
  killGraceMs: 2_000,
  maxRunning: 8,
  maxQueued: 1000,
  outputLimit: 4096,
  dropWarningIntervalMs: 10_000,
});

/**
 * The hooks a configuration gives a tunnel (`session` absent) or one of its sessions: a lookup
 * for {@linkcode HookOptions.hooksFor}.
 *
 * @param config The configuration.
 * @param tunnel The tunnel's name.
 * @param session The session's name, for a session's hooks.
 * @returns Its hooks, or `undefined` when it has none (or is not in the configuration).
 *
 * @example Usage
 * ```ts
 * import { hooksInConfig } from "./hooks_options.ts";
 * import { parseConfig } from "./config.ts";
 * const config = parseConfig(
 *   '[tunnel.t1]\npeer = "192.0.2.2"\n[tunnel.t1.session.s1]\non_up = ["ip", "link"]\n',
 * );
 * console.log(hooksInConfig(config, "t1", "s1"), hooksInConfig(config, "t1"));
 * // { onUp: { argv: ["ip", "link"] } } undefined
 * ```
 */
export function hooksInConfig(
  config: Config,
  tunnel: string,
  session?: string,
): EventHooks | undefined {
  const t = config.tunnels.find((x) => x.name === tunnel);
  const c = session === undefined ? t?.config : t?.sessions.find((s) => s.name === session)?.config;
  if (c === undefined || (c.onUp === undefined && c.onDown === undefined)) return undefined;
  const hooks: EventHooks = {};
  if (c.onUp !== undefined) hooks.onUp = c.onUp;
  if (c.onDown !== undefined) hooks.onDown = c.onDown;
  return hooks;
}
