/**
 * What every tunnel of a {@linkcode Context} shares: the data plane, the reactor, the ID
 * allocators, the event hub, the log and the hooks tests inject. Internal to the library; the
 * public face is `lib/context.ts`.
 *
 * @module
 */

import type { DataPlane } from "../dataplane/dataplane.ts";
import type { Reactor } from "../dataplane/reactor.ts";
import type { Clock } from "../control/clock.ts";
import type { IdAllocator } from "../control/ids.ts";
import type { QuiescentSocket } from "../control/quiescent.ts";
import type { Endpoint } from "../control/types.ts";
import type { ControlTransportStats } from "../control/transport.ts";
import type { L2tpEvent } from "./events.ts";
import type { ControlCounters } from "./tunnel.ts";
import type { Log } from "./log.ts";

/**
 * A socket handed to the kernel for a managed static tunnel: kept open while the tunnel lives.
 *
 * @example Usage
 * ```ts
 * import type { TunnelSocketHandle } from "./runtime.ts";
 * const handle: TunnelSocketHandle = { fd: 7, close: () => {} };
 * console.log(handle.fd); // 7
 * ```
 */
export interface TunnelSocketHandle {
  /** The socket's file descriptor. */
  readonly fd: number;
  /** Close the socket (idempotent). */
  close(): void;
}

/**
 * Opens the socket of a managed static tunnel: bound to `local`, connected to `peer`.
 *
 * @example Usage
 * ```ts
 * import type { TunnelSocketOpener } from "./runtime.ts";
 * let next = 100;
 * const open: TunnelSocketOpener = () => ({ fd: next++, close: () => {} });
 * console.log(open({
 *   encap: "udp", local: { address: "127.0.0.1", port: 1 }, peer: { address: "127.0.0.1", port: 2 },
 *   connId: 1, peerConnId: 2,
 * }).fd); // 100
 * ```
 */
export type TunnelSocketOpener = (options: {
  encap: "udp" | "ip";
  local: Endpoint;
  peer: Endpoint;
  connId: number;
  peerConnId: number;
}) => TunnelSocketHandle;

/**
 * Control-message I/O on a static tunnel's socket (quiescent tunnels), closed with the tunnel.
 *
 * @example Usage
 * ```ts
 * import type { ControlChannel } from "./runtime.ts";
 * const channel: ControlChannel = {
 *   send: () => true,
 *   close: () => {},
 *   async *[Symbol.asyncIterator]() {},
 * };
 * console.log(channel.send(new Uint8Array(12))); // true
 * ```
 */
export interface ControlChannel extends QuiescentSocket {
  /** Stop reading and close the socket. */
  close(): void;
}

/** An event before the hub stamps it with the time. */
export type Unstamped<E extends L2tpEvent = L2tpEvent> = E extends L2tpEvent ? Omit<E, "time">
  : never;

/** The shared resources of a context's tunnels. */
export interface Runtime {
  /** Where tunnels and sessions are programmed. */
  readonly dp: DataPlane;
  /** The context's log. */
  readonly log: Log;
  /** Clock for the control protocol (tests inject a fake one). */
  readonly clock?: Clock;
  /** Whether PPP sessions get a pppd. */
  readonly pppd: boolean;
  /** Host Name AVP for tunnels that do not set one. */
  readonly hostName: string;
  /** How long a closing dynamic tunnel waits for its StopCCN's acknowledgement. */
  readonly stopGraceMs: number;
  /** Tunnel IDs in use on this host, per version. */
  readonly tunnelIds: { 2: IdAllocator; 3: IdAllocator };
  /** L2TPv3 session IDs in use on this host (RFC 3931 §4.1: the session ID alone demuxes). */
  readonly sessionIds3: IdAllocator;
  /** The epoll reactor (made on first use). */
  reactor(): Reactor;
  /** Open a managed static tunnel's socket. */
  openSocket: TunnelSocketOpener;
  /** Read and write control messages on a static tunnel's socket. */
  attach(socket: TunnelSocketHandle): ControlChannel;
  /** Resolve a host name. */
  resolve(name: string, family?: 4 | 6): Promise<string[]>;
  /** Publish an event (stamped with the current time). */
  emit(event: Unstamped): void;
}

/**
 * Milliseconds since `since`, as whole seconds (for status uptimes).
 *
 * @example Usage
 * ```ts
 * import { uptimeSeconds } from "./runtime.ts";
 * console.log(uptimeSeconds(Date.now() - 2500)); // 2
 * ```
 */
export function uptimeSeconds(since: number): number {
  return Math.max(0, Math.floor((Date.now() - since) / 1000));
}

/**
 * A transport's counters, as the status reports them.
 *
 * @param s The transport's statistics.
 * @returns The counters.
 *
 * @example Usage
 * ```ts
 * import { controlCounters } from "./runtime.ts";
 * const c = controlCounters({ sent: 1, messagesSent: 1, retransmits: 0, acksSent: 0,
 *   received: 1, delivered: 1, acksReceived: 1, duplicates: 0, outOfOrder: 0, outOfWindow: 0,
 *   errors: 0 });
 * console.log(c.sent); // 1
 * ```
 */
export function controlCounters(s: Readonly<ControlTransportStats>): ControlCounters {
  return {
    sent: s.sent,
    retransmits: s.retransmits,
    received: s.received,
    acksSent: s.acksSent,
    acksReceived: s.acksReceived,
    duplicates: s.duplicates,
    outOfOrder: s.outOfOrder,
    outOfWindow: s.outOfWindow,
    errors: s.errors,
  };
}
