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

import { type Config, type NamedTunnel, tunnelEntry } from "./config.ts";
import { resolveHost } from "../dataplane/ffi/resolve.ts";
import { resolveEndpoints } from "./endpoints.ts";
import type { DataPlane } from "../dataplane/dataplane.ts";
import type { Clock } from "../control/clock.ts";
import { Context } from "./context.ts";
import { logEvents } from "./event_log.ts";
import { getLog, type Log } from "./log.ts";
import type { ControlChannel, TunnelSocketHandle, TunnelSocketOpener } from "./runtime.ts";
import type { ContextStatus } from "./tunnel.ts";

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
  readonly #config: Config;
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
    refuseUnsupported(this.#config);
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
      for (const t of ordered) {
        const tunnel = t.config.mode === "static"
          ? await this.#ctx.newStaticTunnel(t.name, t.config)
          : t.config.mode === "quiescent"
          ? await this.#ctx.newQuiescentTunnel(t.name, t.config)
          : await this.#ctx.newDynamicTunnel(t.name, t.config);
        for (const s of t.sessions) await tunnel.newSession(s.name, s.config);
      }
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

/** Refuse what the configuration allows but the daemon cannot run yet, before creating anything. */
function refuseUnsupported(config: Config): void {
  const problems = config.tunnels.flatMap((t) =>
    t.sessions.filter((s) => s.config.pseudowire === "pppac").map((s) =>
      `tunnel "${t.name}" session "${s.name}" uses pseudowire "pppac"`
    )
  );
  if (problems.length > 0) {
    throw new Error(
      `Cannot start ${config.file}: pseudowire "pppac" (PPP relayed to PPPoE) is not ` +
        `supported yet; ${problems.join("; ")}`,
    );
  }
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}
