/**
 * kpppoed as a service: what `kpppoed -config FILE` does once its file is loaded.
 * {@linkcode runKpppoed} opens the kernel data plane and the discovery socket on the configured
 * interface, serves the control socket (`show`, and `down TUNNEL SESSION` to end one PPPoE
 * session) and metrics when asked for, runs the {@linkcode AccessConcentrator} until SIGINT or
 * SIGTERM (or an `AbortSignal`), then sends every subscriber a PADT, closes every tunnel and
 * removes what it made.
 *
 * - SIGHUP: the configuration is read at start only; it says so and changes nothing.
 * - SIGUSR1: logs the status in one line (PPPoE sessions, tunnels).
 * - A second SIGINT or SIGTERM ends the process at once; an internal error (an unhandled
 *   rejection) is logged and shuts down cleanly with exit 1; so does a discovery socket that
 *   fails (e.g. the interface was deleted).
 * - Under systemd (`Type=notify`) it reports `READY=1`, `STOPPING=1` and a `STATUS` line.
 *
 * @example Usage
 * ```ts ignore
 * // Needs root, the l2tp_ppp and pppoe modules, and the interface.
 * import { runKpppoed } from "./run.ts";
 * import { loadKpppoedConfig } from "./config.ts";
 * const config = await loadKpppoedConfig("/etc/kpppoed/kpppoed.toml");
 * Deno.exit(await runKpppoed({ config }));
 * ```
 *
 * @module
 */

import { DEFAULT_KPPPOED_SOCKET_PATH, VERSION } from "../cli.ts";
import { Context } from "../context.ts";
import { type ControlHandler, type ControlServer, listenControlSocket } from "../control_server.ts";
import { logEvents } from "../event_log.ts";
import { getLog, type Log } from "../log.ts";
import { type MetricsServer, serveMetrics } from "../metrics.ts";
import { openDataPlane } from "../service.ts";
import { listenForSignals, stopHandler, waitForAbort } from "../signals.ts";
import { notifyReady, notifyStatus, notifyStopping } from "../../dataplane/notify.ts";
import type { DataPlane } from "../../dataplane/dataplane.ts";
import type { KpppoedConfig } from "./keys.ts";
import { AccessConcentrator, type DiscoveryPort, type KpppoedStatus } from "./service.ts";

/**
 * What {@linkcode runKpppoed} runs.
 *
 * @example Usage
 * ```ts
 * import type { KpppoedRunOptions } from "./run.ts";
 * import { parseKpppoedConfig } from "./config.ts";
 * const options: KpppoedRunOptions = {
 *   config: parseKpppoedConfig('interface_name = "eth1"\nservices = ["a"]\nlns_ipaddr = "192.0.2.1"\n'),
 *   socketPath: "/run/kpppoed/kpppoed.sock",
 * };
 * console.log(options.config.interfaceName); // eth1
 * ```
 */
export interface KpppoedRunOptions {
  /** The configuration, loaded. */
  config: KpppoedConfig;
  /** The control socket (default `/run/kpppoed/kpppoed.sock`; without root it may be skipped). */
  socketPath?: string;
  /** Where to serve metrics, if anywhere. */
  metrics?: { hostname: string; port: number };
  /** Logger (default: the `l2tpd.kpppoed` category). */
  log?: Log;
  /** Shut down when this aborts, as on SIGTERM. */
  signal?: AbortSignal;
  /** The data plane (default: the kernel's). */
  dataPlane?: DataPlane;
  /** The discovery socket (default: an AF_PACKET socket on `config.interfaceName`). */
  openPort?: (ifname: string) => DiscoveryPort | Promise<DiscoveryPort>;
}

/**
 * Run kpppoed until SIGINT or SIGTERM (or `options.signal`); see the module documentation.
 * Errors are logged, not thrown.
 *
 * @param options The configuration, the control socket and metrics, test hooks.
 * @returns The exit code: 0 after a clean shutdown, 1 after a failure.
 */
