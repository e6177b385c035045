/**
 * LNS memory per session: an LNS {@linkcode Daemon} (null data plane) runs in a child process of
 * its own, so its resident set is its own; this process is the LAC (a control connection) and
 * opens N sessions in one tunnel. Figures, per protocol version:
 *
 * - base: the LNS's RSS and V8 heap after a warm-up cycle (1,000 sessions up and down, so the
 *   code that runs per session is compiled) and an idle pause (V8 gives freed pages back to the
 *   system when idle);
 * - with N sessions up: RSS and heap above base, per session (default N: 65,535 for L2TPv2,
 *   every session ID of one tunnel; 100,000 for L2TPv3);
 * - after teardown (StopCCN) and the same idle pause: RSS and heap above base.
 *
 * The heap is measured after a forced garbage collection; the RSS is `VmRSS` as the system
 * reports it. No xl2tpd figure: xl2tpd forks a pppd per call, so it cannot hold 65,535 sessions
 * on one machine.
 *
 * Run alone: `deno run -A tests/bench/memory_bench.ts [--version 2|3] [--sessions N] [--quick]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Reactor } from "../../dataplane/reactor.ts";
import { dialSessions, lines, lnsToml, sleep } from "./_util.ts";

/** What the LNS child reports. */
interface Memory {
  rss: number;
  heap: number;
  sessions: number;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    version: { type: "string" },
    sessions: { type: "string" },
    quick: { type: "boolean", default: false },
    "lns-port": { type: "string" },
  },
});

const KIB = 1024, MIB = 2 ** 20;

if (values["lns-port"] !== undefined) {
  await runLns(Number(values["lns-port"]), values.version === "3" ? 3 : 2);
} else if (import.meta.main) {
  const versions: (2 | 3)[] = values.version ? [values.version === "3" ? 3 : 2] : [2, 3];
  for (const version of versions) {
    const sessions = values.sessions !== undefined
      ? Number(values.sessions)
      : values.quick
      ? 5_000
      : version === 2
      ? 65_535
      : 100_000;
    console.log(await measure(version, sessions, values.quick ? 3_000 : 25_000));
  }
}

/** The child: an LNS daemon that answers `mem` (after a GC) and `quit` on stdin. */
async function runLns(port: number, version: 2 | 3): Promise<void> {
  const { Daemon } = await import("../../lib/daemon.ts");
  const { parseConfig } = await import("../../lib/config.ts");
  const { NullDataPlane } = await import("../../dataplane/null.ts");
  const config = parseConfig(lnsToml(port, version), "memory_bench.toml");
  const daemon = new Daemon({ config, dataPlane: new NullDataPlane(), pppd: false });
  await daemon.start();
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const count = async (): Promise<number> => {
    const status = await daemon.context.status();
    return status.tunnels.flatMap((t) => (t.peers ?? []).flatMap((p) => p.sessions)).length;
  };
  const out = (line: string) => Deno.stdout.write(new TextEncoder().encode(`${line}\n`));
  await out("ready");
  for await (const line of lines(Deno.stdin.readable)) {
    if (line === "mem") {
      const sessions = await count();
      gc();
      gc();
      const m = Deno.memoryUsage();
      await out(JSON.stringify({ rss: rssOf("self"), heap: m.heapUsed, sessions }));
    } else if (line === "quit") {
      await daemon.stop();
      return;
    }
  }
}

/** One version: warm up, base, N sessions, teardown. */
async function measure(version: 2 | 3, sessions: number, idleMs: number): Promise<string> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--expose-gc",
      import.meta.filename ?? "",
      "--lns-port",
      String(port),
      "--version",
      String(version),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const replies = lines(child.stdout)[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await replies.next();
    if (r.done) throw new Error("Cannot measure: the LNS process ended");
    return r.value;
  };
  const ask = async (): Promise<Memory> => {
    await writer.write(new TextEncoder().encode("mem\n"));
    return JSON.parse(await next()) as Memory;
  };
  try {
    if (await next() !== "ready") throw new Error("Cannot measure: the LNS did not start");
    await using reactor = new Reactor();
    const lns = { address: "127.0.0.1", port };
    await cycle(reactor, version, lns, 1_000);
    while ((await ask()).sessions > 0) await sleep(200);
    await sleep(idleMs);
    const base = await ask();
    const t0 = performance.now();
    const lac = await dialSessions(reactor, version, lns, sessions);
    const setupS = (performance.now() - t0) / 1000;
    await sleep(1_000);
    const up = await ask();
    if (up.sessions !== sessions) {
      throw new Error(`Cannot measure: the LNS has ${up.sessions} of ${sessions} sessions up`);
    }
    await lac.close();
    await lac.done;
    while ((await ask()).sessions > 0) await sleep(200);
    await sleep(idleMs);
    const down = await ask();
    await writer.write(new TextEncoder().encode("quit\n"));
    await child.status;
    const per = (a: number, b: number) => ((a - b) / sessions / KIB).toFixed(2);
    const mib = (a: number, b: number) => ((a - b) / MIB).toFixed(1);
    return `L2TPv${version}: ${sessions} sessions in one tunnel: LNS RSS +${
      per(up.rss, base.rss)
    } KiB/session, heap +${per(up.heap, base.heap)} KiB/session (base RSS ${
      mib(base.rss, 0)
    } MiB, heap ${mib(base.heap, 0)} MiB; ${(sessions / setupS).toFixed(0)} sessions/s); ` +
      `after teardown and ${idleMs / 1000} s idle: RSS ${mib(down.rss, base.rss)} MiB, heap ${
        mib(down.heap, base.heap)
      } MiB above base`;
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
  }
}

/** Open a tunnel with `n` sessions and close it again. */
async function cycle(
  reactor: Reactor,
  version: 2 | 3,
  lns: { address: string; port: number },
  n: number,
): Promise<void> {
  const lac = await dialSessions(reactor, version, lns, n);
  await lac.close();
  await lac.done;
}

/** VmRSS in bytes. */
function rssOf(pid: number | "self"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * KIB;
}
