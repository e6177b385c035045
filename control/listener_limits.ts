/**
 * How many tunnels the listener (control/listener.ts) may hold, and how many of them may be
 * half-open (accepted and not yet established).
 *
 * Tunnels: `maxTunnels` of the listener over all its entries, and of each configured tunnel
 * entry. A new SCCRQ over either is refused with a StopCCN "general error, insufficient
 * resources" (RFC 2661 §4.4.2: result 2, error 4).
 *
 * Half-open tunnels (over L2TP/IP, where the kernel delivers a control message only to a socket
 * bound to its connection ID, so a cookie's SCCCN would never arrive, every accepted SCCRQ is
 * one; over UDP, every SCCCN that echoed a cookie): at most `maxHalfOpen`, a quarter of them
 * reserved for configured peers (`peer` matched by address), `maxPerSource` per address for the
 * others, and each is given up after `halfOpenTimeout`, well before an established tunnel's peer
 * would be declared dead. Configured peers are not held to the per-source limit: a herd of LACs
 * behind one address (or one host dialling many tunnels) is legitimate, and the totals still
 * bound them. What is over these limits is dropped without an answer; the peer retransmits.
 *
 * @example Usage
 * ```ts
 * import { AdmissionLimits } from "./listener_limits.ts";
 * import { FakeClock } from "./clock.ts";
 * const limits = new AdmissionLimits<string, { maxTunnels?: number }>({
 *   maxHalfOpen: 8, maxPerSource: 2, halfOpenTimeout: 10_000, clock: new FakeClock(),
 * });
 * limits.halfOpened("a", "192.0.2.1", "any", () => {});
 * limits.halfOpened("b", "192.0.2.1", "any", () => {});
 * console.log(limits.noRoomForHalfOpen("192.0.2.1", "any"));
 * // 2 tunnels already setting up from 192.0.2.1
 * console.log(limits.noRoomForHalfOpen("192.0.2.1", "configured")); // undefined
 * ```
 *
 * @module
 */

import type { Clock, Timer } from "./clock.ts";
import { SourceCounter, type SourcePriority } from "./source_limits.ts";

/**
 * Options of {@linkcode AdmissionLimits} (checked by the listener).
 *
 * @example Usage
 * ```ts
 * import type { AdmissionLimitsOptions } from "./listener_limits.ts";
 * import { systemClock } from "./clock.ts";
 * const o: AdmissionLimitsOptions = { maxHalfOpen: 64, maxPerSource: 8, halfOpenTimeout: 10_000,
 *   clock: systemClock };
 * console.log(o.maxHalfOpen - Math.floor(o.maxHalfOpen / 4)); // 48
 * ```
 */
export interface AdmissionLimitsOptions {
  /** Most tunnels at once over all entries (default unlimited). */
  maxTunnels?: number;
  /** Most half-open tunnels at once (a quarter of them only for configured peers). */
  maxHalfOpen: number;
  /** Most half-open tunnels per address of a peer not configured. */
  maxPerSource: number;
  /** Milliseconds a tunnel may stay half-open. */
  halfOpenTimeout: number;
  /** Timers of the half-open time-outs. */
  clock: Pick<Clock, "setTimer">;
}

/** A tunnel accepted and not yet established. */
interface HalfOpen {
  source: string;
  priority: SourcePriority;
  timer: Timer;
}

/**
 * The counts and limits (see the module documentation): `C` is what a tunnel is known by (its
 * connection), `T` its configured entry.
 *
 * @example Usage
 * ```ts
 * import { AdmissionLimits } from "./listener_limits.ts";
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock();
 * const lns = { maxTunnels: 1 };
 * const limits = new AdmissionLimits<string, typeof lns>({
 *   maxHalfOpen: 64, maxPerSource: 8, halfOpenTimeout: 10_000, clock,
 * });
 * let given = "";
 * limits.opened(lns);
 * limits.halfOpened("t1", "192.0.2.1", "configured", () => given = "t1");
 * console.log(limits.overLimit(lns), limits.halfOpen); // true 1
 * clock.advance(10_000);
 * console.log(given); // t1
 * limits.settled("t1");
 * limits.closed(lns);
 * console.log(limits.overLimit(lns), limits.halfOpen); // false 0
 * ```
 */
