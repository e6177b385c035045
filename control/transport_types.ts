/**
 * What a {@linkcode ControlTransport} takes and gives besides its options: the messages it sends,
 * its events (errors, retransmissions, its end), its state, its counters and the error of a
 * transport that gave up (RFC 2661 §5.8, RFC 3931 §4.2). Re-exported by control/transport.ts.
 *
 * @example Usage
 * ```ts
 * import { TransportFailedError, type TransportEnd } from "./transport_types.ts";
 * const end: TransportEnd = { reason: "failed", error: new TransportFailedError("gave up", 5) };
 * console.log(end.reason, end.error.retransmits); // failed 5
 * ```
 *
 * @module
 */

import type { MessageTypeCode } from "./constants.ts";
import type { AvpInput } from "./avp.ts";

/**
 * A message for {@linkcode ControlTransport.send}: the message type and AVPs; the transport fills
 * in the header (version, the peer's tunnel ID, Ns, Nr).
 *
 * @example Usage
 * ```ts
 * import type { TransportMessage } from "./transport_types.ts";
 * import { AvpType, MessageType, StopCcnResult } from "./constants.ts";
 * const stop: TransportMessage = {
 *   type: MessageType.StopCCN,
 *   avps: [
 *     { type: AvpType.AssignedTunnelId, value: 7 },
 *     { type: AvpType.ResultCode, value: { resultCode: StopCcnResult.GeneralRequest } },
 *   ],
 * };
 * console.log(stop.avps?.length); // 2
 * ```
 */
export interface TransportMessage {
  /** The message type (not ACK: the transport sends acknowledgements itself). */
  type: MessageTypeCode;
  /** AVPs after the Message Type AVP. */
  avps?: readonly AvpInput[];
}

/**
 * Why a transport ended: `"closed"` by {@linkcode ControlTransport.close}, `"stopped"` at the end
 * of the StopCCN hold time, `"failed"` when a message went unacknowledged.
 *
 * @example Usage
 * ```ts
 * import type { TransportEndReason } from "./transport_types.ts";
 * const r: TransportEndReason = "stopped";
 * console.log(r); // stopped
 * ```
 */
export type TransportEndReason = "closed" | "stopped" | "failed";

/**
 * How a transport ended.
 *
 * @example Usage
 * ```ts
 * import type { TransportEnd } from "./transport_types.ts";
 * function describe(end: TransportEnd): string {
 *   return end.reason === "failed" ? end.error.message : end.reason;
 * }
 * console.log(describe({ reason: "closed" })); // closed
 * ```
 */
export type TransportEnd =
  | { reason: "closed" | "stopped" }
  | { reason: "failed"; error: TransportFailedError };

/**
 * A received datagram that could not be used, or a send that threw.
 *
 * - `decode`: malformed datagram, or a message whose body does not decode;
 * - `auth`: a Message Digest that does not verify, or is missing where required;
 * - `send`: the injected `send` function threw.
 *
 * @example Usage
 * ```ts
 * import type { TransportErrorEvent } from "./transport_types.ts";
 * import { UnknownAvpError } from "./errors.ts";
 * function onError(e: TransportErrorEvent): void {
 *   if (e.error instanceof UnknownAvpError) console.log("tear down the", e.error.scope);
 * }
 * onError({ kind: "decode", error: new Error("bad"), packet: new Uint8Array(0), accepted: false });
 * ```
 */
export interface TransportErrorEvent {
  /** What failed. */
  kind: "decode" | "auth" | "send";
  /** The error (a ParseError for decode and auth errors). */
  error: unknown;
  /** The datagram concerned. */
  packet: Uint8Array;
  /** Whether the message was nevertheless accepted in sequence (and will be acknowledged). */
  accepted: boolean;
}

/**
 * A retransmission, for logs.
 *
 * @example Usage
 * ```ts
 * import type { RetransmitEvent } from "./transport_types.ts";
 * const e: RetransmitEvent = { ns: 3, type: 6, attempt: 1, timeout: 2000 };
 * console.log(e.timeout); // 2000
 * ```
 */
export interface RetransmitEvent {
  /** Ns of the message. */
  ns: number;
  /** Its message type. */
  type: MessageTypeCode;
  /** 1 for the first retransmission, and so on (0 for a retransmission after a partial ack). */
  attempt: number;
  /** Milliseconds until the next retransmission. */
  timeout: number;
}

/**
 * Events of {@linkcode ControlTransport.on}.
 *
 * @example Usage
 * ```ts
 * import type { ControlTransportEvents } from "./transport_types.ts";
 * const onEnd = (e: ControlTransportEvents["end"]): void => console.log("ended:", e.reason);
 * onEnd({ reason: "stopped" }); // ended: stopped
 * ```
 */
export interface ControlTransportEvents {
  /** A datagram was dropped or a message could not be decoded or sent. */
  error: TransportErrorEvent;
  /** A message was retransmitted. */
  retransmit: RetransmitEvent;
  /** The transport ended (once). */
  end: TransportEnd;
}

