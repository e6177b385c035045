/**
 * The `l2tpd` command (also `kl2tpd` and `ql2tpd`: by the name it is invoked by, a symlink
 * works, or by `L2TPD_PERSONALITY`).
 *
 * - `l2tpd [run] [--config FILE] [--socket PATH] [--metrics ADDR:PORT] [--verbose]
 *   [--null-dataplane] [--log-format text|json]` runs the daemon until SIGINT or SIGTERM: exit 0
 *   after a clean shutdown, 1 on failure. SIGHUP re-reads the configuration file and applies the
 *   difference (an invalid file changes nothing); SIGUSR1 logs the status as one line (and never
 *   opens the V8 inspector, see `lib/inspector_guard.ts`). While it runs, the daemon serves its
 *   control socket (see `lib/control_server.ts`), runs the `on_up` / `on_down` hooks
 *   (`lib/hooks.ts`), serves metrics when asked to (`lib/metrics.ts`) and, under systemd, reports
 *   `READY=1`, `RELOADING=1` and `STOPPING=1` (`dataplane/notify.ts`).
 * - `l2tpd check-config [FILE]` validates a configuration and prints it with every default filled
 *   in: exit 0, or 1 with the problems on stderr.
 * - `l2tpd show [--json]`, `reload`, `down NAME[/SESSION]`, `up NAME[/SESSION]` ask the running
 *   daemon through its control socket: exit 0 done; 1 the daemon answered with an error; 3 no
 *   daemon listens on the socket; 4 permission denied on the socket.
 * - Bad command line input: a message and the usage text on stderr, exit 2.
 *
 * go-l2tp's spellings (`-config FILE`, `-verbose`, `-null`) are accepted.
 *
 * @example Usage
 * Validate the example configuration (from the repository root):
 * ```ts
 * import { main } from "./main.ts";
 * const code = await main(["check-config", "config.example.toml"]);
 * console.log(code); // 0; the effective configuration went to stdout
 * ```
 *
 * @module
 */

import {
  type CheckConfigCommand,
  configOptionsFor,
  type ControlCommand,
  parseCli,
  type Personality,
  type RunCommand,
  usage,
  UsageError,
  VERSION,
} from "./lib/cli.ts";
import { type Config, ConfigError, formatConfig, formatIssue, loadConfig } from "./lib/config.ts";
import { ControlClientError, resolveSocketPath, sendControlRequest } from "./lib/control_client.ts";
import {
  type ControlAnswer,
  type ControlHandler,
  ControlServer,
  ControlSocketError,
  DEFAULT_SOCKET_PATH,
} from "./lib/control_server.ts";
import type { Daemon, ReloadResult } from "./lib/daemon.ts";
import { attachHooks, hooksInConfig } from "./lib/hooks.ts";
import { type MetricsServer, serveMetrics } from "./lib/metrics.ts";
import { getLog, type Log, setupLogging } from "./lib/log.ts";
import { personalityOf } from "./lib/personality.ts";
import { formatStatusTable } from "./lib/show.ts";
import type { ContextStatus } from "./lib/tunnel.ts";
import type { DataPlane } from "./dataplane/dataplane.ts";
import { notifyReady, notifyReloading, notifyStatus, notifyStopping } from "./dataplane/notify.ts";

const encoder = new TextEncoder();

function writeAll(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  const data = encoder.encode(text);
  let off = 0;
  while (off < data.length) off += stream.writeSync(data.subarray(off));
}

function out(text: string): void {
  writeAll(Deno.stdout, text);
}

function err(text: string): void {
  writeAll(Deno.stderr, text);
}

/**
 * Exit codes of the control verbs (`show`, `reload`, `down`, `up`).
 *
 * @example Usage
 * ```ts
 * import { EXIT } from "./main.ts";
 * console.log(EXIT.unreachable); // 3
 * ```
 */
export const EXIT: Readonly<
  { ok: 0; failed: 1; usage: 2; unreachable: 3; permission: 4 }
> = Object.freeze(
  {
    /** Done. */
    ok: 0,
    /** The daemon answered with an error (or a command failed). */
    failed: 1,
    /** Bad command line. */
    usage: 2,
    /** No daemon listens on the control socket. */
    unreachable: 3,
    /** The control socket's permissions keep us out. */
    permission: 4,
  } as const,
);

