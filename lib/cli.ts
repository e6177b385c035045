/**
 * Command line parsing for the daemon: argv in, a typed {@linkcode CliCommand} out (pure).
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
 * default to dynamic) and `ql2tpd` (tunnels default to static or quiescent). The personality
 * comes from the name the program was invoked by (a binary, or a symlink, called `kl2tpd`; see
 * `personality.ts`) or, for development, the `L2TPD_PERSONALITY` environment variable.
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

import { parseArgs } from "node:util";
import denoJson from "../deno.json" with { type: "json" };
import type { ConfigOptions, DefaultMode } from "./config.ts";
import { type ControlRequest, DEFAULT_SOCKET_PATH } from "./control_server.ts";
import { LOG_LEVELS, type LogFormat, type LogLevelName } from "./log.ts";
import { parseMetricsAddress } from "./metrics.ts";

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
  /** How the daemon was invoked (names the program in the text). */
  personality: Personality;
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
  /** How the daemon was invoked. */
  personality: Personality;
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
 * Bad command line input; the caller prints the message and the usage text, and exits 2.
 *
 * @example Usage
 * ```ts
 * import { parseCli, UsageError } from "./cli.ts";
 * try {
 *   parseCli(["--bogus"]);
 * } catch (e) {
 *   console.log(e instanceof UsageError); // true
 * }
 * ```
 */