export class AdmissionLimits<C, T extends { readonly maxTunnels?: number }> {
  readonly #opts: AdmissionLimitsOptions;
  readonly #perTunnel = new Map<T, number>();
  #tunnels = 0;
  readonly #halfOpen = new Map<C, HalfOpen>();
  readonly #halfOpenFrom = new SourceCounter();
  #halfOpenAny = 0;

  /**
   * Limits with nothing counted yet.
   *
   * @param options The limits and the clock.
   */
  constructor(options: AdmissionLimitsOptions) {
    this.#opts = options;
  }

  /** Milliseconds a tunnel may stay half-open. */
  get halfOpenTimeout(): number {
    return this.#opts.halfOpenTimeout;
  }

  /** Tunnels accepted and not yet established. */
  get halfOpen(): number {
    return this.#halfOpen.size;
  }

  /**
   * Whether a tunnel entry, or the listener, has as many tunnels as it may.
   *
   * @param tunnel The entry.
   * @returns True when another tunnel of it would be one too many.
   */
  overLimit(tunnel: T): boolean {
    const max = this.#opts.maxTunnels;
    return (max !== undefined && this.#tunnels >= max) ||
      (tunnel.maxTunnels !== undefined && (this.#perTunnel.get(tunnel) ?? 0) >= tunnel.maxTunnels);
  }

  /**
   * Why another half-open tunnel from `source` is not allowed.
   *
   * @param source The peer's address.
   * @param priority Whose it would be.
   * @returns The reason, for the log; undefined when there is room.
   */
  noRoomForHalfOpen(source: string, priority: SourcePriority): string | undefined {
    const max = this.#opts.maxHalfOpen;
    const n = this.#halfOpen.size;
    if (n >= max) return `${n} tunnels already setting up`;
    const any = max - Math.floor(max / 4);
    if (priority === "any" && this.#halfOpenAny >= any) {
      return `${this.#halfOpenAny} tunnels already setting up for peers not configured`;
    }
    // Configured peers are not held to the per-source limit: a herd of LACs behind one address
    // (or one host dialling many tunnels) is legitimate; the totals above still bound them.
    const mine = this.#halfOpenFrom.get(source);
    if (priority === "any" && mine >= this.#opts.maxPerSource) {
      return `${mine} tunnels already setting up from ${source}`;
    }
    return undefined;
  }

  /**
   * Count a tunnel of `tunnel` accepted (until {@linkcode AdmissionLimits.closed}).
   *
   * @param tunnel Its entry.
   */
  opened(tunnel: T): void {
    this.#tunnels++;
    this.#perTunnel.set(tunnel, (this.#perTunnel.get(tunnel) ?? 0) + 1);
  }

  /**
   * A tunnel counted by {@linkcode AdmissionLimits.opened} is over.
   *
   * @param tunnel Its entry.
   */
  closed(tunnel: T): void {
    this.#tunnels--;
    const n = (this.#perTunnel.get(tunnel) ?? 1) - 1;
    if (n > 0) this.#perTunnel.set(tunnel, n);
    else this.#perTunnel.delete(tunnel);
  }

  /**
   * Count a tunnel as half-open until {@linkcode AdmissionLimits.settled}; if it still is after
   * `halfOpenTimeout`, `onTimeout` is called (to give it up).
   *
   * @param conn The tunnel.
   * @param source Its peer's address.
   * @param priority Whose it is.
   * @param onTimeout Called when it stays half-open too long.
   */
  halfOpened(conn: C, source: string, priority: SourcePriority, onTimeout: () => void): void {
    this.#halfOpen.set(conn, {
      source,
      priority,
      timer: this.#opts.clock.setTimer(this.#opts.halfOpenTimeout, () => {
        if (this.#halfOpen.has(conn)) onTimeout();
      }),
    });
    this.#halfOpenFrom.add(source);
    if (priority === "any") this.#halfOpenAny++;
  }

  /**
   * A tunnel is established, or over: it no longer counts as half-open. Calling it again does
   * nothing.
   *
   * @param conn The tunnel.
   */
  settled(conn: C): void {
    const h = this.#halfOpen.get(conn);
    if (h === undefined) return;
    this.#halfOpen.delete(conn);
    h.timer.cancel();
    this.#halfOpenFrom.remove(h.source);
    if (h.priority === "any") this.#halfOpenAny--;
  }
}