/**
 * Run the command line `args` (without the program name); resolves with the exit code.
 *
 * @example Usage
 * ```ts
 * import { main } from "./main.ts";
 * const code = await main(["--version"]);
 * console.log(code); // 0, after "l2tpd 0.1.0" on stdout
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  let personality: Personality = "l2tpd";
  try {
    personality = personalityOf();
    const command = parseCli(args, personality);
    switch (command.kind) {
      case "help":
        out(usage(command.personality));
        return EXIT.ok;
      case "version":
        out(
          command.personality === "l2tpd"
            ? `l2tpd ${VERSION}\n`
            : `${command.personality} (l2tpd ${VERSION})\n`,
        );
        return EXIT.ok;
      case "check-config":
        return await checkConfig(command);
      case "control":
        return await control(command);
      case "run":
        return await run(command);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${personality}: ${e.message}\n\n${usage(personality)}`);
      return EXIT.usage;
    }
    throw e;
  }
}

async function checkConfig(command: CheckConfigCommand): Promise<number> {
  let config: Config;
  try {
    config = await loadConfig(command.configPath, configOptionsFor(command.personality));
  } catch (e) {
    if (e instanceof ConfigError) {
      err(`${e.message}\n`);
      return EXIT.failed;
    }
    throw e;
  }
  for (const warning of config.warnings ?? []) err(`warning: ${warning}\n`);
  out(formatConfig(config));
  return EXIT.ok;
}

// --- Control verbs: show, reload, down, up ------------------------------------------------------

async function control(command: ControlCommand): Promise<number> {
  const path = await resolveSocketPath(command.socketPath, command.configPath);
  let answer: ControlAnswer;
  try {
    answer = await sendControlRequest(path, command.request);
  } catch (e) {
    if (!(e instanceof ControlClientError)) throw e;
    err(`${e.message}\n`);
    return e.reason === "permission" ? EXIT.permission : EXIT.unreachable;
  }
  if (!answer.ok) {
    err(`${answer.error}\n`);
    return EXIT.failed;
  }
  const result = answer.result;
  switch (command.request.command) {
    case "show":
      if (command.json) {
        out(`${JSON.stringify(result, null, 2)}\n`);
        return EXIT.ok;
      }
      if (!Array.isArray((result as Partial<ContextStatus> | null)?.tunnels)) {
        err(`Cannot show the status of ${path}: the daemon's answer is not one (try --json)\n`);
        return EXIT.failed;
      }
      out(formatStatusTable(result as ContextStatus));
      return EXIT.ok;
    case "reload": {
      const r = result as ReloadResult;
      if (command.json) out(`${JSON.stringify(r, null, 2)}\n`);
      else out(`${reloadSummary(r)}\n`);
      // Applied, but not everything came up: say what, and fail.
      for (const f of r.failed ?? []) err(`Cannot bring up ${f}\n`);
      return (r.failed ?? []).length > 0 ? EXIT.failed : EXIT.ok;
    }
    case "down":
    case "up":
      return EXIT.ok;
  }
}

/** "added t2; removed none; replaced t1/s1; unchanged t3, t3/s1" */
function reloadSummary(r: ReloadResult): string {
  const list = (names: readonly string[] | undefined): string =>
    names === undefined || names.length === 0 ? "none" : names.join(", ");
  const parts = [
    `added ${list(r.added)}`,
    `removed ${list(r.removed)}`,
    `replaced ${list(r.replaced)}`,
    `unchanged ${list(r.unchanged)}`,
  ];
  if ((r.failed ?? []).length > 0) parts.push(`failed ${list(r.failed)}`);
  return parts.join("; ");
}

// --- The daemon ---------------------------------------------------------------------------------

/** Runs one operation at a time, in order: start, reloads, down/up, stop never overlap. */
class Serial {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(op);
    this.#tail = result.catch(() => {});
    return result;
  }
}

async function run(command: RunCommand): Promise<number> {
  setupLogging({ level: command.logLevel, format: command.logFormat });
  const log = getLog("main");

  // At start, also warn when a file holding a secret is readable by others.
  const loadOptions = { ...configOptionsFor(command.personality), checkSecretPermissions: true };
  let config: Config;
  try {
    config = await loadConfig(command.configPath, loadOptions);
  } catch (e) {
    if (e instanceof ConfigError) {
      log.error("{error}", { error: e.message, file: e.file });
      return EXIT.failed;
    }
    throw e;
  }
  for (const warning of config.warnings ?? []) log.warn("config: {warning}", { warning });

  // SIGUSR1 must never open Deno's V8 inspector: hold its port before Deno arms that handler
  // (half a second after start).
  const guard = await guardInspector(log);
  try {
    return await runDaemon(command, config, log);
  } finally {
    guard?.close();
  }
}

