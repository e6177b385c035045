/**
 * Two control transports (control/transport.ts) talking over real UDP sockets on 127.0.0.1
 * (dataplane/reactor.ts), through an impairment proxy: a UDP relay that drops, duplicates and delays
 * (hence reorders) datagrams, with decisions drawn from a seeded PRNG. Every message must be
 * delivered exactly once and in order, both ways, within a hard time limit; every fd opened is
 * closed again.
 *
 * The transports keep their RFC timer values (1 s first retransmission, 8 s cap, 100 ms delayed
 * ack) but run on a clock that goes {@linkcode SPEEDUP} times faster than real time.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Clock, Timer } from "../../control/clock.ts";
import { AvpType, MessageType } from "../../control/constants.ts";
import { getAvp } from "../../control/message.ts";
import { ControlTransport, type TransportErrorEvent } from "../../control/transport.ts";
import { type Endpoint, Reactor, type ReactorSocket } from "../../dataplane/reactor.ts";
import { prng } from "./_prng.ts";

/** How much faster than real time the transports' clock runs. */
const SPEEDUP = 25;

/** A real clock running `factor` times faster. */
function fastClock(factor: number): Clock {
  return {
    now: (): number => performance.now() * factor,
    setTimer(delayMs: number, callback: () => void): Timer {
      const id = setTimeout(callback, Math.max(0, delayMs) / factor);
      return { cancel: (): void => clearTimeout(id) };
    },
  };
}

function openFds(): number {
  return Deno.readDirSync("/proc/self/fd").toArray().length;
}

function same(a: Endpoint, b: Endpoint): boolean {
  return a.address === b.address && a.port === b.port;
}

interface Impairment {
  seed: number;
  loss: number;
  duplicate: number;
  /** Probability that a datagram is held back for 1..maxDelayMs real milliseconds. */
  delay: number;
  maxDelayMs: number;
}

interface ProxyCounters {
  relayed: number;
  dropped: number;
  duplicated: number;
  delayed: number;
}

/** Relay between two endpoints through `sock`, impairing as told. Returns counters and a stop. */
function impairmentProxy(
  sock: ReactorSocket,
  a: Endpoint,
  b: Endpoint,
  imp: Impairment,
): { counters: ProxyCounters; done: Promise<void>; stop: () => void } {
  const rnd = prng(imp.seed);
  const counters: ProxyCounters = { relayed: 0, dropped: 0, duplicated: 0, delayed: 0 };
  const held = new Set<ReturnType<typeof setTimeout>>();
  let stopped = false;
  const forward = (data: Uint8Array, to: Endpoint): void => {
    if (!stopped) sock.send(data, to);
  };
  const done = (async (): Promise<void> => {
    for await (const d of sock) {
      const to = same(d.from, a) ? b : a;
      counters.relayed++;
      if (rnd() < imp.loss) {
        counters.dropped++;
        continue;
      }
      const copies = rnd() < imp.duplicate ? 2 : 1;
      if (copies === 2) counters.duplicated++;
      for (let i = 0; i < copies; i++) {
        if (rnd() < imp.delay) {
          counters.delayed++;
          const id = setTimeout(() => {
            held.delete(id);
            forward(d.data, to);
          }, 1 + Math.floor(rnd() * imp.maxDelayMs));
          held.add(id);
        } else {
          forward(d.data, to);
        }
      }
    }
  })();
  const stop = (): void => {
    stopped = true;
    for (const id of held) clearTimeout(id);
    held.clear();
  };
  return { counters, done, stop };
}

/** `p`, or a failure after `ms` (so a lost message fails the test instead of hanging it). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

interface Exchange {
  version: 2 | 3;
  count: number;
  imp: Impairment;
  clock: Clock;
  /** Transport overrides (e.g. smaller windows). */
  receiveWindow?: number;
  /** Give the transports the socket's `sendBatch` (sendmmsg) too. */
  batch?: boolean;
}

