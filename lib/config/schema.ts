/**
 * The schema machinery: every configuration key has one {@linkcode KeySpec} giving its value
 * type, default, where it applies (which modes, versions, roles, encapsulations, address
 * families or pseudowires: its {@linkcode Rule}s) with what happens elsewhere, when it is
 * required, a doc line, and how the effective configuration prints it. The tables are
 * `tunnel_keys.ts`, `session_keys.ts` and `daemon_keys.ts` (and {@linkcode TOP_KEYS} here, for
 * the top level); the parser reads and checks keys from them, unknown keys get their "did you
 * mean" from their key names, and `formatConfig` prints in their order. Combinations of several
 * keys, which a per-key rule cannot express, are in `checks.ts`.
 *
 * @example Usage
 * ```ts
 * import { inScope, TOP_KEYS } from "./schema.ts";
 * console.log(TOP_KEYS.tunnel.doc);
 * console.log(inScope({ modes: ["dynamic"] }, {
 *   mode: "static", version: 3, versionKnown: true, versionWhy: "", encap: "udp",
 * })); // false
 * ```
 *
 * @module
 */

import { isTable, type TomlTable, typeName } from "./text.ts";
import type { FramingCap, Pseudowire, TunnelMode, TunnelRole } from "./types.ts";
import type { ValueType } from "./values.ts";

/**
 * Default values, as go-l2tp defines them where it defines them.
 *
 * @example Usage
 * ```ts
 * import { CONFIG_DEFAULTS } from "../config.ts";
 * console.log(CONFIG_DEFAULTS.retryTimeoutMs); // 1000
 * ```
 */
export const CONFIG_DEFAULTS: {
  readonly udpPort: number;
  readonly windowSize: number;
  readonly helloTimeoutMs: number;
  readonly retryTimeoutMs: number;
  readonly maxRetries: number;
  readonly framingCaps: readonly FramingCap[];
  readonly hookTimeoutMs: number;
} = Object.freeze({
  udpPort: 1701,
  windowSize: 4,
  helloTimeoutMs: 0,
  retryTimeoutMs: 1000,
  maxRetries: 3,
  framingCaps: Object.freeze(["sync", "async"] as FramingCap[]),
  /** Ours: how long an `on_up` / `on_down` command may run (`hook_timeout`). */
  hookTimeoutMs: 10_000,
});

/**
 * How `formatConfig` prints a configuration.
 *
 * @example Usage
 * ```ts
 * import { formatConfig, type FormatOptions, parseConfig } from "../config.ts";
 * const config = parseConfig('[tunnel.t1]\npeer = "192.0.2.2"\nsecret = "s3cret"');
 * const options: FormatOptions = { showSecrets: true };
 * console.log(formatConfig(config, options).includes('secret = "s3cret"')); // true
 * ```
 */
export interface FormatOptions {
  /**
   * Print shared secrets as they are. Default false: a secret prints as `"<hidden>"` (with a
   * comment saying so), so that the output of `check-config` can be shown and shared safely.
   */
  showSecrets?: boolean;
}

/**
 * What the rules of a key depend on: the tunnel's settings, and for a session key its
 * pseudowire.
 *
 * @example Usage
 * ```ts
 * import type { RuleContext } from "./schema.ts";
 * const ctx: RuleContext = {
 *   mode: "static", version: 3, versionKnown: true, versionWhy: "", encap: "udp", family: "ipv4",
 * };
 * console.log(ctx.mode);
 * ```
 */
export interface RuleContext {
  /** The tunnel's mode. */
  mode: TunnelMode;
  /** The tunnel's L2TP version. */
  version: 2 | 3;
  /** False when the `version` key is invalid: rules about versions are then skipped. */
  versionKnown: boolean;
  /** How the version was chosen, for messages: "" when set, else " (version defaults to ...)". */
  versionWhy: string;
  /** The tunnel's encapsulation. */
  encap: "udp" | "ip";
  /** The tunnel's address family; absent when both addresses are host names (or absent). */
  family?: "ipv4" | "ipv6";
  /** A dynamic tunnel's role. */
  role?: TunnelRole;
  /** A session's pseudowire. */
  pseudowire?: Pseudowire;
}

