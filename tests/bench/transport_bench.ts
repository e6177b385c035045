/**
 * Control messages per second and acknowledgement latency through two control transports
 * (control/transport.ts) on loopback UDP sockets served by the reactor (lib/reactor.ts), real
 * clock, default timers. Prints figures; asserts nothing.
 *
 * Cases (L2TPv2 ICRQ messages with one Call Serial Number AVP, windows of 16 both ways):
 * - stream: A keeps 16 messages unacknowledged (closed loop) until N are acknowledged; latency
 *   is from `send()` to the acknowledgement (B acknowledges every 2nd message at once).
 * - bidirectional: the same from both sides at once (messages per second counts both).
 * - request/response: A sends an ICRQ, B answers each with an ICRP whose Nr acknowledges it;
 *   one at a time.
 * - lone: one message at a time to a peer with nothing to say, acknowledged by a delayed ZLB
 *   (shows the 100 ms acknowledgement delay).
 *
 * Run alone: `deno run -A tests/bench/transport_bench.ts [--quick]`. The lead's runner imports
 * {@linkcode runTransportBench}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { AvpType, MessageType } from "../../control/constants.ts";
import { ControlTransport } from "../../control/transport.ts";
import { Reactor, type ReactorSocket } from "../../dataplane/reactor.ts";

/** Options of {@linkcode runTransportBench}. */
export interface TransportBenchOptions {
  /** Small counts, for a smoke run. */
  quick?: boolean;
}

interface Pair {
  a: ControlTransport;
  b: ControlTransport;
  close: () => Promise<void>;
}

/** Two transports joined by two connected UDP sockets on 127.0.0.1. */
function pair(onMessageAtB?: (b: ControlTransport) => void): Pair {
  const reactor = new Reactor();
  const sa = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const sb = reactor.udp({ local: { address: "127.0.0.1", port: 0 }, peer: sa.local });
  sa.connect(sb.local);
  const common = { version: 2 as const, peerWindow: 16, receiveWindow: 16 };
  const a = new ControlTransport({ ...common, send: (p) => void sa.send(p), peerTunnelId: 2 });
  const b: ControlTransport = new ControlTransport({
    ...common,
    send: (p) => void sb.send(p),
    peerTunnelId: 1,
    onMessage: onMessageAtB ? (): void => onMessageAtB(b) : (): void => {},
  });
  const feed = async (sock: ReactorSocket, t: ControlTransport): Promise<void> => {
    for await (const d of sock) t.receive(d.data);
  };
  const loops = [feed(sa, a), feed(sb, b)];
  return {
    a,
    b,
    close: async (): Promise<void> => {
      a.close();
      b.close();
      reactor.close();
      await Promise.all(loops);
      await reactor.whenClosed();
    },
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function icrq(i: number): Parameters<ControlTransport["send"]>[0] {
  return { type: MessageType.ICRQ, avps: [{ type: AvpType.CallSerialNumber, value: i }] };
}

/** Keep `depth` messages unacknowledged until `count` are acknowledged; latencies in ms. */
async function closedLoop(t: ControlTransport, count: number, depth: number): Promise<number[]> {
  const latencies: number[] = [];
  let started = 0;
  await new Promise<void>((resolve, reject) => {
    const next = (): void => {
      if (started === count) {
        if (latencies.length === count) resolve();
        return;
      }
      const i = started++;
      const t0 = performance.now();
      t.send(icrq(i)).then(() => {
        latencies.push(performance.now() - t0);
        next();
      }, reject);
    };
    for (let k = 0; k < depth; k++) next();
  });
  return latencies;
}

async function streamCase(count: number): Promise<Record<string, number>> {
  const p = pair();
  try {
    const start = performance.now();
    const lat = await closedLoop(p.a, count, 16);
    const seconds = (performance.now() - start) / 1000;
    lat.sort((x, y) => x - y);
    return {
      stream_msgs_per_s: count / seconds,
      stream_ack_p50_ms: percentile(lat, 0.5),
      stream_ack_p99_ms: percentile(lat, 0.99),
      stream_retransmits: p.a.stats.retransmits,
    };
  } finally {
    await p.close();
  }
}

async function bidirectionalCase(count: number): Promise<Record<string, number>> {
  const p = pair();
  try {
    const start = performance.now();
    await Promise.all([closedLoop(p.a, count, 16), closedLoop(p.b, count, 16)]);
    const seconds = (performance.now() - start) / 1000;
    return {
      bidir_msgs_per_s: (2 * count) / seconds,
      bidir_acks_sent: p.a.stats.acksSent + p.b.stats.acksSent,
    };
  } finally {
    await p.close();
  }
}

async function requestResponseCase(count: number): Promise<Record<string, number>> {
  const p = pair((b) => void b.send({ type: MessageType.ICRP }));
  try {
    const lat: number[] = [];
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await p.a.send(icrq(i));
      lat.push(performance.now() - t0);
    }
    const seconds = (performance.now() - start) / 1000;
    lat.sort((x, y) => x - y);
    return {
      reqresp_per_s: count / seconds,
      reqresp_ack_p50_ms: percentile(lat, 0.5),
      reqresp_ack_p99_ms: percentile(lat, 0.99),
    };
  } finally {
    await p.close();
  }
}

async function loneCase(count: number): Promise<Record<string, number>> {
  const p = pair();
  try {
    const lat: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await p.a.send(icrq(i));
      lat.push(performance.now() - t0);
    }
    lat.sort((x, y) => x - y);
    return { lone_ack_p50_ms: percentile(lat, 0.5) };
  } finally {
    await p.close();
  }
}

/**
 * Run every case and return the figures (messages per second, latencies in milliseconds).
 *
 * @param options `quick` for small counts.
 * @returns Named figures.
 *
 * @example Usage
 * ```ts ignore
 * import { runTransportBench } from "./transport_bench.ts";
 * console.log(await runTransportBench({ quick: true }));
 * ```
 */
export async function runTransportBench(
  options: TransportBenchOptions = {},
): Promise<Record<string, number>> {
  const q = options.quick ?? false;
  return {
    ...await streamCase(q ? 2_000 : 20_000),
    ...await bidirectionalCase(q ? 1_000 : 10_000),
    ...await requestResponseCase(q ? 500 : 5_000),
    ...await loneCase(q ? 3 : 10),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { quick: { type: "boolean", default: false } },
  });
  const figures = await runTransportBench({ quick: values.quick });
  for (const [k, v] of Object.entries(figures)) {
    console.log(`${k.padEnd(22)} ${Number.isInteger(v) ? v : v.toFixed(3)}`);
  }
}
