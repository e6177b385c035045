/**
 * The options of a {@linkcode ControlTransport} (RFC 2661 §5.8 and Appendix A; RFC 3931 §4.2):
 * what can be set, the defaults, and their validation into the settings a transport runs with.
 * Re-exported by control/transport.ts.
 *
 * @example Usage
 * ```ts
 * import { resolveTransportOptions } from "./transport_options.ts";
 * const s = resolveTransportOptions({ version: 3, encap: "ip", send: () => {} });
 * console.log(s.wire, s.prefix, s.maxRetransmits); // ip 4 10
 * ```
 *
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";
import {
  IP_CONTROL_PREFIX_LENGTH,
  type L2tpVersion,
  type Transport as Encapsulation,
} from "./header.ts";
import type { ControlMessage, DecodeOptions, EncodeOptions } from "./message.ts";
import { isSeq } from "./sequence.ts";
import { checkWindow, DEFAULT_PEER_WINDOW } from "./window.ts";

/**
 * Default values of {@linkcode ControlTransportOptions} (times in milliseconds).
 *
 * @example Usage
 * ```ts
 * import { TRANSPORT_DEFAULTS } from "./transport_options.ts";
 * console.log(TRANSPORT_DEFAULTS.retransmitTimeout, TRANSPORT_DEFAULTS.retransmitCap); // 1000 8000
 * ```
 */
export const TRANSPORT_DEFAULTS = {
  /** First retransmission timeout (RFC 2661 §5.8: 1 s). */
  retransmitTimeout: 1000,
  /** Cap of the doubling retransmission timeout (RFC 2661 §5.8: no less than 8 s). */
  retransmitCap: 8000,
  /** Retransmissions before an L2TPv2 transport fails. */
  maxRetransmitsV2: 5,
  /** Retransmissions before an L2TPv3 transport fails. */
  maxRetransmitsV3: 10,
  /** Delay before a lone acknowledgement is sent. */
  ackDelay: 100,
  /** Send an acknowledgement at once after this many unacknowledged in-order messages. */
  ackEvery: 2,
  /** Our receive window (messages queued out of order; advertise it in the SCCRQ/SCCRP). */
  receiveWindow: 16,
  /** How long the transport lives on after a StopCCN (RFC 2661 §5.7: 31 s). */
  stopHold: 31_000,
} as const;

/**
 * Options of {@linkcode ControlTransport}. Times are in milliseconds.
 *
 * @example Usage
 * ```ts
 * import type { ControlTransportOptions } from "./transport_options.ts";
 * const sent: Uint8Array[] = [];
 * const opts: ControlTransportOptions = { version: 3, encap: "ip", send: (p) => sent.push(p) };
 * console.log(opts.encap); // ip
 * ```
 */
