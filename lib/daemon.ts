/**
 * The daemon: a configuration applied to a {@linkcode Context}.
 *
 * {@linkcode Daemon.start} makes every tunnel and session of the configuration with the
 * library's API — static and quiescent tunnels first, then dynamic ones, each in file order —
 * and logs every event as one line ({@linkcode logEvents}). If a step fails it closes
 * everything made so far and rejects with the error. {@linkcode Daemon.stop} closes the
 * context. {@linkcode runDaemon} does both around an `AbortSignal`.
 *
 * @module
 */

import { type Config, type NamedSession, type NamedTunnel, tunnelEntry } from "./config.ts";
import { diffConfigs } from "./reload.ts";
import { resolveHost } from "../dataplane/ffi/resolve.ts";
import { resolveEndpoints } from "./endpoints.ts";
import type { DataPlane } from "../dataplane/dataplane.ts";
import type { Clock } from "../control/clock.ts";
import { Context } from "./context.ts";
import { logEvents } from "./event_log.ts";
import { waitForAbort } from "./signals.ts";
import { getLog, type Log } from "./log.ts";
import type { ControlChannel, TunnelSocketHandle, TunnelSocketOpener } from "./runtime.ts";
import type { ContextStatus, Tunnel } from "./tunnel.ts";

export type { ControlChannel, TunnelSocketHandle, TunnelSocketOpener };

/**
 * What {@linkcode Daemon} needs.
 *
 * @example Usage
 * ```ts
 * import type { DaemonOptions } from "./daemon.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * const options: DaemonOptions = {
 *   config: { file: "empty.toml", tunnels: [] }, dataPlane: new NullDataPlane(),
 * };
 * console.log(options.config.tunnels.length); // 0
 * ```
 */
export interface DaemonOptions {
  /** The validated configuration. */
  config: Config;
  /** Where tunnels and sessions are programmed. */
  dataPlane: DataPlane;
  /** Opens managed tunnel sockets; defaults to real FFI sockets. */
  openSocket?: TunnelSocketOpener;
  /** Logger; defaults to the "l2tpd.daemon" category. */
  logger?: Log;
  /** Resolves host names in `local`/`peer`; defaults to libc getaddrinfo. */
  resolve?: (name: string, family?: 4 | 6) => Promise<string[]>;
  /** Control-message I/O on quiescent tunnels' sockets; defaults to the epoll reactor. */
  attach?: (socket: TunnelSocketHandle) => ControlChannel;
  /** Clock for the control protocol's timers (tests inject a fake one). */
  clock?: Clock;
  /** Start pppd for PPP sessions (default: unless the data plane is a `NullDataPlane`). */
  pppd?: boolean;
  /** How long a StopCCN may wait for its acknowledgement at shutdown (default 1000 ms). */
  stopGraceMs?: number;
}

/**
 * What a reload did, by name (`tunnel` or `tunnel/session`).
 *
 * @example Usage
 * ```ts
 * import type { ReloadResult } from "./daemon.ts";
 * const r: ReloadResult = { added: ["t2"], removed: [], replaced: [], unchanged: ["t1"], failed: [] };
 * console.log(r.added); // [ "t2" ]
 * ```
 */
export interface ReloadResult {
  /** Tunnels and sessions added. */
  added: string[];
  /** Tunnels and sessions removed. */
  removed: string[];
  /** Tunnels and sessions replaced (their settings changed). */
  replaced: string[];
  /** Tunnels and sessions left as they were. */
  unchanged: string[];
  /** Those that could not be brought up: `name: error`. */
  failed: string[];
}

/**
 * Runs a configuration: a thin user of {@linkcode Context}.
 *
 * @example Usage
 * ```ts
 * import { Daemon } from "./daemon.ts";
 * import { parseConfig } from "./config.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * import assert from "node:assert/strict";
 *
 * using dp = new NullDataPlane();
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
 * const daemon = new Daemon({ dataPlane: dp, config });
 * await daemon.start();
 * assert.equal((await dp.listSessions()).length, 1);
 * await daemon.stop();
 * assert.equal((await dp.listTunnels()).length, 0);
 * ```
 */
export class Daemon {
  #config: Config;
  /** Tunnels ("t") and sessions ("t/s") taken down by {@linkcode Daemon.down}. */
  readonly #adminDown = new Set<string>();
  readonly #ctx: Context;
  readonly #log: Log;
  readonly #resolve: (name: string, family?: 4 | 6) => Promise<string[]>;
  #state: "idle" | "starting" | "running" | "stopping" | "stopped" = "idle";