/**
 * Counters of a {@linkcode ControlTransport}.
 *
 * @example Usage
 * ```ts
 * import type { ControlTransportStats } from "./transport_types.ts";
 * function lossRate(s: ControlTransportStats): number {
 *   return s.messagesSent ? s.retransmits / s.messagesSent : 0;
 * }
 * console.log(typeof lossRate); // function
 * ```
 */
export interface ControlTransportStats {
  /** Datagrams handed to `send` (messages, retransmissions and acknowledgements). */
  sent: number;
  /** Sequenced messages sent (first transmissions). */
  messagesSent: number;
  /** Retransmissions. */
  retransmits: number;
  /** Acknowledgement-only datagrams sent (ZLB or ACK). */
  acksSent: number;
  /** Datagrams received. */
  received: number;
  /** Messages delivered. */
  delivered: number;
  /** Acknowledgement-only datagrams received. */
  acksReceived: number;
  /** Duplicate messages received (acknowledged, not delivered). */
  duplicates: number;
  /** Messages received ahead of the expected Ns and queued. */
  outOfOrder: number;
  /** Messages received beyond our receive window and dropped. */
  outOfWindow: number;
  /** Error events. */
  errors: number;
}

/**
 * The error of a transport whose message went unacknowledged after the last retransmission.
 *
 * @example Usage
 * ```ts
 * import { TransportFailedError } from "./transport_types.ts";
 * const e = new TransportFailedError("Cannot deliver HELLO: no acknowledgement", 5);
 * console.log(e.retransmits); // 5
 * ```
 */
export class TransportFailedError extends Error {
  /** Retransmissions made before giving up. */
  readonly retransmits: number;

  /**
   * Creates the error.
   *
   * @param message The message ("Cannot deliver ...").
   * @param retransmits Retransmissions made.
   */
  constructor(message: string, retransmits: number) {
    super(message);
    this.name = "TransportFailedError";
    this.retransmits = retransmits;
  }
}

/**
 * State of a transport: `"open"`, `"stopping"` (StopCCN hold), `"closed"` (ended).
 *
 * @example Usage
 * ```ts
 * import type { TransportState } from "./transport_types.ts";
 * const s: TransportState = "stopping";
 * console.log(s); // stopping
 * ```
 */
export type TransportState = "open" | "stopping" | "closed";

/**
 * A new set of {@linkcode ControlTransportStats}, every counter 0.
 *
 * @returns The counters.
 *
 * @example Usage
 * ```ts
 * import { newTransportStats } from "./transport_types.ts";
 * const s = newTransportStats();
 * s.sent++;
 * console.log(s.sent, s.errors); // 1 0
 * ```
 */
export function newTransportStats(): ControlTransportStats {
  return {
    sent: 0,
    messagesSent: 0,
    retransmits: 0,
    acksSent: 0,
    received: 0,
    delivered: 0,
    acksReceived: 0,
    duplicates: 0,
    outOfOrder: 0,
    outOfWindow: 0,
    errors: 0,
  };
}

/**
 * The listeners of a transport's {@linkcode ControlTransportEvents}, called synchronously in the
 * order they subscribed.
 *
 * @example Usage
 * ```ts
 * import { TransportListeners } from "./transport_types.ts";
 * const listeners = new TransportListeners();
 * const off = listeners.on("end", (e) => console.log("ended:", e.reason));
 * listeners.emit("end", { reason: "closed" }); // ended: closed
 * off();
 * listeners.emit("end", { reason: "closed" }); // (nothing)
 * ```
 */
export class TransportListeners {
  #listeners: {
    [K in keyof ControlTransportEvents]: ((e: ControlTransportEvents[K]) => void)[];
  } = { error: [], retransmit: [], end: [] };

  /**
   * Subscribe to an event.
   *
   * @param type `"error"`, `"retransmit"` or `"end"`.
   * @param listener Called synchronously; an exception it throws is rethrown in a microtask.
   * @returns A function that unsubscribes.
   */
  on<K extends keyof ControlTransportEvents>(
    type: K,
    listener: (e: ControlTransportEvents[K]) => void,
  ): () => void {
    const list = this.#listeners[type] as ((e: ControlTransportEvents[K]) => void)[];
    list.push(listener);
    return (): void => {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /**
   * Call the listeners of an event. One that throws does not stop the others: its exception
   * becomes an unhandled rejection (the daemon logs it and shuts down cleanly) rather than an
   * uncaught exception that ends the process at once.
   *
   * @param type The event.
   * @param e Its value.
   */
  emit<K extends keyof ControlTransportEvents>(type: K, e: ControlTransportEvents[K]): void {
    const list = this.#listeners[type] as ((e: ControlTransportEvents[K]) => void)[];
    if (list.length === 0) return;
    for (const l of [...list]) {
      try {
        l(e);
      } catch (err) {
        Promise.reject(err);
      }
    }
  }
}
