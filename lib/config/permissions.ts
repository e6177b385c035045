/**
 * Operator hygiene: a configuration file that holds a shared secret (`secret` in a tunnel) should
 * be readable by its owner only. {@linkcode secretFileWarnings} says so when it is not, with the
 * command that fixes it; `loadConfig` adds the same warnings with `checkSecretPermissions`.
 *
 * @example Usage
 * ```ts
 * import { secretFileWarnings } from "../config.ts";
 * const file = await Deno.makeTempFile({ suffix: ".toml" });
 * await Deno.writeTextFile(file, '[tunnel.t1]\npeer = "192.0.2.2"\nsecret = "s3cret"\n');
 * await Deno.chmod(file, 0o644);
 * console.log(await secretFileWarnings(file));
 * // [ "config /tmp/....toml holds a shared secret and is readable by others (mode 0644):
 * //   chmod 600 /tmp/....toml" ]
 * await Deno.remove(file);
 * ```
 *
 * @module
 */

import { parse as parseToml } from "smol-toml";
import { isTable } from "./text.ts";

/**
 * Warnings about a configuration file that holds a shared secret and that its group or others
 * may read (`mode & 0o044`): `config FILE holds a shared secret and is readable by others (mode
 * 0644): chmod 600 FILE`. Nothing when the file holds no `secret`, is private, or cannot be read
 * (`loadConfig` reports that).
 *
 * @param path The configuration file.
 * @returns The warnings (none or one).
 *
 * @example Usage
 * ```ts
 * import { secretFileWarnings } from "../config.ts";
 * const file = await Deno.makeTempFile({ suffix: ".toml" });
 * await Deno.writeTextFile(file, '[tunnel.t1]\npeer = "192.0.2.2"\nsecret = "s3cret"\n');
 * await Deno.chmod(file, 0o600);
 * console.log(await secretFileWarnings(file)); // []
 * await Deno.remove(file);
 * ```
 */
export async function secretFileWarnings(path: string): Promise<string[]> {
  let mode: number | null;
  let text: string;
  try {
    mode = (await Deno.stat(path)).mode;
    if (mode === null || (mode & 0o044) === 0) return [];
    text = await Deno.readTextFile(path);
  } catch {
    return [];
  }
  return readableSecretWarnings(path, mode, text);
}

/**
 * {@linkcode secretFileWarnings} for a file already read: its path, `stat` mode and text.
 *
 * @param path The configuration file, as the warning names it.
 * @param mode Its mode (`Deno.FileInfo.mode`).
 * @param text Its text.
 * @returns The warnings (none or one).
 *
 * @example Usage
 * ```ts
 * import { readableSecretWarnings } from "./permissions.ts";
 * console.log(readableSecretWarnings("/etc/l2tpd.toml", 0o100640, '[tunnel.a]\nsecret = "x"'));
 * // [ "config /etc/l2tpd.toml holds a shared secret and is readable by its group (mode 0640):
 * //   chmod 600 /etc/l2tpd.toml" ]
 * ```
 */
export function readableSecretWarnings(path: string, mode: number, text: string): string[] {
  if ((mode & 0o044) === 0 || !holdsSecret(text)) return [];
  const who = (mode & 0o004) !== 0 ? "others" : "its group";
  const octal = (mode & 0o7777).toString(8).padStart(4, "0");
  return [
    `config ${path} holds a shared secret and is readable by ${who} (mode ${octal}): ` +
    `chmod 600 ${shellWord(path)}`,
  ];
}

/** Whether some tunnel table sets `secret` (in TOML that does not parse: a `secret =` line). */
function holdsSecret(text: string): boolean {
  let doc: unknown;
  try {
    doc = parseToml(text);
  } catch {
    return /^\s*secret\s*=/m.test(text);
  }
  if (!isTable(doc) || !isTable(doc.tunnel)) return false;
  return Object.values(doc.tunnel).some((t) => isTable(t) && Object.hasOwn(t, "secret"));
}

/** A path as one shell word: as is when it is plain, else single-quoted. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./+:@%=,-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