  /**
   * A daemon for a configuration; nothing happens until {@linkcode Daemon.start}.
   *
   * @param options The configuration, the data plane and test hooks.
   */
  constructor(options: DaemonOptions) {
    this.#config = options.config;
    this.#log = options.logger ?? getLog("daemon");
    this.#resolve = options.resolve ?? resolveHost;
    this.#ctx = new Context({
      dataplane: options.dataPlane,
      logger: this.#log,
      pppd: options.pppd,
      clock: options.clock,
      openSocket: options.openSocket,
      attach: options.attach,
      resolve: options.resolve,
      stopGraceMs: options.stopGraceMs,
    });
    logEvents(this.#ctx, this.#log);
  }

  /** The context the daemon runs on. */
  get context(): Context {
    return this.#ctx;
  }

  /** The tunnels up or running, with their sessions. */
  get tunnels(): ContextStatus["tunnels"] {
    return this.#ctx.status().tunnels;
  }

  /**
   * Make every tunnel and session. On failure, everything made so far is removed and the error
   * is rethrown.
   */
  async start(): Promise<void> {
    if (this.#state !== "idle") throw new Error(`Cannot start the daemon: it is ${this.#state}`);
    this.#state = "starting";
    let ordered: NamedTunnel[];
    try {
      // Resolve every host name first, so that a name that does not resolve starts nothing.
      const resolved: NamedTunnel[] = [];
      for (const t of this.#config.tunnels) {
        const config = await resolveEndpoints(t.name, t.config, this.#resolve, this.#log);
        resolved.push({ ...t, config });
      }
      ordered = [
        ...resolved.filter((t) => t.config.mode !== "dynamic"),
        ...resolved.filter((t) => t.config.mode === "dynamic"),
      ];
    } catch (error) {
      this.#state = "stopped";
      await this.#ctx.close();
      throw error;
    }
    try {
      for (const t of ordered) await this.#bringUp(t);
    } catch (error) {
      this.#log.error("Bring-up failed, rolling back: {error}", { error: String(error) });
      await this.#ctx.close();
      this.#state = "stopped";
      throw error;
    }
    this.#state = "running";
    const sessions = this.#config.tunnels.map(tunnelEntry)
      .reduce((n, t) => n + t.sessions.length, 0);
    this.#log.info("Up: {tunnels} tunnel(s), {sessions} session(s) configured", {
      tunnels: this.#config.tunnels.length,
      sessions,
    });
  }

  /** A tunnel of the configuration, with its sessions (those not taken down by an operator). */
  async #bringUp(t: NamedTunnel): Promise<Tunnel> {
    const tunnel = t.config.mode === "static"
      ? await this.#ctx.newStaticTunnel(t.name, t.config)
      : t.config.mode === "quiescent"
      ? await this.#ctx.newQuiescentTunnel(t.name, t.config)
      : await this.#ctx.newDynamicTunnel(t.name, t.config);
    for (const s of t.sessions) {
      if (!this.#adminDown.has(`${t.name}/${s.name}`)) await tunnel.newSession(s.name, s.config);
    }
    return tunnel;
  }

  /**
   * Apply a new, validated configuration as a difference (see `reload.ts`): removed tunnels and
   * sessions go down cleanly (StopCCN or CDN where dynamic), changed ones are replaced, added
   * ones come up, unchanged ones are not touched. A tunnel or session that cannot be brought up
   * is reported in `failed`; the rest is still applied.
   *
   * @param config The new configuration.
   * @returns What changed, by name (`tunnel` or `tunnel/session`).
   */
  async reload(config: Config): Promise<ReloadResult> {
    if (this.#state !== "running") throw new Error(`Cannot reload: the daemon is ${this.#state}`);
    const diff = diffConfigs(this.#config, config);
    const result: ReloadResult = {
      added: [],
      removed: [],
      replaced: [],
      unchanged: [],
      failed: [],
    };
    const fail = (name: string, error: unknown): void => {
      const text = error instanceof Error ? error.message : String(error);
      result.failed.push(`${name}: ${text}`);
      this.#log.error("Reload: cannot bring {name} up: {error}", { name, error: text });
    };
    for (const name of diff.removedTunnels) {
      await this.#ctx.tunnel(name)?.close();
      this.#forget(name);
      result.removed.push(name);
    }
    for (const t of diff.replacedTunnels) await this.#ctx.tunnel(t.name)?.close();
    for (const d of diff.sessions) {
      const tunnel = this.#ctx.tunnel(d.tunnel);
      for (const name of [...d.removed, ...d.replaced.map((s) => s.name)]) {
        await tunnel?.sessions.find((s) => s.name === name)?.close();
      }
      for (const name of d.removed) {
        this.#adminDown.delete(`${d.tunnel}/${name}`);
        result.removed.push(`${d.tunnel}/${name}`);
      }
      for (const s of [...d.replaced, ...d.added]) {
        const key = `${d.tunnel}/${s.name}`;
        const replaced = d.replaced.includes(s);
        (replaced ? result.replaced : result.added).push(key);
        if (!tunnel || tunnel.closed || this.#adminDown.has(key)) continue;
        await tunnel.newSession(s.name, s.config).catch((e) => fail(key, e));
      }
      result.unchanged.push(...d.unchanged.map((s) => `${d.tunnel}/${s}`));
      if (d.added.length + d.removed.length + d.replaced.length === 0) {
        result.unchanged.push(d.tunnel);
      }
    }
    const bringUp = [...diff.replacedTunnels, ...diff.addedTunnels];
    for (
      const t of [
        ...bringUp.filter((t) => t.config.mode !== "dynamic"),
        ...bringUp.filter((t) => t.config.mode === "dynamic"),
      ]
    ) {
      (diff.replacedTunnels.includes(t) ? result.replaced : result.added).push(t.name);
      if (this.#adminDown.has(t.name)) continue;
      await this.#bringUp(t).catch((e) => fail(t.name, e));
    }
    this.#config = config;
    return result;
  }

  #forget(tunnel: string): void {
    for (const key of [...this.#adminDown]) {
      if (key === tunnel || key.startsWith(`${tunnel}/`)) this.#adminDown.delete(key);
    }
  }

  /**
   * Take a configured tunnel, or one session of it, down (StopCCN or CDN where dynamic). It stays
   * down, across reloads, until {@linkcode Daemon.up}. Doing it twice is no error.
   *
   * @param tunnel The tunnel's name.
   * @param session A session's name, for just that session.
   */
  async down(tunnel: string, session?: string): Promise<void> {
    const t = this.#configured(tunnel, session, "take down");
    if (session === undefined) {
      this.#adminDown.add(t.name);
      await this.#ctx.tunnel(t.name)?.close();
      return;
    }
    this.#adminDown.add(`${t.name}/${session}`);
    await this.#ctx.tunnel(t.name)?.sessions.find((s) => s.name === session)?.close();
  }

  /**
   * Bring a configured tunnel, or one session of it, back up (after {@linkcode Daemon.down},
   * or after the tunnel went away for good). Doing it when it is up is no error.
   *
   * @param tunnel The tunnel's name.
   * @param session A session's name, for just that session.
   */
  async up(tunnel: string, session?: string): Promise<void> {
    const t = this.#configured(tunnel, session, "bring up");
    if (session === undefined) {
      this.#adminDown.delete(t.name);
      if (!this.#ctx.tunnel(t.name)) await this.#bringUp(t);
      return;
    }
    this.#adminDown.delete(`${t.name}/${session}`);
    const running = this.#ctx.tunnel(t.name);
    if (!running) {
      throw new Error(
        `Cannot bring up session "${tunnel}/${session}": tunnel "${tunnel}" is down (up it first)`,
      );
    }
    if (running.sessions.some((s) => s.name === session)) return;
    const s = t.sessions.find((s) => s.name === session) as NamedSession;
    await running.newSession(s.name, s.config);
  }

  #configured(tunnel: string, session: string | undefined, what: string): NamedTunnel {
    const t = this.#config.tunnels.find((t) => t.name === tunnel);
    const target = session === undefined ? `"${tunnel}"` : `"${tunnel}/${session}"`;
    if (!t) throw new Error(`Cannot ${what} ${target}: no tunnel "${tunnel}" in the configuration`);
    if (session !== undefined && !t.sessions.some((s) => s.name === session)) {
      throw new Error(
        `Cannot ${what} ${target}: tunnel "${tunnel}" has no session "${session}" in the ` +
          "configuration",
      );
    }
    return t;
  }

  /**
   * The context's status with the kernel's counters, plus every configured tunnel that is not
   * running (state `down`), so that an operator sees what was taken down.
   *
   * @returns The snapshot.
   */
  async readStatus(): Promise<ContextStatus> {
    const status = await this.#ctx.readStatus();
    for (const t of this.#config.tunnels) {
      if (status.tunnels.some((s) => s.name === t.name)) continue;
      status.tunnels.push({
        name: t.name,
        mode: t.config.mode,
        version: t.config.version,
        encap: t.config.encap,
        role: t.config.mode === "dynamic" ? t.config.role ?? "lac" : undefined,
        state: "down",
        sessions: [],
      });
    }
    return status;
  }

  /** Tear everything down. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === "stopped" || this.#state === "stopping") return;
    this.#state = "stopping";
    await this.#ctx.close();
    this.#state = "stopped";
    this.#log.info("Stopped; everything created was removed");
  }
}

/**
 * Run a daemon until `signal` aborts: start, wait, stop.
 *
 * Rejects (after rolling back) if bring-up fails; resolves once everything is torn down.
 *
 * @param options The daemon's options and the signal that ends it.
 *
 * @example Usage
 * ```ts
 * import { runDaemon } from "./daemon.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * const ac = new AbortController();
 * const running = runDaemon({ config: { file: "empty.toml", tunnels: [] },
 *   dataPlane: new NullDataPlane(), signal: ac.signal });
 * ac.abort();
 * await running;
 * ```
 */
export async function runDaemon(options: DaemonOptions & { signal: AbortSignal }): Promise<void> {
  const daemon = new Daemon(options);
  await daemon.start();
  try {
    await waitForAbort(options.signal);
  } finally {
    await daemon.stop();
  }
}
