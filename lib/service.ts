/**
 * The daemon as a service: what `l2tpd run` does once its command line is parsed and its
 * configuration loaded. {@linkcode runService} brings every tunnel and session up and runs them
 * until SIGINT or SIGTERM (or an `AbortSignal`), then deletes everything it created:
 *
 * - Signals: SIGINT and SIGTERM shut down cleanly, and a second one ends the process at once
 *   (exit 1, without the cleanup); SIGHUP re-reads the configuration file and applies the
 *   difference (an invalid file changes nothing); SIGUSR1 logs the status as one line, and never
 *   opens the V8 inspector (see `inspector_guard.ts`). A signal during bring-up takes effect once
 *   bring-up is over.
 * - An unhandled promise rejection (a bug) is logged and shuts the daemon down cleanly (exit 1):
 *   a bug must not leave the kernel half-programmed.
 * - The data plane, the kernel's or the null one, is loaded on demand
 *   ({@linkcode openDataPlane}): importing this module needs no FFI.
 * - The `on_up` / `on_down` hooks (`hooks.ts`), metrics when asked for (`metrics.ts`) and the
 *   control socket (`control_server.ts`) listen before the first tunnel is made; a control
 *   socket a live daemon answers on makes start-up fail before anything is made.
 * - Under systemd (`Type=notify`) it reports `READY=1`, `RELOADING=1` and `STOPPING=1`, and a
 *   one-line `STATUS` ({@linkcode statusSummary}); elsewhere nothing is sent.
 *
 * Start, reloads, `down` / `up` requests and stop run one at a time, in order.
 *
 * @example Run on the null data plane until an AbortSignal
 * ```ts
 * import { runService } from "./service.ts";
 * import { parseConfig } from "./config.ts";
 * const dir = await Deno.makeTempDir();
 * const config = parseConfig(
 *   `[tunnel.t1]\nencap = "ip"\nlocal = "192.0.2.1"\npeer = "192.0.2.2"\ntid = 1\nptid = 2\n`,
 * );
 * const stop = new AbortController();
 * const running = runService({
 *   command: {
 *     personality: "l2tpd", configPath: `${dir}/l2tpd.toml`, nullDataPlane: true,
 *     socketPath: `${dir}/l2tpd.sock`,
 *   },
 *   config,
 *   signal: stop.signal,
 * });
 * stop.abort(); // as SIGTERM would: the daemon stops once it is up
 * console.log(await running); // 0
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { configOptionsFor, type RunCommand, VERSION } from "./cli.ts";
import { type Config, ConfigError, formatIssue, loadConfig } from "./config.ts";
import {
  type ControlHandler,
  type ControlServer,
  DEFAULT_SOCKET_PATH,
  listenControlSocket,
} from "./control_server.ts";
import type { Daemon, ReloadResult } from "./daemon.ts";
import { attachHooks, hooksInConfig } from "./hooks.ts";
import { getLog, type Log } from "./log.ts";
import { type MetricsServer, serveMetrics } from "./metrics.ts";
import { listenForSignals, stopHandler, waitForAbort } from "./signals.ts";
import type { ContextStatus } from "./tunnel.ts";
import type { DataPlane } from "../dataplane/dataplane.ts";
import { notifyReady, notifyReloading, notifyStatus, notifyStopping } from "../dataplane/notify.ts";

/**
 * What {@linkcode runService} runs: the `run` command's settings, the loaded configuration, and
 * optionally a logger and a signal that stops it.
 *
 * @example Usage
 * ```ts
 * import type { ServiceOptions } from "./service.ts";
 * const options: ServiceOptions = {
 *   command: { personality: "l2tpd", configPath: "l2tpd.toml", nullDataPlane: true },
 *   config: { file: "l2tpd.toml", tunnels: [] },
 * };
 * console.log(options.command.nullDataPlane); // true
 * ```
 */
export interface ServiceOptions {
  /**
   * The parsed `run` command (a {@linkcode RunCommand} will do): the personality (version line,
   * how the file is read again on reload), the file SIGHUP and `reload` re-read, the data plane,
   * and `--socket` / `--metrics`, which win over the file's `[daemon]` table.
   */
  command: Pick<
    RunCommand,
    "personality" | "configPath" | "nullDataPlane" | "socketPath" | "metrics"
  >;
  /** The configuration to start with, loaded from `command.configPath`. */
  config: Config;
  /** Logger for the daemon's own lines (default: the `l2tpd.main` category). */
  log?: Log;
  /** Shut down when this aborts, as on SIGTERM (the signals work as well). */
  signal?: AbortSignal;
}

