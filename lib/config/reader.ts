/**
 * Reading one TOML table by its schema: unknown keys get a "did you mean" (or where the key
 * belongs), every value is checked by its key's value type, then the keys' rules and
 * requirements are applied in the tunnel's context, and the effective values (ignored ones
 * dropped, defaults filled in where the key applies) are handed to the parser.
 *
 * @example Usage
 * ```ts
 * import { Collector } from "./issues.ts";
 * import { TableReader } from "./reader.ts";
 * import { TUNNEL_KEYS } from "./tunnel_keys.ts";
 * const c = new Collector();
 * const table = { window_size: 0n, hello_timout: 1n };
 * const r = new TableReader(c, { tunnel: "t1" }, table, TUNNEL_KEYS, { defaultPort: 1701 });
 * r.check({ mode: "dynamic", version: 2, versionKnown: true, versionWhy: "", encap: "udp" });
 * console.log(r.value("window_size"), c.issues[0].message);
 * // 4 unknown key; did you mean "hello_timeout"?
 * ```
 *
 * @module
 */

import { DAEMON_KEYS } from "./daemon_keys.ts";
import type { Collector, Where } from "./issues.ts";
import { breaks, inScope, type RuleContext, type Schema } from "./schema.ts";
import { SESSION_KEYS } from "./session_keys.ts";
import { nearest, quote, tableKey, type TomlTable } from "./text.ts";
import { TUNNEL_KEYS } from "./tunnel_keys.ts";
import type { ReadContext } from "./values.ts";

/**
 * Reads the keys of one table (`V` maps each key to its value type), recording an issue for
 * every bad value and a warning for every ignored one.
 *
 * Values are read on first use (so that the parser can settle the version before reading IDs)
 * and all at once by {@linkcode TableReader.readAll}; {@linkcode TableReader.check} then applies
 * the schema's rules, after which {@linkcode TableReader.value} gives the effective values.
 *
 * @example Usage
 * ```ts
 * import { Collector } from "./issues.ts";
 * import { TableReader } from "./reader.ts";
 * import { SESSION_KEYS } from "./session_keys.ts";
 * const c = new Collector();
 * const r = new TableReader(c, { tunnel: "t1", session: "s1" }, { sid: 70000n }, SESSION_KEYS, {
 *   version: 2,
 *   defaultPort: 0,
 * });
 * console.log(r.read("sid"), r.bad.has("sid"), c.issues[0].message);
 * // undefined true expected an integer in 1..65535 (L2TPv2 session ID), got 70000
 * ```
 */
export class TableReader<V> {
  readonly #c: Collector;
  readonly #where: Where;
  readonly #table: TomlTable;
  readonly #schema: Schema<V, never>;
  readonly #values = new Map<keyof V, unknown>();
  readonly #ignored = new Set<string>();
  #ctx?: RuleContext;
  /** Keys whose value cannot be used: unknown, invalid or refused. */
  readonly bad: Set<string> = new Set();
  /** What the value types need to know; set the version before reading IDs. */
  readonly context: ReadContext;

  /** Start reading `table` at `where`; unknown keys are reported at once. */
  constructor(
    c: Collector,
    where: Where,
    table: TomlTable,
    schema: Schema<V, never>,
    context: ReadContext,
  ) {
    this.#c = c;
    this.#where = where;
    this.#table = table;
    this.#schema = schema;
    this.context = context;
    const known = Object.keys(schema);
    for (const key of Object.keys(table)) {
      if (!known.includes(key)) this.fail(key, unknownKeyMessage(key, known, where));
    }
  }

