/**
 * The datagram output of a {@linkcode ControlTransport}: each datagram to the injected `send`
 * function, or, when a `sendBatch` function was given, the datagrams the transport has ready
 * together (a window opening, a queue of messages) in one call (one `sendmmsg` on a reactor
 * socket). A function that throws is a loss: the transport retransmits. Used by
 * control/transport.ts.
 *
 * @example Usage
 * ```ts
 * import { DatagramOutput } from "./transport_output.ts";
 * const out = new DatagramOutput(
 *   (p) => console.log("one", p.length),
 *   (ps) => console.log("batch of", ps.length),
 *   (e) => console.log("error", e),
 * );
 * out.put(new Uint8Array(12)); // one 12
 * out.batch(() => {
 *   out.put(new Uint8Array(12));
 *   out.put(new Uint8Array(12));
 * }); // batch of 2
 * ```
 *
 * @module
 */

/**
 * Sends datagrams one by one, or collected into batches.
 *
 * @example Usage
 * ```ts
 * import { DatagramOutput } from "./transport_output.ts";
 * const sent: Uint8Array[] = [];
 * const out = new DatagramOutput((p) => sent.push(p), undefined, () => {});
 * out.batch(() => out.put(new Uint8Array(12))); // no sendBatch: sent at once
 * console.log(sent.length); // 1
 * ```
 */
export class DatagramOutput {
  readonly #send: (packet: Uint8Array) => void;
  readonly #sendBatch: ((packets: Uint8Array[]) => void) | undefined;
  readonly #onError: (error: unknown, packet: Uint8Array) => void;
  /** While datagrams are being collected for one `sendBatch` call: those collected. */
  #batch: Uint8Array[] | undefined;

  /**
   * An output.
   *
   * @param send Sends one datagram.
   * @param sendBatch Sends several datagrams at once, in order (optional).
   * @param onError Told when `send` or `sendBatch` throws (with the first datagram of a batch).
   */
  constructor(
    send: (packet: Uint8Array) => void,
    sendBatch: ((packets: Uint8Array[]) => void) | undefined,
    onError: (error: unknown, packet: Uint8Array) => void,
  ) {
    this.#send = send;
    this.#sendBatch = sendBatch;
    this.#onError = onError;
  }

  /**
   * Run `fill`; with `sendBatch`, the datagrams it puts are collected and sent together after
   * it returns (or throws). Within a batch already open, `fill` just runs.
   *
   * @param fill Puts datagrams.
   */
  batch(fill: () => void): void {
    if (this.#sendBatch === undefined || this.#batch !== undefined) {
      fill();
      return;
    }
    this.#batch = [];
    try {
      fill();
    } finally {
      this.#flush();
    }
  }

  /**
   * Send a datagram, or add it to the open batch.
   *
   * @param packet The datagram (never changed afterwards).
   */
  put(packet: Uint8Array): void {
    if (this.#batch !== undefined) {
      this.#batch.push(packet);
      return;
    }
    try {
      this.#send(packet);
    } catch (e) {
      this.#onError(e, packet);
    }
  }

  /** Send what was collected: one datagram to `send`, several in one `sendBatch` call. */
  #flush(): void {
    const batch = this.#batch;
    this.#batch = undefined;
    if (batch === undefined || batch.length === 0) return;
    try {
      if (batch.length === 1) this.#send(batch[0] as Uint8Array);
      else (this.#sendBatch as (packets: Uint8Array[]) => void)(batch);
    } catch (e) {
      this.#onError(e, batch[0] as Uint8Array);
    }
  }
}