/**
 * Run the daemon until SIGINT or SIGTERM (or `options.signal`), then tear down everything it
 * created; see the module documentation for what it does meanwhile. Errors are logged, not
 * thrown: the data plane that cannot be opened, a control socket or metrics address that cannot
 * be served, a tunnel that cannot be brought up (what was made is removed again), an internal
 * error while running.
 *
 * @param options The command's settings, the configuration, and optionally a logger and a signal.
 * @returns The exit code: 0 after a clean shutdown, 1 after a failure.
 *
 * @example Usage
 * ```ts ignore
 * // Runs until SIGINT or SIGTERM; needs root and the l2tp modules for the kernel data plane.
 * import { runService } from "./service.ts";
 * import { loadConfig } from "./config.ts";
 * const config = await loadConfig("/etc/l2tpd/l2tpd.toml");
 * const command = { personality: "l2tpd", configPath: config.file, nullDataPlane: false } as const;
 * Deno.exit(await runService({ command, config }));
 * ```
 */
export async function runService(options: ServiceOptions): Promise<number> {
  const log = options.log ?? getLog("main");
  // SIGUSR1 must never open Deno's V8 inspector: hold its port before Deno arms that handler
  // (half a second after start).
  const guard = await guardInspector(log);
  try {
    return await serve(options, log);
  } finally {
    guard?.close();
  }
}

/** Runs one operation at a time, in order: start, reloads, down/up, stop never overlap. */
class Serial {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(op);
    this.#tail = result.catch(() => {});
    return result;
  }
}