export interface ControlTransportOptions {
  /** Protocol version of the control connection. */
  version: L2tpVersion;
  /** "udp" (default) or "ip" (L2TPv3 only: the 4-byte zero Session ID precedes each message). */
  encap?: Encapsulation;
  /**
   * With `encap: "ip"`: whether datagrams carry the 4-byte zero Session ID (default true: the raw
   * IP payload, as on the wire). Set false on a real L2TP/IP socket, where the kernel adds and
   * strips that prefix, so userspace reads and writes the control message alone. Ignored for
   * "udp".
   */
  ipPrefix?: boolean;
  /**
   * Sends one datagram to the peer. May drop it (the transport retransmits); a throw is reported
   * as an `"error"` event of kind `"send"` and treated as a loss.
   */
  send: (packet: Uint8Array) => void;
  /**
   * Sends several datagrams at once, in order (one `sendmmsg` on a reactor socket). Optional:
   * when given, datagrams the transport has ready together (a window opening, a queue of
   * messages) go out in one call; without it each goes to `send`. It may drop any of them; a
   * throw is reported like one of `send` and treated as a loss of them all.
   */
  sendBatch?: (packets: Uint8Array[]) => void;
  /**
   * Runs its callback once the receiver has done its work on the messages it was given (a
   * tunnel's job queue running out of jobs). Optional: when given, the acknowledgement due after
   * `ackEvery` messages waits for it, so that a reply sent meanwhile carries the new Nr instead
   * of a ZLB (`ackDelay` still bounds the wait); without it that acknowledgement goes at once.
   */
  deferAck?: (callback: () => void) => void;
  /** Time source (default {@linkcode systemClock}). */
  clock?: Clock;
  /** The peer's Tunnel ID (v2) or Control Connection ID (v3); 0 until known. Default 0. */
  peerTunnelId?: number;
  /** Our receive window: out-of-order messages queued (default 16, 1..32767). */
  receiveWindow?: number;
  /** The peer's receive window until its SCCRQ/SCCRP says otherwise (default 4). */
  peerWindow?: number;
  /** Slow start and congestion avoidance (RFC 2661 Appendix A; default true). */
  congestionControl?: boolean;
  /** First retransmission timeout (default 1000). */
  retransmitTimeout?: number;
  /** Cap of the doubling retransmission timeout (default 8000; must be ≥ 8000). */
  retransmitCap?: number;
  /** Unanswered retransmissions before the transport fails (default 5 for v2, 10 for v3). */
  maxRetransmits?: number;
  /** Delay of a lone acknowledgement (default 100). */
  ackDelay?: number;
  /**
   * Acknowledge after this many unacknowledged in-order messages, at once or when `deferAck`
   * says (default 2; 0: only after `ackDelay`).
   */
  ackEvery?: number;
  /** Send a HELLO after this long without a message from the peer (default 0: never). */
  helloInterval?: number;
  /** Lifetime after a StopCCN is sent or received (default 31000). */
  stopHold?: number;
  /** Ns of our first message (default 0). */
  initialNs?: number;
  /** Ns expected first from the peer (default 0). */
  initialNr?: number;
  /** Codec options for outgoing messages (secret for hidden AVPs, L2TPv3 Message Digest). */
  encodeOptions?: Omit<EncodeOptions, "transport">;
  /** Codec options for incoming messages (secret for hidden AVPs, L2TPv3 Message Digest). */
  decodeOptions?: Omit<DecodeOptions, "transport" | "version">;
  /**
   * Callback form of delivery: each in-order message is passed here, synchronously, instead of
   * being queued for the async iterator.
   */
  onMessage?: (msg: ControlMessage) => void;
}

function checkMs(what: string, v: number, min: number): void {
  if (!Number.isFinite(v) || v < min) {
    throw new RangeError(
      `Cannot create control transport: ${what} ${v} is not a duration ≥ ${min}`,
    );
  }
}

/**
 * The settings a transport runs with: its {@linkcode ControlTransportOptions} validated, with the
 * defaults filled in. The callbacks and codec options are not part of them.
 *
 * @example Usage
 * ```ts
 * import { resolveTransportOptions, type TransportSettings } from "./transport_options.ts";
 * const s: TransportSettings = resolveTransportOptions({ version: 2, send: () => {} });
 * console.log(s.retransmitTimeout, s.stopHold); // 1000 31000
 * ```
 */
export interface TransportSettings {
  /** Protocol version. */
  version: L2tpVersion;
  /** Encapsulation ("udp" or "ip"). */
  encap: Encapsulation;
  /** What the codec sees: "ip" only when datagrams carry the zero Session ID prefix. */
  wire: Encapsulation;
  /** Bytes before the control message in a datagram (the zero Session ID, or 0). */
  prefix: number;
  /** Time source. */
  clock: Clock;
  /** Our receive window. */
  receiveWindow: number;
  /** The peer's receive window to start with. */
  peerWindow: number;
  /** Slow start and congestion avoidance. */
  congestionControl: boolean;
  /** First retransmission timeout. */
  retransmitTimeout: number;
  /** Cap of the doubling retransmission timeout. */
  retransmitCap: number;
  /** Unanswered retransmissions before the transport fails. */
  maxRetransmits: number;
  /** Delay of a lone acknowledgement. */
  ackDelay: number;
  /** Acknowledge at once after this many unacknowledged in-order messages (0: never). */
  ackEvery: number;
  /** HELLO after this long without a message from the peer (0: never). */
  helloInterval: number;
  /** Lifetime after a StopCCN is sent or received. */
  stopHold: number;
  /** Ns of our first message. */
  initialNs: number;
  /** Ns expected first from the peer. */
  initialNr: number;
}