export class UsageError extends Error {
  /** Make a usage error with a "Cannot X: detail" message. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * The personality selected by the name the program was invoked by, else by
 * `L2TPD_PERSONALITY`, else `l2tpd`.
 *
 * @param execPath The program's name or path (`argv[0]`, see `invokedName` in
 *   `personality.ts`): one whose file name is `kl2tpd` or `ql2tpd` selects that personality;
 *   `deno` or `l2tpd` selects nothing.
 * @param envValue The value of `L2TPD_PERSONALITY`, if set.
 * @throws {UsageError} when `envValue` names no personality.
 *
 * @example Usage
 * ```ts
 * import { detectPersonality } from "./cli.ts";
 * console.log(detectPersonality("/usr/sbin/kl2tpd")); // "kl2tpd"
 * console.log(detectPersonality("/usr/bin/deno", "ql2tpd")); // "ql2tpd"
 * ```
 */
export function detectPersonality(execPath: string, envValue?: string): Personality {
  const base = execPath.slice(execPath.lastIndexOf("/") + 1);
  if (base === "kl2tpd" || base === "ql2tpd") return base;
  if (envValue === undefined || envValue === "") return "l2tpd";
  if ((PERSONALITIES as readonly string[]).includes(envValue)) return envValue as Personality;
  throw new UsageError(
    `Cannot select personality: L2TPD_PERSONALITY must be l2tpd, kl2tpd or ql2tpd, got ` +
      JSON.stringify(envValue),
  );
}

/**
 * The configuration file used when none is given (go-l2tp's defaults for its tools).
 *
 * @example Usage
 * ```ts
 * import { defaultConfigPath } from "./cli.ts";
 * console.log(defaultConfigPath("kl2tpd")); // "/etc/kl2tpd/kl2tpd.toml"
 * ```
 */
export function defaultConfigPath(personality: Personality): string {
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
 * ```
 */
export function configOptionsFor(personality: Personality): ConfigOptions {
  return {
    defaultMode: defaultModeFor(personality),
    ...(personality === "l2tpd" ? { defaultMaxRetriesV2: 5 } : {}),
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
 * The usage text for a personality.
 *
 * @example Usage
 * ```ts
 * import { usage } from "./cli.ts";
 * console.log(usage("l2tpd"));
 * ```
 */
export function usage(personality: Personality): string {
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

const BOOLEAN_OPTIONS = new Set(["verbose", "null-dataplane", "help", "version", "json"]);

/** Go's strconv.ParseBool spellings, which go-l2tp's flags accept as `-verbose=VALUE`. */
const GO_TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const GO_FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

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
  const out: string[] = [];
  let rest = false;
  for (const arg of argv) {
    if (rest || arg === "--") {
      rest = true;
      out.push(arg);
      continue;
    }
    const m = /^--?([A-Za-z][A-Za-z0-9-]*)(=(.*))?$/s.exec(arg);
    const canonical = m === null ? undefined : ALIASES[m[1]];
    if (m !== null && canonical === undefined && !arg.startsWith("--") && m[1].length > 1) {
      // A group of short options ("-vv", "-cFILE") is fine; anything else is a misspelling.
      const shorts = m[1];
      if (m[2] !== undefined || (shorts[0] !== "c" && !/^[vhV]+$/.test(shorts))) {
        throw new UsageError(`Cannot parse arguments: unknown option ${arg}${optionHint(m[1])}`);
      }
    }
    if (m === null || canonical === undefined || (m[1].length === 1 && !arg.startsWith("--"))) {
      out.push(arg);
      continue;
    }
    const value = m[3];
    if (value !== undefined && BOOLEAN_OPTIONS.has(canonical)) {
      if (GO_TRUE.has(value)) out.push(`--${canonical}`);
      else if (GO_FALSE.has(value)) out.push(`--no-${canonical}`);
      else {
        throw new UsageError(
          `Cannot parse arguments: option --${canonical} takes no value or true/false, got ` +
            JSON.stringify(value),
        );
      }
      continue;
    }
    out.push(value === undefined ? `--${canonical}` : `--${canonical}=${value}`);
  }
  return out;
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
  let parsed: ReturnType<typeof runParseArgs>;
  try {
    parsed = runParseArgs(normaliseArgs(argv));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`Cannot parse arguments: ${describeParseError(e)}`);
  }

  // Options in order: the last occurrence wins, and --no-X undoes --X.
  const flags = {
    verbose: false,
    "null-dataplane": false,
    help: false,
    version: false,
    json: false,
  };
  let config: string | undefined;
  let logFormat: string | undefined;
  let logLevel: string | undefined;
  let socket: string | undefined;
  let metrics: string | undefined;
  for (const token of parsed.tokens) {
    if (token.kind !== "option") continue;
    const name = token.name;
    if (name.startsWith("no-")) {
      flags[name.slice(3) as keyof typeof flags] = false;
    } else if (name in flags) {
      flags[name as keyof typeof flags] = true;
    } else if (name === "config") {
      config = token.value;
    } else if (name === "log-format") {
      logFormat = token.value;
    } else if (name === "log-level") {
      logLevel = token.value;
    } else if (name === "socket") {
      socket = token.value;
    } else if (name === "metrics") {
      metrics = token.value;
    }
  }

  if (flags.help) return { kind: "help", personality };
  if (flags.version) return { kind: "version", personality };

  if (config === "") throw new UsageError("Cannot parse arguments: --config needs a file name");
  if (socket === "") throw new UsageError("Cannot parse arguments: --socket needs a path");
  const format = logFormat ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError(
      `Cannot parse arguments: --log-format must be text or json, got ${JSON.stringify(format)}`,
    );
  }
  const level = logLevel === "warn" ? "warning" : logLevel ?? (flags.verbose ? "debug" : "info");
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(
      `Cannot parse arguments: --log-level must be one of ${LOG_LEVELS.join(", ")}, got ` +
        JSON.stringify(level),
    );
  }

  const positionals = [...parsed.positionals];
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
    logLevel: level as LogLevelName,
    logFormat: format,
    nullDataPlane: flags["null-dataplane"],
    ...withSocket,
    ...(metrics === undefined ? {} : { metrics: metricsAddress(metrics) }),
  };
}

function metricsAddress(text: string): { hostname: string; port: number } {
  try {
    return parseMetricsAddress(text);
  } catch (e) {
    const detail = (e instanceof Error ? e.message : String(e)).replace(
      /^Cannot parse [^:]*: /,
      "",
    );
    throw new UsageError(
      `Cannot parse arguments: --metrics must be ADDR:PORT (e.g. 127.0.0.1:9100 or ` +
        `[::1]:9100), got ${JSON.stringify(text)}: ${detail}`,
    );
  }
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

function runParseArgs(args: string[]): { positionals: string[]; tokens: ParsedToken[] } {
  const { positionals, tokens } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    tokens: true,
    options: {
      "config": { type: "string", short: "c" },
      "verbose": { type: "boolean", short: "v" },
      "no-verbose": { type: "boolean" },
      "null-dataplane": { type: "boolean" },
      "no-null-dataplane": { type: "boolean" },
      "log-format": { type: "string" },
      "log-level": { type: "string" },
      "help": { type: "boolean", short: "h" },
      "no-help": { type: "boolean" },
      "version": { type: "boolean", short: "V" },
      "no-version": { type: "boolean" },
      "socket": { type: "string" },
      "metrics": { type: "string" },
      "json": { type: "boolean" },
      "no-json": { type: "boolean" },
    },
  });
  const options: ParsedToken[] = [];
  for (const t of tokens ?? []) {
    if (t.kind === "option") options.push({ kind: "option", name: t.name, value: t.value });
  }
  return { positionals, tokens: options };
}

interface ParsedToken {
  kind: "option";
  name: string;
  value?: string;
}

/** "; did you mean --config?" when the name is a prefix of an option, or the reverse. */
function optionHint(name: string): string {
  if (name.length < 2) return "";
  const match = Object.keys(ALIASES).find((a) => a.startsWith(name) || name.startsWith(a));
  return match !== undefined ? `; did you mean --${ALIASES[match]}?` : "";
}

function describeParseError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown }).code;
  const quoted = /'([^']+)'/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && quoted !== undefined) {
    return `unknown option ${quoted}${optionHint(quoted.replace(/^-+/, ""))}`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && quoted !== undefined) {
    const long = /--[a-z-]+/.exec(quoted)?.[0] ?? quoted;
    return message.includes("argument missing")
      ? `option ${long} needs a value`
      : `option ${long} takes no value`;
  }
  return message.split(". ")[0];
}
