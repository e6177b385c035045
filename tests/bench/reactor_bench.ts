/**
 * Loopback throughput and latency of the socket reactor (lib/reactor.ts). Prints figures; no
 * assertions. Run: `deno run -A tests/bench/reactor_bench.ts [seconds-per-case | --quick]`.
 *
 * Cases (100-byte datagrams, UDP over 127.0.0.1):
 * - batch: `sendBatch` of 32, then 32 receives through `for await`-style `receive()`.
 * - single: one `send` then one `receive`, repeated (no batching on either side).
 * - echo: request/response round trips between two sockets served by one reactor (each
 *   response waits in `epoll_wait`, so this measures the wake-up path).
 *
 * @module
 */

import { Reactor } from "../../dataplane/reactor.ts";

/** One measured case. */
export interface BenchResult {
  /** Case name. */
  name: string;
  /** Datagrams (or round trips, for echo) completed. */
  count: number;
  /** Seconds spent. */
  seconds: number;
  /** count / seconds. */
  perSecond: number;
}

const PAYLOAD = new Uint8Array(100).fill(0x5a);

async function batchCase(seconds: number, burst: number): Promise<BenchResult> {
  await using reactor = new Reactor({ batch: burst });
  const rx = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const tx = reactor.udp({ local: { address: "127.0.0.1", port: 0 }, peer: rx.local });
  const packets = Array.from({ length: burst }, () => PAYLOAD);
  let count = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    const sent = tx.sendBatch(packets);
    for (let i = 0; i < sent; i++) {
      if ((await rx.receive()) === null) throw new Error("Cannot benchmark: socket closed");
    }
    count += sent;
  }
  const s = (performance.now() - start) / 1000;
  return { name: `batch of ${burst}`, count, seconds: s, perSecond: count / s };
}

async function singleCase(seconds: number): Promise<BenchResult> {
  await using reactor = new Reactor();
  const rx = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const tx = reactor.udp({ local: { address: "127.0.0.1", port: 0 }, peer: rx.local });
  let count = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 64; i++) {
      tx.send(PAYLOAD);
      if ((await rx.receive()) === null) throw new Error("Cannot benchmark: socket closed");
    }
    count += 64;
  }
  const s = (performance.now() - start) / 1000;
  return { name: "single send/receive", count, seconds: s, perSecond: count / s };
}

async function echoCase(seconds: number): Promise<BenchResult> {
  await using reactor = new Reactor();
  const server = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const client = reactor.udp({ local: { address: "127.0.0.1", port: 0 }, peer: server.local });
  const serving = (async (): Promise<void> => {
    for await (const d of server) server.send(d.data, d.from);
  })();
  let count = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    client.send(PAYLOAD);
    if ((await client.receive()) === null) throw new Error("Cannot benchmark: socket closed");
    count++;
  }
  const s = (performance.now() - start) / 1000;
  server.close();
  await serving;
  return { name: "echo round trips", count, seconds: s, perSecond: count / s };
}

/**
 * Run every case for `seconds` each.
 *
 * @param seconds Duration of each case.
 * @returns The figures.
 */
export async function runReactorBench(seconds = 1): Promise<BenchResult[]> {
  return [
    await batchCase(seconds, 32),
    await batchCase(seconds, 8),
    await singleCase(seconds),
    await echoCase(seconds),
  ];
}

if (import.meta.main) {
  // `--quick` (from `deno task bench --quick`): a quarter of a second per case.
  const arg = Deno.args[0] ?? "1";
  const seconds = arg === "--quick" ? 0.25 : Number(arg);
  if (!(seconds > 0)) throw new TypeError(`Cannot run: "${arg}" is not a number of seconds`);
  console.log(`reactor loopback bench, 100-byte UDP datagrams, ${seconds}s per case`);
  for (const r of await runReactorBench(seconds)) {
    const rate = Math.round(r.perSecond).toLocaleString("en-US");
    const us = (1e6 / r.perSecond).toFixed(2);
    console.log(`${r.name.padEnd(22)} ${rate.padStart(10)} /s  (${us} us each, n=${r.count})`);
  }
}