async function runDaemon(command: RunCommand, initial: Config, log: Log): Promise<number> {
  const loadOptions = configOptionsFor(command.personality);
  let config = initial;
  const serial = new Serial();
  let daemon: Daemon | undefined;

  // Signals are wired before anything is brought up; a signal during bring-up takes effect once
  // bring-up is over. A second SIGINT or SIGTERM ends the process at once, without the cleanup.
  const controller = new AbortController();
  const onSignal = (name: string): () => void => () => {
    if (controller.signal.aborted) {
      log.error("{signal} received again: exiting now, without cleanup", { signal: name });
      Deno.exit(1);
    }
    log.info("{signal} received: shutting down", { signal: name });
    controller.abort();
  };

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

  const onHangup = (): void => {
    if (controller.signal.aborted) return;
    log.info("SIGHUP received: re-reading {file}", { file: command.configPath });
    reloadFromFile("SIGHUP").catch((e) => {
      if (!(e instanceof ConfigError)) {
        log.error("SIGHUP: cannot reload: {error}", { error: errorText(e) });
      }
    });
  };

  const onStatusSignal = (): void => {
    if (daemon === undefined) {
      log.info("SIGUSR1: status: not started yet");
      return;
    }
    daemon.readStatus().then(
      (status) => log.info("SIGUSR1: status: {summary}", { summary: summary(status), status }),
      (e) => log.error("SIGUSR1: cannot read the status: {error}", { error: errorText(e) }),
    );
  };

  // A bug must not leave the kernel half-programmed: log it and shut down cleanly (exit 1).
  let internalError = false;
  const onRejection = (e: PromiseRejectionEvent): void => {
    e.preventDefault();
    internalError = true;
    log.fatal("Internal error: {error}; shutting down", { error: errorText(e.reason) });
    controller.abort();
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGINT", onSignal("SIGINT")],
    ["SIGTERM", onSignal("SIGTERM")],
    ["SIGHUP", onHangup],
    ["SIGUSR1", onStatusSignal],
  ];
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
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
      return EXIT.failed;
    }
    try {
      const { Daemon } = await import("./lib/daemon.ts");
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
          return EXIT.failed;
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
          return EXIT.failed;
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
    return internalError ? EXIT.failed : EXIT.ok;
  } finally {
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    globalThis.removeEventListener("unhandledrejection", onRejection);
  }
}

/**
 * The control socket: `--socket`, else the file's `[daemon] socket`, else the default. Where the
 * default cannot be made because we lack the privilege (a test daemon, not root), the daemon runs
 * without one; a socket asked for by name must work, and a live daemon on it is always an error.
 */
async function openControlSocket(
  command: RunCommand,
  config: Config,
  log: Log,
  handler: ControlHandler,
): Promise<ControlServer | undefined> {
  const requested = command.socketPath ?? config.daemon?.socket;
  const path = requested ?? DEFAULT_SOCKET_PATH;
  try {
    return await ControlServer.listen({
      path,
      group: config.daemon?.socketGroup,
      handler,
      logger: getLog("control"),
    });
  } catch (e) {
    if (requested === undefined && e instanceof ControlSocketError && e.reason === "permission") {
      log.warn("No control socket: {error}", { error: errorText(e) });
      return undefined;
    }
    throw e;
  }
}

/** Serve metrics where `--metrics` (or else the file's `[daemon] metrics`) says, if anywhere. */
function startMetrics(
  command: RunCommand,
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
    tell(log, "STATUS", () => notifyStatus(summary(status)));
  } catch {
    // The status is a courtesy; the log has the details.
  }
}

/** Hold the inspector's port; a failure is logged, not fatal (the daemon works without it). */
async function guardInspector(log: Log): Promise<{ close(): void } | undefined> {
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    // Only test runs go without FFI (the kernel data plane needs it).
    log.debug("No --allow-ffi: SIGUSR1 may open the V8 inspector on 127.0.0.1:9229");
    return undefined;
  }
  try {
    const { reserveInspectorPort } = await import("./lib/inspector_guard.ts");
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

/** "2 tunnel(s) up of 3, 4 session(s) up" */
function summary(status: ContextStatus): string {
  const sessions = status.tunnels.flatMap((t) =>
    t.peers === undefined ? t.sessions : t.peers.flatMap((p) => p.sessions)
  );
  const tunnelsUp =
    status.tunnels.filter((t) => t.state === "up" || (t.peers ?? []).some((p) => p.state === "up"))
      .length;
  return `${tunnelsUp} of ${status.tunnels.length} tunnel(s) up, ` +
    `${sessions.filter((s) => s.state === "up").length} session(s) up`;
}

/** The data plane modules are loaded on demand: check-config and --help need no FFI. */
async function openDataPlane(nullDataPlane: boolean): Promise<DataPlane> {
  if (nullDataPlane) {
    const { NullDataPlane } = await import("./dataplane/null.ts");
    return new NullDataPlane();
  }
  const { KernelDataPlane } = await import("./dataplane/kernel.ts");
  return await KernelDataPlane.open();
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
