/**
 * The value types of configuration keys: each checks a parsed TOML value and converts it, or
 * says what was expected. The schema (`schema.ts`) gives every key one of these.
 *
 * @example Usage
 * ```ts
 * import { integer } from "./values.ts";
 * const ms = integer(0, 0x7fffffff, "milliseconds");
 * console.log(ms.read(1500n, { defaultPort: 1701 }), ms.read(1.5, { defaultPort: 1701 }));
 * // { value: 1500 } { error: "expected an integer (milliseconds), got float 1.5" }
 * ```
 *
 * @module
 */

import { type ParsedEndpoint, readEndpoint } from "./address.ts";
import { alternatives, describe, quote, suggestion } from "./text.ts";

/**
 * What a value type needs to know beyond the value: the tunnel's L2TP version (for the range of
 * IDs) and the port an endpoint without one gets.
 *
 * @example Usage
 * ```ts
 * import type { ReadContext } from "./values.ts";
 * const ctx: ReadContext = { version: 2, defaultPort: 1701 };
 * console.log(ctx.version); // 2
 * ```
 */
export interface ReadContext {
  /** The tunnel's L2TP version; absent while unknown (the `version` key is invalid). */
  version?: 2 | 3;
  /** The port of an endpoint that gives none: 1701 for UDP, 0 for IP encapsulation. */
  defaultPort: number;
  /** The tunnel being read, for messages that show its table. */
  tunnel?: string;
}

/**
 * The outcome of reading a value: the converted value, or the reason it is invalid.
 *
 * @example Usage
 * ```ts
 * import type { ReadResult } from "./values.ts";
 * const r: ReadResult<number> = { error: "expected an integer, got string \"x\"" };
 * console.log("error" in r); // true
 * ```
 */
export type ReadResult<T> = { value: T } | { error: string };

/**
 * A key's value type: checks a parsed TOML value and converts it to `T`.
 *
 * @example Usage
 * ```ts
 * import type { ValueType } from "./values.ts";
 * const even: ValueType<number> = {
 *   read: (v) =>
 *     typeof v === "bigint" && v % 2n === 0n ? { value: Number(v) } : { error: "expected even" },
 * };
 * console.log(even.read(4n, { defaultPort: 0 })); // { value: 4 }
 * ```
 */
export interface ValueType<T> {
  /** Check and convert `value`. */
  read(value: unknown, ctx: ReadContext): ReadResult<T>;
}

/**
 * A string.
 *
 * @example Usage
 * ```ts
 * import { text } from "./values.ts";
 * console.log(text().read(5n, { defaultPort: 0 }));
 * // { error: "expected a string, got integer 5" }
 * ```
 */
export function text(): ValueType<string> {
  return {
    read: (v) =>
      typeof v === "string" ? { value: v } : { error: `expected a string, got ${describe(v)}` },
  };
}

/**
 * A boolean.
 *
 * @example Usage
 * ```ts
 * import { flag } from "./values.ts";
 * console.log(flag().read("yes", { defaultPort: 0 })); // { error: 'expected true or false, ...' }
 * ```
 */
export function flag(): ValueType<boolean> {
  return {
    read: (v) =>
      typeof v === "boolean"
        ? { value: v }
        : { error: `expected true or false, got ${describe(v)}` },
  };
}

/**
 * An integer in `min..max`, with an optional unit for messages (`"milliseconds"`).
 *
 * @example Usage
 * ```ts
 * import { integer } from "./values.ts";
 * console.log(integer(0, 65535, "messages").read(70000n, { defaultPort: 0 }));
 * // { error: "expected an integer in 0..65535 (messages), got 70000" }
 * ```
 */
export function integer(min: number, max: number, unit?: string): ValueType<number> {
  return { read: (v) => readInteger(v, min, max, unit === undefined ? "" : ` (${unit})`) };
}

function readInteger(v: unknown, min: number, max: number, what: string): ReadResult<number> {
  if (typeof v !== "bigint") return { error: `expected an integer${what}, got ${describe(v)}` };
  if (v < BigInt(min) || v > BigInt(max)) {
    return { error: `expected an integer in ${min}..${max}${what}, got ${v}` };
  }
  return { value: Number(v) };
}

/**
 * A tunnel or session ID: 1..65535 for L2TPv2, 1..4294967295 for L2TPv3 (and while the version
 * is unknown).
 *
 * @example Usage
 * ```ts
 * import { id } from "./values.ts";
 * console.log(id("tunnel").read(65536n, { version: 2, defaultPort: 1701 }));
 * // { error: "expected an integer in 1..65535 (L2TPv2 tunnel ID), got 65536" }
 * ```
 */
