/**
 * The command line machinery the programs share (`cli.ts` has what each program's command line
 * means): go-l2tp's single-dash spellings normalised ({@linkcode normaliseOptions}), options read
 * with `node:util` `parseArgs` ({@linkcode readOptions}), and the values several programs take:
 * log settings ({@linkcode logSettings}) and the metrics address ({@linkcode metricsAddress}).
 * Bad input is a {@linkcode UsageError}.
 *
 * @example Usage
 * ```ts
 * import { logSettings, readOptions } from "./cli_args.ts";
 * const o = readOptions(["-config", "x.toml", "-verbose"], { config: "config", verbose: "verbose" });
 * console.log(o.config, logSettings(o).level); // x.toml debug
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LOG_LEVELS, type LogFormat, type LogLevelName } from "./log.ts";
import { parseMetricsAddress } from "./metrics.ts";

/**
 * Bad command line input; the caller prints the message and the usage text, and exits 2.
 *
 * @example Usage
 * ```ts
 * import { readOptions, UsageError } from "./cli_args.ts";
 * try {
 *   readOptions(["--bogus"], { config: "config" });
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

const BOOLEAN_OPTIONS = new Set(["verbose", "null-dataplane", "help", "version", "json"]);

/** Go's strconv.ParseBool spellings, which go-l2tp's flags accept as `-verbose=VALUE`. */
const GO_TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const GO_FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/**
 * Rewrite go-l2tp spellings into what `parseArgs` accepts, for the options `aliases` knows (each
 * spelling, without dashes, to its canonical long name): `-config` becomes `--config`, an alias
 * such as `-null` its canonical `--null-dataplane`, and `-verbose=false` becomes
 * `--no-verbose`. Short options (`-c FILE`, `-v`, `-h`, `-V`) and arguments after `--` are left
 * alone; any other single-dash word is an unknown option.
 *
 * @param argv The arguments.
 * @param aliases Option spellings to canonical names.
 * @throws {UsageError} for an unknown option, or a boolean option given a non-boolean value.
 *
 * @example Usage
 * ```ts
 * import { normaliseOptions } from "./cli_args.ts";
 * console.log(normaliseOptions(["-config", "a.toml", "-verbose=0"], {
 *   config: "config",
 *   verbose: "verbose",
 * })); // ["--config", "a.toml", "--no-verbose"]
 * ```
 */
