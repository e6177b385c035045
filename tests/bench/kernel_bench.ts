/**
 * Kernel programming speed, measured inside the VM: L2TPv3 Ethernet sessions created and deleted
 * through our netlink layer (KernelDataPlane), and the same work done by `ip -batch` (iproute2),
 * in the same kernel, in the same run. Prints figures; asserts nothing.
 *
 * `deno run -A tests/bench/kernel_bench.ts [--sessions N] [--rounds R]` (as root, l2tp loaded).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { KernelDataPlane } from "../../dataplane/kernel.ts";

/** One measured way of programming sessions. */
export interface KernelBenchResult {
  /** What was measured. */
  name: string;
  /** Sessions created and deleted. */
  sessions: number;
  /** Wall time for all creates and deletes, ms (best round). */
  totalMs: number;
  /** create+delete pairs per second (best round). */
  pairsPerSecond: number;
}

const TUNNEL = 7000;

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

async function ours(dp: KernelDataPlane, n: number): Promise<number> {
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

async function ipBatch(dp: KernelDataPlane, n: number): Promise<number> {
  const lines: string[] = [];
  for (let i = 1; i <= n; i++) {
    lines.push(`l2tp add session tunnel_id ${TUNNEL} session_id ${i} peer_session_id ${i}`);
  }
  for (let i = 1; i <= n; i++) {
    lines.push(`l2tp del session tunnel_id ${TUNNEL} session_id ${i}`);
  }
  const file = await Deno.makeTempFile({ suffix: ".batch" });
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  try {
    return await withTunnel(dp, async () => {
      const t0 = performance.now();
      const out = await new Deno.Command("ip", { args: ["-batch", file], stderr: "piped" })
        .output();
      const ms = performance.now() - t0;
      if (out.code !== 0) {
        throw new Error(`Cannot run ip -batch: ${new TextDecoder().decode(out.stderr)}`);
      }
      return ms;
    });
  } finally {
    await Deno.remove(file);
  }
}

/**
 * Run both measurements `rounds` times each (alternating) and keep each one's best round.
 *
 * @example Usage
 * ```ts ignore
 * import { runKernelBench } from "./kernel_bench.ts";
 * for (const r of await runKernelBench(500, 3)) console.log(r.name, r.pairsPerSecond);
 * ```
 */
export async function runKernelBench(
  sessions: number,
  rounds: number,
): Promise<KernelBenchResult[]> {
  using dp = await KernelDataPlane.open();
  const best = { ours: Infinity, ip: Infinity };
  for (let r = 0; r < rounds; r++) {
    best.ours = Math.min(best.ours, await ours(dp, sessions));
    best.ip = Math.min(best.ip, await ipBatch(dp, sessions));
  }
  const result = (name: string, ms: number): KernelBenchResult => ({
    name,
    sessions,
    totalMs: Math.round(ms),
    pairsPerSecond: Math.round(sessions / (ms / 1000)),
  });
  return [
    result("l2tpd netlink (KernelDataPlane)", best.ours),
    result("iproute2 ip -batch", best.ip),
  ];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      sessions: { type: "string", default: "500" },
      rounds: { type: "string", default: "3" },
    },
  });
  const results = await runKernelBench(Number(values.sessions), Number(values.rounds));
  console.log(
    `kernel: L2TPv3 eth session create+delete, ${values.sessions} sessions, best of ` +
      `${values.rounds} rounds (qemu TCG guest: compare the two lines, not absolute figures)`,
  );
  for (const r of results) {
    console.log(
      `kernel:   ${r.name.padEnd(34)} ${String(r.pairsPerSecond).padStart(7)} pairs/s ` +
        `(${r.totalMs} ms)`,
    );
  }
}
