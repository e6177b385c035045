/**
 * Problems found in a configuration: {@linkcode ConfigIssue} (one problem, located by file
 * line, tunnel, session and key), {@linkcode ConfigError} (all of them, thrown once) and the
 * {@linkcode Collector} the parser gathers issues and warnings in.
 *
 * @example Usage
 * ```ts
 * import { ConfigError, formatIssue } from "../config.ts";
 * const e = new ConfigError("l2tp.toml", [{ tunnel: "t1", key: "tid", message: "missing" }]);
 * console.log(e.message, formatIssue(e.issues[0]));
 * ```
 *
 * @module
 */

import { compact, quote } from "./text.ts";

/**
 * One problem found in a configuration, located as precisely as possible.
 *
 * @example Usage
 * ```ts
 * import type { ConfigIssue } from "../config.ts";
 * const issue: ConfigIssue = { tunnel: "t1", key: "tid", message: "expected an integer" };
 * console.log(issue.message);
 * ```
 */
export interface ConfigIssue {
  /** The top-level table other than a tunnel the problem is in (`daemon`), if any. */
  table?: string;
  /** The tunnel the problem is in, if any. */
  tunnel?: string;
  /** The session the problem is in, if any. */
  session?: string;
  /** The key at fault, if any. */
  key?: string;
  /** TOML syntax errors: 1-based line. */
  line?: number;
  /** TOML syntax errors: 1-based column. */
  column?: number;
  /** What is wrong and what was expected. */
  message: string;
}

/**
 * Render one issue as `tunnel "t1" session "s1" key "cookie": message`.
 *
 * @example Usage
 * ```ts
 * import { formatIssue } from "../config.ts";
 * console.log(formatIssue({ tunnel: "t1", key: "tid", message: "expected an integer" }));
 * // tunnel "t1" key "tid": expected an integer
 * ```
 */
export function formatIssue(issue: ConfigIssue): string {
  const where: string[] = [];
  if (issue.line !== undefined) {
    where.push(`line ${issue.line}${issue.column !== undefined ? `, column ${issue.column}` : ""}`);
  }
  if (issue.table !== undefined) where.push(`[${issue.table}]`);
  if (issue.tunnel !== undefined) where.push(`tunnel ${quote(issue.tunnel)}`);
  if (issue.session !== undefined) where.push(`session ${quote(issue.session)}`);
  if (issue.key !== undefined) where.push(`key ${quote(issue.key)}`);
  return where.length > 0 ? `${where.join(" ")}: ${issue.message}` : issue.message;
}

/**
 * An invalid configuration: every problem found, in {@linkcode ConfigError.issues}, and one line
 * per problem in the message.
 *
 * @example Usage
 * ```ts
 * import { ConfigError, parseConfig } from "../config.ts";
 * try {
 *   parseConfig('[tunnel.t1]\nversion = "l2tpv4"', "bad.toml");
 * } catch (e) {
 *   if (e instanceof ConfigError) console.log(e.issues.length, e.message);
 * }
 * ```
 */
export class ConfigError extends Error {
  /** The configuration file. */
  readonly file: string;
  /** Every problem found. */
  readonly issues: readonly ConfigIssue[];

  /** Build the error for `file` from its issues (at least one). */
  constructor(file: string, issues: readonly ConfigIssue[]) {
    const lines = issues.map(formatIssue);
    const detail = lines.length === 1
      ? lines[0]
      : `${lines.length} problems:\n${
        lines.map((l) => `  ${l.replaceAll("\n", "\n    ")}`).join("\n")
      }`;
    super(`Cannot load config ${file}: ${detail}`);
    this.name = "ConfigError";
    this.file = file;
    this.issues = issues;
  }
}

/**
 * Where in the file a key is: in a tunnel table, a session table, another top-level table
 * (`[daemon]`), or at the top level.
 *
 * @example Usage
 * ```ts
 * import type { Where } from "./issues.ts";
 * const where: Where = { tunnel: "t1", session: "s1" };
 * console.log(where.session); // s1
 * ```
 */
export interface Where {
  /** The top-level table other than a tunnel (`daemon`). */
  table?: string;
  /** The tunnel's name. */
  tunnel?: string;
  /** The session's name. */
  session?: string;
}

/**
 * Gathers the issues (which make the configuration invalid) and warnings (things accepted but
 * without effect) of one parse, in the order found.
 *
 * @example Usage
 * ```ts
 * import { Collector } from "./issues.ts";
 * const c = new Collector();
 * c.add({ tunnel: "t1" }, "tid", "missing");
 * c.warn({ tunnel: "t1" }, "host_name", "ignored");
 * console.log(c.issues, c.warnings); // [...] [ 'tunnel "t1" key "host_name": ignored' ]
 * ```
 */
export class Collector {
  /** The problems found. */
  readonly issues: ConfigIssue[] = [];
  /** The warnings, each rendered with {@linkcode formatIssue}. */
  readonly warnings: string[] = [];

  /** Record a problem with `key` (or with the table itself) at `where`. */
  add(where: Where, key: string | undefined, message: string): void {
    this.issues.push(
      compact({ table: where.table, tunnel: where.tunnel, session: where.session, key, message }),
    );
  }

  /** Record a warning about `key` at `where`. */
  warn(where: Where, key: string | undefined, message: string): void {
    this.warnings.push(
      formatIssue(
        compact({ table: where.table, tunnel: where.tunnel, session: where.session, key, message }),
      ),
    );
  }
}
