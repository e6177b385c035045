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

import { addressKind, type ParsedEndpoint, readEndpoint } from "./address.ts";
import { alternatives, describe, quote, suggestion } from "./text.ts";
import type { Endpoint, Hook } from "./types.ts";

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

/**
 * A command (`on_up`, `on_down`): an array of strings, run as is without a shell (the first is
 * the program, looked up in `PATH`), or a string, run with `/bin/sh -c`. Neither may be empty or
 * hold a NUL character.
 *
 * @example Usage
 * ```ts
 * import { hook } from "./values.ts";
 * console.log(hook().read(["ip", "link"], { defaultPort: 0 }), hook().read("", { defaultPort: 0 }));
 * // { value: { argv: ["ip", "link"] } } { error: "expected a command, ..., got an empty string" }
 * ```
 */
export function hook(): ValueType<Hook> {
  const expected =
    "expected a command, an array of strings (run without a shell) or a string (run with " +
    "/bin/sh -c)";
  return {
    read: (v) => {
      if (typeof v === "string") {
        if (v.trim() === "") return { error: `${expected}, got an empty string` };
        if (v.includes("\0")) return { error: `${expected}, got a string with a NUL character` };
        return { value: { shell: v } };
      }
      if (!Array.isArray(v)) return { error: `${expected}, got ${describe(v)}` };
      if (v.length === 0) return { error: `${expected}, got an empty array` };
      const argv: string[] = [];
      for (const [i, a] of v.entries()) {
        if (typeof a !== "string") return { error: `${expected}, element ${i} is ${describe(a)}` };
        if (a.includes("\0")) {
          return { error: `${expected}, element ${i} holds a NUL character` };
        }
        argv.push(a);
      }
      if (argv[0].trim() === "") {
        return { error: `${expected}, element 0 (the program to run) is an empty string` };
      }
      return { value: { argv } };
    },
  };
}

/** The longest path a Unix socket address holds (sun_path is 108 bytes with its NUL). */
const SUN_PATH_MAX = 107;

/**
 * The path of a Unix socket: absolute, at most 107 bytes, no NUL character.
 *
 * @example Usage
 * ```ts
 * import { socketPath } from "./values.ts";
 * console.log(socketPath().read("l2tpd.sock", { defaultPort: 0 }));
 * // { error: 'expected an absolute path such as "/run/l2tpd/l2tpd.sock", got "l2tpd.sock"' }
 * ```
 */
export function socketPath(): ValueType<string> {
  const expected = `expected an absolute path such as "/run/l2tpd/l2tpd.sock"`;
  return {
    read: (v) => {
      if (typeof v !== "string") return { error: `${expected}, got ${describe(v)}` };
      if (!v.startsWith("/") || v.includes("\0")) return { error: `${expected}, got ${quote(v)}` };
      const n = new TextEncoder().encode(v).length;
      if (n > SUN_PATH_MAX) {
        return {
          error: `expected a path of at most ${SUN_PATH_MAX} bytes (a Unix socket's limit), got ` +
            `${n} bytes; choose a shorter directory`,
        };
      }
      return { value: v };
    },
  };
}

/**
 * A Unix group: a name (`l2tpd`: letters, digits, `_`, `.` and `-`, starting with a letter or
 * `_`, at most 32 characters) or a numeric group ID.
 *
 * @example Usage
 * ```ts
 * import { groupName } from "./values.ts";
 * console.log(groupName().read("bad group", { defaultPort: 0 }));
 * // { error: 'expected a group name such as "l2tpd" or a numeric group ID, got "bad group"' }
 * ```
 */
export function groupName(): ValueType<string> {
  const expected = `expected a group name such as "l2tpd" or a numeric group ID`;
  return {
    read: (v) => {
      if (typeof v !== "string") return { error: `${expected}, got ${describe(v)}` };
      const name = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(v);
      const gid = /^\d{1,10}$/.test(v) && Number(v) < 0xffffffff;
      return name || gid ? { value: v } : { error: `${expected}, got ${quote(v)}` };
    },
  };
}

/**
 * An address to listen on with its port, `"ADDR:PORT"`: `"127.0.0.1:9100"`, `"[::1]:9100"`,
 * `"0.0.0.0:9100"` or a host name (`"localhost:9100"`); the port (1..65535) is required.
 *
 * @example Usage
 * ```ts
 * import { listenAddress } from "./values.ts";
 * console.log(listenAddress().read("[::1]:9100", { defaultPort: 0 }));
 * // { value: { address: "::1", port: 9100 } }
 * ```
 */
export function listenAddress(): ValueType<Endpoint> {
  const expected = `expected "ADDR:PORT" such as "127.0.0.1:9100" or "[::1]:9100"`;
  return {
    read: (v) => {
      if (typeof v !== "string") return { error: `${expected}, got ${describe(v)}` };
      const fail = (why: string): ReadResult<Endpoint> => ({
        error: `${expected}, got ${quote(v)} (${why})`,
      });
      let host: string;
      let port: string;
      if (v.startsWith("[")) {
        const close = v.indexOf("]");
        if (close < 0) return fail(`missing "]"`);
        host = v.slice(1, close);
        if (!v.slice(close + 1).startsWith(":")) return fail("the port is missing");
        port = v.slice(close + 2);
        if (addressKind(host) !== "ipv6") return fail(`${quote(host)} is not an IPv6 address`);
      } else {
        const colon = v.lastIndexOf(":");
        if (colon < 0) return fail("the port is missing");
        host = v.slice(0, colon);
        port = v.slice(colon + 1);
        if (host.includes(":")) {
          return fail(`an IPv6 address goes in brackets: "[${host}]:${port}"`);
        }
        if (addressKind(host) === undefined) {
          return fail(`${quote(host)} is not an IP address or host name`);
        }
      }
      if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
        return fail("the port must be 1..65535");
      }
      return { value: { address: host, port: Number(port) } };
    },
  };
}
