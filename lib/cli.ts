/**
 * Command line parsing for the daemon and kpppoed: argv in, a typed {@linkcode CliCommand} (or
 * {@linkcode KpppoedCommand}) out (pure; the option machinery they share is `cli_args.ts`).
 *
 * Commands: `run` (the default: the daemon itself), `check-config [FILE]`, and the verbs that
 * talk to a running daemon through its control socket: `show [--json]`, `reload`,
 * `down NAME[/SESSION]`, `up NAME[/SESSION]` (all take `--socket PATH`).
 *
 * Accepts GNU-style options (`--config FILE`, `--config=FILE`, `-c FILE`) and go-l2tp's
 * single-dash spellings (`-config FILE`, `-verbose`, `-null`, `-verbose=false`), which are
 * normalised before `node:util` `parseArgs` sees them.
 *
 * The daemon has three personalities: `l2tpd` (this project), and go-l2tp's `kl2tpd` (tunnels
 * default to dynamic) and `ql2tpd` (tunnels default to static or quiescent). The same program is
 * also go-l2tp's fourth tool, `kpppoed` (a PPPoE access concentrator), whose command line is
 * go-l2tp's (`-config FILE`, `-verbose`) and parses to a {@linkcode KpppoedCommand}
 * ({@linkcode parseKpppoedCli}). Which one runs comes from the name the program was invoked by
 * (a binary, or a symlink, called `kl2tpd` or `kpppoed`; see `personality.ts`) or, for
 * development, the `L2TPD_PERSONALITY` environment variable ({@linkcode detectProgram}).
 *
 * @example Usage
 * ```ts
 * import { parseCli } from "./cli.ts";
 * const cmd = parseCli(["-config", "/etc/kl2tpd/kl2tpd.toml", "-verbose"], "kl2tpd");
 * console.log(cmd.kind); // "run"
 * ```
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };
import {
  logSettings,
  metricsAddress,
  normaliseOptions,
  readOptions,
  UsageError,
} from "./cli_args.ts";
import type { ConfigOptions, DefaultMode } from "./config.ts";
import { type ControlRequest, DEFAULT_SOCKET_PATH } from "./control_server.ts";
import { LOG_LEVELS, type LogFormat, type LogLevelName } from "./log.ts";

export { UsageError };

/**
 * The version of this daemon (from `deno.json`).
 *
 * @example Usage
 * ```ts
 * import { VERSION } from "./cli.ts";
 * console.log(VERSION);
 * ```
 */
export const VERSION: string = denoJson.version;

/**
 * Which tool the daemon behaves as.
 *
 * @example Usage
 * ```ts
 * import type { Personality } from "./cli.ts";
 * const p: Personality = "ql2tpd";
 * ```
 */
export type Personality = "l2tpd" | "kl2tpd" | "ql2tpd";

/**
 * All personalities.
 *
 * @example Usage
 * ```ts
 * import { PERSONALITIES } from "./cli.ts";
 * console.log(PERSONALITIES.join(", ")); // l2tpd, kl2tpd, ql2tpd
 * ```
 */
export const PERSONALITIES: readonly Personality[] = Object.freeze(["l2tpd", "kl2tpd", "ql2tpd"]);

/**
 * Which tool the program behaves as: one of the L2TP daemon's personalities, or go-l2tp's
 * PPPoE access concentrator `kpppoed`.
 *
 * @example Usage
 * ```ts
 * import type { Program } from "./cli.ts";
 * const p: Program = "kpppoed";
 * ```
 */
export type Program = Personality | "kpppoed";

/**
 * All programs: the personalities, then `kpppoed`.
 *
 * @example Usage
 * ```ts
 * import { PROGRAMS } from "./cli.ts";
 * console.log(PROGRAMS.join(", ")); // l2tpd, kl2tpd, ql2tpd, kpppoed
 * ```
 */
export const PROGRAMS: readonly Program[] = Object.freeze([...PERSONALITIES, "kpppoed"]);