async function exchange(x: Exchange): Promise<void> {
  const fdsBefore = openFds();
  {
    await using reactor = new Reactor();
    const proxySock = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
    const sockA = reactor.udp({ local: { address: "127.0.0.1", port: 0 }, peer: proxySock.local });
    const sockB = reactor.udp({ local: { address: "127.0.0.1", port: 0 }, peer: proxySock.local });
    const proxy = impairmentProxy(proxySock, sockA.local, sockB.local, x.imp);
    const errors: TransportErrorEvent[] = [];
    /** Calls of `sendBatch`, and the datagrams they carried. */
    const batches = { calls: 0, datagrams: 0 };
    const make = (sock: ReactorSocket, peerTunnelId: number): ControlTransport => {
      const t = new ControlTransport({
        version: x.version,
        clock: x.clock,
        send: (p) => void sock.send(p),
        ...(x.batch
          ? {
            sendBatch: (ps: Uint8Array[]): void => {
              batches.calls++;
              batches.datagrams += ps.length;
              sock.sendBatch(ps);
            },
          }
          : {}),
        peerTunnelId,
        peerWindow: x.receiveWindow ?? 16,
        receiveWindow: x.receiveWindow ?? 16,
        maxRetransmits: 10,
      });
      t.on("error", (e) => errors.push(e));
      return t;
    };
    const a = make(sockA, 2);
    const b = make(sockB, 1);
    const pump = async (sock: ReactorSocket, t: ControlTransport): Promise<void> => {
      for await (const d of sock) t.receive(d.data);
    };
    const pumping = [pump(sockA, a), pump(sockB, b)];
    const collect = async (t: ControlTransport): Promise<number[]> => {
      const got: number[] = [];
      for await (const m of t) {
        got.push(getAvp(m, AvpType.CallSerialNumber) ?? -1);
        if (got.length === x.count) break;
      }
      return got;
    };
    const sendAll = (t: ControlTransport): Promise<void[]> =>
      Promise.all(
        Array.from({ length: x.count }, (_, i) =>
          t.send({
            type: MessageType.ICRQ,
            avps: [{ type: AvpType.CallSerialNumber, value: i }],
          })),
      );
    try {
      const [gotAtB, gotAtA] = await within(
        Promise.all([collect(b), collect(a), sendAll(a), sendAll(b)]),
        60_000,
        `${x.count} messages each way`,
      );
      const expected = Array.from({ length: x.count }, (_, i) => i);
      assert.deepEqual(gotAtB, expected, "A → B: exactly once, in order");
      assert.deepEqual(gotAtA, expected, "B → A: exactly once, in order");
      // Let the last acknowledgements land, then check nothing stayed in flight.
      await within(
        (async (): Promise<void> => {
          while (a.inFlight + b.inFlight + a.queued + b.queued > 0) {
            await new Promise((r) => setTimeout(r, 5));
          }
        })(),
        10_000,
        "last acknowledgements",
      );
      for (const t of [a, b]) {
        assert.equal(t.stats.delivered, x.count);
        assert.equal(t.stats.messagesSent, x.count);
        assert.equal(t.state, "open");
      }
      assert.deepEqual(errors, [], "no datagram was malformed");
      const c = proxy.counters;
      assert.ok(c.dropped > 0 && c.duplicated > 0 && c.delayed > 0, "the proxy did impair");
      assert.ok(a.stats.retransmits + b.stats.retransmits > 0, "losses were repaired");
      assert.ok(a.stats.duplicates + b.stats.duplicates > 0, "duplicates were seen");
      if (x.batch) {
        assert.ok(batches.calls > 0, "bursts went out with sendBatch");
        assert.ok(batches.datagrams >= 2 * batches.calls, "several datagrams per call");
      }
      console.log(
        `v${x.version} ${x.count} each way: proxy ${JSON.stringify(c)}; ` +
          `A ${JSON.stringify(a.stats)}; B ${JSON.stringify(b.stats)}`,
      );
    } finally {
      a.close();
      b.close();
      proxy.stop();
      reactor.close();
      await Promise.all([...pumping, proxy.done]);
    }
  }
  assert.equal(openFds(), fdsBefore, "every fd was closed");
}

Deno.test({
  name: "v2 over loopback UDP through loss, duplication and reordering: 500 each way",
  fn: () =>
    exchange({
      version: 2,
      count: 500,
      clock: fastClock(SPEEDUP),
      imp: { seed: 12345, loss: 0.05, duplicate: 0.05, delay: 0.1, maxDelayMs: 8 },
    }),
});

Deno.test({
  name: "v3 over loopback UDP, small windows, heavier loss: 200 each way",
  fn: () =>
    exchange({
      version: 3,
      count: 200,
      receiveWindow: 4,
      clock: fastClock(SPEEDUP),
      imp: { seed: 777, loss: 0.1, duplicate: 0.1, delay: 0.2, maxDelayMs: 10 },
    }),
});

Deno.test({
  name: "v2 over loopback UDP with sendBatch (sendmmsg) for bursts: 300 each way",
  fn: () =>
    exchange({
      version: 2,
      count: 300,
      batch: true,
      clock: fastClock(SPEEDUP),
      imp: { seed: 4242, loss: 0.05, duplicate: 0.05, delay: 0.1, maxDelayMs: 8 },
    }),
});

Deno.test("real clock, default timers: a short exchange over loopback acknowledges everything", async () => {
  const fdsBefore = openFds();
  {
    await using reactor = new Reactor();
    const sa = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
    const sb = reactor.udp({ local: { address: "127.0.0.1", port: 0 }, peer: sa.local });
    sa.connect(sb.local);
    using a = new ControlTransport({ version: 2, send: (p) => void sa.send(p), peerTunnelId: 2 });
    using b = new ControlTransport({ version: 2, send: (p) => void sb.send(p), peerTunnelId: 1 });
    const loops = [
      (async (): Promise<void> => {
        for await (const d of sa) a.receive(d.data);
      })(),
      (async (): Promise<void> => {
        for await (const d of sb) b.receive(d.data);
      })(),
    ];
    const acks = Array.from({ length: 20 }, () => a.send({ type: MessageType.HELLO }));
    let n = 0;
    await within(
      (async (): Promise<void> => {
        for await (const _ of b) if (++n === 20) break;
      })(),
      10_000,
      "20 HELLOs",
    );
    await within(Promise.all(acks), 10_000, "acknowledgements");
    assert.equal(b.stats.delivered, 20);
    assert.equal(a.stats.retransmits, 0);
    a.close();
    b.close();
    reactor.close();
    await Promise.all(loops);
  }
  assert.equal(openFds(), fdsBefore);
});