async function serve(options: ServiceOptions, log: Log): Promise<number> {
  const { command } = options;
  const loadOptions = configOptionsFor(command.personality);
  let config = options.config;
  const serial = new Serial();
  let daemon: Daemon | undefined;
  const controller = new AbortController();

  /** Re-read the file and apply it, or throw (nothing changed) when it is invalid; one at a time. */
  const reloadFromFile = (origin: string): Promise<ReloadResult> =>
    serial.run(async () => {
      if (controller.signal.aborted) throw new Error("Cannot reload: the daemon is shutting down");
      if (daemon === undefined) {
        throw new Error("Cannot reload: the daemon is not started yet (try again in a moment)");
      }
      tell(log, "RELOADING=1", notifyReloading);
      try {
        return await reloadNow(origin, daemon);
      } finally {
        tell(log, "READY=1", notifyReady);
      }
    });

  /** Read, check and apply the configuration file (within {@linkcode Serial}). */
  const reloadNow = async (origin: string, running: Daemon): Promise<ReloadResult> => {
    let next: Config;
    try {
      next = await loadConfig(command.configPath, loadOptions);
    } catch (e) {
      if (e instanceof ConfigError) {
        log.error("{origin}: {file} is invalid, nothing changed: {count} problem(s)", {
          origin,
          file: e.file,
          count: e.issues.length,
        });
        for (const issue of e.issues) {
          log.error("{origin}: {file}: {problem}", {
            origin,
            file: e.file,
            problem: formatIssue(issue),
          });
        }
      }
      throw e;
    }
    for (const warning of next.warnings ?? []) log.warn("config: {warning}", { warning });
    warnStartOnly(origin, config, next, log);
    // Hooks look the new configuration up as soon as what it adds comes up.
    const previous = config;
    config = next;
    let result: ReloadResult;
    try {
      result = await running.reload(next);
    } catch (e) {
      config = previous;
      throw e;
    }
    log.info(
      "{origin}: reloaded {file}: added {added}; removed {removed}; replaced {replaced}; " +
        "unchanged {unchanged}",
      {
        origin,
        file: next.file,
        added: result.added.join(" ") || "none",
        removed: result.removed.join(" ") || "none",
        replaced: result.replaced.join(" ") || "none",
        unchanged: result.unchanged.length > 20
          ? `${result.unchanged.length} tunnels and sessions`
          : result.unchanged.join(" ") || "none",
        failed: result.failed.length > 0 ? result.failed.join("; ") : undefined,
      },
    );
    void tellStatus(log, running);
    return result;
  };

  // Signals are wired before anything is brought up; a signal during bring-up takes effect once
  // bring-up is over. A second SIGINT or SIGTERM ends the process at once, without the cleanup.
  let internalError = false;
  const signals = listenForSignals({
    stop: stopHandler(log, controller),
    reload: () => {
      if (controller.signal.aborted) return;
      log.info("SIGHUP received: re-reading {file}", { file: command.configPath });
      reloadFromFile("SIGHUP").catch((e) => {
        if (!(e instanceof ConfigError)) {
          log.error("SIGHUP: cannot reload: {error}", { error: errorText(e) });
        }
      });
    },
    status: () => {
      if (daemon === undefined) {
        log.info("SIGUSR1: status: not started yet");
        return;
      }
      daemon.readStatus().then(
        (status) =>
          log.info("SIGUSR1: status: {summary}", { summary: statusSummary(status), status }),
        (e) => log.error("SIGUSR1: cannot read the status: {error}", { error: errorText(e) }),
      );
    },
    // A bug must not leave the kernel half-programmed: log it and shut down cleanly (exit 1).
    internalError: (reason) => {
      internalError = true;
      log.fatal("Internal error: {error}; shutting down", { error: errorText(reason) });
      controller.abort();
    },
  });
  const stopOnAbort = (): void => controller.abort();
  if (options.signal?.aborted) controller.abort();
  options.signal?.addEventListener("abort", stopOnAbort, { once: true });
  log.info("{personality} {version} starting: {tunnels} tunnel(s) from {file}", {
    personality: command.personality,
    version: VERSION,
    tunnels: config.tunnels.length,
    file: config.file,
  });
  try {
    let dataPlane: DataPlane;
    try {
      dataPlane = await openDataPlane(command.nullDataPlane);
    } catch (e) {
      log.error("Cannot open the data plane: {error}", { error: errorText(e) });
      return 1;
    }
    try {
      const { Daemon } = await import("./daemon.ts");
      const d = new Daemon({ config, dataPlane, pppd: !command.nullDataPlane });
      daemon = d;
      // Hooks and metrics listen before the first tunnel is made.
      const hooks = attachHooks(d.context, {
        hooksFor: (tunnel, session) => hooksInConfig(config, tunnel, session),
        timeoutMs: config.daemon?.hookTimeoutMs,
      });
      let metrics: MetricsServer | undefined;
      let server: ControlServer | undefined;
      let starting = false;
      try {
        try {
          metrics = startMetrics(command, config, d, log);
          // The socket comes before the tunnels: a second daemon on it must start nothing.
          server = await openControlSocket(command, config, log, {
            show: () => d.readStatus(),
            reload: () => reloadFromFile("control socket"),
            down: (tunnel, session) => serial.run(() => d.down(tunnel, session)),
            up: (tunnel, session) => serial.run(() => d.up(tunnel, session)),
          });
        } catch (e) {
          log.error("{error}", { error: errorText(e) });
          return 1;
        }
        try {
          starting = true;
          await serial.run(() => d.start());
          tell(log, "READY=1", notifyReady);
          void tellStatus(log, d);
          await waitForAbort(controller.signal);
          tell(log, "STOPPING=1", notifyStopping);
        } catch (e) {
          log.error("Cannot run the daemon: {error}", { error: errorText(e) });
          return 1;
        }
      } finally {
        await server?.close();
        if (starting) await serial.run(() => d.stop());
        else await d.context.close();
        await hooks.close(); // after the context: the last down events' hooks run
        await metrics?.close();
      }
    } finally {
      dataPlane.close();
    }
    log.info("shutdown complete");
    return internalError ? 1 : 0;
  } finally {
    options.signal?.removeEventListener("abort", stopOnAbort);
    signals.close();
  }
}

/** Settings a reload cannot change: say so when the file changed them. */
function warnStartOnly(origin: string, config: Config, next: Config, log: Log): void {
  if (
    next.daemon?.socket !== config.daemon?.socket ||
    next.daemon?.socketGroup !== config.daemon?.socketGroup
  ) {
    log.warn(
      "{origin}: the control socket's settings changed; they take effect at the next start",
      { origin },
    );
  }
  if (
    next.daemon?.metrics?.address !== config.daemon?.metrics?.address ||
    next.daemon?.metrics?.port !== config.daemon?.metrics?.port ||
    next.daemon?.hookTimeoutMs !== config.daemon?.hookTimeoutMs
  ) {
    log.warn("{origin}: metrics and hook_timeout changes take effect at the next start", {
      origin,
    });
  }
}

/** The control socket: `--socket`, else the file's `[daemon] socket`, else the default. */
function openControlSocket(
  command: ServiceOptions["command"],
  config: Config,
  log: Log,
  handler: ControlHandler,
): Promise<ControlServer | undefined> {
  return listenControlSocket({
    requested: command.socketPath ?? config.daemon?.socket,
    defaultPath: DEFAULT_SOCKET_PATH,
    group: config.daemon?.socketGroup,
    handler,
    logger: getLog("control"),
  }, log);
}