/**
 * kpppoed's control socket when `--socket` gives none (not the L2TP daemon's, so that both can
 * run on one host).
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_KPPPOED_SOCKET_PATH } from "./cli.ts";
 * console.log(DEFAULT_KPPPOED_SOCKET_PATH); // /run/kpppoed/kpppoed.sock
 * ```
 */
export const DEFAULT_KPPPOED_SOCKET_PATH = "/run/kpppoed/kpppoed.sock";

/**
 * Run the daemon.
 *
 * @example Usage
 * ```ts
 * import type { RunCommand } from "./cli.ts";
 * const cmd: RunCommand = {
 *   kind: "run", personality: "l2tpd", configPath: "/etc/l2tpd/l2tpd.toml", defaultMode: "auto",
 *   logLevel: "info", logFormat: "text", nullDataPlane: false,
 * };
 * ```
 */
export interface RunCommand {
  /** Discriminant. */
  kind: "run";
  /** How the daemon was invoked. */
  personality: Personality;
  /** Configuration file. */
  configPath: string;
  /** Mode of tunnels that do not set one (from the personality). */
  defaultMode: DefaultMode;
  /** Lowest log level written (`--verbose` means `debug`). */
  logLevel: LogLevelName;
  /** Log output format. */
  logFormat: LogFormat;
  /** Use the null data plane instead of the kernel (`--null-dataplane`, go-l2tp's `-null`). */
  nullDataPlane: boolean;
  /**
   * The control socket (`--socket PATH`), when given; else the file's `[daemon]` `socket`, else
   * `/run/l2tpd/l2tpd.sock`.
   */
  socketPath?: string;
  /** Where to serve metrics (`--metrics ADDR:PORT`), when given; else the file's `[daemon]` `metrics`. */
  metrics?: { hostname: string; port: number };
}

/**
 * Ask the running daemon something through its control socket: `show`, `reload`, `down`, `up`.
 *
 * @example Usage
 * ```ts
 * import type { ControlCommand } from "./cli.ts";
 * const cmd: ControlCommand = {
 *   kind: "control", personality: "l2tpd", request: { command: "down", tunnel: "t1" },
 *   json: false, configPath: "/etc/l2tpd/l2tpd.toml",
 * };
 * ```
 */
export interface ControlCommand {
  /** Discriminant. */
  kind: "control";
  /** How the program was invoked. */
  personality: Personality;
  /** What to ask. */
  request: ControlRequest;
  /** Print the result as JSON (`--json`; `show` and `reload`). */
  json: boolean;
  /** The control socket (`--socket PATH`), when given. */
  socketPath?: string;
  /**
   * The daemon's configuration file (`--config`, else the personality's default): when
   * `--socket` is not given, its `[daemon]` `socket` is used if it can be read.
   */
  configPath: string;
}

/**
 * Validate a configuration file and print the effective configuration.
 *
 * @example Usage
 * ```ts
 * import type { CheckConfigCommand } from "./cli.ts";
 * const cmd: CheckConfigCommand = {
 *   kind: "check-config", personality: "l2tpd", configPath: "l2tp.toml", defaultMode: "auto",
 * };
 * ```
 */
export interface CheckConfigCommand {
  /** Discriminant. */
  kind: "check-config";
  /** How the daemon was invoked. */
  personality: Personality;
  /** Configuration file. */
  configPath: string;
  /** Mode of tunnels that do not set one (from the personality). */
  defaultMode: DefaultMode;
}

/**
 * Print the usage text (`--help`).
 *
 * @example Usage
 * ```ts
 * import type { HelpCommand } from "./cli.ts";
 * const cmd: HelpCommand = { kind: "help", personality: "kl2tpd" };
 * ```
 */
export interface HelpCommand {
  /** Discriminant. */
  kind: "help";
  /** How the program was invoked (names the program in the text, and chooses the text). */
  personality: Program;
}

/**
 * Print the version (`--version`).
 *
 * @example Usage
 * ```ts
 * import type { VersionCommand } from "./cli.ts";
 * const cmd: VersionCommand = { kind: "version", personality: "l2tpd" };
 * ```
 */
export interface VersionCommand {
  /** Discriminant. */
  kind: "version";
  /** How the program was invoked. */
  personality: Program;
}

