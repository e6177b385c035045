/**
 * Bounded bookkeeping for what a listener (control/listener.ts) keeps about peers that have not
 * proved themselves yet: a table with a total capacity, a per-source-address limit and a share
 * kept for configured peers, that makes room by forgetting its oldest entries
 * ({@linkcode SourceLimitedTable}), and a per-address counter ({@linkcode SourceCounter}).
 *
 * A flood from many spoofed addresses fills the table and then only pushes its own oldest
 * entries out: memory stays bounded, and what a legitimate peer adds lives until that many newer
 * entries have come, which at any realistic rate is far longer than its round trip. A flood from
 * one address only replaces its own entries. Entries of configured peers (`peer` matched by
 * address) are evicted only when no entry of an `accept_any_peer` tunnel is left, and those may
 * never take the share reserved for configured peers.
 *
 * @example Usage
 * ```ts
 * import { SourceLimitedTable } from "./source_limits.ts";
 * const t = new SourceLimitedTable<{ source: string; priority: "configured" | "any" }>({
 *   capacity: 4, reserved: 1, perSource: 2,
 * });
 * for (let i = 0; i < 10; i++) t.set(`k${i}`, { source: `10.0.0.${i}`, priority: "any" });
 * console.log(t.size, t.evicted); // 3 7
 * t.set("legit", { source: "192.0.2.1", priority: "configured" });
 * console.log(t.size, t.has("legit")); // 4 true
 * ```
 *
 * @module
 */

/**
 * Whose entry it is: a configured peer's (`peer` matched by address) or one that only an
 * `accept_any_peer` tunnel accepts.
 *
 * @example Usage
 * ```ts
 * import type { SourcePriority } from "./source_limits.ts";
 * const p: SourcePriority = "configured";
 * console.log(p); // configured
 * ```
 */
export type SourcePriority = "configured" | "any";

/**
 * What the table needs to know of an entry.
 *
 * @example Usage
 * ```ts
 * import type { SourceEntry } from "./source_limits.ts";
 * const e: SourceEntry = { source: "192.0.2.1", priority: "any" };
 * console.log(e.source); // 192.0.2.1
 * ```
 */
export interface SourceEntry {
  /** The source address (the unit of the per-source limit). */
  readonly source: string;
  /** Whose entry it is. */
  readonly priority: SourcePriority;
}

/**
 * Limits of a {@linkcode SourceLimitedTable}.
 *
 * @example Usage
 * ```ts
 * import type { SourceLimits } from "./source_limits.ts";
 * const l: SourceLimits = { capacity: 4096, reserved: 1024, perSource: 8 };
 * console.log(l.capacity - l.reserved); // 3072
 * ```
 */
export interface SourceLimits {
  /** Most entries in all (≥ 1). */
  capacity: number;
  /** Entries only configured peers may use (0 ≤ reserved < capacity). */
  reserved: number;
  /** Most entries per source address (≥ 1). */
  perSource: number;
}

function checkLimits(l: SourceLimits): void {
  const ok = Number.isInteger(l.capacity) && l.capacity >= 1 &&
    Number.isInteger(l.reserved) && l.reserved >= 0 && l.reserved < l.capacity &&
    Number.isInteger(l.perSource) && l.perSource >= 1;
  if (!ok) {
    throw new RangeError(
      `Cannot create source-limited table: capacity ${l.capacity}, reserved ${l.reserved}, ` +
        `per source ${l.perSource} (need integers, capacity ≥ 1, 0 ≤ reserved < capacity, ` +
        "per source ≥ 1)",
    );
  }
}

/**
 * A bounded table that evicts its oldest entries (see the module documentation). Iteration and
 * eviction follow insertion order; {@linkcode SourceLimitedTable.set} on an existing key moves
 * it to the newest place.
 *
 * @example Usage
 * ```ts
 * import { SourceLimitedTable } from "./source_limits.ts";
 * const t = new SourceLimitedTable<{ source: string; priority: "any"; n: number }>({
 *   capacity: 10, reserved: 0, perSource: 2,
 * });
 * t.set("a", { source: "192.0.2.1", priority: "any", n: 1 });
 * t.set("b", { source: "192.0.2.1", priority: "any", n: 2 });
 * const evicted = t.set("c", { source: "192.0.2.1", priority: "any", n: 3 });
 * console.log(evicted.map((e) => e.n), t.fromSource("192.0.2.1")); // [ 1 ] 2
 * ```
 */
