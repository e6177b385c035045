/**
 * An LNS under an SCCRQ flood, on loopback: how long a legitimate LAC waits for its tunnel, and
 * what the flood costs the LNS. Figures only.
 *
 * Runs in a network namespace of its own (it re-executes itself under `unshare --net`), as root:
 * the flood comes from a raw socket with random 127.x.y.z source addresses and ports
 * (tests/kernel/flood_test.ts's sender, in a child process), and the SCCRPs to those addresses go
 * nowhere, as to spoofed ones. The LNS is our listener (control/listener.ts) on the reactor's
 * sockets in this process, one `accept_any_peer` L2TPv2 tunnel with a shared secret, so that its
 * table sizes can be read; each LAC is our daemon with the null data plane in a child process,
 * timed from its start to its tunnel being up.
 *
 * 1. 100 spoofed SCCRQs a second for 15 s; a LAC dials 5 s and 10 s in.
 * 2. A burst of 10,000 spoofed SCCRQs (as fast as the sender can), a LAC dialling as it starts,
 *    and one after it.
 * 3. The same flood as 1 against the listener without cookies (every SCCRQ gets a connection,
 *    a socket and SCCRP retransmissions, at most 64 at once, as before cookies).
 * 4. When xl2tpd is installed: the same flood as 1 against an xl2tpd LNS, a LAC dialling 5 s in.
 *
 * Each line gives the LAC's time to tunnel, the LNS's table sizes (answered SCCRQs waiting for an
 * SCCCN, half-open and established connections) and its RSS before and after.
 *
 * Run alone: `deno run -A tests/bench/flood_bench.ts [--quick]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Listener, type ListenerStats } from "../../control/listener.ts";
import { pppSession } from "../unit/_control_rig.ts";
import { Reactor } from "../../dataplane/reactor.ts";
import { startXl2tpd, xl2tpdInstalled } from "../kernel/_xl2tpd.ts";
import { sleep } from "./_util.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    inside: { type: "boolean", default: false },
  },
});

const SECRET = "flood-secret";
const SELF = import.meta.filename ?? "";
const TOOLS = new URL("../kernel/flood_test.ts", import.meta.url).pathname;

function isRoot(): boolean {
  try {
    return /^Uid:\s+\d+\s+0\s/m.test(Deno.readTextFileSync("/proc/self/status"));
  } catch {
    return false;
  }
}

if (!values.inside) {
  if (!isRoot()) {
    console.log("flood: skipped (needs root: a raw socket and a network namespace)");
    Deno.exit(0);
  }
  const args = ["run", "--allow-all", "--v8-flags=--expose-gc", SELF, "--inside"];
  if (values.quick) args.push("--quick");
  const status = await new Deno.Command("unshare", {
    args: ["--net", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', Deno.execPath(), ...args],
  }).spawn().status;
  Deno.exit(status.code);
}

/** A tool of tests/kernel/flood_test.ts in a child process; its JSON lines, in order. */
function tool(args: string[]): {
  next: () => Promise<Record<string, unknown>>;
  kill: () => Promise<void>;
} {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--no-check", TOOLS, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const waiters: ((v: Record<string, unknown>) => void)[] = [];
  void (async (): Promise<void> => {
    let buf = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      buf += decoder.decode(chunk);
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith("{")) continue;
        const v = JSON.parse(line);
        const w = waiters.shift();
        if (w) w(v);
        else lines.push(v);
      }
    }
  })();
  return {
    next: () => {
      const v = lines.shift();
      return v !== undefined ? Promise.resolve(v) : new Promise((r) => waiters.push(r));
    },
    kill: async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      await child.status;
    },
  };
}