/**
 * What the command line asks for.
 *
 * @example Usage
 * ```ts
 * import { type CliCommand, parseCli } from "./cli.ts";
 * const cmd: CliCommand = parseCli(["--version"]);
 * if (cmd.kind === "version") console.log("version requested");
 * ```
 */
export type CliCommand =
  | RunCommand
  | CheckConfigCommand
  | ControlCommand
  | HelpCommand
  | VersionCommand;

/**
 * Run kpppoed: the PPPoE discovery server and the L2TPv2 LAC that tunnels each PPPoE session to
 * an LNS, in one process (go-l2tp's kpppoed spawns a kl2tpd per session instead).
 *
 * @example Usage
 * ```ts
 * import type { KpppoedCommand } from "./cli.ts";
 * const cmd: KpppoedCommand = {
 *   kind: "kpppoed", personality: "kpppoed", configPath: "/etc/kpppoed/kpppoed.toml",
 *   logLevel: "info", logFormat: "text",
 * };
 * ```
 */
export interface KpppoedCommand {
  /** Discriminant. */
  kind: "kpppoed";
  /** The program (always kpppoed). */
  personality: "kpppoed";
  /** Configuration file (`-config`; default `/etc/kpppoed/kpppoed.toml`). */
  configPath: string;
  /** Lowest log level written (`-verbose` means `debug`). */
  logLevel: LogLevelName;
  /** Log output format. */
  logFormat: LogFormat;
  /** The control socket (`--socket PATH`), when given; else `/run/kpppoed/kpppoed.sock`. */
  socketPath?: string;
  /** Where to serve metrics (`--metrics ADDR:PORT`), when given; else nowhere. */
  metrics?: { hostname: string; port: number };
}

/**
 * What kpppoed's command line asks for ({@linkcode parseKpppoedCli}).
 *
 * @example Usage
 * ```ts
 * import { type KpppoedCliCommand, parseKpppoedCli } from "./cli.ts";
 * const cmd: KpppoedCliCommand = parseKpppoedCli(["-verbose"]);
 * console.log(cmd.kind); // kpppoed
 * ```
 */
export type KpppoedCliCommand = KpppoedCommand | HelpCommand | VersionCommand;

/**
 * What the command line of any program asks for ({@linkcode parseCommandLine}).
 *
 * @example Usage
 * ```ts
 * import { parseCommandLine, type ProgramCommand } from "./cli.ts";
 * const cmd: ProgramCommand = parseCommandLine(["--version"], "kpppoed");
 * console.log(cmd.kind, cmd.personality); // version kpppoed
 * ```
 */
export type ProgramCommand = CliCommand | KpppoedCommand;

/**
 * The program selected by the name the program was invoked by, else by `L2TPD_PERSONALITY`,
 * else `l2tpd`.
 *
 * @param execPath The program's name or path (`argv[0]`, see `invokedName` in
 *   `personality.ts`): one whose file name is `kl2tpd`, `ql2tpd` or `kpppoed` selects that
 *   program; `deno` or `l2tpd` selects nothing.
 * @param envValue The value of `L2TPD_PERSONALITY`, if set.
 * @throws {UsageError} when `envValue` names no program.
 *
 * @example Usage
 * ```ts
 * import { detectProgram } from "./cli.ts";
 * console.log(detectProgram("/usr/sbin/kpppoed")); // "kpppoed"
 * console.log(detectProgram("/usr/bin/deno", "kl2tpd")); // "kl2tpd"
 * ```
 */
export function detectProgram(execPath: string, envValue?: string): Program {
  const base = execPath.slice(execPath.lastIndexOf("/") + 1);
  if (base !== "l2tpd" && (PROGRAMS as readonly string[]).includes(base)) return base as Program;
  if (envValue === undefined || envValue === "") return "l2tpd";
  if ((PROGRAMS as readonly string[]).includes(envValue)) return envValue as Program;
  throw new UsageError(
    `Cannot select personality: L2TPD_PERSONALITY must be l2tpd, kl2tpd, ql2tpd or kpppoed, got ` +
      JSON.stringify(envValue),
  );
}