export function normaliseOptions(
  argv: readonly string[],
  aliases: Readonly<Record<string, string>>,
): string[] {
  const out: string[] = [];
  let rest = false;
  for (const arg of argv) {
    if (rest || arg === "--") {
      rest = true;
      out.push(arg);
      continue;
    }
    const m = /^--?([A-Za-z][A-Za-z0-9-]*)(=(.*))?$/s.exec(arg);
    const canonical = m === null ? undefined : aliases[m[1]];
    if (m !== null && canonical === undefined && !arg.startsWith("--") && m[1].length > 1) {
      // A group of short options ("-vv", "-cFILE") is fine; anything else is a misspelling.
      const shorts = m[1];
      if (m[2] !== undefined || (shorts[0] !== "c" && !/^[vhV]+$/.test(shorts))) {
        throw new UsageError(
          `Cannot parse arguments: unknown option ${arg}${optionHint(m[1], aliases)}`,
        );
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
 * The options of a command line, the last occurrence of each winning (`--no-X` undoes `--X`).
 *
 * @example Usage
 * ```ts
 * import { type CommandLineOptions, readOptions } from "./cli_args.ts";
 * const o: CommandLineOptions = readOptions(["-v", "show"], { verbose: "verbose" });
 * console.log(o.flags.verbose, o.positionals); // true ["show"]
 * ```
 */
export interface CommandLineOptions {
  /** The boolean options (false unless given). */
  flags: Record<"verbose" | "null-dataplane" | "help" | "version" | "json", boolean>;
  /** `--config`. */
  config?: string;
  /** `--socket`. */
  socket?: string;
  /** `--metrics`, as given. */
  metrics?: string;
  /** `--log-level`, as given. */
  logLevel?: string;
  /** `--log-format`, as given. */
  logFormat?: string;
  /** The arguments that are not options, in order. */
  positionals: string[];
}

/**
 * Read a command line with the options `aliases` knows (go-l2tp's spellings normalised first,
 * see {@linkcode normaliseOptions}); an empty `--config` or `--socket` is refused.
 *
 * @param argv The arguments.
 * @param aliases Option spellings to canonical names: `config`, `verbose`, `null-dataplane`,
 *   `log-format`, `log-level`, `help`, `version`, `socket`, `metrics`, `json`.
 * @throws {UsageError} for unknown options and missing or bad values.
 *
 * @example Usage
 * ```ts
 * import { readOptions } from "./cli_args.ts";
 * const o = readOptions(["-config", "a.toml", "--socket=/run/x.sock"], {
 *   config: "config",
 *   socket: "socket",
 * });
 * console.log(o.config, o.socket); // a.toml /run/x.sock
 * ```
 */
export function readOptions(
  argv: readonly string[],
  aliases: Readonly<Record<string, string>>,
): CommandLineOptions {
  let parsed: ReturnType<typeof runParseArgs>;
  try {
    parsed = runParseArgs(normaliseOptions(argv, aliases), new Set(Object.values(aliases)));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`Cannot parse arguments: ${describeParseError(e, aliases)}`);
  }
  const o: CommandLineOptions = {
    flags: { verbose: false, "null-dataplane": false, help: false, version: false, json: false },
    positionals: parsed.positionals,
  };
  for (const { name, value } of parsed.tokens) {
    if (name.startsWith("no-")) o.flags[name.slice(3) as keyof CommandLineOptions["flags"]] = false;
    else if (name in o.flags) o.flags[name as keyof CommandLineOptions["flags"]] = true;
    else if (name === "config") o.config = value;
    else if (name === "log-format") o.logFormat = value;
    else if (name === "log-level") o.logLevel = value;
    else if (name === "socket") o.socket = value;
    else if (name === "metrics") o.metrics = value;
  }
  if (o.config === "") throw new UsageError("Cannot parse arguments: --config needs a file name");
  if (o.socket === "") throw new UsageError("Cannot parse arguments: --socket needs a path");
  return o;
}

/**
 * The log level and format from `--verbose`, `--log-level` (`warn` meaning `warning`) and
 * `--log-format`: default `info` (`debug` with `--verbose`) and `text`.
 *
 * @param o The options read.
 * @throws {UsageError} for a level or format that is not one.
 *
 * @example Usage
 * ```ts
 * import { logSettings, readOptions } from "./cli_args.ts";
 * console.log(logSettings(readOptions(["-v"], { verbose: "verbose" })));
 * // { level: "debug", format: "text" }
 * ```
 */
export function logSettings(o: CommandLineOptions): { level: LogLevelName; format: LogFormat } {
  const { flags: { verbose }, logLevel, logFormat } = o;
  const format = logFormat ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError(
      `Cannot parse arguments: --log-format must be text or json, got ${JSON.stringify(format)}`,
    );
  }
  const level = logLevel === "warn" ? "warning" : logLevel ?? (verbose ? "debug" : "info");
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(
      `Cannot parse arguments: --log-level must be one of ${LOG_LEVELS.join(", ")}, got ` +
        JSON.stringify(level),
    );
  }
  return { level: level as LogLevelName, format };
}

/**
 * The `--metrics` address, `ADDR:PORT`.
 *
 * @param text The option's value.
 * @throws {UsageError} when it is not one, saying what is wrong.
 *
 * @example Usage
 * ```ts
 * import { metricsAddress } from "./cli_args.ts";
 * console.log(metricsAddress("[::1]:9100")); // { hostname: "::1", port: 9100 }
 * ```
 */
export function metricsAddress(text: string): { hostname: string; port: number } {
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

/** Every option parseArgs knows, by canonical name (each boolean also has its --no-X). */
const OPTIONS: Record<string, { type: "string" | "boolean"; short?: string }> = {
  "config": { type: "string", short: "c" },
  "verbose": { type: "boolean", short: "v" },
  "null-dataplane": { type: "boolean" },
  "log-format": { type: "string" },
  "log-level": { type: "string" },
  "help": { type: "boolean", short: "h" },
  "version": { type: "boolean", short: "V" },
  "socket": { type: "string" },
  "metrics": { type: "string" },
  "json": { type: "boolean" },
};

function runParseArgs(
  args: string[],
  allowed: ReadonlySet<string>,
): { positionals: string[]; tokens: ParsedToken[] } {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, spec] of Object.entries(OPTIONS)) {
    if (!allowed.has(name)) continue;
    options[name] = spec;
    if (spec.type === "boolean") options[`no-${name}`] = { type: "boolean" };
  }
  const { positionals, tokens } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    tokens: true,
    options,
  });
  const out: ParsedToken[] = [];
  for (const t of tokens ?? []) {
    if (t.kind === "option") out.push({ kind: "option", name: t.name, value: t.value });
  }
  return { positionals, tokens: out };
}

interface ParsedToken {
  kind: "option";
  name: string;
  value?: string;
}

/** "; did you mean --config?" when the name is a prefix of an option, or the reverse. */
function optionHint(name: string, aliases: Readonly<Record<string, string>>): string {
  if (name.length < 2) return "";
  const match = Object.keys(aliases).find((a) => a.startsWith(name) || name.startsWith(a));
  return match !== undefined ? `; did you mean --${aliases[match]}?` : "";
}

function describeParseError(e: unknown, aliases: Readonly<Record<string, string>>): string {
  const message = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown }).code;
  const quoted = /'([^']+)'/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && quoted !== undefined) {
    return `unknown option ${quoted}${optionHint(quoted.replace(/^-+/, ""), aliases)}`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && quoted !== undefined) {
    const long = /--[a-z-]+/.exec(quoted)?.[0] ?? quoted;
    return message.includes("argument missing")
      ? `option ${long} needs a value`
      : `option ${long} takes no value`;
  }
  return message.split(". ")[0];
}
