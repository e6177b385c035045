/**
 * What a reload changes: the difference between the running configuration and a new one, per
 * tunnel and per session (pure; the daemon applies it).
 *
 * - A tunnel only in the new configuration is **added**; one only in the old is **removed**.
 * - A tunnel whose settings differ is **replaced** with all its sessions (its kernel tunnel and
 *   control connection are made anew).
 * - A tunnel whose settings are the same is **unchanged** and is not touched: same kernel IDs,
 *   same interfaces, pppd not restarted. Its sessions are compared one by one in the same way.
 *
 * Settings are compared as the file gives them (host names before resolution). The hooks
 * (`on_up`, `on_down`) are not part of the comparison: a changed hook applies from the next
 * event on, without touching the tunnel or session.
 *
 * @example Usage
 * ```ts
 * import { diffConfigs } from "./reload.ts";
 * import { parseConfig } from "./config.ts";
 * const a = parseConfig('[tunnel.t1]\npeer = "192.0.2.2"\n[tunnel.t1.session.s1]\n');
 * const b = parseConfig('[tunnel.t1]\npeer = "192.0.2.2"\n[tunnel.t2]\npeer = "192.0.2.3"\n');
 * const d = diffConfigs(a, b);
 * console.log(d.addedTunnels.map((t) => t.name), d.sessions[0].removed); // [ "t2" ] [ "s1" ]
 * ```
 *
 * @module
 */

import type { Config, NamedSession, NamedTunnel } from "./config.ts";

/**
 * The session changes inside one unchanged tunnel.
 *
 * @example Usage
 * ```ts
 * import type { SessionDiff } from "./reload.ts";
 * const d: SessionDiff = { tunnel: "t1", added: [], removed: ["s1"], replaced: [], unchanged: [] };
 * console.log(d.removed); // [ "s1" ]
 * ```
 */
export interface SessionDiff {
  /** The tunnel. */
  tunnel: string;
  /** Sessions to add (new settings). */
  added: NamedSession[];
  /** Names of sessions to remove. */
  removed: string[];
  /** Sessions to replace (new settings). */
  replaced: NamedSession[];
  /** Names of sessions left as they are. */
  unchanged: string[];
}

/**
 * The difference between two configurations.
 *
 * @example Usage
 * ```ts
 * import { diffConfigs } from "./reload.ts";
 * const d = diffConfigs({ file: "a", tunnels: [] }, { file: "a", tunnels: [] });
 * console.log(d.unchangedTunnels.length); // 0
 * ```
 */
export interface ConfigDiff {
  /** Tunnels to add. */
  addedTunnels: NamedTunnel[];
  /** Names of tunnels to remove. */
  removedTunnels: string[];
  /** Tunnels to replace, with their sessions. */
  replacedTunnels: NamedTunnel[];
  /** Names of tunnels whose settings are unchanged. */
  unchangedTunnels: string[];
  /** Per unchanged tunnel, its session changes. */
  sessions: SessionDiff[];
}

/**
 * Compare the running configuration with a new one.
 *
 * @param running The configuration the daemon runs.
 * @param next The new one (validated).
 * @returns What to add, remove, replace and leave alone.
 *
 * @example Usage
 * ```ts
 * import { diffConfigs } from "./reload.ts";
 * import { parseConfig } from "./config.ts";
 * const a = parseConfig('[tunnel.t1]\npeer = "192.0.2.2"\n');
 * const b = parseConfig('[tunnel.t1]\npeer = "192.0.2.9"\n');
 * console.log(diffConfigs(a, b).replacedTunnels.map((t) => t.name)); // [ "t1" ]
 * ```
 */
export function diffConfigs(running: Config, next: Config): ConfigDiff {
  const old = new Map(running.tunnels.map((t) => [t.name, t]));
  const now = new Set(next.tunnels.map((t) => t.name));
  const diff: ConfigDiff = {
    addedTunnels: [],
    removedTunnels: running.tunnels.filter((t) => !now.has(t.name)).map((t) => t.name),
    replacedTunnels: [],
    unchangedTunnels: [],
    sessions: [],
  };
  for (const t of next.tunnels) {
    const before = old.get(t.name);
    if (before === undefined) diff.addedTunnels.push(t);
    else if (!sameValue(withoutHooks(before.config), withoutHooks(t.config))) {
      diff.replacedTunnels.push(t);
    } else {
      diff.unchangedTunnels.push(t.name);
      diff.sessions.push(diffSessions(t.name, before.sessions, t.sessions));
    }
  }
  return diff;
}

function diffSessions(tunnel: string, before: NamedSession[], after: NamedSession[]): SessionDiff {
  const old = new Map(before.map((s) => [s.name, s]));
  const now = new Set(after.map((s) => s.name));
  const d: SessionDiff = {
    tunnel,
    added: [],
    removed: before.filter((s) => !now.has(s.name)).map((s) => s.name),
    replaced: [],
    unchanged: [],
  };
  for (const s of after) {
    const b = old.get(s.name);
    if (b === undefined) d.added.push(s);
    else if (!sameValue(withoutHooks(b.config), withoutHooks(s.config))) d.replaced.push(s);
    else d.unchanged.push(s.name);
  }
  return d;
}

function withoutHooks<T extends { onUp?: unknown; onDown?: unknown }>(
  c: T,
): Omit<T, "onUp" | "onDown"> {
  const { onUp: _up, onDown: _down, ...rest } = c;
  return rest;
}

/**
 * Deep equality of configuration values: plain objects, arrays, byte arrays and primitives.
 * Keys whose value is `undefined` count as absent.
 *
 * @param a One value.
 * @param b The other.
 * @returns Whether they are equal.
 *
 * @example Usage
 * ```ts
 * import { sameValue } from "./reload.ts";
 * console.log(sameValue({ a: new Uint8Array([1]) }, { a: new Uint8Array([1]), b: undefined }));
 * // true
 * ```
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length &&
      a.every((v, i) => v === b[i]);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((v, i) => sameValue(v, b[i]));
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  for (const k of keys) if (!sameValue(ra[k], rb[k])) return false;
  return true;
}
