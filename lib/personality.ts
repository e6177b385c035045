/**
 * The name the program was invoked by, for choosing its personality: a symlink `kl2tpd` to the
 * `l2tpd` binary (or to `deno`) makes it behave as kl2tpd, one named `kpppoed` makes it
 * go-l2tp's PPPoE access concentrator. `Deno.execPath()` cannot tell, as it resolves links, so
 * the name comes from `argv[0]`: the first NUL-separated field of `/proc/self/cmdline` (which
 * Deno lets a program read only with `--allow-all`), else Node's `process.argv0` (Deno's is the
 * real `argv[0]` too), else `Deno.execPath()`.
 *
 * @example Usage
 * ```ts
 * import { invokedName, personalityOf, programOf } from "./personality.ts";
 * console.log(invokedName()); // e.g. "/usr/bin/deno", "kl2tpd"
 * console.log(personalityOf()); // "l2tpd" under deno, unless L2TPD_PERSONALITY says otherwise
 * console.log(programOf("kpppoed")); // "kpppoed" under deno
 * ```
 *
 * @module
 */

import process from "node:process";
import { detectPersonality, detectProgram, type Personality, type Program } from "./cli.ts";

/**
 * `argv[0]` from the contents of `/proc/self/cmdline` (NUL-separated arguments), or
 * `undefined` when it is empty.
 *
 * @param cmdline The file's bytes.
 * @returns The first argument.
 *
 * @example Usage
 * ```ts
 * import { argv0FromCmdline } from "./personality.ts";
 * const bytes = new TextEncoder().encode("/usr/sbin/kl2tpd\0-config\0/etc/kl2tpd/kl2tpd.toml\0");
 * console.log(argv0FromCmdline(bytes)); // /usr/sbin/kl2tpd
 * ```
 */
export function argv0FromCmdline(cmdline: Uint8Array): string | undefined {
  const end = cmdline.indexOf(0);
  const first = new TextDecoder().decode(end >= 0 ? cmdline.subarray(0, end) : cmdline);
  return first === "" ? undefined : first;
}

/**
 * The name the program was invoked by (`argv[0]`, as typed or as the symlink is called).
 *
 * @returns A path or a bare name.
 *
 * @example Usage
 * ```ts
 * import { invokedName } from "./personality.ts";
 * console.log(invokedName().length > 0); // true
 * ```
 */
export function invokedName(): string {
  try {
    const name = argv0FromCmdline(Deno.readFileSync("/proc/self/cmdline"));
    if (name !== undefined) return name;
  } catch {
    // Not Linux, or Deno does not let us read it (it wants --allow-all for /proc/self).
  }
  try {
    if (typeof process.argv0 === "string" && process.argv0 !== "") return process.argv0;
  } catch {
    // Fall through.
  }
  return Deno.execPath();
}

/**
 * The program this process runs as: that of the name it was invoked by (`kl2tpd`, `ql2tpd`,
 * `kpppoed`), else `L2TPD_PERSONALITY`, else `l2tpd` (see `detectProgram` in `cli.ts`).
 *
 * @param env The value of `L2TPD_PERSONALITY` (default: read from the environment, when
 *   allowed).
 * @returns The program: one of the L2TP daemon's personalities, or `kpppoed`.
 * @throws {UsageError} when `L2TPD_PERSONALITY` names no program.
 *
 * @example Usage
 * ```ts
 * import { programOf } from "./personality.ts";
 * console.log(programOf("kpppoed")); // "kpppoed" (under deno)
 * ```
 */
export function programOf(env: string | undefined = readEnv()): Program {
  return detectProgram(invokedName(), env);
}

/**
 * The L2TP daemon's personality this process runs as: that of the name it was invoked by
 * (`kl2tpd`, `ql2tpd`), else `L2TPD_PERSONALITY`, else `l2tpd` (see `detectPersonality` in
 * `cli.ts`; {@linkcode programOf} also knows `kpppoed`).
 *
 * @param env The value of `L2TPD_PERSONALITY` (default: read from the environment, when
 *   allowed).
 * @returns The personality.
 * @throws {UsageError} when `L2TPD_PERSONALITY` names no personality, or the name or the
 *   variable selects `kpppoed`.
 *
 * @example Usage
 * ```ts
 * import { personalityOf } from "./personality.ts";
 * console.log(personalityOf("ql2tpd")); // "ql2tpd" (under deno)
 * ```
 */
export function personalityOf(env: string | undefined = readEnv()): Personality {
  return detectPersonality(invokedName(), env);
}

function readEnv(): string | undefined {
  try {
    return Deno.env.get("L2TPD_PERSONALITY");
  } catch {
    return undefined;
  }
}
