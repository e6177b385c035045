/**
 * Small helpers shared by the configuration modules: quoting, TOML text, "did you mean"
 * suggestions and inspection of parsed TOML values.
 *
 * @example Usage
 * ```ts
 * import { alternatives, quote } from "./text.ts";
 * console.log(`expected ${alternatives(["udp", "ip"])}, got ${quote("tcp")}`);
 * // expected "udp" or "ip", got "tcp"
 * ```
 *
 * @module
 */

import type { Hook } from "./types.ts";

/**
 * A TOML table as smol-toml returns it (integers as `bigint`).
 *
 * @example Usage
 * ```ts
 * import { isTable, type TomlTable } from "./text.ts";
 * const t: TomlTable = { tid: 1n };
 * console.log(isTable(t)); // true
 * ```
 */
export type TomlTable = Record<string, unknown>;

/**
 * A string in double quotes, JSON-escaped: how messages show names and values.
 *
 * @example Usage
 * ```ts
 * import { quote } from "./text.ts";
 * console.log(quote('a "b"')); // "a \"b\""
 * ```
 */
export function quote(s: string): string {
  return JSON.stringify(s);
}

/**
 * A TOML basic string: JSON escaping plus DEL, which TOML also requires escaped.
 *
 * @example Usage
 * ```ts
 * import { tomlString } from "./text.ts";
 * console.log(tomlString("l2tp\u007f")); // "l2tp\u007F"
 * ```
 */
export function tomlString(s: string): string {
  return JSON.stringify(s).replaceAll("\u007f", "\\u007F");
}

/**
 * A table name as a TOML key: bare when it can be, else quoted.
 *
 * @example Usage
 * ```ts
 * import { tableKey } from "./text.ts";
 * console.log(`[tunnel.${tableKey("site-b")}.session.${tableKey("a.b")}]`);
 * // [tunnel.site-b.session."a.b"]
 * ```
 */
export function tableKey(name: string): string {
  return /^[A-Za-z0-9_-]+$/.test(name) ? name : tomlString(name);
}

/**
 * Bytes as a TOML array of hexadecimal integers.
 *
 * @example Usage
 * ```ts
 * import { byteArray } from "./text.ts";
 * console.log(byteArray(new Uint8Array([0x12, 0xe9]))); // [0x12, 0xe9]
 * ```
 */
export function byteArray(bytes: Uint8Array): string {
  return `[${Array.from(bytes, (b) => `0x${b.toString(16).padStart(2, "0")}`).join(", ")}]`;
}

/**
 * A value as TOML text, for the effective configuration: a string quoted, a number or boolean as
 * is, bytes as an array; nothing for an absent value.
 *
 * @example Usage
 * ```ts
 * import { tomlText } from "./text.ts";
 * console.log(tomlText("eth"), tomlText(1701), tomlText(new Uint8Array([1])), tomlText(undefined));
 * // "eth" 1701 [0x01] undefined
 * ```
 */
export function tomlText(
  v: string | number | boolean | Uint8Array | undefined,
): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "string") return tomlString(v);
  if (v instanceof Uint8Array) return byteArray(v);
  return String(v);
}

/**
 * A command (`on_up`, `on_down`) as TOML: an array of strings, or the shell script as a string;
 * nothing when absent.
 *
 * @example Usage
 * ```ts
 * import { hookText } from "./text.ts";
 * console.log(hookText({ argv: ["ip", "link"] }), hookText({ shell: "echo up" }));
 * // ["ip", "link"] "echo up"
 * ```
 */
export function hookText(h: Hook | undefined): string | undefined {
  if (h === undefined) return undefined;
  return "argv" in h ? `[${h.argv.map(tomlString).join(", ")}]` : tomlString(h.shell);
}

/**
 * Quoted values joined with commas and a final "or".
 *
 * @example Usage
 * ```ts
 * import { alternatives } from "./text.ts";
 * console.log(alternatives(["none", "md5", "sha1"])); // "none", "md5" or "sha1"
 * ```
 */
export function alternatives(values: readonly string[]): string {
  const q = values.map(quote);
  return q.length <= 2 ? q.join(" or ") : `${q.slice(0, -1).join(", ")} or ${q[q.length - 1]}`;
}

/**
 * The known word nearest to `word` (after turning camelCase and dashes into snake_case), if it
 * is close enough to be a likely typo.
 *
 * @example Usage
 * ```ts
 * import { nearest } from "./text.ts";
 * console.log(nearest("helloTimeout", ["hello_timeout", "tid"]), nearest("xyz", ["tid"]));
 * // hello_timeout undefined
 * ```
 */
export function nearest(word: string, known: readonly string[]): string | undefined {
  const norm = word.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase().replaceAll("-", "_");
  if (known.includes(norm)) return norm;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(norm, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  const limit = Math.max(2, Math.floor(norm.length / 3));
  return bestDistance <= limit ? best : undefined;
}

/**
 * `; did you mean "x"?` for a value near one of `values`, else the empty string.
 *
 * @example Usage
 * ```ts
 * import { suggestion } from "./text.ts";
 * console.log(`got "statik"${suggestion("statik", ["static", "dynamic"])}`);
 * // got "statik"; did you mean "static"?
 * ```
 */
export function suggestion(value: string, values: readonly string[]): string {
  const near = nearest(value, values);
  return near !== undefined ? `; did you mean ${quote(near)}?` : "";
}

/** Levenshtein distance with adjacent transpositions (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = 0; i <= a.length; i++) d[i][0] = i;
  for (let j = 0; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/**
 * Whether a parsed TOML value is a table (a plain object, not an array or a date).
 *
 * @example Usage
 * ```ts
 * import { isTable } from "./text.ts";
 * console.log(isTable({ a: 1n }), isTable([1n]), isTable(new Date())); // true false false
 * ```
 */
export function isTable(v: unknown): v is TomlTable {
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Date) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === null || proto === Object.prototype;
}

/**
 * The TOML type of a parsed value: string, integer, float, boolean, array, table or date-time.
 *
 * @example Usage
 * ```ts
 * import { typeName } from "./text.ts";
 * console.log(typeName(5n), typeName(1.5), typeName({})); // integer float table
 * ```
 */
export function typeName(v: unknown): string {
  if (typeof v === "string") return "string";
  if (typeof v === "bigint") return "integer";
  if (typeof v === "number") return "float";
  if (typeof v === "boolean") return "boolean";
  if (Array.isArray(v)) return "array";
  if (isTable(v)) return "table";
  return "date-time";
}

/**
 * A parsed TOML value for a message: its type, and the value itself when it is a scalar.
 *
 * @example Usage
 * ```ts
 * import { describe } from "./text.ts";
 * console.log(describe("yes"), "/", describe(1.5), "/", describe([1n]));
 * // string "yes" / float 1.5 / array
 * ```
 */
export function describe(v: unknown): string {
  if (typeof v === "string") return `string ${quote(v)}`;
  if (typeof v === "bigint") return `integer ${v}`;
  if (typeof v === "number") return `float ${v}`;
  if (typeof v === "boolean") return `boolean ${v}`;
  return typeName(v);
}

/**
 * Drop the properties whose value is undefined, in place (so that equal configurations compare
 * deep-equal), and return the object.
 *
 * @example Usage
 * ```ts
 * import { compact } from "./text.ts";
 * console.log(Object.keys(compact({ a: 1, b: undefined }))); // ["a"]
 * ```
 */
export function compact<T extends object>(obj: T): T {
  for (const k of Object.keys(obj) as (keyof T)[]) {
    if (obj[k] === undefined) delete obj[k];
  }
  return obj;
}
