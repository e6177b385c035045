/**
 * The `l2tpd` command (also `kl2tpd` and `ql2tpd`, by executable name or `L2TPD_PERSONALITY`).
 *
 * - `l2tpd [--config FILE] [--verbose] [--null-dataplane] [--log-format text|json]` runs the
 *   daemon until SIGINT or SIGTERM: exit 0 after a clean shutdown, 1 on failure.
 * - `l2tpd check-config [FILE]` validates a configuration and prints it with every default filled
 *   in: exit 0, or 1 with the problems on stderr.
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
  detectPersonality,
  parseCli,
  type Personality,
  type RunCommand,
  usage,
  UsageError,
  VERSION,
} from "./lib/cli.ts";
import { type Config, ConfigError, formatConfig, loadConfig } from "./lib/config.ts";
import { getLog, setupLogging } from "./lib/log.ts";
import type { DataPlane } from "./dataplane/dataplane.ts";

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
    personality = detectPersonality(Deno.execPath(), Deno.env.get("L2TPD_PERSONALITY"));
    const command = parseCli(args, personality);
    switch (command.kind) {
      case "help":
        out(usage(command.personality));
        return 0;
      case "version":
        out(
          command.personality === "l2tpd"
            ? `l2tpd ${VERSION}\n`
            : `${command.personality} (l2tpd ${VERSION})\n`,
        );
        return 0;
      case "check-config":
        return await checkConfig(command);
      case "run":
        return await run(command);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${personality}: ${e.message}\n\n${usage(personality)}`);
      return 2;
    }
    throw e;
  }
}

async function checkConfig(command: CheckConfigCommand): Promise<number> {
  let config: Config;
  try {
    config = await loadConfig(command.configPath, { defaultMode: command.defaultMode });
  } catch (e) {
    if (e instanceof ConfigError) {
      err(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
  for (const warning of config.warnings ?? []) err(`warning: ${warning}\n`);
  out(formatConfig(config));
  return 0;
}

async function run(command: RunCommand): Promise<number> {
  setupLogging({ level: command.logLevel, format: command.logFormat });
  const log = getLog("main");

  let config: Config;
  try {
    config = await loadConfig(command.configPath, { defaultMode: command.defaultMode });
  } catch (e) {
    if (e instanceof ConfigError) {
      log.error("{error}", { error: e.message, file: e.file });
      return 1;
    }
    throw e;
  }
  for (const warning of config.warnings ?? []) log.warn("config: {warning}", { warning });

  // Signals are wired before anything is brought up; a signal during bring-up takes effect once
  // bring-up is over. A second signal ends the process at once, without the cleanup.
  const controller = new AbortController();
  const onSignal = (name: string): () => void => () => {
    if (controller.signal.aborted) {
      log.error("{signal} received again: exiting now, without cleanup", { signal: name });
      Deno.exit(1);
    }
    log.info("{signal} received: shutting down", { signal: name });
    controller.abort();
  };
  // A bug must not leave the kernel half-programmed: log it and shut down cleanly (exit 1).
  let internalError = false;
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    internalError = true;
    log.fatal("Internal error: {error}; shutting down", { error: errorText(e.reason) });
    controller.abort();
  });
  const handlers = { SIGINT: onSignal("SIGINT"), SIGTERM: onSignal("SIGTERM") } as const;
  Deno.addSignalListener("SIGINT", handlers.SIGINT);
  Deno.addSignalListener("SIGTERM", handlers.SIGTERM);
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
      const { runDaemon } = await import("./lib/daemon.ts");
      await runDaemon({
        config,
        dataPlane,
        signal: controller.signal,
        pppd: !command.nullDataPlane,
      });
    } catch (e) {
      log.error("Cannot run the daemon: {error}", { error: errorText(e) });
      return 1;
    } finally {
      dataPlane.close();
    }
    log.info("shutdown complete");
    return internalError ? 1 : 0;
  } finally {
    Deno.removeSignalListener("SIGINT", handlers.SIGINT);
    Deno.removeSignalListener("SIGTERM", handlers.SIGTERM);
  }
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

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