/**
 * Validate the options of a transport and fill in the defaults ({@linkcode TRANSPORT_DEFAULTS}).
 * The peer's tunnel ID is checked by the transport itself.
 *
 * @param options The options.
 * @returns The settings.
 * @throws {RangeError} If an option is out of range.
 * @throws {TypeError} If L2TPv2 is asked to run over IP.
 *
 * @example Usage
 * ```ts
 * import { resolveTransportOptions } from "./transport_options.ts";
 * try {
 *   resolveTransportOptions({ version: 2, encap: "ip", send: () => {} });
 * } catch (e) {
 *   console.log((e as Error).message); // Cannot create control transport: only L2TPv3 runs over IP
 * }
 * ```
 */
export function resolveTransportOptions(options: ControlTransportOptions): TransportSettings {
  const { version } = options;
  if (version !== 2 && version !== 3) {
    throw new RangeError(`Cannot create control transport: version ${version} is not 2 or 3`);
  }
  const encap = options.encap ?? "udp";
  if (encap !== "udp" && encap !== "ip") {
    throw new TypeError(`Cannot create control transport: unknown encapsulation ${encap}`);
  }
  if (encap === "ip" && version !== 3) {
    throw new TypeError("Cannot create control transport: only L2TPv3 runs over IP");
  }
  const wire = encap === "ip" && options.ipPrefix !== false ? "ip" : "udp";
  const receiveWindow = options.receiveWindow ?? TRANSPORT_DEFAULTS.receiveWindow;
  checkWindow("receive window", receiveWindow);
  const peerWindow = options.peerWindow ?? DEFAULT_PEER_WINDOW;
  checkWindow("peer receive window", peerWindow);
  const retransmitTimeout = options.retransmitTimeout ?? TRANSPORT_DEFAULTS.retransmitTimeout;
  checkMs("retransmitTimeout", retransmitTimeout, 1);
  const retransmitCap = options.retransmitCap ?? TRANSPORT_DEFAULTS.retransmitCap;
  checkMs(
    "retransmitCap",
    retransmitCap,
    Math.max(TRANSPORT_DEFAULTS.retransmitCap, retransmitTimeout),
  );
  const maxRetransmits = options.maxRetransmits ??
    (version === 2 ? TRANSPORT_DEFAULTS.maxRetransmitsV2 : TRANSPORT_DEFAULTS.maxRetransmitsV3);
  if (!Number.isInteger(maxRetransmits) || maxRetransmits < 0) {
    throw new RangeError(
      `Cannot create control transport: maxRetransmits ${maxRetransmits} is not an integer ≥ 0`,
    );
  }
  const ackDelay = options.ackDelay ?? TRANSPORT_DEFAULTS.ackDelay;
  checkMs("ackDelay", ackDelay, 0);
  const ackEvery = options.ackEvery ?? TRANSPORT_DEFAULTS.ackEvery;
  if (!Number.isInteger(ackEvery) || ackEvery < 0) {
    throw new RangeError(
      `Cannot create control transport: ackEvery ${ackEvery} is not an integer ≥ 0`,
    );
  }
  const helloInterval = options.helloInterval ?? 0;
  checkMs("helloInterval", helloInterval, 0);
  const stopHold = options.stopHold ?? TRANSPORT_DEFAULTS.stopHold;
  checkMs("stopHold", stopHold, 0);
  const initialNs = options.initialNs ?? 0;
  const initialNr = options.initialNr ?? 0;
  if (!isSeq(initialNs) || !isSeq(initialNr)) {
    throw new RangeError(
      `Cannot create control transport: initial Ns ${initialNs} / Nr ${initialNr} not in 0..65535`,
    );
  }
  return {
    version,
    encap,
    wire,
    prefix: wire === "ip" ? IP_CONTROL_PREFIX_LENGTH : 0,
    clock: options.clock ?? systemClock,
    receiveWindow,
    peerWindow,
    congestionControl: options.congestionControl ?? true,
    retransmitTimeout,
    retransmitCap,
    maxRetransmits,
    ackDelay,
    ackEvery,
    helloInterval,
    stopHold,
    initialNs,
    initialNr,
  };
}