/**
 * The L2TP daemon's personality selected by the name the program was invoked by, else by
 * `L2TPD_PERSONALITY`, else `l2tpd` (see {@linkcode detectProgram}, which also knows
 * `kpppoed`).
 *
 * @param execPath The program's name or path (`argv[0]`, see `invokedName` in
 *   `personality.ts`): one whose file name is `kl2tpd` or `ql2tpd` selects that personality;
 *   `deno` or `l2tpd` selects nothing.
 * @param envValue The value of `L2TPD_PERSONALITY`, if set.
 * @throws {UsageError} when `envValue` names no personality, or either selects `kpppoed`,
 *   which is not a personality of the L2TP daemon.
 *
 * @example Usage
 * ```ts
 * import { detectPersonality } from "./cli.ts";
 * console.log(detectPersonality("/usr/sbin/kl2tpd")); // "kl2tpd"
 * console.log(detectPersonality("/usr/bin/deno", "ql2tpd")); // "ql2tpd"
 * ```
 */
export function detectPersonality(execPath: string, envValue?: string): Personality {
  const program = detectProgram(execPath, envValue);
  if (program === "kpppoed") {
    throw new UsageError(
      "Cannot select personality: kpppoed is a program of its own, not a personality of the " +
        "L2TP daemon (l2tpd, kl2tpd or ql2tpd)",
    );
  }
  return program;
}

/**
 * The configuration file used when none is given (go-l2tp's defaults for its tools).
 *
 * @example Usage
 * ```ts
 * import { defaultConfigPath } from "./cli.ts";
 * console.log(defaultConfigPath("kl2tpd")); // "/etc/kl2tpd/kl2tpd.toml"
 * console.log(defaultConfigPath("kpppoed")); // "/etc/kpppoed/kpppoed.toml"
 * ```
 */
export function defaultConfigPath(personality: Program): string {
  return `/etc/${personality}/${personality}.toml`;
}

/**
 * The default tunnel mode of a personality: `kl2tpd` dynamic, `ql2tpd` static (quiescent with
 * `hello_timeout`), `l2tpd` decided per tunnel.
 *
 * @example Usage
 * ```ts
 * import { defaultModeFor } from "./cli.ts";
 * console.log(defaultModeFor("kl2tpd")); // "dynamic"
 * ```
 */
export function defaultModeFor(personality: Personality): DefaultMode {
  return personality === "kl2tpd" ? "dynamic" : personality === "ql2tpd" ? "static" : "auto";
}

/**
 * How a personality reads its configuration: the default tunnel mode, and for `l2tpd` RFC 2661
 * §5.8's 5 retransmissions for L2TPv2 (kl2tpd and ql2tpd keep go-l2tp's 3).
 *
 * @param personality The personality.
 * @returns Options for `loadConfig`.
 *
 * @example Usage
 * ```ts
 * import { configOptionsFor } from "./cli.ts";
 * console.log(configOptionsFor("l2tpd").defaultMaxRetriesV2); // 5
 * console.log(configOptionsFor("l2tpd").defaultWindowSize); // 16
 * ```
 */
export function configOptionsFor(personality: Personality): ConfigOptions {
  return {
    defaultMode: defaultModeFor(personality),
    ...(personality === "l2tpd" ? { defaultMaxRetriesV2: 5, defaultWindowSize: 16 } : {}),
  };
}

const DESCRIPTIONS: Record<Personality, string> = {
  l2tpd: "An L2TP daemon for Linux: brings up the tunnels and sessions its configuration file " +
    "describes.\nTunnels that set ptid are static (quiescent with hello_timeout); others are " +
    "dynamic.",
  kl2tpd: "An L2TP daemon for Linux in kl2tpd mode: tunnels default to dynamic (the full " +
    "control protocol,\nLAC side), and pppd is started for PPP sessions.",
  ql2tpd: "An L2TP daemon for Linux in ql2tpd mode: tunnels default to static, or quiescent " +
    "when they set\nhello_timeout (keep-alives detect a dead peer).",
};

