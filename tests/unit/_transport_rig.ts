/**
 * The transport tests' rig (`transport_test.ts`, `transport_lifecycle_test.ts`): a transport on a
 * fake clock whose datagrams and messages are recorded, and the peer's datagrams.
 *
 * @module
 */

import { FakeClock } from "../../control/clock.ts";
import { MessageType, type MessageTypeCode } from "../../control/constants.ts";
import type { L2tpVersion } from "../../control/header.ts";
import {
  type ControlMessage,
  decodeControl,
  encodeControl,
  type OutgoingControlMessage,
} from "../../control/message.ts";
import {
  ControlTransport,
  type ControlTransportOptions,
  type TransportErrorEvent,
} from "../../control/transport.ts";

/** The message type most tests send. */
export const HELLO: MessageTypeCode = MessageType.HELLO;

/** A transport under test and what it did. */
export interface Rig {
  clock: FakeClock;
  out: Uint8Array[];
  t: ControlTransport;
  errors: TransportErrorEvent[];
  delivered: ControlMessage[];
}

/** A transport whose datagrams land in `out` and whose messages land in `delivered`. */
export function rig(opts: Partial<ControlTransportOptions> = {}, callback = true): Rig {
  const clock = new FakeClock();
  const out: Uint8Array[] = [];
  const delivered: ControlMessage[] = [];
  const t = new ControlTransport({
    version: 2,
    clock,
    send: (p) => out.push(p),
    peerTunnelId: 7,
    ...(callback ? { onMessage: (m: ControlMessage) => delivered.push(m) } : {}),
    ...opts,
  });
  const errors: TransportErrorEvent[] = [];
  t.on("error", (e) => errors.push(e));
  return { clock, out, t, errors, delivered };
}

/** A datagram from the peer. */
export function peer(
  ns: number,
  nr: number,
  type: MessageTypeCode | null = HELLO,
  extra: Partial<OutgoingControlMessage> = {},
): Uint8Array {
  return encodeControl({ version: 2, tunnelId: 1, ns, nr, type, ...extra });
}

/** An L2TPv3 datagram from the peer. */
export function v3peer(ns: number, nr: number, type: MessageTypeCode | null = HELLO): Uint8Array {
  return encodeControl({ version: 3, tunnelId: 1, ns, nr, type });
}

/** What went out: type (null for ZLB), Ns, Nr, tunnel ID. */
export function sent(out: Uint8Array[], version: L2tpVersion = 2, ip = false): {
  type: MessageTypeCode | null;
  ns: number;
  nr: number;
  tunnelId: number;
}[] {
  return out.map((p) => {
    const m = decodeControl(p, { version, transport: ip ? "ip" : "udp" });
    return { type: m.type, ns: m.ns, nr: m.nr, tunnelId: m.tunnelId };
  });
}

/** Whether a promise has settled after two microtask turns. */
export async function settled(p: Promise<unknown>): Promise<"resolved" | "rejected" | "pending"> {
  let state: "resolved" | "rejected" | "pending" = "pending";
  p.then(() => (state = "resolved"), () => (state = "rejected"));
  await Promise.resolve();
  await Promise.resolve();
  return state;
}