/** A LAC dials `to`: the milliseconds until its tunnel is up (null: not within `timeoutMs`). */
async function dial(to: string, secret = SECRET, timeoutMs = 30_000): Promise<number | null> {
  const t = tool(["dial", to, "--secret", secret, "--timeout", String(timeoutMs)]);
  const { ms } = await t.next();
  await t.kill();
  return typeof ms === "number" ? ms : null;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function time(ms: number | null, timeoutMs = 30_000): string {
  return ms === null
    ? `not up within ${(timeoutMs / 1000).toFixed(1)} s`
    : `up in ${ms.toFixed(0)} ms`;
}

/** RSS and V8 heap in use, after a GC. */
function memory(): { rss: number; heap: number } {
  gc();
  const m = Deno.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

function mem(before: { rss: number; heap: number }, after: { rss: number; heap: number }): string {
  return `RSS ${mib(before.rss)} before, ${mib(after.rss)} after; V8 heap ${mib(before.heap)} ` +
    `before, ${mib(after.heap)} after`;
}

function tables(s: ListenerStats): string {
  return `${s.pending} answered SCCRQs waiting, ${s.halfOpen} half-open, ${s.connections} ` +
    `connections, ${s.cookieSccrps} cookie SCCRPs sent, ${s.evicted} forgotten`;
}

/** Our listener on the reactor's sockets, as lib/responder.ts runs it (no kernel hooks). */
function lns(reactor: Reactor, port: number, cookies: boolean): {
  listener: Listener;
  opened: () => number;
  close: () => void;
} {
  const local = { address: "127.0.0.1", port };
  const socket = reactor.udp({ local });
  let opened = 0;
  const listener = new Listener({
    socket,
    encap: "udp",
    local,
    cookies,
    tunnels: [{
      name: "lns",
      version: 2,
      acceptAnyPeer: true,
      connection: { hostName: "lns", secret: SECRET, sessions: [pppSession("any")] },
    }],
    openSocket: (r) => {
      opened++;
      return reactor.udp({ local: r.local, peer: r.peer });
    },
  });
  listener.start();
  return {
    listener,
    opened: () => opened,
    close: () => {
      listener.abort();
      socket.close();
    },
  };
}

const quick = values.quick;
const floodSeconds = quick ? 8 : 15;
const burst = quick ? 2000 : 10_000;
await using reactor = new Reactor();

{
  const l = lns(reactor, 1701, true);
  const m0 = memory();
  const flood = tool([
    "send",
    "127.0.0.1:1701",
    "--rate",
    "100",
    "--seconds",
    String(floodSeconds),
  ]);
  await sleep(floodSeconds * 1000 / 3);
  const a = await dial("127.0.0.1:1701");
  await sleep(floodSeconds * 1000 / 3);
  const b = await dial("127.0.0.1:1701");
  const sent = await flood.next();
  await flood.kill();
  const stats = l.listener.stats;
  const m1 = memory();
  console.log(
    `flood of 100 spoofed SCCRQs/s for ${floodSeconds} s (${sent.sent} sent): a LAC's tunnel ` +
      `${time(a)}, another's ${time(b)}; LNS: ${tables(stats)}, ${l.opened()} sockets opened; ` +
      mem(m0, m1),
  );

  // The burst, a LAC dialling as it starts, then one after it.
  const m2 = memory();
  const b0 = tool(["send", "127.0.0.1:1701", "--burst", String(burst)]);
  const during = await dial("127.0.0.1:1701");
  const bsent = await b0.next();
  await b0.kill();
  const peak = l.listener.stats;
  const after = await dial("127.0.0.1:1701");
  const m3 = memory();
  const answered = peak.cookieSccrps - stats.cookieSccrps;
  console.log(
    `burst of ${burst} spoofed SCCRQs (${bsent.sent} sent in ${
      (bsent.ms as number).toFixed(0)
    } ms, ${answered} read before the socket's buffer overflowed): a LAC dialling as it ` +
      `starts: tunnel ${time(during)}; one dialling after it: ${time(after)}; LNS: ` +
      `${tables(peak)}; ${mem(m2, m3)}`,
  );

  // The same number at a pace the LNS keeps up with: every one is answered and kept.
  const m4 = memory();
  const paced = tool([
    "send",
    "127.0.0.1:1701",
    "--rate",
    "5000",
    "--seconds",
    String(burst / 5000),
  ]);
  await sleep(burst / 10);
  const mid = await dial("127.0.0.1:1701");
  const psent = await paced.next();
  await paced.kill();
  const full = l.listener.stats;
  const m5 = memory();
  console.log(
    `${burst} spoofed SCCRQs at 5,000/s (${psent.sent} sent in ${
      (psent.ms as number).toFixed(0)
    } ms, ${full.cookieSccrps - peak.cookieSccrps} answered): a LAC dialling halfway: tunnel ` +
      `${time(mid)}; LNS: ${tables(full)}; ${mem(m4, m5)}`,
  );
  l.close();
}

{
  const l = lns(reactor, 1702, false);
  const m0 = memory();
  const flood = tool([
    "send",
    "127.0.0.1:1702",
    "--rate",
    "100",
    "--seconds",
    String(floodSeconds),
  ]);
  await sleep(floodSeconds * 1000 / 3);
  const wait = floodSeconds * 2000 / 3;
  const a = await dial("127.0.0.1:1702", SECRET, wait);
  const stats = l.listener.stats;
  await flood.next();
  await flood.kill();
  const m1 = memory();
  console.log(
    `the same flood without cookies (every SCCRQ a connection, at most 64 half-open): a LAC's ` +
      `tunnel ${time(a, wait)}; LNS: ${tables(stats)}, ${l.opened()} sockets opened; ` +
      mem(m0, m1),
  );
  l.close();
}

if (!xl2tpdInstalled()) {
  console.log("xl2tpd under the same flood: skipped (xl2tpd is not installed)");
} else {
  const xl = await startXl2tpd({
    config: { global: { listenAddr: "127.0.0.1", port: 1703 }, lns: [{ assignIp: false }] },
  });
  try {
    const flood = tool([
      "send",
      "127.0.0.1:1703",
      "--rate",
      "100",
      "--seconds",
      String(floodSeconds),
    ]);
    await sleep(floodSeconds * 1000 / 3);
    const wait = floodSeconds * 2000 / 3;
    const a = await dial("127.0.0.1:1703", "", wait);
    const sent = await flood.next();
    await flood.kill();
    const rss = Number(
      /VmRSS:\s+(\d+)/.exec(await Deno.readTextFile(`/proc/${xl.pid}/status`))?.[1] ?? 0,
    ) * 1024;
    console.log(
      `xl2tpd (LNS) under the same flood (${sent.sent} sent): our LAC's tunnel ` +
        `${time(a, wait)}; xl2tpd RSS ${mib(rss)}`,
    );
  } finally {
    await xl.stop();
  }
}
Deno.exit(0);