/**
 * The usage text for a program.
 *
 * @example Usage
 * ```ts
 * import { usage } from "./cli.ts";
 * console.log(usage("l2tpd"));
 * console.log(usage("kpppoed"));
 * ```
 */
export function usage(personality: Program): string {
  if (personality === "kpppoed") return kpppoedUsage();
  const p = personality;
  return `Usage: ${p} [run] [options]
       ${p} check-config [FILE]
       ${p} show [--json] | reload | down NAME[/SESSION] | up NAME[/SESSION]  [--socket PATH]

${DESCRIPTIONS[p]}

Commands:
  run (or none)            run the daemon until SIGINT or SIGTERM; SIGHUP re-reads the
                           configuration file, SIGUSR1 logs the status
  check-config [FILE]      validate the configuration, print it with every default filled in
  show [--json]            the running daemon's tunnels and sessions, with their counters
                           (--json: its status as JSON)
  reload                   make the running daemon re-read its configuration file (as SIGHUP)
  down NAME[/SESSION]      take a configured tunnel, or one session of it, down; it stays
                           down (across reloads) until "up"
  up NAME[/SESSION]        bring it back up

Options:
  -c, --config FILE        configuration file (default ${defaultConfigPath(p)})
      --socket PATH        control socket (default: the file's [daemon] socket, else
                           ${DEFAULT_SOCKET_PATH})
      --json               show, reload: print the daemon's answer as JSON
      --metrics ADDRESS    serve Prometheus metrics over HTTP on ADDR:PORT (127.0.0.1:9100,
                           [::1]:9100; default: the file's [daemon] metrics, else none)
  -v, --verbose            log debug messages (same as --log-level debug)
      --log-level LEVEL    ${LOG_LEVELS.join(", ")} (default info)
      --log-format FORMAT  text (default, for people) or json (JSON Lines, for machines)
      --null-dataplane     program nothing in the kernel (no root needed; for testing)
  -h, --help               show this help
  -V, --version            show the version

go-l2tp's spellings work too: -config FILE, -verbose, -null.

Exit status: 0 done; 1 the daemon (or check-config, or run) failed, with the reason on stderr;
2 bad command line; 3 (show, reload, down, up) cannot reach the daemon: none listens on the
socket; 4 (show, reload, down, up) permission denied on the socket (run as root or as a member
of the socket's group).
`;
}

function kpppoedUsage(): string {
  return `Usage: kpppoed [options]

A PPPoE access concentrator for Linux (go-l2tp's kpppoed): answers PPPoE discovery on the
configured Ethernet interface and tunnels each PPPoE session to an LNS as an L2TPv2 session
(pseudowire pppac): the kernel relays the PPP frames, no pppd runs. Runs until SIGINT or SIGTERM.

Options:
  -c, --config FILE        configuration file (default ${defaultConfigPath("kpppoed")})
      --socket PATH        control socket (default ${DEFAULT_KPPPOED_SOCKET_PATH})
      --metrics ADDRESS    serve Prometheus metrics over HTTP on ADDR:PORT (127.0.0.1:9100,
                           [::1]:9100; default none)
  -v, --verbose            log debug messages (same as --log-level debug)
      --log-level LEVEL    ${LOG_LEVELS.join(", ")} (default info)
      --log-format FORMAT  text (default, for people) or json (JSON Lines, for machines)
  -h, --help               show this help
  -V, --version            show the version

go-l2tp's spellings work too: -config FILE, -verbose.

Exit status: 0 done; 1 failed (an invalid configuration, or an error while running), with the
reason on stderr; 2 bad command line.
`;
}

/** Canonical long option names, and the names (with one or two dashes) that stand for them. */
const ALIASES: Record<string, string> = {
  "config": "config",
  "verbose": "verbose",
  "null": "null-dataplane",
  "null-dataplane": "null-dataplane",
  "log-format": "log-format",
  "log-level": "log-level",
  "help": "help",
  "version": "version",
  "socket": "socket",
  "json": "json",
  "metrics": "metrics",
};

/** kpppoed's options: go-l2tp's -config and -verbose, and those of ours that apply. */
const KPPPOED_ALIASES: Record<string, string> = Object.fromEntries(
  ["config", "verbose", "log-format", "log-level", "help", "version", "socket", "metrics"]
    .map((name) => [name, name]),
);

