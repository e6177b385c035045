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
 *   `READY=1`, `RELOADING=1` and `STOPPING=1`. All of that is `runService` in `lib/service.ts`;
 *   this module only parses the command line, dispatches the verbs and prints their output.
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
  type KpppoedCommand,
  parseCli,
  parseKpppoedCli,
  type Personality,
  type RunCommand,
  usage,
  UsageError,
  VERSION,
} from "./lib/cli.ts";
import { type Config, ConfigError, formatConfig, loadConfig } from "./lib/config.ts";
import { ControlClientError, resolveSocketPath, sendControlRequest } from "./lib/control_client.ts";
import type { ControlAnswer } from "./lib/control_protocol.ts";
import type { ReloadResult } from "./lib/daemon.ts";
import { getLog, setupLogging } from "./lib/log.ts";
import { personalityOf, programOf } from "./lib/personality.ts";
import { type KpppoedConfig, loadKpppoedConfig } from "./lib/kpppoed/config.ts";
import { runService } from "./lib/service.ts";
import { formatStatusTable } from "./lib/show.ts";
import type { ContextStatus } from "./lib/tunnel.ts";

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
  if (programOf() === "kpppoed") return await kpppoed(args);
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

/**
 * kpppoed: go-l2tp's flags and configuration file; runs the PPPoE access concentrator (discovery
 * server and L2TPv2 LAC in this process, see `lib/kpppoed/run.ts`) until SIGINT or SIGTERM.
 */
async function kpppoed(args: readonly string[]): Promise<number> {
  let command: KpppoedCommand;
  try {
    const parsed = parseKpppoedCli(args);
    if (parsed.kind === "help") {
      out(usage("kpppoed"));
      return EXIT.ok;
    }
    if (parsed.kind === "version") {
      out(`kpppoed (l2tpd ${VERSION})\n`);
      return EXIT.ok;
    }
    command = parsed;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`kpppoed: ${e.message}\n\n${usage("kpppoed")}`);
      return EXIT.usage;
    }
    throw e;
  }
  setupLogging({ level: command.logLevel, format: command.logFormat });
  const log = getLog("kpppoed");
  let config: KpppoedConfig;
  try {
    config = await loadKpppoedConfig(command.configPath, { checkSecretPermissions: true });
  } catch (e) {
    if (e instanceof ConfigError) {
      log.error("{error}", { error: e.message, file: e.file });
      return EXIT.failed;
    }
    throw e;
  }
  for (const warning of config.warnings ?? []) log.warn("config: {warning}", { warning });
  const { runKpppoed } = await import("./lib/kpppoed/run.ts");
  return await runKpppoed({
    config,
    socketPath: command.socketPath,
    metrics: command.metrics,
    log,
  });
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

/** Set up logging, load the configuration (exit 1 when it is invalid), run the service. */
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
  return await runService({ command, config, log });
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