export class SourceLimitedTable<V extends SourceEntry> {
  readonly #limits: SourceLimits;
  readonly #entries = new Map<string, V>();
  readonly #byPriority: Record<SourcePriority, Set<string>> = {
    configured: new Set(),
    any: new Set(),
  };
  readonly #bySource = new Map<string, string[]>();
  #evicted = 0;

  /**
   * An empty table.
   *
   * @param limits Capacity, the configured peers' share, the per-source limit.
   * @throws {RangeError} If a limit is out of range.
   */
  constructor(limits: SourceLimits) {
    checkLimits(limits);
    this.#limits = { ...limits };
  }

  /** How many entries there are. */
  get size(): number {
    return this.#entries.size;
  }

  /** How many entries were evicted to make room, in all. */
  get evicted(): number {
    return this.#evicted;
  }

  /**
   * How many entries one priority has.
   *
   * @param priority The priority.
   * @returns The count.
   */
  sizeOf(priority: SourcePriority): number {
    return this.#byPriority[priority].size;
  }

  /**
   * How many entries one source address has.
   *
   * @param source The address.
   * @returns The count.
   */
  fromSource(source: string): number {
    return this.#bySource.get(source)?.length ?? 0;
  }

  /**
   * Whether there is an entry.
   *
   * @param key The key.
   * @returns True if there is.
   */
  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /**
   * The entry of a key.
   *
   * @param key The key.
   * @returns The entry, or undefined.
   */
  get(key: string): V | undefined {
    return this.#entries.get(key);
  }

  /**
   * Add an entry, or replace one (which then counts as the newest), evicting the oldest
   * entries its limits require: of its source, then of the `accept_any_peer` share, then of the
   * whole table (an `any` entry first).
   *
   * @param key The key.
   * @param value The entry.
   * @returns The entries evicted for it (oldest first).
   */
  set(key: string, value: V): V[] {
    this.delete(key);
    const evicted: V[] = [];
    const { capacity, reserved, perSource } = this.#limits;
    const evictOldest = (keys: Iterable<string>): void => {
      for (const k of keys) {
        const v = this.#entries.get(k);
        if (v === undefined) continue;
        this.delete(k);
        this.#evicted++;
        evicted.push(v);
        return;
      }
    };
    while (this.fromSource(value.source) >= perSource) {
      evictOldest(this.#bySource.get(value.source) ?? []);
    }
    if (value.priority === "any") {
      while (this.#byPriority.any.size >= capacity - reserved) evictOldest(this.#byPriority.any);
    }
    while (this.#entries.size >= capacity) {
      evictOldest(this.#byPriority.any.size > 0 ? this.#byPriority.any : this.#entries.keys());
    }
    this.#entries.set(key, value);
    this.#byPriority[value.priority].add(key);
    const list = this.#bySource.get(value.source);
    if (list === undefined) this.#bySource.set(value.source, [key]);
    else list.push(key);
    return evicted;
  }

  /**
   * Remove an entry.
   *
   * @param key The key.
   * @returns The entry removed, or undefined if there was none.
   */
  delete(key: string): V | undefined {
    const v = this.#entries.get(key);
    if (v === undefined) return undefined;
    this.#entries.delete(key);
    this.#byPriority[v.priority].delete(key);
    const list = this.#bySource.get(v.source);
    if (list !== undefined) {
      const i = list.indexOf(key);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.#bySource.delete(v.source);
    }
    return v;
  }

  /**
   * Remove the oldest entries as long as `stale` says so (stops at the first that is not).
   *
   * @param stale Whether an entry is no longer wanted.
   * @returns How many were removed.
   */
  prune(stale: (value: V) => boolean): number {
    let n = 0;
    for (const [k, v] of this.#entries) {
      if (!stale(v)) break;
      this.delete(k);
      n++;
    }
    return n;
  }

  /** Remove every entry. */
  clear(): void {
    this.#entries.clear();
    this.#byPriority.configured.clear();
    this.#byPriority.any.clear();
    this.#bySource.clear();
  }
}

/**
 * How many of something each source address has (half-open connections, say); addresses at 0
 * are forgotten, so it holds only live ones.
 *
 * @example Usage
 * ```ts
 * import { SourceCounter } from "./source_limits.ts";
 * const c = new SourceCounter();
 * c.add("192.0.2.1");
 * c.add("192.0.2.1");
 * c.remove("192.0.2.1");
 * console.log(c.get("192.0.2.1"), c.sources); // 1 1
 * ```
 */
export class SourceCounter {
  readonly #counts = new Map<string, number>();

  /** How many addresses have a count above 0. */
  get sources(): number {
    return this.#counts.size;
  }

  /**
   * The count of an address.
   *
   * @param source The address.
   * @returns Its count (0 if none).
   */
  get(source: string): number {
    return this.#counts.get(source) ?? 0;
  }

  /**
   * Count one more.
   *
   * @param source The address.
   */
  add(source: string): void {
    this.#counts.set(source, this.get(source) + 1);
  }

  /**
   * Count one less (never below 0).
   *
   * @param source The address.
   */
  remove(source: string): void {
    const n = this.get(source) - 1;
    if (n > 0) this.#counts.set(source, n);
    else this.#counts.delete(source);
  }
}