/**
 * Where a key applies: every listed dimension must match (an absent one matches anything; an
 * unknown address family matches any family; an unknown version any version).
 *
 * @example Usage
 * ```ts
 * import { inScope, type Scope } from "./schema.ts";
 * const controlOnly: Scope = { modes: ["quiescent", "dynamic"] };
 * console.log(inScope(controlOnly, {
 *   mode: "static", version: 3, versionKnown: true, versionWhy: "", encap: "udp",
 * })); // false
 * ```
 */
export interface Scope {
  /** Tunnel modes. */
  modes?: readonly TunnelMode[];
  /** L2TP versions. */
  versions?: readonly (2 | 3)[];
  /** Dynamic tunnel roles. */
  roles?: readonly TunnelRole[];
  /** Encapsulations. */
  encaps?: readonly ("udp" | "ip")[];
  /** Address families. */
  families?: readonly ("ipv4" | "ipv6")[];
  /** Session pseudowires. */
  pseudowires?: readonly Pseudowire[];
}

/**
 * Whether a context is within a scope.
 *
 * @example Usage
 * ```ts
 * import { inScope } from "./schema.ts";
 * const v2 = {
 *   mode: "dynamic", version: 2, versionKnown: true, versionWhy: "", encap: "udp",
 * } as const;
 * console.log(inScope({ versions: [3] }, v2), inScope({ modes: ["dynamic"] }, v2)); // false true
 * ```
 */
export function inScope(s: Scope, ctx: RuleContext): boolean {
  const has = <T>(list: readonly T[] | undefined, v: T | undefined): boolean =>
    list === undefined || (v !== undefined && list.includes(v));
  return has(s.modes, ctx.mode) &&
    (!ctx.versionKnown || has(s.versions, ctx.version)) &&
    has(s.roles, ctx.role) &&
    has(s.encaps, ctx.encap) &&
    (ctx.family === undefined || has(s.families, ctx.family)) &&
    has(s.pseudowires, ctx.pseudowire);
}

/**
 * Whether `value` breaks `rule` in `ctx`: the rule is about the value, and the context is out of
 * the rule's scope (a rule without any scope dimension is broken wherever it is about the
 * value).
 *
 * @example Usage
 * ```ts
 * import { breaks, type Rule } from "./schema.ts";
 * const notEmpty: Rule<string> = { only: (v) => v === "", otherwise: "refuse", message: "empty" };
 * const ctx = {
 *   mode: "dynamic", version: 3, versionKnown: true, versionWhy: "", encap: "udp",
 * } as const;
 * console.log(breaks(notEmpty, "", ctx), breaks(notEmpty, "k", ctx)); // true false
 * ```
 */
export function breaks<T>(rule: Rule<T>, value: T, ctx: RuleContext): boolean {
  if (rule.only !== undefined && !rule.only(value)) return false;
  const scoped = rule.modes !== undefined || rule.versions !== undefined ||
    rule.roles !== undefined || rule.encaps !== undefined || rule.families !== undefined ||
    rule.pseudowires !== undefined;
  return !scoped || !inScope(rule, ctx);
}

/**
 * A rule of a key: outside its scope, a value (of those `only` selects, default all) is either
 * ignored with a warning or refused; a rule with no scope at all (no dimension listed) applies
 * to those values everywhere. A key's rules are tried in order; the first broken one decides.
 *
 * @example Usage
 * ```ts
 * import type { Rule } from "./schema.ts";
 * const rule: Rule<Uint8Array> = {
 *   only: (cookie) => cookie.length > 0,
 *   versions: [3],
 *   otherwise: "refuse",
 *   message: (ctx) => `cookies are L2TPv3 only${ctx.versionWhy}`,
 * };
 * console.log(rule.otherwise);
 * ```
 */