/** Serve metrics where `--metrics` (or else the file's `[daemon] metrics`) says, if anywhere. */
function startMetrics(
  command: ServiceOptions["command"],
  config: Config,
  daemon: Daemon,
  log: Log,
): MetricsServer | undefined {
  const fromFile = config.daemon?.metrics;
  const at = command.metrics ??
    (fromFile === undefined ? undefined : { hostname: fromFile.address, port: fromFile.port });
  if (at === undefined) return undefined;
  const server = serveMetrics({ ...at, source: daemon.context, version: VERSION });
  const host = at.hostname.includes(":") ? `[${at.hostname}]` : at.hostname;
  log.info("Metrics at http://{where}/metrics", { where: `${host}:${server.address.port}` });
  return server;
}

// --- systemd ------------------------------------------------------------------------------------

/** Tell systemd (under `Type=notify`; elsewhere nothing happens); a failure is only logged. */
function tell(log: Log, what: string, send: () => boolean): void {
  try {
    send();
  } catch (e) {
    log.warn("Cannot notify systemd of {what}: {error}", { what, error: errorText(e) });
  }
}

/** The one-line status `systemctl status` shows. */
async function tellStatus(log: Log, daemon: Daemon): Promise<void> {
  try {
    const status = await daemon.readStatus();
    tell(log, "STATUS", () => notifyStatus(statusSummary(status)));
  } catch {
    // The status is a courtesy; the log has the details.
  }
}

/**
 * The status in one line, as SIGUSR1 logs it and `systemctl status` shows it: how many tunnels
 * are up (a dynamic tunnel with several peers counts once, when any of them is up) and how many
 * sessions.
 *
 * @param status The daemon's status.
 * @returns e.g. "2 of 3 tunnel(s) up, 4 session(s) up".
 *
 * @example Usage
 * ```ts
 * import { statusSummary } from "./service.ts";
 * console.log(statusSummary({ time: new Date().toISOString(), tunnels: [] }));
 * // 0 of 0 tunnel(s) up, 0 session(s) up
 * ```
 */
export function statusSummary(status: ContextStatus): string {
  const sessions = status.tunnels.flatMap((t) =>
    t.peers === undefined ? t.sessions : t.peers.flatMap((p) => p.sessions)
  );
  const tunnelsUp =
    status.tunnels.filter((t) => t.state === "up" || (t.peers ?? []).some((p) => p.state === "up"))
      .length;
  return `${tunnelsUp} of ${status.tunnels.length} tunnel(s) up, ` +
    `${sessions.filter((s) => s.state === "up").length} session(s) up`;
}

// --- The data plane and the inspector guard, loaded on demand -----------------------------------

/**
 * Open the data plane: the null one (programs nothing; `--null-dataplane`), or the kernel's
 * (generic netlink through libnl; needs root, `--allow-ffi` and the l2tp modules). Its modules
 * are loaded only now, so that `check-config` and `--help` need no FFI.
 *
 * @param nullDataPlane The null data plane rather than the kernel's.
 * @returns The data plane; close it when done.
 * @throws {Error} when the kernel's cannot be opened (libraries, permissions, modules).
 *
 * @example Usage
 * ```ts
 * import { openDataPlane } from "./service.ts";
 * const dataPlane = await openDataPlane(true);
 * console.log(dataPlane.constructor.name); // NullDataPlane
 * dataPlane.close();
 * ```
 */
export async function openDataPlane(nullDataPlane: boolean): Promise<DataPlane> {
  if (nullDataPlane) {
    const { NullDataPlane } = await import("../dataplane/null.ts");
    return new NullDataPlane();
  }
  const { KernelDataPlane } = await import("../dataplane/kernel.ts");
  return await KernelDataPlane.open();
}

/** Hold the inspector's port; a failure is logged, not fatal (the daemon works without it). */
async function guardInspector(log: Log): Promise<{ close(): void } | undefined> {
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    // Only test runs go without FFI (the kernel data plane needs it).
    log.debug("No --allow-ffi: SIGUSR1 may open the V8 inspector on 127.0.0.1:9229");
    return undefined;
  }
  try {
    const { reserveInspectorPort } = await import("./inspector_guard.ts");
    const guard = reserveInspectorPort();
    if (guard.state === "in-use") {
      log.debug("127.0.0.1:9229 is in use by another program: SIGUSR1 cannot open the inspector");
    }
    return guard;
  } catch (e) {
    log.warn("SIGUSR1 may open the V8 inspector on 127.0.0.1:9229: {error}", {
      error: errorText(e),
    });
    return undefined;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
