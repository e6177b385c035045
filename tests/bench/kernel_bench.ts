/**
 * Kernel programming speed, measured inside the VM: L2TPv3 Ethernet sessions, and L2TPv3 UDP
 * tunnels, created and deleted through our netlink layer (KernelDataPlane), and the same work
 * done by `ip -batch` (iproute2), in the same kernel, in the same run. Prints both figures and
 * their ratio; asserts nothing.
 *
 * Our `deleteTunnel` returns only once the kernel has really removed the tunnel (it does that
 * from a work queue after acknowledging the delete); `ip l2tp del tunnel` does not wait, so its
 * figure is the time `ip` ran, and the bench waits, untimed, for its tunnels to go before the
 * next round.
 *
 * A tunnel round is short (a fraction of a second), so one disturbance on the shared, emulated
 * host weighs on it heavily: tunnels are measured in five rounds for each session round, all
 * before the sessions, and the median round is printed with the best.
 *
 * `deno run -A tests/bench/kernel_bench.ts [--sessions N] [--tunnels N] [--rounds R]
 * [--tunnel-rounds R]` (as root, l2tp loaded; tunnel rounds default to five times the rounds).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { KernelDataPlane } from "../../dataplane/kernel.ts";
import type { TunnelSpec } from "../../dataplane/dataplane.ts";
import { median } from "./_util.ts";

/** One measured way of programming sessions or tunnels. */
export interface KernelBenchResult {
  /** What was measured. */
  name: string;
  /** What was created and deleted. */
  kind: "session" | "tunnel";
  /** How many were created and deleted. */
  count: number;
  /** Wall time for all creates and deletes, ms (best round). */
  totalMs: number;
  /** Wall time of the median round, ms. */
  medianMs: number;
  /** create+delete pairs per second (best round). */
  pairsPerSecond: number;
}

/** The tunnel the session measurements run in. */
const TUNNEL = 7000;
/** First tunnel ID of the tunnel measurements. */
const FIRST_TUNNEL = 8000;

function tunnelSpec(id: number): TunnelSpec {
  const port = 10000 + (id - FIRST_TUNNEL) * 2;
  return {
    tunnelId: id,
    peerTunnelId: id,
    version: 3,
    encap: "udp",
    local: { address: "127.0.0.1", port },
    peer: { address: "127.0.0.1", port: port + 1 },
  };
}

async function withTunnel<T>(dp: KernelDataPlane, fn: () => Promise<T>): Promise<T> {
  await dp.createTunnel({
    tunnelId: TUNNEL,
    peerTunnelId: TUNNEL,
    version: 3,
    encap: "udp",
    local: { address: "127.0.0.1", port: 17000 },
    peer: { address: "127.0.0.1", port: 17001 },
  });
  try {
    return await fn();
  } finally {
    await dp.deleteTunnel(TUNNEL);
  }
}

async function runIpBatch(lines: string[]): Promise<number> {
  const file = await Deno.makeTempFile({ suffix: ".batch" });
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  try {
    const t0 = performance.now();
    const out = await new Deno.Command("ip", { args: ["-batch", file], stderr: "piped" })
      .output();
    const ms = performance.now() - t0;
    if (out.code !== 0) {
      throw new Error(`Cannot run ip -batch: ${new TextDecoder().decode(out.stderr)}`);
    }
    return ms;
  } finally {
    await Deno.remove(file);
  }
}

async function oursSessions(dp: KernelDataPlane, n: number): Promise<number> {
  return await withTunnel(dp, async () => {
    const t0 = performance.now();
    for (let i = 1; i <= n; i++) {
      await dp.createSession({
        tunnelId: TUNNEL,
        sessionId: i,
        peerSessionId: i,
        pseudowire: "eth",
      });
    }
    for (let i = 1; i <= n; i++) await dp.deleteSession(TUNNEL, i);
    return performance.now() - t0;
  });
}

async function ipSessions(dp: KernelDataPlane, n: number): Promise<number> {
  const lines: string[] = [];
  for (let i = 1; i <= n; i++) {
    lines.push(`l2tp add session tunnel_id ${TUNNEL} session_id ${i} peer_session_id ${i}`);
  }
  for (let i = 1; i <= n; i++) {
    lines.push(`l2tp del session tunnel_id ${TUNNEL} session_id ${i}`);
  }
  return await withTunnel(dp, () => runIpBatch(lines));
}

async function oursTunnels(dp: KernelDataPlane, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await dp.createTunnel(tunnelSpec(FIRST_TUNNEL + i));
  for (let i = 0; i < n; i++) await dp.deleteTunnel(FIRST_TUNNEL + i);
  return performance.now() - t0;
}