export async function runKpppoed(options: KpppoedRunOptions): Promise<number> {
  const log = options.log ?? getLog("kpppoed");
  const { config } = options;
  const controller = new AbortController();
  let failed = false;
  let ac: AccessConcentrator | undefined;
  const signals = listenForSignals({
    stop: stopHandler(log, controller),
    reload: () =>
      log.warn("SIGHUP: kpppoed reads {file} at start only; restart it to apply changes", {
        file: config.file,
      }),
    status: () => {
      if (ac) log.info("SIGUSR1: status: {summary}", { summary: kpppoedSummary(ac.status()) });
    },
    internalError: (reason) => {
      failed = true;
      log.fatal("Internal error: {error}; shutting down", { error: errorText(reason) });
      controller.abort();
    },
  });
  const stopOnAbort = (): void => controller.abort();
  if (options.signal?.aborted) controller.abort();
  options.signal?.addEventListener("abort", stopOnAbort, { once: true });
  log.info("kpppoed {version} starting: AC {acName} on {ifname}, services {services}", {
    version: VERSION,
    acName: config.acName,
    ifname: config.interfaceName,
    services: config.services.map((s) => s.name).join(" "),
  });
  let dataPlane: DataPlane;
  try {
    dataPlane = options.dataPlane ?? await openDataPlane(false);
  } catch (e) {
    log.error("Cannot open the data plane: {error}", { error: errorText(e) });
    signals.close();
    return 1;
  }
  const ctx = new Context({ dataplane: dataPlane, logger: getLog("context") });
  const stopEventLog = logEvents(ctx, getLog("events"));
  let server: ControlServer | undefined;
  let metrics: MetricsServer | undefined;
  try {
    let port: DiscoveryPort;
    try {
      port = options.openPort
        ? await options.openPort(config.interfaceName)
        : await openPacketPort(config.interfaceName);
    } catch (e) {
      log.error("Cannot open PPPoE discovery on {ifname}: {error}", {
        ifname: config.interfaceName,
        error: errorText(e),
      });
      return 1;
    }
    const running = new AccessConcentrator({ config, context: ctx, port, log });
    ac = running;
    try {
      server = await listenControlSocket({
        requested: options.socketPath,
        defaultPath: DEFAULT_KPPPOED_SOCKET_PATH,
        handler: handlerFor(running),
        logger: getLog("control"),
      }, log);
      if (options.metrics) {
        metrics = serveMetrics({ ...options.metrics, source: ctx, version: VERSION });
        log.info("Metrics at http://{where}/metrics", {
          where: `${options.metrics.hostname}:${metrics.address.port}`,
        });
      }
    } catch (e) {
      log.error("{error}", { error: errorText(e) });
      await running.close();
      return 1;
    }
    const served = running.run().then(
      () => {
        if (!controller.signal.aborted) {
          log.error("PPPoE discovery on {ifname} stopped; shutting down", {
            ifname: config.interfaceName,
          });
          failed = true;
          controller.abort();
        }
      },
      (e) => {
        log.error("PPPoE discovery on {ifname} failed: {error}; shutting down", {
          ifname: config.interfaceName,
          error: errorText(e),
        });
        failed = true;
        controller.abort();
      },
    );
    tell(log, () => notifyReady());
    log.info("Serving PPPoE discovery on {ifname} ({mac})", {
      ifname: config.interfaceName,
      mac: port.mac,
    });
    // systemd's STATUS line, refreshed while it runs; elsewhere no status is built for it.
    const statusTimer = underSystemd()
      ? setInterval(() => tell(log, () => notifyStatus(kpppoedSummary(running.status()))), 10_000)
      : undefined;
    try {
      await waitForAbort(controller.signal);
    } finally {
      clearInterval(statusTimer);
    }
    tell(log, () => notifyStopping());
    await running.close();
    await served;
  } finally {
    await server?.close();
    await metrics?.close();
    await ctx.close();
    stopEventLog();
    dataPlane.close();
    options.signal?.removeEventListener("abort", stopOnAbort);
    signals.close();
  }
  log.info("shutdown complete");
  return failed ? 1 : 0;
}

/**
 * The status in one line (SIGUSR1, `systemctl status`).
 *
 * @param status kpppoed's status.
 * @returns e.g. "3 PPPoE session(s) (2 up), 1 tunnel(s) up".
 *
 * @example Usage
 * ```ts
 * import { kpppoedSummary } from "./run.ts";
 * console.log(kpppoedSummary({ time: "", tunnels: [], acName: "ac", interface: "eth1",
 *   mac: "02:00:00:00:00:01", pppoe: { sessions: [], counters: {} } }));
 * // 0 PPPoE session(s) (0 up), 0 tunnel(s) up
 * ```
 */
export function kpppoedSummary(status: KpppoedStatus): string {
  const sessions = status.pppoe.sessions;
  const up = sessions.filter((s) => s.state === "up").length;
  const tunnels = status.tunnels.filter((t) => t.state === "up").length;
  return `${sessions.length} PPPoE session(s) (${up} up), ${tunnels} tunnel(s) up`;
}

async function openPacketPort(ifname: string): Promise<DiscoveryPort> {
  const { openDiscoverySocket } = await import("../../dataplane/packet_socket.ts");
  return openDiscoverySocket(ifname);
}

/** The control socket's verbs: `show`; `down TUNNEL SESSION` ends one PPPoE session. */
function handlerFor(ac: AccessConcentrator): ControlHandler {
  return {
    show: () => ac.readStatus(),
    reload: () =>
      Promise.reject(
        new Error("Cannot reload: kpppoed reads its configuration at start only; restart it"),
      ),
    down: (tunnel, session) => {
      const s = ac.status().pppoe.sessions.find((s) =>
        s.tunnel === tunnel && (session === undefined || s.session === session)
      );
      if (session === undefined) {
        return Promise.reject(
          new Error(
            `Cannot take tunnel "${tunnel}" down as a whole: name one of its PPPoE sessions ` +
              `(e.g. ${s?.session ?? "pppoe-0001"}); a tunnel goes with its last session`,
          ),
        );
      }
      if (s === undefined) {
        return Promise.reject(
          new Error(`Cannot take "${tunnel}/${session}" down: kpppoed has no such session`),
        );
      }
      return ac.terminate(s.sessionId);
    },
    up: (tunnel) =>
      Promise.reject(
        new Error(`Cannot bring "${tunnel}" up: PPPoE sessions are started by their subscribers`),
      ),
  };
}

/** Whether systemd listens for notifications (`Type=notify` sets `NOTIFY_SOCKET`). */
function underSystemd(): boolean {
  try {
    return (Deno.env.get("NOTIFY_SOCKET") ?? "") !== "";
  } catch {
    return false; // no --allow-env: not worth asking
  }
}

function tell(log: Log, send: () => boolean): void {
  try {
    send();
  } catch (e) {
    log.warn("Cannot notify systemd: {error}", { error: errorText(e) });
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