/**
 * Rewrite go-l2tp spellings into what `parseArgs` accepts: `-config` becomes `--config`,
 * `-null`/`--null` become `--null-dataplane`, and `-verbose=false` becomes `--no-verbose`.
 * Arguments after `--` are left alone.
 *
 * @throws {UsageError} for a boolean option given a value that is not a boolean.
 *
 * @example Usage
 * ```ts
 * import { normaliseArgs } from "./cli.ts";
 * console.log(normaliseArgs(["-config", "a.toml", "-null", "-verbose=false"]));
 * // ["--config", "a.toml", "--null-dataplane", "--no-verbose"]
 * ```
 */
export function normaliseArgs(argv: readonly string[]): string[] {
  return normaliseOptions(argv, ALIASES);
}

/**
 * Parse the command line (without the program name).
 *
 * @param argv `Deno.args`.
 * @param personality How the daemon was invoked (see {@linkcode detectPersonality}).
 * @throws {UsageError} for unknown options, missing or bad values, or stray arguments.
 *
 * @example Usage
 * ```ts
 * import { parseCli } from "./cli.ts";
 * console.log(parseCli(["check-config", "l2tp.toml"])); // { kind: "check-config", ... }
 * ```
 */
export function parseCli(argv: readonly string[], personality: Personality = "l2tpd"): CliCommand {
  const o = readOptions(argv, ALIASES);
  const { flags, config, socket, metrics } = o;
  if (flags.help) return { kind: "help", personality };
  if (flags.version) return { kind: "version", personality };
  const { level, format } = logSettings(o);

  const positionals = [...o.positionals];
  const command = positionals.shift();
  const defaultMode = defaultModeFor(personality);
  const withSocket = socket === undefined ? {} : { socketPath: socket };
  const isRun = command === undefined || command === "run";
  if (metrics !== undefined && !isRun) {
    throw new UsageError(
      `Cannot parse arguments: --metrics applies to run (the daemon), not ${command}`,
    );
  }
  if (command !== undefined && VERBS.has(command)) {
    const verb = command as ControlRequest["command"];
    if (flags.json && verb !== "show" && verb !== "reload") {
      throw new UsageError(
        `Cannot parse arguments: --json applies to show and reload, not ${verb}`,
      );
    }
    return {
      kind: "control",
      personality,
      request: controlRequest(verb, positionals),
      json: flags.json,
      configPath: config ?? defaultConfigPath(personality),
      ...withSocket,
    };
  }
  if (flags.json) {
    throw new UsageError("Cannot parse arguments: --json applies to show and reload only");
  }
  if (command === "check-config") {
    if (socket !== undefined) {
      throw new UsageError(
        "Cannot parse arguments: --socket applies to run, show, reload, down and up, not " +
          "check-config",
      );
    }
    if (positionals.length > 1) {
      throw new UsageError(
        `Cannot parse arguments: check-config takes one file, got ${positionals.length}`,
      );
    }
    const file = positionals[0];
    if (file !== undefined && config !== undefined && file !== config) {
      throw new UsageError(
        `Cannot parse arguments: check-config was given two files (${file} and --config ${config})`,
      );
    }
    if (file === "") throw new UsageError("Cannot parse arguments: check-config needs a file name");
    return {
      kind: "check-config",
      personality,
      configPath: file ?? config ?? defaultConfigPath(personality),
      defaultMode,
    };
  }
  if (command !== undefined && command !== "run") {
    throw new UsageError(
      `Cannot parse arguments: unexpected argument ${JSON.stringify(command)} (commands: ` +
        `run, check-config, show, reload, down, up; options start with -)`,
    );
  }
  if (positionals.length > 0) {
    throw new UsageError(
      `Cannot parse arguments: unexpected argument ${JSON.stringify(positionals[0])}`,
    );
  }
  return {
    kind: "run",
    personality,
    configPath: config ?? defaultConfigPath(personality),
    defaultMode,
    logLevel: level,
    logFormat: format,
    nullDataPlane: flags["null-dataplane"],
    ...withSocket,
    ...(metrics === undefined ? {} : { metrics: metricsAddress(metrics) }),
  };
}

