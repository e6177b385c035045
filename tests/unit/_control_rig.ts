/**
 * Shared helpers of the control plane tests: a fake clock stepped together with the event loop,
 * hooks that record what they are asked, session configurations, and a pair of connections over
 * an in-memory network.
 *
 * @module
 */

import { FakeClock } from "../../control/clock.ts";
import {
  type ConnectionEvent,
  type ConnectionHooks,
  ControlConnection,
  type ControlConnectionOptions,
  type ControlLog,
  type SessionDownInfo,
  type SessionParams,
  type SessionUpInfo,
  type TunnelDownInfo,
  type TunnelUpInfo,
} from "../../control/connection.ts";
import { decodeControl } from "../../control/message.ts";
import type { ControlMessage } from "../../control/message.ts";
import { type InFlight, MemoryNetwork, type MemorySocket } from "../../control/memory_socket.ts";
import type { Endpoint } from "../../dataplane/dataplane.ts";

/** Let every pending microtask and zero-delay timer run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Run the event loop, then move the fake clock by `ms` in steps, running the loop after each. */
export async function settle(clock: FakeClock, ms = 0, step = 50): Promise<void> {
  await tick();
  await tick();
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t));
    await tick();
  }
  await tick();
}

/** Endpoint shorthand. */
export function ep(address: string, port: number): Endpoint {
  return { address, port };
}

/** What the hooks and the log saw. */
export interface Recorder {
  /** Hook calls in order: "tunnelUp 5", "sessionUp 5/17", ... */
  calls: string[];
  tunnelUps: TunnelUpInfo[];
  tunnelDowns: TunnelDownInfo[];
  sessionUps: SessionUpInfo[];
  sessionDowns: SessionDownInfo[];
  events: ConnectionEvent[];
  logs: { level: string; text: string }[];
  hooks: ConnectionHooks;
  log: ControlLog;
}

/** Hooks and a log that record everything; `failSessionUp` makes sessionUp reject. */
export function recorder(opts: { failSessionUp?: boolean; failTunnelUp?: boolean } = {}): Recorder {
  const r: Recorder = {
    calls: [],
    tunnelUps: [],
    tunnelDowns: [],
    sessionUps: [],
    sessionDowns: [],
    events: [],
    logs: [],
    hooks: {},
    log: {} as ControlLog,
  };
  r.hooks = {
    tunnelUp: (t): Promise<void> => {
      r.calls.push(`tunnelUp ${t.localTunnelId}`);
      r.tunnelUps.push(t);
      return opts.failTunnelUp ? Promise.reject(new Error("no kernel")) : Promise.resolve();
    },
    tunnelDown: (t): Promise<void> => {
      r.calls.push(`tunnelDown ${t.localTunnelId}`);
      r.tunnelDowns.push(t);
      return Promise.resolve();
    },
    sessionUp: (s): Promise<void> => {
      r.calls.push(`sessionUp ${s.localTunnelId}/${s.localSessionId}`);
      r.sessionUps.push(s);
      return opts.failSessionUp ? Promise.reject(new Error("EEXIST")) : Promise.resolve();
    },
    sessionDown: (s): Promise<void> => {
      r.calls.push(`sessionDown ${s.localTunnelId}/${s.localSessionId}`);
      r.sessionDowns.push(s);
      return Promise.resolve();
    },
  };
  const line = (level: string) => (message: string, props?: Record<string, unknown>): void => {
    const text = message.replace(/\{(\w+)\}/g, (_, k: string) => String(props?.[k] ?? ""));
    r.logs.push({ level, text });
  };
  r.log = { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
  return r;
}

/** A PPP session configuration (L2TPv2). */
export function pppSession(name: string, extra: Partial<SessionParams> = {}): SessionParams {
  return {
    name,
    pseudowire: "ppp",
    sendSeqnum: false,
    recvSeqnum: false,
    l2specType: "none",
    ...extra,
  };
}

/** An Ethernet session configuration (L2TPv3) bound to a Remote End ID. */
export function ethSession(
  name: string,
  remoteEndId: string,
  extra: Partial<SessionParams> = {},
): SessionParams {
  return {
    name,
    pseudowire: "eth",
    sendSeqnum: false,
    recvSeqnum: false,
    l2specType: "default",
    remoteEndId: new TextEncoder().encode(remoteEndId),
    ...extra,
  };
}

/** Options common to both sides, and per side. */
export type SideOptions = Partial<ControlConnectionOptions>;

/** A running pair: `a` the initiator, `b` the responder, over `net`. */
export interface Pair {
  clock: FakeClock;
  net: MemoryNetwork;
  a: ControlConnection;
  b: ControlConnection;
  ra: Recorder;
  rb: Recorder;
  sa: MemorySocket;
  sb: MemorySocket;
  /** Every datagram handed to the network. */
  wire: InFlight[];
  /** End both now and close the sockets. */
  end(): Promise<void>;
}

export const A = ep("192.0.2.1", 1701);
export const B = ep("192.0.2.2", 1701);

/**
 * An initiator at `A` and a responder at `B` (whose socket is connected to `A`, as a
 * listener's per-tunnel socket is). Not started.
 */
export function pair(
  common: SideOptions & { version: 2 | 3 },
  aOpts: SideOptions = {},
  bOpts: SideOptions = {},
  recorders: { ra?: Recorder; rb?: Recorder } = {},
): Pair {
  const clock = new FakeClock();
  const net = new MemoryNetwork();
  const wire: InFlight[] = [];
  net.filter = (d): Uint8Array => {
    wire.push(d);
    return d.data;
  };
  const encap = common.encap ?? "udp";
  const aAt = encap === "ip" ? ep(A.address, 0) : A;
  const bAt = encap === "ip" ? ep(B.address, 0) : B;
  const sa = net.socket(aAt);
  const sb = net.socket(bAt);
  sb.connect(aAt);
  const ra = recorders.ra ?? recorder();
  const rb = recorders.rb ?? recorder();
  const a = new ControlConnection({
    encap,
    role: "initiator",
    clock,
    hostName: "a",
    socket: sa,
    peer: bAt,
    hooks: ra.hooks,
    log: ra.log,
    onEvent: (e) => ra.events.push(e),
    name: "a",
    ...common,
    ...aOpts,
  });
  const b = new ControlConnection({
    encap,
    role: "responder",
    clock,
    hostName: "b",
    socket: sb,
    peer: aAt,
    hooks: rb.hooks,
    log: rb.log,
    onEvent: (e) => rb.events.push(e),
    name: "b",
    ...common,
    ...bOpts,
  });
  return {
    clock,
    net,
    a,
    b,
    ra,
    rb,
    sa,
    sb,
    wire,
    end: async (): Promise<void> => {
      a.abort();
      b.abort();
      await settle(clock);
      await Promise.all([a.done, b.done]);
      sa.close();
      sb.close();
    },
  };
}

/** Decode what went over the wire (control messages only), skipping what does not decode. */
export function decoded(
  wire: InFlight[],
  opts: { version?: 2 | 3; secret?: string } = {},
): (ControlMessage & { from: Endpoint })[] {
  const out: (ControlMessage & { from: Endpoint })[] = [];
  for (const d of wire) {
    try {
      out.push({ ...decodeControl(d.data, { ...opts, ignoreMalformed: true }), from: d.from });
    } catch {
      // not a control message we can read
    }
  }
  return out;
}