async function ipTunnels(dp: KernelDataPlane, n: number): Promise<number> {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const s = tunnelSpec(FIRST_TUNNEL + i);
    lines.push(
      `l2tp add tunnel tunnel_id ${s.tunnelId} peer_tunnel_id ${s.peerTunnelId} encap udp ` +
        `local ${s.local?.address} remote ${s.peer?.address} ` +
        `udp_sport ${s.local?.port} udp_dport ${s.peer?.port}`,
    );
  }
  for (let i = 0; i < n; i++) lines.push(`l2tp del tunnel tunnel_id ${FIRST_TUNNEL + i}`);
  const ms = await runIpBatch(lines);
  // ip does not wait for the kernel's deferred removal; do it here, untimed.
  for (let i = 0; i < n; i++) {
    while (await dp.getTunnel(FIRST_TUNNEL + i)) await new Promise((r) => setTimeout(r, 5));
  }
  return ms;
}

/**
 * Run every measurement `rounds` times (`tunnelRounds` for tunnels; ours and ip's alternating)
 * and keep each one's best and median round. All tunnel rounds come first: the session rounds
 * leave the kernel (hundreds of interfaces unregistered) and our heap busy for a while after.
 * `tunnels` 0 skips the tunnel measurements, `sessions` 0 the session ones.
 *
 * @example Usage
 * ```ts ignore
 * import { runKernelBench } from "./kernel_bench.ts";
 * for (const r of await runKernelBench(500, 200, 3, 15)) console.log(r.name, r.pairsPerSecond);
 * ```
 */
export async function runKernelBench(
  sessions: number,
  tunnels: number,
  rounds: number,
  tunnelRounds = rounds * 5,
): Promise<KernelBenchResult[]> {
  using dp = await KernelDataPlane.open();
  const ms = {
    oursS: [] as number[],
    ipS: [] as number[],
    oursT: [] as number[],
    ipT: [] as number[],
  };
  for (let r = 0; tunnels > 0 && r < tunnelRounds; r++) {
    ms.oursT.push(await oursTunnels(dp, tunnels));
    ms.ipT.push(await ipTunnels(dp, tunnels));
  }
  for (let r = 0; sessions > 0 && r < rounds; r++) {
    ms.oursS.push(await oursSessions(dp, sessions));
    ms.ipS.push(await ipSessions(dp, sessions));
  }
  const result = (
    name: string,
    kind: KernelBenchResult["kind"],
    count: number,
    rounds: number[],
  ): KernelBenchResult => {
    const best = Math.min(...rounds);
    return {
      name,
      kind,
      count,
      totalMs: Math.round(best),
      medianMs: Math.round(median(rounds)),
      pairsPerSecond: Math.round(count / (best / 1000)),
    };
  };
  const out: KernelBenchResult[] = [];
  if (sessions > 0 && rounds > 0) {
    out.push(result("l2tpd netlink (KernelDataPlane)", "session", sessions, ms.oursS));
    out.push(result("iproute2 ip -batch", "session", sessions, ms.ipS));
  }
  if (tunnels > 0 && tunnelRounds > 0) {
    out.push(result("l2tpd netlink (KernelDataPlane)", "tunnel", tunnels, ms.oursT));
    out.push(result("iproute2 ip -batch", "tunnel", tunnels, ms.ipT));
  }
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      sessions: { type: "string", default: "500" },
      tunnels: { type: "string", default: "200" },
      rounds: { type: "string", default: "3" },
      "tunnel-rounds": { type: "string" },
    },
  });
  const rounds = Number(values.rounds);
  const tunnelRounds = Number(values["tunnel-rounds"] ?? rounds * 5);
  const results = await runKernelBench(
    Number(values.sessions),
    Number(values.tunnels),
    rounds,
    tunnelRounds,
  );
  const titles = {
    session: "L2TPv3 eth session create+delete",
    tunnel: "L2TPv3 UDP tunnel create+delete (ours waits for the kernel's removal)",
  };
  for (const kind of ["session", "tunnel"] as const) {
    const [ours, ip] = results.filter((r) => r.kind === kind);
    if (ours === undefined || ip === undefined) continue;
    console.log(
      `kernel: ${titles[kind]}, ${ours.count} ${kind}s, best of ` +
        `${kind === "tunnel" ? tunnelRounds : rounds} rounds ` +
        `(qemu TCG guest: compare the lines, not absolute figures)`,
    );
    for (const r of [ours, ip]) {
      console.log(
        `kernel:   ${r.name.padEnd(34)} ${String(r.pairsPerSecond).padStart(7)} pairs/s ` +
          `(${r.totalMs} ms; median round ${r.medianMs} ms)`,
      );
    }
    console.log(
      `kernel:   ${"ratio l2tpd / ip -batch".padEnd(34)} ${
        (ip.totalMs / ours.totalMs).toFixed(2).padStart(7)
      }x (medians ${(ip.medianMs / ours.medianMs).toFixed(2)}x)`,
    );
  }
}
