/**
 * The sender's window of the control channel: the peer's Receive Window Size (RFC 2661 §5.8,
 * RFC 3931 §4.2; 4 when the peer sends no Receive Window Size AVP) and, within it, slow start and
 * congestion avoidance (RFC 2661 Appendix A, RFC 3931 Appendix A):
 *
 * - CWND starts at 1 message and SSTHRESH at the peer's window; CWND never exceeds that window.
 * - Slow start (CWND < SSTHRESH): CWND grows by 1 for each acknowledged message.
 * - Congestion avoidance (CWND ≥ SSTHRESH): CWND grows by 1 once CWND messages have been
 *   acknowledged (1/CWND per acknowledged message).
 * - A retransmission signals congestion: SSTHRESH becomes half of CWND (at least 1), CWND drops to
 *   1, and slow start begins again.
 *
 * @module
 */

/**
 * The Receive Window Size a peer is assumed to have when it sends no Receive Window Size AVP.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_PEER_WINDOW } from "./window.ts";
 * console.log(DEFAULT_PEER_WINDOW); // 4
 * ```
 */
export const DEFAULT_PEER_WINDOW = 4;

/**
 * The largest window that sequence arithmetic allows (messages in flight must stay within half
 * of the 16-bit sequence space).
 *
 * @example Usage
 * ```ts
 * import { MAX_WINDOW } from "./window.ts";
 * console.log(MAX_WINDOW); // 32767
 * ```
 */
export const MAX_WINDOW = 0x7fff;

/**
 * Checks a window size.
 *
 * @param what What the window is, for the error message.
 * @param n The size.
 * @throws {RangeError} If `n` is not an integer in 1..32767.
 *
 * @example Usage
 * ```ts
 * import { checkWindow } from "./window.ts";
 * checkWindow("peer window", 4); // fine
 * ```
 */
export function checkWindow(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_WINDOW) {
    throw new RangeError(`Cannot use ${what} ${n}: not an integer in 1..${MAX_WINDOW}`);
  }
}

/**
 * Slow start and congestion avoidance over the peer's receive window.
 *
 * @example Usage
 * ```ts
 * import { CongestionWindow } from "./window.ts";
 * const w = new CongestionWindow(8);
 * console.log(w.window); // 1
 * w.onAck(3);
 * console.log(w.cwnd, w.window); // 4 4
 * w.onRetransmit();
 * console.log(w.cwnd, w.ssthresh); // 1 2
 * ```
 */
export class CongestionWindow {
  #peerWindow: number;
  #enabled: boolean;
  #cwnd = 1;
  #ssthresh: number;
  #acked = 0;
  #congested = false;

  /**
   * A window at the start of a control connection.
   *
   * @param peerWindow The peer's Receive Window Size (default 4).
   * @param enabled `false` turns slow start and congestion avoidance off: the whole peer window
   *   may then be in flight at once.
   * @throws {RangeError} If `peerWindow` is not in 1..32767.
   */
  constructor(peerWindow: number = DEFAULT_PEER_WINDOW, enabled = true) {
    checkWindow("peer receive window", peerWindow);
    this.#peerWindow = peerWindow;
    this.#ssthresh = peerWindow;
    this.#enabled = enabled;
  }

  /** The peer's Receive Window Size. */
  get peerWindow(): number {
    return this.#peerWindow;
  }

  /** The congestion window (messages). */
  get cwnd(): number {
    return this.#cwnd;
  }

  /** The slow start threshold (messages). */
  get ssthresh(): number {
    return this.#ssthresh;
  }

  /** Whether slow start and congestion avoidance are on. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** How many messages may be unacknowledged at once. */
  get window(): number {
    return this.#enabled ? Math.min(this.#cwnd, this.#peerWindow) : this.#peerWindow;
  }

  /**
   * Take the peer's Receive Window Size (from its SCCRQ or SCCRP). Until the first retransmission
   * SSTHRESH follows it; CWND is clipped to it.
   *
   * @param n The window.
   * @throws {RangeError} If `n` is not in 1..32767.
   */
  setPeerWindow(n: number): void {
    checkWindow("peer receive window", n);
    this.#peerWindow = n;
    if (!this.#congested) this.#ssthresh = n;
    if (this.#cwnd > n) this.#cwnd = n;
  }

  /**
   * Account for `count` newly acknowledged messages.
   *
   * @param count How many messages the latest Nr acknowledged.
   */
  onAck(count: number): void {
    for (let i = 0; i < count && this.#cwnd < this.#peerWindow; i++) {
      if (this.#cwnd < this.#ssthresh) {
        this.#cwnd++;
        this.#acked = 0;
      } else if (++this.#acked >= this.#cwnd) {
        this.#cwnd++;
        this.#acked = 0;
      }
    }
  }

  /** A retransmission happened: halve into SSTHRESH, restart slow start from 1. */
  onRetransmit(): void {
    this.#congested = true;
    this.#ssthresh = Math.max(Math.floor(this.#cwnd / 2), 1);
    this.#cwnd = 1;
    this.#acked = 0;
  }
}