export interface Rule<T> extends Scope {
  /** The values the rule is about; default all. */
  only?(value: T): boolean;
  /** Outside the scope: `ignore` (warn, and drop the value) or `refuse` (an issue). */
  otherwise: "ignore" | "refuse";
  /** The warning or issue text, fixed or made from the context. */
  message: string | ((ctx: RuleContext) => string);
}

/**
 * When a key must be present: within the scope, an absent key is an issue
 * (`missing: MESSAGE`).
 *
 * @example Usage
 * ```ts
 * import type { Requirement } from "./schema.ts";
 * const r: Requirement = { modes: ["static"], message: "static tunnels need tid" };
 * console.log(r.message);
 * ```
 */
export interface Requirement extends Scope {
  /** Why the key is needed, fixed or made from the context. */
  message: string | ((ctx: RuleContext) => string);
}

/**
 * One key of a tunnel, session or `[daemon]` table.
 *
 * @example Usage
 * ```ts
 * import type { KeySpec } from "./schema.ts";
 * import { flag } from "./values.ts";
 * const spec: KeySpec<boolean, { lnsMode?: boolean }> = {
 *   origin: "ours", type: flag(), fallback: false, default: "false", doc: "LNS mode",
 *   print: (s) => s.lnsMode?.toString(),
 * };
 * console.log(spec.print?.({ lnsMode: true }, {})); // true
 * ```
 */
export interface KeySpec<T, E> {
  /** go-l2tp's key, or one this daemon adds. */
  readonly origin: "go-l2tp" | "ours";
  /** The value type. */
  readonly type: ValueType<T>;
  /** The value of an absent key, where the key applies (derived defaults are the parser's). */
  readonly fallback?: T;
  /** With `fallback`: 0 stands for the default too (go-l2tp's control connection settings). */
  readonly zeroIsDefault?: boolean;
  /** The default, in words. */
  readonly default: string;
  /** Where the key applies, and what happens to it elsewhere. */
  readonly rules?: readonly Rule<T>[];
  /** Where the key must be present. */
  readonly required?: readonly Requirement[];
  /** What the key is. */
  readonly doc: string;
  /** The key's TOML value in the effective configuration; nothing when absent. */
  print?(entry: E, options: FormatOptions): string | undefined;
}

/**
 * The keys of one kind of table, each with the type of its value (`V`), printed from `E`.
 *
 * @example Usage
 * ```ts
 * import type { Schema } from "./schema.ts";
 * import { integer } from "./values.ts";
 * const s: Schema<{ mtu: number }, { mtu?: number }> = {
 *   mtu: { origin: "ours", type: integer(68, 65535), default: "unset", doc: "MTU" },
 * };
 * console.log(Object.keys(s)); // ["mtu"]
 * ```
 */
export type Schema<V, E> = { readonly [K in keyof V]-?: KeySpec<V[K], E> };

/**
 * The keys of the top level of the file: the tunnels and the `[daemon]` table.
 *
 * @example Usage
 * ```ts
 * import { TOP_KEYS } from "./schema.ts";
 * console.log(TOP_KEYS.tunnel.doc, "/", TOP_KEYS.daemon.doc);
 * ```
 */
export const TOP_KEYS: Schema<{ tunnel: TomlTable; daemon: TomlTable }, never> = {
  tunnel: {
    origin: "go-l2tp",
    type: {
      read: (v) =>
        isTable(v)
          ? { value: v }
          : { error: `expected named tunnel tables such as [tunnel.t1], got ${typeName(v)}` },
    },
    default: "no tunnels",
    doc: "The tunnels: named tables [tunnel.NAME]",
  },
  daemon: {
    origin: "ours",
    type: {
      read: (v) =>
        isTable(v)
          ? { value: v }
          : { error: `expected a table [daemon] of the daemon's settings, got ${typeName(v)}` },
    },
    default: "the daemon's defaults",
    doc: "The daemon's own settings: control socket, metrics, hook timeout",
  },
};