  /** Whether the table has `key` (whatever its value). */
  has(key: keyof V & string): boolean {
    return Object.hasOwn(this.#table, key);
  }

  /** The value of `key` as written, checked by its type; undefined if absent or invalid. */
  read<K extends keyof V & string>(key: K): V[K] | undefined {
    if (!this.#values.has(key)) {
      let value: V[K] | undefined;
      if (this.has(key)) {
        const r = this.#schema[key].type.read(this.#table[key], this.context);
        if ("error" in r) this.fail(key, r.error);
        else value = r.value;
      }
      this.#values.set(key, value);
    }
    return this.#values.get(key) as V[K] | undefined;
  }

  /** Read (and so check) every key not read yet, in schema order. */
  readAll(): void {
    for (const key of this.#keys()) this.read(key);
  }

  /** Record an issue with `key`, which makes its value unusable; returns undefined. */
  fail(key: string, message: string): undefined {
    this.bad.add(key);
    this.#c.add(this.#where, key, message);
    return undefined;
  }

  /** Record a warning about `key`. */
  warn(key: string, message: string): void {
    this.#c.warn(this.#where, key, message);
  }

  /**
   * Apply every key's rules (the first broken one ignores or refuses the value) and
   * requirements (a missing key) in `ctx`, in schema order.
   */
  check(ctx: RuleContext): void {
    this.readAll();
    this.#ctx = ctx;
    for (const key of this.#keys()) {
      const spec = this.#schema[key];
      const value = this.read(key);
      if (value !== undefined) {
        const broken = spec.rules?.find((rule) => breaks(rule, value, ctx));
        if (broken === undefined) continue;
        const message = typeof broken.message === "string" ? broken.message : broken.message(ctx);
        if (broken.otherwise === "refuse") {
          this.fail(key, message);
        } else {
          this.warn(key, message);
          this.#ignored.add(key);
        }
      } else if (!this.has(key)) {
        const need = spec.required?.find((req) => inScope(req, ctx));
        if (need === undefined) continue;
        const why = typeof need.message === "string" ? need.message : need.message(ctx);
        this.#c.add(this.#where, key, `missing: ${why}`);
      }
    }
  }

  /**
   * The effective value of `key` after {@linkcode TableReader.check}: undefined if it is bad or
   * ignored; for an absent key (or 0 where 0 means the default) the schema's fallback, where the
   * key applies (where every rule without `only` holds).
   */
  value<K extends keyof V & string>(key: K): V[K] | undefined {
    if (this.bad.has(key) || this.#ignored.has(key)) return undefined;
    const spec = this.#schema[key];
    const v = this.read(key);
    if (v !== undefined && !(spec.zeroIsDefault === true && (v as unknown) === 0)) return v;
    const ctx = this.#ctx;
    if (spec.fallback === undefined || ctx === undefined) return undefined;
    const applies = (spec.rules ?? []).every((rule) =>
      rule.only !== undefined || inScope(rule, ctx)
    );
    return applies ? spec.fallback : undefined;
  }

  #keys(): (keyof V & string)[] {
    return Object.keys(this.#schema) as (keyof V & string)[];
  }
}

/** Why `key` is unknown here: it belongs in another table, or is a typo, or is just unknown. */
function unknownKeyMessage(key: string, known: readonly string[], where: Where): string {
  const inSession = Object.hasOwn(SESSION_KEYS, key);
  const inTunnel = Object.hasOwn(TUNNEL_KEYS, key);
  const t = tableKey(where.tunnel ?? "NAME");
  if (inSession && inTunnel && where.tunnel === undefined) {
    return `${quote(key)} is a tunnel and session key: put it in a tunnel table [tunnel.NAME] or ` +
      `a session table [tunnel.NAME.session.NAME]`;
  }
  if (inSession && where.session === undefined) {
    return `${quote(key)} is a session key: put it in a session table [tunnel.${t}.session.NAME]`;
  }
  if (inTunnel && where.tunnel === undefined) {
    return `${quote(key)} is a tunnel key: put it in a tunnel table [tunnel.NAME]`;
  }
  if (inTunnel && where.session !== undefined) {
    return `${quote(key)} is a tunnel key: put it in [tunnel.${t}]`;
  }
  if (Object.hasOwn(DAEMON_KEYS, key) && where.table !== "daemon") {
    return `${quote(key)} is a daemon key: put it in the [daemon] table`;
  }
  const near = nearest(key, known);
  if (near !== undefined) return `unknown key; did you mean ${quote(near)}?`;
  return `unknown key; expected one of ${known.join(", ")}`;
}