export function id(what: "tunnel" | "session"): ValueType<number> {
  return {
    read: (v, ctx) =>
      ctx.version === undefined ? readInteger(v, 1, 0xffffffff, "") : readInteger(
        v,
        1,
        ctx.version === 2 ? 0xffff : 0xffffffff,
        ` (L2TPv${ctx.version} ${what} ID)`,
      ),
  };
}

/**
 * One of a few strings; a near miss gets a "did you mean".
 *
 * @example Usage
 * ```ts
 * import { oneOf } from "./values.ts";
 * console.log(oneOf(["udp", "ip"] as const).read("upd", { defaultPort: 0 }));
 * // { error: 'expected "udp" or "ip", got string "upd"; did you mean "udp"?' }
 * ```
 */
export function oneOf<T extends string>(values: readonly T[]): ValueType<T> {
  return {
    read: (v) => {
      if (typeof v === "string" && (values as readonly string[]).includes(v)) {
        return { value: v as T };
      }
      const hint = typeof v === "string" ? suggestion(v, values) : "";
      return { error: `expected ${alternatives(values)}, got ${describe(v)}${hint}` };
    },
  };
}

/**
 * An array of strings each one of `values`; duplicates are dropped.
 *
 * @example Usage
 * ```ts
 * import { manyOf } from "./values.ts";
 * console.log(manyOf(["sync", "async"] as const).read(["sync", "sync"], { defaultPort: 0 }));
 * // { value: ["sync"] }
 * ```
 */
export function manyOf<T extends string>(values: readonly T[]): ValueType<T[]> {
  const expected = `expected an array of ${alternatives(values)}`;
  return {
    read: (v) => {
      if (!Array.isArray(v)) return { error: `${expected}, got ${describe(v)}` };
      const out: T[] = [];
      for (const [i, s] of v.entries()) {
        if (typeof s !== "string" || !(values as readonly string[]).includes(s)) {
          return { error: `${expected}, element ${i} is ${describe(s)}` };
        }
        if (!out.includes(s as T)) out.push(s as T);
      }
      return { value: out };
    },
  };
}

/**
 * An array of bytes (integers 0..255) of one of the given lengths.
 *
 * @example Usage
 * ```ts
 * import { bytes } from "./values.ts";
 * console.log(bytes([0, 4, 8]).read([1n, 2n, 3n], { defaultPort: 0 }));
 * // { error: "expected 4 or 8 bytes, got 3" }
 * ```
 */
export function bytes(lengths: readonly number[]): ValueType<Uint8Array> {
  const expected = "expected an array of bytes (integers 0..255)";
  return {
    read: (v) => {
      if (!Array.isArray(v)) return { error: `${expected}, got ${describe(v)}` };
      const out = new Uint8Array(v.length);
      for (const [i, b] of v.entries()) {
        if (typeof b !== "bigint" || b < 0n || b > 255n) {
          return { error: `${expected}, element ${i} is ${describe(b)}` };
        }
        out[i] = Number(b);
      }
      if (!lengths.includes(out.length)) {
        const want = lengths.filter((n) => n > 0);
        return { error: `expected ${want.join(" or ")} bytes, got ${out.length}` };
      }
      return { value: out };
    },
  };
}

/**
 * An endpoint: `"address:port"`, `"[ipv6]:port"` or an address, with the context's default port.
 *
 * @example Usage
 * ```ts
 * import { endpoint } from "./values.ts";
 * console.log(endpoint().read("[2001:db8::1]", { defaultPort: 1701 }));
 * // { value: { endpoint: { address: "2001:db8::1", port: 1701 }, kind: "ipv6", text: ... } }
 * ```
 */
export function endpoint(): ValueType<ParsedEndpoint> {
  return {
    read: (v, ctx) => {
      if (typeof v !== "string") return { error: `expected a string, got ${describe(v)}` };
      const p = readEndpoint(v, ctx.defaultPort);
      return typeof p === "string" ? { error: p } : { value: p };
    },
  };
}

/**
 * A Linux network interface name: 1..15 bytes, no whitespace, `/` or `:`, not `.` or `..`.
 *
 * @example Usage
 * ```ts
 * import { interfaceName } from "./values.ts";
 * console.log(interfaceName().read("l2tpeth0", { defaultPort: 0 })); // { value: "l2tpeth0" }
 * ```
 */
export function interfaceName(): ValueType<string> {
  return {
    read: (v) => {
      if (typeof v !== "string") return { error: `expected a string, got ${describe(v)}` };
      const valid = v.length > 0 && new TextEncoder().encode(v).length <= 15 &&
        !/[\s/:]/.test(v) && v !== "." && v !== "..";
      return valid ? { value: v } : {
        error: `expected a Linux interface name (1..15 bytes, no whitespace, "/" or ":"), got ` +
          quote(v),
      };
    },
  };
}