/**
 * Parse kpppoed's command line (without the program name): go-l2tp's `-config FILE` and
 * `-verbose` (also `--config`, `-c`, `--verbose`, `-v`), `--log-level`, `--log-format`,
 * `--socket PATH`, `--metrics ADDR:PORT`, `-h`/`--help` and `-V`/`--version`; no commands and no
 * other arguments.
 *
 * @param argv `Deno.args`.
 * @throws {UsageError} for unknown options, missing or bad values, or any argument.
 *
 * @example Usage
 * ```ts
 * import { parseKpppoedCli } from "./cli.ts";
 * console.log(parseKpppoedCli(["-config", "/etc/kpppoed/ac.toml", "-verbose"]));
 * // { kind: "kpppoed", personality: "kpppoed", configPath: "/etc/kpppoed/ac.toml",
 * //   logLevel: "debug", logFormat: "text" }
 * ```
 */
export function parseKpppoedCli(argv: readonly string[]): KpppoedCliCommand {
  const o = readOptions(argv, KPPPOED_ALIASES);
  const personality = "kpppoed";
  if (o.flags.help) return { kind: "help", personality };
  if (o.flags.version) return { kind: "version", personality };
  const { level, format } = logSettings(o);
  if (o.positionals.length > 0) {
    throw new UsageError(
      `Cannot parse arguments: kpppoed takes no commands or arguments, got ` +
        `${JSON.stringify(o.positionals[0])} (options start with -)`,
    );
  }
  return {
    kind: "kpppoed",
    personality,
    configPath: o.config ?? defaultConfigPath(personality),
    logLevel: level,
    logFormat: format,
    ...(o.socket === undefined ? {} : { socketPath: o.socket }),
    ...(o.metrics === undefined ? {} : { metrics: metricsAddress(o.metrics) }),
  };
}

/**
 * Parse the command line of any program: {@linkcode parseKpppoedCli} for `kpppoed`, else
 * {@linkcode parseCli} for that personality.
 *
 * @param argv `Deno.args`.
 * @param program How the program was invoked (see {@linkcode detectProgram}).
 * @throws {UsageError} for bad input, as those do.
 *
 * @example Usage
 * ```ts
 * import { parseCommandLine } from "./cli.ts";
 * console.log(parseCommandLine([], "kpppoed").kind, parseCommandLine([], "kl2tpd").kind);
 * // kpppoed run
 * ```
 */
export function parseCommandLine(argv: readonly string[], program: Program): ProgramCommand {
  return program === "kpppoed" ? parseKpppoedCli(argv) : parseCli(argv, program);
}

const VERBS = new Set<string>(["show", "reload", "down", "up"]);

/** The request of a verb and its arguments: `down NAME[/SESSION]` and so on. */
function controlRequest(verb: ControlRequest["command"], args: string[]): ControlRequest {
  if (verb === "show" || verb === "reload") {
    if (args.length > 0) {
      throw new UsageError(
        `Cannot parse arguments: ${verb} takes no arguments, got ${JSON.stringify(args[0])}`,
      );
    }
    return { command: verb };
  }
  if (args.length !== 1) {
    throw new UsageError(
      args.length === 0
        ? `Cannot parse arguments: ${verb} needs a tunnel: ${verb} NAME or ${verb} NAME/SESSION`
        : `Cannot parse arguments: ${verb} takes one tunnel (NAME or NAME/SESSION), got ` +
          `${args.length} arguments`,
    );
  }
  const target = args[0];
  const slash = target.indexOf("/");
  const tunnel = slash < 0 ? target : target.slice(0, slash);
  const session = slash < 0 ? undefined : target.slice(slash + 1);
  if (tunnel === "" || session === "") {
    throw new UsageError(
      `Cannot parse arguments: ${verb} needs NAME or NAME/SESSION, got ${JSON.stringify(target)}`,
    );
  }
  return session === undefined ? { command: verb, tunnel } : { command: verb, tunnel, session };
}
